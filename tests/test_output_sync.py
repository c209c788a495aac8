"""Bringing output/ up to date from a finished build (blogtools.output_sync), on real folders."""

from __future__ import annotations

import os

import pytest

from blogtools.output_sync import SyncResult, compare_builds, sync_tree


def write(folder, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def files(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def build(tmp_path):
    folder = tmp_path / "build"
    write(folder, {"index.html": "home v2", "reviews/her/index.html": "her", "theme/css/site.css": "css v2",
                   "feeds/all.atom.xml": "feed"})
    return folder


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "output"
    write(folder, {"index.html": "home v1", "reviews/her/index.html": "her", "theme/css/site.css": "css v1",
                   "reviews/gone/index.html": "a deleted review", "feeds/all.atom.xml": "feed"})
    return folder


def test_sync_makes_the_served_folder_hold_exactly_the_build(build, served):
    result = sync_tree(build, served)

    assert files(served) == files(build)
    assert sorted(result.written) == ["index.html", "theme/css/site.css"]
    assert result.deleted == ["reviews/gone/index.html"]
    assert not (served / "reviews" / "gone").exists(), "the folder a removed page leaves empty goes too"


def test_sync_leaves_files_with_the_same_bytes_untouched(build, served):
    unchanged = served / "reviews" / "her" / "index.html"
    before = unchanged.stat()

    sync_tree(build, served)

    after = unchanged.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_sync_replaces_a_file_by_renaming_a_whole_new_one_over_it(build, served):
    # A reader holding the old file open keeps reading the old bytes: the file was never rewritten in place.
    with open(served / "index.html", encoding="utf-8") as reader:
        sync_tree(build, served)
        assert reader.read() == "home v1"
    assert (served / "index.html").read_text(encoding="utf-8") == "home v2"


def test_sync_writes_assets_before_pages_and_removes_pages_before_assets(tmp_path):
    build, served = tmp_path / "build", tmp_path / "output"
    write(build, {"a.html": "new page", "z.css": "new style"})
    write(served, {"old.html": "old page", "old.png": "old image"})
    order = []

    class Recording:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            order.append(sorted(set(os.listdir(served))))

    sync_tree(build, served, guard=Recording)

    assert order[0] == ["old.html", "old.png", "z.css"], "the stylesheet lands before the page that uses it"
    assert order[1] == ["a.html", "old.html", "old.png", "z.css"]
    assert order[2] == ["a.html", "old.png", "z.css"], "the old page goes before the image it showed"


def test_sync_stopped_part_way_leaves_only_whole_files(build, served):
    class Stop(Exception):
        pass

    calls = []

    class StopOnSecond:
        def __enter__(self):
            calls.append(1)
            if len(calls) == 2:
                raise Stop

        def __exit__(self, *exc):
            return False

    done = SyncResult()
    with pytest.raises(Stop):
        sync_tree(build, served, guard=StopOnSecond, result=done)

    assert done.written == ["theme/css/site.css"], "what a stopped sync did is known, to reload those tabs later"
    assert files(served)["theme/css/site.css"] == "css v2"  # the first change landed whole
    assert files(served)["index.html"] == "home v1"  # the second never started
    assert not [p for p in served.rglob("*") if p.name.startswith(".") and p.name.endswith(".sync")]


def test_sync_keeps_the_entries_pelican_retains(build, served):
    write(served, {".git/HEAD": "ref: refs/heads/gh-pages"})

    sync_tree(build, served, keep=[".git"])

    assert (served / ".git" / "HEAD").read_text(encoding="utf-8") == "ref: refs/heads/gh-pages"


def test_a_file_where_the_build_now_has_a_folder_is_replaced(tmp_path):
    build, served = tmp_path / "build", tmp_path / "output"
    write(build, {"notes/index.html": "a page"})
    write(served, {"notes": "a file in the way"})

    sync_tree(build, served)

    assert files(served) == {"notes/index.html": "a page"}


def test_comparison_names_every_file_that_differs_from_the_clean_build(tmp_path):
    served, clean = tmp_path / "served", tmp_path / "clean"
    write(served, {"index.html": "stale", "reviews/gone/index.html": "left behind", "same.css": "x"})
    write(clean, {"index.html": "fresh", "same.css": "x", "reviews/new/index.html": "missing"})

    differing, explained = compare_builds(served, clean)

    assert differing == ["index.html: different bytes", "reviews/gone/index.html: only in the served output",
                         "reviews/new/index.html: only in the clean build"]
    assert explained == []


SITEMAP = """<?xml version="1.0" encoding="utf-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>/</loc><lastmod>{now}</lastmod><changefreq>daily</changefreq><priority>0.5</priority></url>
<url><loc>/reviews/her/</loc><lastmod>{her}</lastmod><changefreq>monthly</changefreq><priority>0.8</priority></url>
</urlset>
"""


def test_a_sitemap_that_differs_only_in_the_build_time_is_explained(tmp_path):
    served, clean = tmp_path / "served", tmp_path / "clean"
    write(served, {"sitemap.xml": SITEMAP.format(now="2026-01-01T10:00:00-00:00", her="2024-03-02T20:15:00+01:00")})
    write(clean, {"sitemap.xml": SITEMAP.format(now="2026-01-01T10:05:00-00:00", her="2024-03-02T20:15:00+01:00")})

    differing, explained = compare_builds(served, clean)

    assert differing == []
    assert explained and "1 undated pages" in explained[0]


def test_a_sitemap_with_a_review_dated_differently_differs(tmp_path):
    served, clean = tmp_path / "served", tmp_path / "clean"
    write(served, {"sitemap.xml": SITEMAP.format(now="2026-01-01T10:00:00-00:00", her="2024-03-02T20:15:00+01:00")})
    write(clean, {"sitemap.xml": SITEMAP.format(now="2026-01-01T10:05:00-00:00", her="2024-03-09T20:15:00+01:00")})

    differing, _ = compare_builds(served, clean)

    assert differing == ["sitemap.xml: different bytes"]


def test_files_two_clean_builds_disagree_on_are_explained_when_their_count_matches(tmp_path):
    served, clean, again = tmp_path / "served", tmp_path / "clean", tmp_path / "again"
    write(served, {"pagefind/filter/en_1111111.pf_filter": "a"})
    write(clean, {"pagefind/filter/en_2222222.pf_filter": "b"})
    write(again, {"pagefind/filter/en_3333333.pf_filter": "c"})

    differing, explained = compare_builds(served, clean, again)

    assert differing == []
    assert explained and explained[0].startswith("pagefind/filter/en_*.pf_filter")

    write(served, {"pagefind/filter/en_4444444.pf_filter": "an extra one"})
    differing, _ = compare_builds(served, clean, again)
    assert differing == ["pagefind/filter/en_*.pf_filter: 2 files served, 1 in the clean build"]
