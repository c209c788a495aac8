"""`invoke check` on good and broken content, as a real subprocess and as a function call;
and the one-line messages the other tasks give for a broken settings file or a busy port."""

import datetime as dt
import re
import socket

import pytest

from blogtools.check import check_site
from blogtools.site_settings import SettingsError, read_site_settings
from tests.site_copy import copy_site, run_invoke, set_field, shared_poster_cache

TASKS = ("clean", "build", "rebuild", "regenerate", "serve", "reserve", "preview", "livereload",
         "publish", "gh-pages", "new", "check", "test", "bench", "posters",
         "linkbacks.serve", "linkbacks.list", "linkbacks.approve", "linkbacks.reject", "linkbacks.spam",
         "linkbacks.export", "linkbacks.send", "linkbacks.reverify", "import.wordpress", "import.letterboxd")


def published_reviews(site):
    """Reviews a reader sees: not drafts, not dated in the future."""
    today = dt.date.today().isoformat()
    count = 0
    for review in (site / "content" / "reviews").glob("*.md"):
        header = review.read_text(encoding="utf-8").split("\n\n", 1)[0].lower()
        date = re.search(r"^date:\s*(\S+)", header, re.M).group(1)
        count += "status: draft" not in header and date <= today
    return count


@pytest.fixture(scope="module")
def good_site(tmp_path_factory):
    return copy_site(tmp_path_factory.mktemp("good"), shared_poster_cache(tmp_path_factory))


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    """Reviews broken in each way a writer might break one."""
    site = copy_site(tmp_path_factory.mktemp("broken"), shared_poster_cache(tmp_path_factory))
    reviews = site / "content" / "reviews"
    set_field(reviews / "her-2013.md", "Rating", "4.7")
    set_field(reviews / "alien-1979.md", "Poster", "images/posters/no-such-poster.jpg")
    tenet = reviews / "tenet-2020.md"
    tenet.write_text(tenet.read_text(encoding="utf-8")
                     + "\n![A still]({static}/images/stills/tenet-corridor.jpg)\n", encoding="utf-8")
    # A link to a review that was never written, relative to the linking file.
    alien = reviews / "alien-1979.md"
    alien.write_text(alien.read_text(encoding="utf-8")
                     + "\nCompare [the sequel]({filename}aliens-1986.md#ending).\n", encoding="utf-8")
    # Saved by an editor set to Latin-1: "Amélie" in one byte per letter.
    (reviews / "amelie-2001.md").write_bytes(
        "Title: Amélie\nDate: 2024-01-05 20:00\n\nA review.\n".encode("latin-1"))
    return site


@pytest.fixture(scope="module")
def broken_run(broken_site):
    return run_invoke(broken_site, "check")


def test_check_passes_on_the_sample_site_with_a_short_summary(good_site):
    run = run_invoke(good_site, "check")

    assert run.returncode == 0, run.stderr
    assert f"{published_reviews(good_site)} reviews, no problems" in run.stdout


def test_check_exits_non_zero_and_lists_every_problem(broken_run):
    assert broken_run.returncode == 1
    report = broken_run.stderr
    assert "content/reviews/her-2013.md: Rating: '4.7': expected a number from 0.5 to 5" in report
    assert "content/reviews/alien-1979.md: Poster: 'images/posters/no-such-poster.jpg'" in report
    assert "does not exist" in report
    assert ("content/reviews/tenet-2020.md: {static}/images/stills/tenet-corridor.jpg: "
            "expected an existing file") in report
    assert ("content/reviews/alien-1979.md: {filename}aliens-1986.md#ending: expected an existing file "
            "(content/reviews/aliens-1986.md does not exist)") in report
    assert "content/reviews/amelie-2001.md: is not UTF-8 text (byte 0xe9 on line 1)" in report
    assert re.search(r"^\d+ reviews, 5 problems:$", report, re.M)
    assert "Traceback" not in broken_run.stdout + report


def test_check_function_reports_the_same_problems_and_builds_outside_output(broken_site, broken_run):
    result = check_site(broken_site)

    assert not result.ok
    assert len(result.problems) == 5
    for problem in result.problems:
        assert problem in broken_run.stderr
    assert not (broken_site / "output").exists()


