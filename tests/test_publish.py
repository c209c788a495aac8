"""Deploying for real: rsync into a folder and through a real sshd, ghp-import into a bare repo.

Every test deploys a copy of the sample site; the live site is a folder
under tmp_path, reached over SSH on 127.0.0.1 where the test says so.
"""

import json
import re
import shutil
import subprocess

import pytest

from blogtools.publish import (
    Destination,
    PublishError,
    destination_from,
    gh_pages,
    itemized_changes,
    publish,
    rsync_command,
)
from tests.linkbacks.support import guard_dns
from tests.site_copy import run_invoke, set_field, snapshot, tree
from tests.sshd import missing_tools, running_sshd

needs_ssh = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {', '.join(missing_tools())}")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())}")
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="module")
def deployed(site, sshd, tmp_path_factory):
    """The site published once over SSH: (live folder, the build that was sent, messages)."""
    folder = tmp_path_factory.mktemp("deployed")
    live, work, messages = folder / "www", folder / "work", []
    publish(site, environ=sshd.publish_environ(live), workdir=work, echo=messages.append)
    return live, work / "site", messages


@pytest.fixture(scope="module")
def deployed_locally(site, tmp_path_factory):
    """The site published once into a local folder that held an older deploy: (live, build)."""
    folder = tmp_path_factory.mktemp("deployed-locally")
    live, work = folder / "www", folder / "work"
    (live / "stale").mkdir(parents=True)
    (live / "stale" / "old.html").write_text("from an older deploy")
    publish(site, target=str(live), workdir=work, echo=lambda line: None)
    return live, work


def test_publish_to_a_local_folder_deploys_the_build_byte_for_byte(deployed_locally):
    live, work = deployed_locally

    deployed_files = tree(live)
    assert deployed_files == tree(work / "site")
    assert "index.html" in deployed_files and "reviews/her-2013/index.html" in deployed_files
    assert not (live / "stale").exists()  # --delete: the live site is exactly the build


@needs_ssh
def test_publish_over_ssh_deploys_the_build_byte_for_byte(deployed):
    live, build, messages = deployed
    assert tree(live) == tree(build)
    assert (live / "reviews" / "her-2013" / "index.html").is_file()
    assert any("Published" in line and "127.0.0.1" in line for line in messages)


@needs_ssh
def test_published_site_is_world_readable(deployed):
    # The build folder is private; rsync -p must not carry that onto the web root.
    live, _, _ = deployed
    assert live.stat().st_mode & 0o755 == 0o755
    assert (live / "index.html").stat().st_mode & 0o644 == 0o644


@needs_ssh
def test_dry_run_lists_the_change_and_leaves_the_live_site_untouched(own_copy, sshd, deployed):
    live, _, _ = deployed
    review = own_copy / "content" / "reviews" / "her-2013.md"
    review.write_text(review.read_text(encoding="utf-8") + "\nA paragraph added after publishing.\n",
                      encoding="utf-8")
    before = snapshot(live)
    messages = []

    publish(own_copy, environ=sshd.publish_environ(live), dry_run=True, echo=messages.append)

    assert snapshot(live) == before
    changed = [line for line in messages if line.endswith("reviews/her-2013/index.html")]
    assert changed and changed[0][:2] in ("<f", ">f")  # "<" when the receiver is remote
    assert "Dry run: nothing was changed." in messages


@needs_ssh
def test_broken_review_is_not_published_and_the_error_names_the_file(own_copy, sshd, deployed):
    live, _, _ = deployed
    set_field(own_copy / "content" / "reviews" / "alien-1979.md", "Rating", "7")
    before = snapshot(live)

    run = run_invoke(own_copy, "publish", env=sshd.publish_environ(live))

    assert run.returncode != 0
    assert "content/reviews/alien-1979.md: Rating: '7'" in run.stderr
    assert "live site is untouched" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert snapshot(live) == before


def test_dry_run_of_an_unchanged_site_reports_no_content_changes(site, deployed_locally):
    live, _ = deployed_locally
    before = snapshot(live)
    messages = []

    publish(site, target=str(live), dry_run=True, echo=messages.append)

    assert snapshot(live) == before
    assert "No content changes." in messages
    assert not [line for line in messages if re.match(r"([<>ch][fdLDS]|\*deleting)", line)]
    assert "Dry run: nothing was changed." in messages


