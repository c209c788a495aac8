"""`invoke livereload` end to end: the real task on a copy of the site, a real Chromium
tab (the `browser` fixture of conftest.py) with the injected livereload script, files
saved the way an editor saves them.

The tab must follow every save by itself (no test ever reloads it), and once the
preview has settled, output/ must be what a clean build writes. The functions
that decide which file a URL names and which tabs a change concerns are tested
on their own at the end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from blogtools.build import build_site
from blogtools.livereload_server import candidates, find_file, inject_script, reloads
from blogtools.output_sync import compare_builds
from tests.site_copy import copy_site, set_field, shared_poster_cache

TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def save(path: Path, text: str) -> None:
    """As an editor that replaces the file: a new file renamed over the old one."""
    staging = path.with_name(path.name + "~")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


class LivePreview:
    def __init__(self, site: Path):
        self.site = site
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.log = site.parent / "livereload.log"
        with open(self.log, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "invoke", "-r", str(site), "livereload", "--host", "127.0.0.1",
                 "--port", str(self.port)], cwd=site, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def status(self) -> dict:
        try:
            with urllib.request.urlopen(self.base + "livereload/status", timeout=5) as response:
                return json.load(response)
        except OSError:
            return {"changes": -1, "idle": False, "tabs": []}

    def wait(self, condition, what: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"invoke livereload stopped:\n{self.output()}"
            status = self.status()
            if condition(status):
                return status
            time.sleep(0.05)
        raise AssertionError(f"{what} within {TIMEOUT} s:\n{self.output()}")

    def settled_after(self, changes: int) -> dict:
        return self.wait(lambda s: s["idle"] and s["changes"] > changes, "no settle pass after the save")

    def changes(self) -> int:
        return self.status()["changes"]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def preview(tmp_path_factory):
    site = copy_site(tmp_path_factory.mktemp("livereload") / "site", shared_poster_cache(tmp_path_factory))
    running = LivePreview(site)
    try:
        running.wait(lambda s: s["idle"], "the first build did not finish")
        yield running
    finally:
        running.stop()
    assert "Traceback" not in running.output()


@pytest.fixture
def tab(browser, preview):
    page = browser.new_page()
    yield page
    page.close()


def open_page(tab, preview, path: str):
    tab.goto(preview.base + path)
    # livereload.js has connected and said which page it shows.
    preview.wait(lambda s: "/" + path in s["tabs"], f"the tab on /{path} did not connect")
    tab.evaluate("window.openedOnce = true")


def card(tab, slug: str):
    return tab.locator("article.poster-card").filter(has=tab.locator(f'a[href$="reviews/{slug}/"]'))


def test_saved_text_appears_in_the_open_tab_without_a_reload_by_hand(preview, tab):
    open_page(tab, preview, "reviews/her-2013/")
    review = preview.site / "content" / "reviews" / "her-2013.md"

    save(review, review.read_text(encoding="utf-8").replace(
        "I went into *Her* expecting", "This sentence was saved while the tab was open. I went into *Her* expecting"))

    expect(tab.locator("main")).to_contain_text("This sentence was saved while the tab was open.", timeout=15_000)
    assert tab.evaluate("window.openedOnce === undefined"), "the page was reloaded (by livereload.js)"
    assert re.search(r"Saved content/reviews/her-2013\.md\n\s+fast pass", preview.output())


def test_a_new_rating_reaches_the_card_on_the_open_home_page(preview, tab):
    open_page(tab, preview, "")
    review = preview.site / "content" / "reviews" / "paddington-2-2017.md"
    changes = preview.changes()

    set_field(review, "Rating", "1.5")

    expect(card(tab, "paddington-2-2017")).to_contain_text("Rated 1.5 out of 5", timeout=15_000)
    preview.settled_after(changes)
    tab.reload()
    expect(card(tab, "paddington-2-2017")).to_contain_text("Rated 1.5 out of 5")


def test_a_deleted_review_gives_404_and_leaves_the_home_page(preview, tab):
    open_page(tab, preview, "reviews/apollo-13-1995/")
    expect(tab.locator("h1")).to_contain_text("Apollo 13")

    (preview.site / "content" / "reviews" / "apollo-13-1995.md").unlink()

    expect(tab.locator("h1")).to_contain_text("Page not found", timeout=TIMEOUT * 1000)
    response = tab.goto(preview.base + "reviews/apollo-13-1995/")
    assert response.status == 404
    tab.goto(preview.base)
    expect(card(tab, "paddington-2-2017")).to_have_count(1)
    expect(card(tab, "apollo-13-1995")).to_have_count(0)


def test_an_edited_stylesheet_is_swapped_in_without_reloading_the_page(preview, tab):
    open_page(tab, preview, "")
    stylesheet = preview.site / "theme" / "static" / "css" / "site.css"

    save(stylesheet, stylesheet.read_text(encoding="utf-8") + "\nbody { outline: 3px solid rgb(1, 2, 3); }\n")

    expect(tab.locator("body")).to_have_css("outline-color", "rgb(1, 2, 3)", timeout=15_000)
    assert tab.evaluate("window.openedOnce === true"), "the page kept its state: the stylesheet was swapped in place"


def test_bad_front_matter_is_a_warning_and_the_preview_keeps_serving(preview):
    changes = preview.changes()
    set_field(preview.site / "content" / "reviews" / "tenet-2020.md", "Date", "2024-13-45")

    preview.settled_after(changes)

    assert "WARNING Review problem: content/reviews/tenet-2020.md: Date: '2024-13-45': expected a date" \
        in preview.output()
    with urllib.request.urlopen(preview.base, timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(preview.base + "reviews/tenet-2020/", timeout=10)
    assert missing.value.code == 404, "as in a clean build, a review that cannot be read has no page"


def test_a_settings_edit_starts_a_worker_that_builds_with_it(preview):
    settings = preview.site / "pelicanconf.py"
    changes = preview.changes()

    save(settings, settings.read_text(encoding="utf-8").replace(
        'SITESUBTITLE = "Film reviews, one poster at a time"', 'SITESUBTITLE = "Subtitle from the edited settings"'))

    preview.settled_after(changes)
    with urllib.request.urlopen(preview.base, timeout=10) as response:
        assert "Subtitle from the edited settings" in response.read().decode("utf-8")
    assert "plugin code or settings changed" in preview.output()


def test_after_settling_output_is_what_a_clean_build_writes(preview, tmp_path):
    preview.wait(lambda s: s["idle"], "the preview did not settle")

    clean = build_site(preview.site / "pelicanconf.py", tmp_path / "clean", root=preview.site)
    again = build_site(preview.site / "pelicanconf.py", tmp_path / "again", root=preview.site)

    assert clean.error is None and again.error is None
    differing, explained = compare_builds(preview.site / "output", tmp_path / "clean", tmp_path / "again")
    assert differing == []
    assert all(line.startswith(("sitemap.xml", "pagefind/")) for line in explained)


# --- Which file, which tab ----------------------------------------------------------------

def test_a_url_names_the_files_the_real_host_would_serve():
    assert candidates("/") == ["index.html"]
    assert candidates("/reviews/her-2013/") == ["reviews/her-2013/index.html"]
    assert candidates("/feeds/all.atom.xml?x=1") == ["feeds/all.atom.xml", "feeds/all.atom.xml/index.html",
                                                     "feeds/all.atom.xml.html"]
    assert candidates("/../etc/passwd") == []


def test_a_folder_without_its_slash_is_redirected(tmp_path):
    (tmp_path / "reviews" / "her-2013").mkdir(parents=True)
    (tmp_path / "reviews" / "her-2013" / "index.html").write_text("her", encoding="utf-8")

    assert find_file(tmp_path, "/reviews/her-2013") == (None, "/reviews/her-2013/")
    assert find_file(tmp_path, "/reviews/her-2013/") == ("reviews/her-2013/index.html", None)
    assert find_file(tmp_path, "/reviews/gone/") == (None, None)


def test_the_script_goes_at_the_end_of_the_head():
    page = inject_script(b"<html><head><title>x</title></head><body></body></html>")
    assert page.index(b"livereload.js") < page.index(b"</head>") < page.index(b"<body>")


def test_only_the_tabs_a_change_concerns_reload():
    tabs = {"her": "/reviews/her-2013/", "home": "/", "gone": "/reviews/gone/", "new": "/reviews/new/"}

    sent = reloads(tabs, ["reviews/her-2013/index.html", "reviews/new/index.html"], ["reviews/gone/index.html"])

    assert sent == {"her": "/reviews/her-2013/", "gone": "/reviews/gone/", "new": "/reviews/new/"}
    assert reloads(tabs, ["theme/css/site.css"], []) == {tab: "/theme/css/site.css" for tab in tabs}
    assert set(reloads(tabs, ["theme/js/site.js"], [])) == set(tabs)
    assert reloads(tabs, ["pagefind/pagefind.js", "feeds/all.atom.xml"], []) == {}
    assert reloads({"missing": "/nowhere/"}, ["404.html"], [], exists=lambda name: False) == \
        {"missing": "/nowhere/"}
