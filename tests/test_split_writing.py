"""Pages rendered by two processes: the same site, the same problems, one build."""

from __future__ import annotations

import os
import re

from blogtools.build import build_site
from tests.site_copy import copy_site, set_field, shared_poster_cache, tree


def _build(site, output, split):
    return build_site(site / "pelicanconf.py", output, root=site, progress=False, split_pages=split)


def _without_generated(files: dict) -> dict:
    # Pagefind's bundle differs on every run and the sitemap carries the build time.
    return {name: data for name, data in files.items() if not name.startswith("pagefind/") and name != "sitemap.xml"}


def test_two_processes_write_the_same_site_as_one(tmp_path, tmp_path_factory):
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    one = _build(site, tmp_path / "one", split=False)
    two = _build(site, tmp_path / "two", split=True)
    assert one.ok and two.ok, (one.problems, two.problems)
    assert _without_generated(tree(tmp_path / "one")) == _without_generated(tree(tmp_path / "two"))

    def locations(output):
        return sorted(re.findall(r"<loc>([^<]+)</loc>", (output / "sitemap.xml").read_text(encoding="utf-8")))

    assert locations(tmp_path / "one") == locations(tmp_path / "two")
    assert (tmp_path / "two" / "pagefind" / "pagefind.js").is_file()


def test_problems_found_while_rendering_lists_reach_the_build(tmp_path, tmp_path_factory):
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    # A link to a missing file in a summary: cards on list pages render it too.
    set_field(site / "content" / "reviews" / "her-2013.md", "Summary", "See [the script]({filename}/nowhere.md).")
    one = _build(site, tmp_path / "one", split=False)
    two = _build(site, tmp_path / "two", split=True)
    assert [p for p in one.problems if "nowhere.md" in p]
    assert sorted(one.problems) == sorted(two.problems)


def test_a_list_page_that_cannot_be_rendered_fails_the_build_once(tmp_path, tmp_path_factory):
    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    template = site / "theme" / "templates" / "tag.html"
    template.write_text(template.read_text(encoding="utf-8").replace("{% block content %}",
                                                                     "{% block content %}{{ no_such_macro() }}", 1),
                        encoding="utf-8")
    pid = os.getpid()
    result = _build(site, tmp_path / "out", split=True)
    assert os.getpid() == pid  # the list writer never came back here
    assert result.error and "Writing the list pages failed" in result.error
    assert "no_such_macro" in result.error
    assert (tmp_path / "out" / "reviews" / "her-2013" / "index.html").is_file()  # the build's own pages


def test_reviews_read_ahead_by_a_second_process_give_the_same_site_and_problems(tmp_path, tmp_path_factory):
    from benchmarks import corpus
    from filmreviews import content_cache

    site = copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))
    content = site / "content"
    # Enough reviews the cache lacks to be worth a second reader; no poster files,
    # so every review also reports a problem, which must come back from that process.
    corpus.generate_corpus(content / "reviews-generated", reviews=content_cache.READ_AHEAD_FROM + 20, posters=False)
    for review in (content / "reviews-generated" / "reviews").glob("*.md"):
        review.rename(content / "reviews" / review.name)
    one = build_site(site / "pelicanconf.py", tmp_path / "one", root=site, progress=False, split_pages=False,
                     overrides={"CACHE_PATH": str(tmp_path / "cache-one")})
    waited = []
    original = content_cache._ReadAhead.wait_for

    def counting(self, key, cache):
        waited.append(key)
        return original(self, key, cache)

    content_cache._ReadAhead.wait_for = counting
    try:
        two = build_site(site / "pelicanconf.py", tmp_path / "two", root=site, progress=False, split_pages=True,
                         overrides={"CACHE_PATH": str(tmp_path / "cache-two")})
    finally:
        content_cache._ReadAhead.wait_for = original
    assert len(waited) >= content_cache.READ_AHEAD_FROM // 2  # half the reviews came from the other process
    assert one.error is None and two.error is None
    assert sorted(one.problems) == sorted(two.problems)
    assert len([p for p in two.problems if "Poster" in p]) >= content_cache.READ_AHEAD_FROM
    assert _without_generated(tree(tmp_path / "one")) == _without_generated(tree(tmp_path / "two"))
    # What the second process read is in the cache: the next build reads nothing.
    three = build_site(site / "pelicanconf.py", tmp_path / "three", root=site, progress=False,
                       overrides={"CACHE_PATH": str(tmp_path / "cache-two")})
    assert content_cache.last_counts[1] == 0 and three.problems == two.problems