def test_search_index_and_sitemap_are_reported_apart_from_content_changes():
    itemized = "\n".join([
        ">fcst...... reviews/her-2013/index.html",
        "*deleting   reviews/old-1999/index.html",
        ">f+++++++++ pagefind/pagefind.en_5b6665d721.pf_meta",
        "*deleting   pagefind/filter/en_d758834.pf_filter",
        ">fc.t...... pagefind/pagefind-entry.json",
        ">fc.t...... sitemap.xml",
        ".d..t...... reviews/",
        ".f..t...... index.html",
        "",
    ])

    changes = itemized_changes(itemized)

    assert changes.content == [">fcst...... reviews/her-2013/index.html",
                               "*deleting   reviews/old-1999/index.html"]
    assert changes.regenerated == 4
    assert changes.touched == 2


def test_empty_build_is_refused(own_copy, tmp_path):
    # No reviews, and so no linkbacks to them either: a clean build with nothing in it.
    for data in [*(own_copy / "content" / "reviews").glob("*.md"),
                 *(own_copy / "content" / "linkbacks").glob("*.json")]:
        data.unlink()
    live = tmp_path / "www"
    live.mkdir()
    (live / "index.html").write_text("the site people see today")
    before = snapshot(live)

    with pytest.raises(PublishError, match="no review pages"):
        publish(own_copy, target=str(live), echo=lambda line: None)

    assert snapshot(live) == before


def test_publish_then_send_linkbacks_records_each_link_in_the_sent_linkbacks_cache(own_copy, tmp_path, monkeypatch):
    # The rewatch review links to an essay on example.com; no name resolves in
    # this test, so that one send fails on its own, offline, and is remembered.
    guard_dns(monkeypatch)
    messages = []
    publish(own_copy, target=str(tmp_path / "www"), send_linkbacks=True, echo=messages.append)

    essay = "https://example.com/blog/vertigo-green-light-grey-suit"
    [line] = [m for m in messages if m.startswith("Linkbacks: ") and essay in m]
    assert line.startswith("Linkbacks: failed") and "vertigo-1958-rewatch" in line
    # FILMREVIEWS_LINKBACKS_SENT_CACHE is not set: its one default, under the site root.
    sent = json.loads((own_copy / ".linkbacks-sent.json").read_text(encoding="utf-8"))["sent"]
    [rewatch] = [url for url in sent if url.endswith("/reviews/vertigo-1958-rewatch/")]
    assert rewatch.startswith("https://") and sent[rewatch][essay]["outcome"] == "failed"


def test_missing_host_setting_is_named_with_where_to_set_it(site):
    run = run_invoke(site, "publish", env={"PUBLISH_SSH_USER": "marta", "PUBLISH_SSH_PATH": "/srv/www"})

    assert run.returncode == 1
    assert "PUBLISH_SSH_HOST" in run.stderr and "publishconf.py" in run.stderr
    assert "PUBLISH_SSH_USER" not in run.stderr  # only what is missing
    assert "Traceback" not in run.stderr + run.stdout


def test_environment_overrides_settings_and_options_reach_ssh():
    settings = {"PUBLISH_SSH_HOST": "old.example.org", "PUBLISH_SSH_PORT": 22,
                "PUBLISH_SSH_USER": "marta", "PUBLISH_SSH_PATH": "/srv/www"}
    environ = {"PUBLISH_SSH_HOST": "new.example.org", "PUBLISH_SSH_PORT": "2222",
               "PUBLISH_SSH_OPTIONS": "-i '/keys/deploy key' -o BatchMode=yes"}

    destination = destination_from(settings, environ)
    command = rsync_command("/tmp/build", destination, dry_run=True)

    assert destination == Destination(path="/srv/www", host="new.example.org", port=2222, user="marta",
                                      ssh_options=("-i", "/keys/deploy key", "-o", "BatchMode=yes"))
    assert command[:8] == ["rsync", "-rlptz", "--delete", "--delete-after", "--delay-updates",
                           "--checksum", "--itemize-changes", "--dry-run"]
    assert command[-3:] == ["ssh -p 2222 -i '/keys/deploy key' -o BatchMode=yes",
                            "/tmp/build/", "marta@new.example.org:/srv/www/"]


