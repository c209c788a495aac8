"""`invoke check` on good and broken content, as a real subprocess and as a function call."""

import datetime as dt
import re

import pytest

from blogtools.check import check_site
from site_copy import copy_site, run_invoke, set_field, shared_poster_cache

TASKS = ("clean", "build", "rebuild", "regenerate", "serve", "reserve", "preview", "livereload",
         "publish", "gh-pages", "new", "check", "test", "bench", "posters",
         "linkbacks.serve", "linkbacks.list", "linkbacks.approve", "linkbacks.reject", "linkbacks.spam",
         "linkbacks.export", "linkbacks.send", "linkbacks.reverify")


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
    """Three reviews, each broken in a different way a writer might break one."""
    site = copy_site(tmp_path_factory.mktemp("broken"), shared_poster_cache(tmp_path_factory))
    reviews = site / "content" / "reviews"
    set_field(reviews / "her-2013.md", "Rating", "4.7")
    set_field(reviews / "alien-1979.md", "Poster", "images/posters/no-such-poster.jpg")
    tenet = reviews / "tenet-2020.md"
    tenet.write_text(tenet.read_text(encoding="utf-8")
                     + "\n![A still]({static}/images/stills/tenet-corridor.jpg)\n", encoding="utf-8")
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
    assert re.search(r"^\d+ reviews, 3 problems:$", report, re.M)
    assert "Traceback" not in broken_run.stdout + report


def test_check_function_reports_the_same_problems_and_builds_outside_output(broken_site, broken_run):
    result = check_site(broken_site)

    assert not result.ok
    assert len(result.problems) == 3
    for problem in result.problems:
        assert problem in broken_run.stderr
    assert not (broken_site / "output").exists()


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
    from site_copy import ROOT

    run = run_invoke(ROOT, "--list")

    assert run.returncode == 0, run.stderr
    listed = dict(re.findall(r"^  (\S+)\s+(\S.*)$", run.stdout, re.M))
    assert set(TASKS) <= set(listed)
    # One line each: a wrapped description would start an indented continuation line.
    assert not re.search(r"^ {4,}\S", run.stdout, re.M)
