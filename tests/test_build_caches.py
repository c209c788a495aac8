"""The build's caches never show stale output, and a rebuild that changes nothing touches nothing.

Every test builds a private copy of the site (tests/site_copy.py) for real.
To show that a cache is really used, an entry is poisoned (its bytes replaced
by something no build would write): a build that shows the poison used the
cache. Then one thing the entry depends on is changed, and the poison must
be gone: the cache keyed on that thing.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest

from blogtools.build import build_site
from filmreviews import content_cache, fingerprint
from filmreviews.posters import posters_attached
from tests.site_copy import copy_site, shared_poster_cache

POISON = "poisonedbythetest"  # lower case: typogrify leaves it alone
REVIEW = "reviews/her-2013/index.html"


@pytest.fixture
def site(tmp_path, tmp_path_factory):
    return copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))


def build(site: Path, output: Path | None = None, overrides: dict | None = None):
    result = build_site(site / "pelicanconf.py", output or site / "output", overrides, root=site, progress=False)
    assert result.error is None, result.error
    return result


def page(site: Path, path: str = REVIEW) -> str:
    return (site / "output" / path).read_text(encoding="utf-8")


def poison_content_cache(site: Path) -> None:
    """Replace the HTML every cached read of Her (2013) gives with the poison."""
    [cache_file] = (site / "cache" / "content").glob("*.pickle")
    settings_stand_in = {}

    unpickler = pickle.Unpickler(io.BytesIO(cache_file.read_bytes()))
    unpickler.persistent_load = lambda name: settings_stand_in
    entries = unpickler.load()
    poisoned = 0
    for key, entry in entries.items():
        if key[0] == "read" and key[1].endswith("her-2013.md"):
            (html, metadata), records, reported = entry
            entries[key] = ((f"<p>{POISON}</p>", metadata), records, reported)
            poisoned += 1
    assert poisoned == 1
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer)
    pickler.persistent_id = lambda value: "settings" if value is settings_stand_in else None
    pickler.dump(entries)
    cache_file.write_bytes(buffer.getvalue())


def test_the_content_cache_is_used_when_nothing_changed(site):
    build(site)
    assert content_cache.last_counts[1] > 0  # everything read
    poison_content_cache(site)
    (site / "output").rename(site / "first-output")
    build(site)
    assert POISON in page(site)
    reused, read = content_cache.last_counts
    assert read == 0 and reused > 10


def test_an_edited_review_is_read_again(site):
    build(site)
    poison_content_cache(site)
    review = site / "content" / "reviews" / "her-2013.md"
    review.write_text(review.read_text(encoding="utf-8") + "\nA new closing line about the ukulele.\n",
                      encoding="utf-8")
    build(site)
    assert POISON not in page(site) and "ukulele" in page(site)
    assert content_cache.last_counts[1] == 1  # only that review


@pytest.mark.parametrize("setting, value, shows", [
    # Typogrify off: the cached typographer's output must not be reused.
    ("TYPOGRIFY", False, lambda html: 'class="caps"' not in html),
    # Any setting at all: the fingerprint holds every one but where files go.
    ("SITESUBTITLE", "Another subtitle", lambda html: "Another subtitle" in html),
])
def test_a_changed_setting_reads_every_source_again(site, setting, value, shows):
    build(site)
    poison_content_cache(site)
    build(site, overrides={setting: value})
    assert POISON not in page(site)
    assert shows(page(site))
    assert content_cache.last_counts[0] == 0


def test_where_the_output_goes_does_not_change_the_fingerprint(site, tmp_path):
    build(site)
    poison_content_cache(site)
    build(site, output=tmp_path / "elsewhere")  # as `invoke check` does
    assert POISON in (tmp_path / "elsewhere" / REVIEW).read_text(encoding="utf-8")


def test_changed_plugin_code_reads_every_source_again(site):
    build(site)
    poison_content_cache(site)
    catalog = site / "plugins" / "filmreviews" / "catalog.py"
    catalog.write_text(catalog.read_text(encoding="utf-8") + "\n# A changed plugin.\n", encoding="utf-8")
    build(site)
    assert POISON not in page(site)


def test_another_pelican_version_reads_every_source_again(site, monkeypatch):
    build(site)
    poison_content_cache(site)
    real = fingerprint.versions

    def other_pelican(*names):
        found = dict(real(*names))
        found["pelican"] = "0.0.test"
        return found

    monkeypatch.setattr(fingerprint, "versions", other_pelican)
    build(site)
    assert POISON not in page(site)


def test_an_edited_template_shows_in_the_next_build(site):
    build(site)
    template = site / "theme" / "templates" / "article.html"
    text = template.read_text(encoding="utf-8")
    template.write_text(text.replace('<h2 id="related-reviews-heading">Related reviews</h2>',
                                     '<h2 id="related-reviews-heading">Also worth a look</h2>'), encoding="utf-8")
    build(site)
    assert "Also worth a look" in page(site) and "Related reviews</h2>" not in page(site)


def test_a_cached_review_reports_its_problems_every_build(site):
    review = site / "content" / "reviews" / "her-2013.md"
    review.write_text(review.read_text(encoding="utf-8").replace("Year: 2013", "Year: 20133"), encoding="utf-8")
    first = build(site)
    second = build(site)
    assert content_cache.last_counts[1] == 0  # the second build read nothing
    assert [p for p in first.problems if "her-2013.md" in p] == [p for p in second.problems if "her-2013.md" in p]
    assert any("Year" in p for p in second.problems if "her-2013.md" in p)


# --- The poster cache -----------------------------------------------------------------------

def poster_file(site: Path, suffix: str) -> Path:
    derived = site / "output" / "images" / "posters" / "derived"
    [name] = [p.name for p in derived.iterdir() if p.name.startswith("her-2013-500-") and p.suffix == suffix]
    return derived / name


def test_another_pillow_version_encodes_the_posters_again(tmp_path, monkeypatch):
    site = copy_site(tmp_path / "site")  # a poster cache of its own, to poison
    build(site)
    cached = poster_file(site, ".webp")
    original = cached.read_bytes()
    # The output file is a link to the cache entry: poison the entry.
    entry = Path(os.path.realpath(cached))
    cached.unlink()
    for path in (site / "cache" / "posters").glob("*/500.webp"):
        if path.read_bytes() == original:
            entry = path
    entry.write_bytes(b"poison")
    build(site)
    assert poster_file(site, ".webp").read_bytes() == b"poison"  # the cache was used

    real = fingerprint.versions

    def other_pillow(*names):
        found = dict(real(*names))
        found["pillow"] = "0.0.test"
        return found

    monkeypatch.setattr(fingerprint, "versions", other_pillow)
    stats = []
    posters_attached.connect(keep := lambda generator, stats_=None, **kw: stats.append(kw.get("stats")))
    try:
        build(site)
    finally:
        posters_attached.disconnect(keep)
    webp = poster_file(site, ".webp")
    assert webp.read_bytes() != b"poison" and webp.read_bytes()[8:12] == b"WEBP"
    assert stats and stats[0].files_encoded > 0


def test_prune_removes_derivatives_no_review_uses_and_keeps_the_rest(tmp_path):
    from blogtools.caches import clean_caches
    from blogtools.site_settings import read_site_settings

    site = copy_site(tmp_path / "site")
    build(site)
    cache = site / "cache" / "posters"
    before = {p.name for p in cache.iterdir()}
    cards_before = {p.name for p in (cache / "cards").iterdir()}
    # Her gets a new poster: its old derivatives and card are used by nothing.
    poster = site / "content" / "images" / "posters" / "her-2013.jpg"
    other = site / "content" / "images" / "posters" / "alien-1979.jpg"
    poster.write_bytes(other.read_bytes())
    build(site)
    lines = clean_caches(read_site_settings("pelicanconf.py", site), site)
    after = {p.name for p in cache.iterdir()}
    cards_after = {p.name for p in (cache / "cards").iterdir()}
    # Her's old derivatives and old card; the new poster shares Alien's derivatives.
    assert "removed 2 poster derivative folder(s) and card(s)" in lines[0]
    assert len(before - after) == 1 and after < before
    assert len(cards_before - cards_after) == 1 and len(cards_after) == len(cards_before)
    assert not (site / "cache" / "content").exists()
    # Everything the site uses is still there: the next build encodes nothing.
    stats = []
    posters_attached.connect(keep := lambda generator, **kw: stats.append(kw["stats"]))
    try:
        build(site)
    finally:
        posters_attached.disconnect(keep)
    assert stats[0].encodes == 0


# --- A second build writes nothing that did not change -------------------------------------------

def files_with_times(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_build_of_an_unchanged_site_rewrites_only_the_sitemap(site):
    build(site)
    first = files_with_times(site / "output")
    build(site)
    second = files_with_times(site / "output")
    assert set(first) == set(second)
    changed = sorted(name for name in first if first[name] != second[name])
    # pelican-sitemap writes its file itself, on every build, and stamps pages
    # without a date (the home page, lists) with the time of the build as
    # <lastmod>: the one file that is rewritten by design (its bytes differ
    # whenever the builds fall in different seconds).
    assert changed == ["sitemap.xml"], changed