@pytest.mark.parametrize("settings, environ, message", [
    ({"PUBLISH_SSH_HOST": "h", "PUBLISH_SSH_USER": "u", "PUBLISH_SSH_PATH": "/w"},
     {"PUBLISH_SSH_PORT": "ssh"}, "PUBLISH_SSH_PORT: 'ssh': expected a port number"),
    ({"PUBLISH_SSH_HOST": "h"}, {"PUBLISH_TARGET": "/mnt/www"}, "Both PUBLISH_TARGET"),
    ({}, {"PUBLISH_SSH_PORT": "22"}, "needs PUBLISH_SSH_HOST, PUBLISH_SSH_USER, PUBLISH_SSH_PATH"),
])
def test_bad_deploy_settings_say_which_and_what_was_expected(settings, environ, message):
    with pytest.raises(PublishError, match=message):
        destination_from(settings, environ)


@pytest.mark.parametrize("inside", ["..", ".", "content", "content/reviews", ".git", "theme", "output",
                                    "plugins/filmreviews"])
def test_publish_never_empties_the_sources(site, inside):
    target = (site / inside).resolve()
    before = snapshot(site / "content")

    with pytest.raises(PublishError) as refused:
        publish(site, target=str(site / inside), echo=lambda line: None)

    assert f"--target: '{target}': expected a folder outside the site" in str(refused.value)
    assert snapshot(site / "content") == before


def test_publish_target_setting_inside_the_site_is_refused_by_name(site):
    with pytest.raises(PublishError, match=r"PUBLISH_TARGET: '.*/content': expected a folder outside the site"):
        publish(site, environ={"PUBLISH_TARGET": str(site / "content")}, echo=lambda line: None)


def test_invoke_publish_dry_run_into_content_is_refused_without_listing_deletions(site):
    before = snapshot(site / "content")

    run = run_invoke(site, "publish", "--target", "content", "--dry-run")

    assert run.returncode == 1
    assert f"--target: '{site.resolve() / 'content'}': expected a folder outside the site" in run.stderr
    assert "deleting" not in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert snapshot(site / "content") == before


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def pages_repo(own_copy, tmp_path, monkeypatch):
    """A working repository of the site whose `origin` is a bare repository (the "GitHub")."""
    for name in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(name, "Reel Notes tests")
    for name in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(name, "tests@reelnotes.invalid")
    bare = tmp_path / "github.git"
    git("init", "--quiet", "--bare", str(bare))
    work = own_copy
    git("init", "--quiet", cwd=work)
    git("remote", "add", "origin", str(bare), cwd=work)
    return work, bare


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_gh_pages_pushes_the_checked_build_with_nojekyll(pages_repo, tmp_path):
    work, bare = pages_repo
    build = tmp_path / "work"

    gh_pages(work, workdir=build, message="Publish for the test", echo=lambda line: None)

    listed = set(git("ls-tree", "-r", "--name-only", "gh-pages", cwd=bare).split("\n")) - {""}
    assert listed == set(tree(build / "site")) | {".nojekyll"}
    assert git("show", "gh-pages:index.html", cwd=bare) == (build / "site" / "index.html").read_text()
    assert git("log", "-1", "--format=%s", "gh-pages", cwd=bare).strip() == "Publish for the test"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("option, environ, named", [
    ("upstream", {}, "--remote: 'upstream'"),
    (None, {"GITHUB_PAGES_REMOTE": "upstream"}, "GITHUB_PAGES_REMOTE: 'upstream'"),
])
def test_gh_pages_unknown_remote_names_where_it_came_from(pages_repo, option, environ, named):
    work, _ = pages_repo

    with pytest.raises(PublishError) as refused:
        gh_pages(work, remote=option, environ=environ, echo=lambda line: None)

    assert str(refused.value).startswith(f"{named}: expected one of this repository's git remotes (origin)")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_gh_pages_refuses_a_broken_build(pages_repo):
    work, bare = pages_repo
    set_field(work / "content" / "reviews" / "her-2013.md", "Year", "twenty-thirteen")

    with pytest.raises(PublishError, match="content/reviews/her-2013.md: Year: 'twenty-thirteen'"):
        gh_pages(work, echo=lambda line: None)

    assert git("branch", "--list", cwd=bare).strip() == ""
