"""Approved linkbacks on the built review page: listing, escaping, discovery, bad data files."""

import json

import pytest
from bs4 import BeautifulSoup, Comment

from blogtools.build import build_site
from tests.site_copy import copy_site

HOSTILE = [
    {"id": 7, "kind": "trackback", "type": "mention",
     "source": "https://attacker.example/\"><script>alert(1)</script>",
     "title": "5 < 6 & \"quoted\" -- it's fine",
     "author": "Mallory & Sons <3",
     "excerpt": "A < B && C > D, said nobody -->",
     "date": "2024-05-01T10:00:00+00:00"},
    {"id": 8, "kind": "webmention", "type": "like",
     "source": "https://friend.example/likes/1",
     "title": "Liked it", "author": "Friend", "excerpt": "",
     "date": "2024-05-02T10:00:00+00:00"},
]


@pytest.fixture(scope="module")
def poster_cache(tmp_path_factory):
    return {"FILMREVIEWS_POSTER_CACHE": str(tmp_path_factory.mktemp("poster-cache"))}


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory, poster_cache):
    root = copy_site(tmp_path_factory.mktemp("hostile"))
    data = root / "content" / "linkbacks" / "her-2013.json"
    data.write_text(json.dumps({"review": "her-2013", "linkbacks": HOSTILE}), encoding="utf-8")
    result = build_site(root / "publishconf.py", root / "output", root=root, overrides=poster_cache)
    assert result.error is None
    page = root / "output" / "reviews" / "her-2013" / "index.html"
    return result, BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


def test_approved_linkbacks_are_listed_under_the_review(hostile_site):
    _, page = hostile_site
    items = page.select("#responses li.linkback")
    assert [li.select_one(".linkback-kind").get_text() for li in items] == ["Trackback", "Like"]
    assert items[1].find("a")["href"] == "https://friend.example/likes/1"
    assert items[1].find("a")["rel"] == ["nofollow", "ugc"]
    assert items[0].find("time")["datetime"].startswith("2024-05-01")


def test_linkback_fields_are_escaped_on_the_page(hostile_site):
    _, page = hostile_site
    responses = page.select_one("#responses")
    assert responses.find("script") is None
    assert responses.find("img") is None and responses.find("b") is None
    for tag in responses.find_all(True):
        assert not [a for a in tag.attrs if a.startswith("on")], tag
    first = responses.select_one("li.linkback")
    assert first.select_one(".linkback-title").get_text() == "5 < 6 & \"quoted\" -- it's fine"
    assert first.select_one(".linkback-excerpt").get_text() == "A < B && C > D, said nobody -->"
    assert first.find("a")["href"] == HOSTILE[0]["source"]  # the quote stayed inside the attribute


def test_review_page_advertises_how_to_respond(hostile_site):
    _, page = hostile_site
    assert page.find("link", rel="pingback")["href"] == "https://reelnotes.example.org/linkbacks/pingback"
    assert page.find("link", rel="webmention")["href"] == "https://reelnotes.example.org/linkbacks/webmention"
    invite = page.select_one("#responses").get_text(" ")
    assert "You can leave a response, or trackback from your own site." in invite
    assert "https://reelnotes.example.org/linkbacks/trackback/her-2013" in invite
    rdf = [c for c in page.find_all(string=lambda s: isinstance(s, Comment)) if "trackback:ping" in c]
    assert len(rdf) == 1
    assert 'trackback:ping="https://reelnotes.example.org/linkbacks/trackback/her-2013"' in rdf[0]


def test_preview_without_receiver_advertises_no_endpoints(preview_build):
    page = BeautifulSoup((preview_build.output_path / "reviews" / "her-2013" / "index.html")
                         .read_text(encoding="utf-8"), "html.parser")
    assert page.find("link", rel="pingback") is None
    assert page.find("link", rel="webmention") is None
    assert page.select("#responses li.linkback")  # the sample data file is still shown


@pytest.mark.parametrize("content,expected", [
    ("{not json", "is not valid JSON"),
    (json.dumps({"review": "no-such-review", "linkbacks": []}), "expected the slug of a published review"),
    (json.dumps({"review": "her-2013", "linkbacks": [dict(HOSTILE[1], source="javascript:alert(1)")]}), "source"),
    (json.dumps({"review": "her-2013", "linkbacks": [dict(HOSTILE[1], title="<script>x</script>")]}), "plain text"),
])
def test_bad_data_file_is_a_problem_naming_the_file(tmp_path, poster_cache, content, expected):
    root = copy_site(tmp_path)
    name = "no-such-review.json" if "no-such-review" in content else "her-2013.json"
    (root / "content" / "linkbacks" / name).write_text(content, encoding="utf-8")
    result = build_site(root / "pelicanconf.py", root / "output", root=root, overrides=poster_cache)
    problems = [p for p in result.problems if p.startswith("Linkback problem")]
    assert len(problems) == 1, result.problems
    assert f"content/linkbacks/{name}" in problems[0] and expected in problems[0]
    assert "Traceback" not in problems[0]


def test_poster_cards_count_responses(preview_build):
    home = BeautifulSoup((preview_build.output_path / "index.html").read_text(encoding="utf-8"), "html.parser")
    counts = {}
    for card in home.select("article.poster-card"):
        link = card.select_one(".poster-card-responses a")
        if link:
            counts[card.select_one(".poster-card-title a")["href"]] = link.get_text()
    # Only the Her review has approved responses in the sample data (two).
    assert list(counts.values()) == ["2 responses"], counts
    assert all("her-2013" in href for href in counts)
