"""The livereload worker (blogtools.edit_worker) as `invoke livereload` runs it: a real
process on a copy of the site, driven over its JSON lines, its output/ compared with
clean builds of the same sources."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from blogtools.build import build_site
from blogtools.output_sync import compare_builds
from tests.site_copy import copy_site, set_field, shared_poster_cache

TIMEOUT = 120


class Worker:
    """`python -m blogtools.edit_worker` on a site, with its events in a queue."""

    def __init__(self, site: Path):
        self.site = site
        self.stderr = open(site.parent / f"{site.name}-worker.log", "w", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "blogtools.edit_worker", "--root", str(site)], cwd=site,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, start_new_session=True)
        self.events: queue.Queue = queue.Queue()
        self.generation = 1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def wait(self, kind: str, generation: int | None = None) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while True:
            event = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            if event["event"] == kind and (generation is None or event["generation"] == generation):
                return event

    def change(self, *paths: Path, open_pages=()) -> dict:
        """Hand the worker saved files; its fast-pass event."""
        self.generation += 1
        command = {"op": "change", "paths": [str(p) for p in paths], "open": list(open_pages)}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.wait("fast", self.generation)

    def settled(self) -> dict:
        return self.wait("settled", self.generation)

    def stop(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 15)
        self.stderr.close()


def save(path: Path, text: str) -> None:
    staging = path.with_name(path.name + "~")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def clean_build(site: Path, folder: Path) -> Path:
    result = build_site(site / "pelicanconf.py", folder, root=site)
    assert result.error is None, result.error
    return folder


def assert_output_is_a_clean_build(site: Path, tmp_path: Path) -> None:
    first = clean_build(site, tmp_path / "clean")
    again = clean_build(site, tmp_path / "clean-again")
    differing, _ = compare_builds(site / "output", first, again)
    assert differing == []


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return copy_site(tmp_path_factory.mktemp("editloop") / "site", shared_poster_cache(tmp_path_factory))


@pytest.fixture(scope="module")
def worker(site):
    running = Worker(site)
    first = running.wait("settled", 1)
    assert first["error"] is None, first
    yield running
    running.stop()


def test_the_first_build_makes_output_a_clean_build(site, worker, tmp_path):
    assert (site / "output" / "reviews" / "her-2013" / "index.html").is_file()
    assert_output_is_a_clean_build(site, tmp_path)


def test_a_saved_sentence_is_rendered_at_once_exactly_as_the_whole_build_renders_it(site, worker, tmp_path):
    review = site / "content" / "reviews" / "her-2013.md"
    save(review, review.read_text(encoding="utf-8").replace(
        "I went into *Her* expecting", "A sentence saved a moment ago. I went into *Her* expecting"))

    fast = worker.change(review)

    assert fast["written"] == ["reviews/her-2013/index.html"]
    page = site / "output" / "reviews" / "her-2013" / "index.html"
    rendered = page.read_bytes()
    assert "A sentence saved a moment ago." in rendered.decode("utf-8")
    settled = worker.settled()
    assert "reviews/her-2013/index.html" not in settled["written"], "the settle pass found nothing to fix"
    assert page.read_bytes() == rendered
    assert "feeds/all.atom.xml" in settled["written"]
    assert_output_is_a_clean_build(site, tmp_path)


def rating_on_card(page: Path, slug: str) -> str:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    for card in soup.select("article.poster-card"):
        link = card.select_one(".poster-card-title a")
        if link and f"reviews/{slug}/" in link["href"]:
            return card.select_one(".rating .visually-hidden").get_text()
    raise AssertionError(f"no card for {slug} on {page}")


def test_a_new_rating_shows_on_the_open_home_page_in_the_fast_pass(site, worker, tmp_path):
    review = site / "content" / "reviews" / "her-2013.md"
    set_field(review, "Rating", "2.5")

    fast = worker.change(review, open_pages=["index.html"])

    assert sorted(fast["written"]) == ["index.html", "reviews/her-2013/index.html"]
    assert rating_on_card(site / "output" / "index.html", "her-2013") == "Rated 2.5 out of 5"
    settled = worker.settled()
    # The review's social card shows the rating: drawn anew by the settle pass.
    assert any(name.startswith("images/posters/derived/her-2013-card-") for name in settled["written"])
    assert "index.html" not in settled["written"]
    assert_output_is_a_clean_build(site, tmp_path)


def test_a_change_that_moves_a_review_among_the_others_waits_for_the_settle_pass(site, worker, tmp_path):
    review = site / "content" / "reviews" / "her-2013.md"
    set_field(review, "Genre", "Drama, Western")

    fast = worker.change(review)

    assert fast["written"] == []
    assert any("her-2013.md: its place among the other pages changed" in note for note in fast["notes"])
    settled = worker.settled()
    assert "genres/western/index.html" in settled["written"]
    assert "Western" in (site / "output" / "reviews" / "her-2013" / "index.html").read_text(encoding="utf-8")
    assert_output_is_a_clean_build(site, tmp_path)


def test_a_save_during_a_settle_pass_never_settles_on_the_older_text(site, worker, tmp_path):
    review = site / "content" / "reviews" / "alien-1979.md"
    text = review.read_text(encoding="utf-8")
    header, body = text.split("\n\n", 1)
    save(review, f"{header}\n\nFirst save. {body}")
    first = worker.change(review)
    save(review, f"{header}\n\nSecond save. {body}")  # while the first settle pass runs
    second = worker.change(review)

    settled = worker.settled()

    assert second["generation"] == first["generation"] + 1 == settled["generation"]
    page = (site / "output" / "reviews" / "alien-1979" / "index.html").read_text(encoding="utf-8")
    assert "Second save." in page and "First save." not in page
    assert_output_is_a_clean_build(site, tmp_path)


def test_a_saved_page_is_rendered_at_once_too(site, worker):
    page_source = site / "content" / "pages" / "about.md"
    save(page_source, page_source.read_text(encoding="utf-8").replace(
        "I started this blog", "A line added to the About page. I started this blog"))

    fast = worker.change(page_source)

    assert fast["written"] == ["about/index.html"]
    page = site / "output" / "about" / "index.html"
    rendered = page.read_bytes()
    assert "A line added to the About page." in rendered.decode("utf-8")
    assert "about/index.html" not in worker.settled()["written"]
    assert page.read_bytes() == rendered


def test_a_new_review_appears_with_the_settle_pass(site, worker, tmp_path):
    model = (site / "content" / "reviews" / "her-2013.md").read_text(encoding="utf-8")
    review = site / "content" / "reviews" / "her-2013-rewatch.md"
    text = model.replace("Slug: her-2013", "Slug: her-2013-rewatch").replace("Rewatch: no", "Rewatch: yes")
    save(review, text.replace("Date: 2024-03-02 20:15", "Date: 2025-11-30 20:00"))

    fast = worker.change(review, open_pages=["index.html"])
    settled = worker.settled()

    assert fast["written"] == []
    assert {"reviews/her-2013-rewatch/index.html", "index.html", "reviews/her-2013/index.html"} \
        <= set(settled["written"]), "its page, the home page and the first review's rewatch link"
    assert_output_is_a_clean_build(site, tmp_path)


def test_bad_front_matter_is_reported_and_the_page_goes_as_in_a_clean_build(site, worker, tmp_path):
    review = site / "content" / "reviews" / "tenet-2020.md"
    original = review.read_text(encoding="utf-8")
    set_field(review, "Date", "2024-13-45")

    fast = worker.change(review)
    settled = worker.settled()

    problem = "content/reviews/tenet-2020.md: Date: '2024-13-45': expected a date like 2024-03-02"
    assert any(problem in line for line in fast["problems"])
    assert any(problem in line for line in settled["problems"])
    assert settled["error"] is None
    assert "reviews/tenet-2020/index.html" in settled["deleted"]
    assert_output_is_a_clean_build(site, tmp_path)

    save(review, original)
    worker.change(review)
    assert "reviews/tenet-2020/index.html" in worker.settled()["written"]


def test_a_broken_template_keeps_the_last_good_output_until_it_is_fixed(site, worker):
    template = site / "theme" / "templates" / "partials" / "footer.html"
    good = template.read_text(encoding="utf-8")
    before = {p: p.read_bytes() for p in (site / "output").rglob("*.html")}
    save(template, good + "{% if %}")

    fast = worker.change(template, open_pages=["index.html"])
    settled = worker.settled()

    assert fast["written"] == [] and any("TemplateSyntaxError" in note for note in fast["notes"])
    assert settled["error"] and "TemplateSyntaxError" in settled["error"]
    assert {p: p.read_bytes() for p in (site / "output").rglob("*.html")} == before

    save(template, good.replace("</footer>", "<p>Footer edited.</p></footer>", 1))
    fast = worker.change(template, open_pages=["index.html"])
    assert fast["written"] == ["index.html"]
    assert "Footer edited." in (site / "output" / "index.html").read_text(encoding="utf-8")
    settled = worker.settled()
    assert settled["error"] is None
    assert "Footer edited." in (site / "output" / "about" / "index.html").read_text(encoding="utf-8")


def start_with_settings_line(site: Path, line: str) -> tuple[dict, int | None]:
    """Start a worker on `site` with `line` added to its pelicanconf.py: its "failed"
    event and the exit status of its process."""
    with open(site / "pelicanconf.py", "a", encoding="utf-8") as settings:
        settings.write(f"\n{line}\n")
    worker = Worker(site)
    try:
        failed = worker.wait("failed")
    finally:
        worker.stop()
    return failed, worker.process.returncode


def test_an_output_folder_that_holds_the_site_is_refused(tmp_path_factory):
    site = copy_site(tmp_path_factory.mktemp("refused") / "site")
    failed, _ = start_with_settings_line(site, 'OUTPUT_PATH = "."')

    assert failed["error"].startswith("OUTPUT_PATH: ")
    assert "expected a folder of its own" in failed["error"]
    assert (site / "content" / "reviews" / "her-2013.md").is_file()


@pytest.mark.parametrize("output, why", [
    (".", "expected a folder of its own, not one that holds the site root"),
    ("..", "expected a folder of its own, not one that holds the site root"),
    ("content/output", "expected a folder outside PATH"),
    ("theme/built", "expected a folder outside THEME"),
])
def test_output_folders_the_preview_must_not_sync_into(tmp_path, output, why):
    from blogtools.edit_worker import OutputError, check_output

    root = tmp_path / "site"
    for folder in ("content", "theme"):
        (root / folder).mkdir(parents=True)
    settings = {"PATH": str(root / "content"), "THEME": str(root / "theme")}

    with pytest.raises(OutputError, match=why):
        check_output(root / output, root, settings)
    check_output(root / "output", root, settings)  # the usual place is fine


def test_a_settings_file_that_does_not_load_is_one_line_naming_it(tmp_path_factory):
    site = copy_site(tmp_path_factory.mktemp("broken-settings") / "site")
    failed, returncode = start_with_settings_line(site, "SITENAME = 'Reel Notes")

    assert failed["error"].startswith("pelicanconf.py, line ")
    assert "SyntaxError" in failed["error"] and "\n" not in failed["error"]
    assert returncode == 1
