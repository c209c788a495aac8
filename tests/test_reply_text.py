"""render_reply: the Markdown subset readers write, and nothing else."""

from __future__ import annotations

import random

import pytest
from bs4 import BeautifulSoup

from reelnotes.reply_text import ALLOWED_TAGS, link_count, render_reply


def assert_only_reply_markup(html: str) -> BeautifulSoup:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        assert tag.name in ALLOWED_TAGS, (tag.name, html)
        allowed = {"href", "rel"} if tag.name == "a" else set()
        assert set(tag.attrs) <= allowed, (tag.attrs, html)
        if tag.name == "a":
            assert tag["href"].lower().startswith(("http://", "https://")), html
            assert tag["rel"] == ["nofollow", "ugc"]
    return soup


def test_paragraphs_line_breaks_links_and_emphasis():
    html = render_reply("Loved *it*, **truly**.\nSecond line.\n\nSee [my notes](https://ana.example/her).")
    soup = assert_only_reply_markup(html)
    assert [p.get_text() for p in soup.find_all("p")] == ["Loved it, truly.\nSecond line.", "See my notes."]
    assert soup.find("br") is not None and soup.em.get_text() == "it" and soup.strong.get_text() == "truly"
    assert soup.a["href"] == "https://ana.example/her"


@pytest.mark.parametrize("text, shown", [
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),
    ('<a href="javascript:alert(1)">x</a>', '<a href="javascript:alert(1)">x</a>'),
    ("[click](javascript:alert(1))", "click"),
    ("[click](JaVaScRiPt:alert(1))", "click"),
    ("[click](data:text/html;base64,PHNjcmlwdD4=)", "click"),
    ("[click](/admin)", "click"),
    ("# Not a heading", "# Not a heading"),
    ("![poster](https://evil.example/x.png)", "![poster](https://evil.example/x.png)"),
    ("<mail@example.org>", "<mail@example.org>"),
    ("<div onmouseover=alert(1)>hover</div>", "<div onmouseover=alert(1)>hover</div>"),
    ("&lt;script&gt;", "<script>"),
    ("right\u202eto left", "rightto left"),
])
def test_hostile_input_shows_as_text_and_never_as_markup(text, shown):
    html = render_reply(text)
    soup = assert_only_reply_markup(html)
    assert soup.get_text().strip() == shown
    assert "<script" not in html and "<img" not in html and "<div" not in html


def test_link_titles_and_attributes_are_dropped():
    soup = assert_only_reply_markup(render_reply('[x](https://a.example "a title")'))
    assert soup.a.attrs == {"href": "https://a.example", "rel": ["nofollow", "ugc"]}


def test_random_markup_soup_never_escapes_the_allowed_set():
    tokens = ["<", ">", "&", "[", "]", "(", ")", "*", "_", "`", "\n", "\n\n", "> ", "javascript:", "http://x.example",
              "<a href='", "'>", "</a>", "<script>", "<svg/onload=1>", '"', "'", "=", "onerror", "<!--", "-->",
              "&#106;avascript:", "\u202e", "\x00", "![", "<b>", "<p>", "</p>", "    ", "#", "- ", "1. "]
    rng = random.Random(2026)
    for _ in range(1500):
        text = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 20)))
        assert_only_reply_markup(render_reply(text))


def test_empty_text_renders_nothing():
    assert render_reply("") == render_reply("  \n ") == ""


def test_link_count_counts_linked_and_bare_addresses():
    assert link_count("See https://a.example, [b](http://b.example) and www.c.example.") == 3
    assert link_count("No links here.") == 0