def test_broken_link_names_every_file_that_holds_it(tmp_path, tmp_path_factory):
    # Pelican reports a missing link target once, however many pages link to it.
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    for name in ("her-2013.md", "tenet-2020.md"):
        review = site / "content" / "reviews" / name
        review.write_text(review.read_text(encoding="utf-8")
                          + "\nSee [my list]({filename}/pages/top-ten.md).\n", encoding="utf-8")

    result = check_site(site)

    assert result.problems == [
        "content/reviews/her-2013.md, content/reviews/tenet-2020.md: {filename}/pages/top-ten.md: "
        "expected an existing file (content/pages/top-ten.md does not exist)"]


def test_two_reviews_with_one_slug_are_a_problem_naming_both_files(tmp_path, tmp_path_factory):
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    set_field(site / "content" / "reviews" / "alien-1979.md", "Slug", "her-2013")

    result = check_site(site)

    assert not result.ok
    clash = [p for p in result.problems if "her-2013" in p and "alien-1979.md" in p]
    assert clash and "reviews/her-2013.md" in clash[0]


def test_drafts_are_not_checked(good_site, tmp_path, tmp_path_factory):
    # A half-written draft must not block publishing the rest of the site.
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    dune = site / "content" / "reviews" / "dune-part-two-2024.md"
    assert "Status: draft" in dune.read_text(encoding="utf-8")
    set_field(dune, "Rating", "eleven")

    result = check_site(site)

    assert result.ok, result.problems
    assert result.summary() == f"{published_reviews(good_site)} reviews, no problems"


def test_invoke_lists_every_task_with_a_one_line_description():
    from tests.site_copy import ROOT

    run = run_invoke(ROOT, "--list")

    assert run.returncode == 0, run.stderr
    listed = dict(re.findall(r"^  (\S+)\s+(\S.*)$", run.stdout, re.M))
    assert set(TASKS) <= set(listed)
    # One line each: a wrapped description would start an indented continuation line.
    assert not re.search(r"^ {4,}\S", run.stdout, re.M)


@pytest.fixture(scope="module")
def broken_settings_site(tmp_path_factory):
    """A site whose pelicanconf.py has a quote left open: (site, the line number)."""
    site = copy_site(tmp_path_factory.mktemp("broken-settings"))
    settings = site / "pelicanconf.py"
    lines = settings.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith("SITESUBTITLE ="))
    lines[number] = 'SITESUBTITLE = "Film reviews, one poster at a time'
    settings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return site, number + 1


@pytest.mark.parametrize("task", [["build"], ["clean"], ["serve"], ["new", "Her", "--year", "2013"],
                                  ["publish", "--target", "{outside}"], ["gh-pages"]])
def test_settings_syntax_error_is_one_line_naming_file_and_line(broken_settings_site, tmp_path, task):
    site, line = broken_settings_site
    args = [arg.format(outside=tmp_path / "www") for arg in task]

    run = run_invoke(site, *args)

    assert run.returncode == 1
    assert f"pelicanconf.py, line {line}: SyntaxError: unterminated string literal" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert not (tmp_path / "www").exists()


def test_settings_error_in_publishconf_names_the_line_that_raised(tmp_path):
    site = copy_site(tmp_path / "site")
    settings = site / "publishconf.py"
    settings.write_text(settings.read_text(encoding="utf-8") + "SITEURL = SITE_URL\n", encoding="utf-8")
    line = len(settings.read_text(encoding="utf-8").splitlines())

    with pytest.raises(SettingsError) as failed:
        read_site_settings("publishconf.py", site)

    assert str(failed.value) == f"publishconf.py, line {line}: NameError: name 'SITE_URL' is not defined"


@pytest.fixture
def busy_port():
    """A port with a server already listening on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """A site with an output/index.html, which is all `invoke serve` needs to start."""
    site = copy_site(tmp_path_factory.mktemp("built"))
    (site / "output").mkdir()
    (site / "output" / "index.html").write_text("<!doctype html><title>Reel Notes</title>")
    return site


@pytest.mark.parametrize("task", ["serve", "livereload", "reserve"])
def test_serving_on_a_busy_port_says_so_without_a_traceback(built_site, busy_port, task):
    run = run_invoke(built_site, task, "--host", "127.0.0.1", "--port", str(busy_port))

    assert run.returncode == 1
    assert f"Cannot serve on 127.0.0.1:{busy_port}: the port is already in use" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_bad_port_is_refused_with_what_was_expected(built_site, port):
    run = run_invoke(built_site, "serve", "--port", port)

    assert run.returncode == 1
    assert f"--port: '{port}': expected a port number from 1 to 65535" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr
