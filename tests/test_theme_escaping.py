"""The theme escapes by default: hostile text in a review's front matter and in
an approved response reaches every page as text, never as markup.

One review whose title, film, directors, summary and tags carry a script tag
and an attribute breakout, plus a response carrying the same, built with the
production settings (so the TrackBack RDF comment and endpoint links render).
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup, Comment

from blogtools.build import build_site
from filmreviews.review import text_of_html
from tests.site_copy import site_with_reviews
from tests.site_fixture import html_pages, soup_of

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
HOSTILE = f"{SCRIPT} {BREAKOUT}"
MOVIE = f"Tom & Jerry {HOSTILE}"
REVIEW = f"""\
Title: Hostile {HOSTILE} review
Date: 2024-01-12 20:00
Slug: hostile
Movie: {MOVIE}
Year: 1979
Director: Ann {HOSTILE}, Bob & Co
Genre: Horror
Rating: 4
Poster: images/posters/alien-1979.jpg
Summary: Plain words {HOSTILE}
Tags: one {SCRIPT}, two {BREAKOUT}

The body itself is harmless.
"""
# Approved responses hold plain text only (the records refuse tags), but
# quotes, ampersands and a lone "<" are plain text too.
QUOTES = "Tom & Jerry said \"1 < 2\" > 0"
HANDLER = "\" onmouseover=\"alert(1)\" x='"
RESPONSE = {
    "review": "hostile",
    "linkbacks": [{
        "id": 1,
        "kind": "webmention",
        "type": "reply",
        "source": "https://example.org/reply?a=1&b=2",
        "title": QUOTES,
        "author": HANDLER,
        "excerpt": f"{QUOTES} {HANDLER}",
        "date": "2024-02-01T10:00:00+00:00",
    }],
}
# Text that shows an entity has been escaped twice (&amp;lt; in the source).
DOUBLE_ESCAPED = re.compile(r"&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);", re.I)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = site_with_reviews(tmp_path_factory, "hostile-site", {"hostile.md": REVIEW})
    linkbacks = root / "content" / "linkbacks"
    for stale in linkbacks.glob("*.json"):
        stale.unlink()  # they answer reviews this copy no longer has
    (linkbacks / "hostile.json").write_text(json.dumps(RESPONSE), encoding="utf-8")
    result = build_site(root / "publishconf.py", root / "output", root=root)
    assert result.ok, result.problems
    return result.output_path


@pytest.fixture(scope="module")
def review(site):
    return soup_of(site / "reviews" / "hostile" / "index.html")


def test_no_page_carries_a_script_or_an_event_handler_from_the_input(site):
    pages = html_pages(site)
    assert len(pages) > 10
    for path in pages:
        raw = path.read_text(encoding="utf-8")
        assert "<script>alert" not in raw.lower(), path
        soup = BeautifulSoup(raw, "html.parser")
        handlers = [(el.name, name) for el in soup.find_all(True) for name in el.attrs
                    if name.lower().startswith("on")]
        assert handlers == [], path
        assert soup.find("img", src="x") is None, path
        for script in soup.find_all("script", src=False):
            if script.get("type") == "application/ld+json":
                json.loads(script.string)  # one JSON value, nothing after it
            else:
                assert "alert" not in script.string, path


def test_no_page_escapes_a_value_twice(site):
    for path in html_pages(site):
        soup = soup_of(path)
        # Comments excepted: the TrackBack RDF is XML, where entities belong.
        texts = [str(s) for s in soup.find_all(string=True) if not isinstance(s, Comment)]
        texts += [str(v) for el in soup.find_all(True) for v in el.attrs.values()]
        assert [t for t in texts if DOUBLE_ESCAPED.search(t)] == [], path


def test_the_film_and_its_directors_show_as_the_text_the_writer_typed(review):
    assert review.select_one("h1.poster-card-title").get_text() == text_of_html(MOVIE)
    assert text_of_html(MOVIE).startswith('Tom & Jerry') and '">' in text_of_html(MOVIE)
    directed = review.select_one(".film-facts dd").get_text()
    assert directed == f"{text_of_html(f'Ann {HOSTILE}')}, Bob & Co"


def test_tags_show_literally_on_the_review_and_their_own_pages(site, review):
    links = review.select(".tag-list a")
    assert [a.get_text() for a in links] == [f"one {SCRIPT}", f"two {BREAKOUT}"]
    for link in links:
        page = soup_of(site / urlsplit(link["href"]).path.strip("/") / "index.html")
        assert page.h1.get_text() == f"Tagged “{link.get_text()}”"
        assert page.title.string.startswith(f"Tagged “{link.get_text()}”")
        assert link.get_text() in page.find("meta", attrs={"name": "description"})["content"]


def test_the_summary_is_text_in_the_lede_the_meta_tags_and_the_feed(site, review):
    lede = review.select_one(".review-lede")
    assert [el.name for el in lede.find_all(True)] == ["p"]
    assert SCRIPT in lede.get_text() and "onerror=alert(1)>" in lede.get_text()
    description = review.find("meta", attrs={"name": "description"})["content"]
    assert SCRIPT in description
    assert review.find("meta", property="og:description")["content"] == description
    feed = feedparser.parse((site / "feeds" / "all.atom.xml").read_bytes())
    entry = feed.entries[0]
    # feedparser would drop a real <script> element; text survives as text.
    assert SCRIPT in BeautifulSoup(entry.summary, "html.parser").get_text()


def test_a_hostile_response_shows_as_text(review):
    item = review.select_one("#responses li.linkback")
    assert item.select_one(".linkback-title").get_text() == QUOTES
    assert item.select_one(".linkback-title")["href"] == "https://example.org/reply?a=1&b=2"
    assert item.select_one(".linkback-author").get_text() == f"by {HANDLER}"
    assert item.select_one(".linkback-excerpt").get_text() == f"{QUOTES} {HANDLER}"


def test_the_feed_title_is_the_film_as_plain_text(site):
    entry = feedparser.parse((site / "feeds" / "all.atom.xml").read_bytes()).entries[0]
    assert entry.title == f"{text_of_html(MOVIE)} (1979) ★★★★"
