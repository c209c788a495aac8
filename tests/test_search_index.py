"""The search index built while pages are written holds what Pagefind's own run finds.

Pagefind writes its bundle differently on every run (its filter files and
the names derived from them), but each page's fragment (its text, title and
image, under a content hash) is the same for the same page: comparing the
fragment files compares what search finds.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from blogtools.build import build_site
from filmreviews import search
from tests.site_copy import copy_site, shared_poster_cache


def fragments(bundle: Path) -> dict[str, dict]:
    """Each indexed page's fragment, by its URL."""
    found = {}
    for path in (bundle / "fragment").glob("*.pf_fragment"):
        fragment = json.loads(gzip.decompress(path.read_bytes())[len(b"pagefind_dcd"):])
        found[fragment["url"]] = fragment
    return found


def test_index_built_while_writing_holds_what_pagefind_finds_over_the_output(output, tmp_path):
    cli = tmp_path / "cli-bundle"
    subprocess.run([sys.executable, "-m", "pagefind", "--site", str(output), "--output-path", str(cli)],
                   check=True, capture_output=True)
    ours, theirs = fragments(output / "pagefind"), fragments(cli)
    assert len(ours) == 14 and all(url.startswith("/reviews/") for url in ours)
    assert ours == theirs
    entry = json.loads((output / "pagefind" / "pagefind-entry.json").read_text(encoding="utf-8"))
    assert entry["languages"]["en"]["page_count"] == 14


def _page(folder: Path, name: str, body: str, marked: bool = True) -> Path:
    path = folder / name / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    attribute = " data-pagefind-body" if marked else ""
    path.write_text(f'<!doctype html><html lang="en"><head><title>{name}</title></head>'
                    f"<body><main{attribute}><h1>{name}</h1><p>{body}</p></main></body></html>",
                    encoding="utf-8")
    return path


def test_a_marked_page_written_after_the_early_bundle_is_still_indexed(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    cache.mkdir()
    index = search.SearchIndex(site.resolve(), cache, search.get_executable())
    index.add(_page(site, "first", "alpha words"))
    index.add(_page(site, "list", "not for search", marked=False))
    index.write_bundle()  # as at article_writer_finalized
    index.add(_page(site, "late", "omega words"))  # a marked page written afterwards
    assert index.finish() == 2
    assert set(fragments(site / "pagefind")) == {"/first/", "/late/"}
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1  # only the final bundle is kept


def test_the_same_pages_reuse_the_cached_bundle_without_starting_pagefind(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    cache.mkdir()
    runs, services = [], []
    for _ in range(2):
        index = search.SearchIndex(site.resolve(), cache, search.get_executable())
        index.add(_page(site, "one", "the same words"))
        index.add(_page(site, "two", "more of the same"))
        index.write_bundle()
        index.finish()
        services.append(index.service)
        runs.append({p.relative_to(site).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
                     for p in (site / "pagefind").rglob("*") if p.is_file()})
    assert runs[0] == runs[1]
    assert services[0] is not None and services[1] is None  # the second build never ran Pagefind


def test_a_changed_page_starts_pagefind_with_every_page_so_far(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    cache.mkdir()
    for words in ("first version", "second version"):
        index = search.SearchIndex(site.resolve(), cache, search.get_executable())
        index.add(_page(site, "same", "unchanged words"))
        index.add(_page(site, "edited", words))
        index.add(_page(site, "after", "unchanged too"))
        assert index.finish() == 3
    assert index.service is not None
    found = fragments(site / "pagefind")
    assert set(found) == {"/same/", "/edited/", "/after/"}
    assert "second version" in found["/edited/"]["content"]


def test_a_removed_page_leaves_the_index(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "cache"
    cache.mkdir()
    for names in (("kept", "removed"), ("kept",)):
        index = search.SearchIndex(site.resolve(), cache, search.get_executable())
        for name in names:
            index.add(_page(site, name, f"words of {name}"))
        index.finish()
    assert set(fragments(site / "pagefind")) == {"/kept/"}


def test_pagefind_stopping_is_a_search_problem_not_a_traceback(tmp_path, tmp_path_factory, monkeypatch):
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    monkeypatch.setattr(search, "get_executable", lambda: Path("/bin/false"))
    result = build_site(site / "pelicanconf.py", site / "output", root=site, progress=False)
    assert result.error is None
    problems = [p for p in result.problems if p.startswith("Search problem")]
    assert problems == ["Search problem: pagefind: search index: 'Pagefind stopped with exit status 1': "
                        f"expected a search index in {site.resolve() / 'output' / 'pagefind'}"], result.problems
    assert not result.ok
