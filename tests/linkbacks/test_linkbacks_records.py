"""The data between the build and the service (reelnotes.contract): the
approved-records files -- the folder reader the plugin calls, its errors,
the writer export uses -- and reviews.json."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from linkbacks.moderation import write_file
from reelnotes.contract import (
    Linkback,
    ReviewEntry,
    ReviewsIndexError,
    clean_display_text,
    endpoint_urls,
    load_folder,
    read_reviews_index,
    write_reviews_index,
)
from tests.linkbacks.support import approved_records

SLUGS = {"her-2013", "alien-1979"}


def entry(**overrides):
    data = {
        "id": "receiver-12",
        "kind": "webmention",
        "type": "reply",
        "source": "https://blog.example/posts/her",
        "title": "On Her",
        "author": "Example Blog",
        "excerpt": "A lovely film.",
        "date": "2026-11-20T10:00:00+00:00",
    }
    data.update(overrides)
    return data


def reply_entry(**overrides):
    data = entry(id="receiver-14", kind="reply", type="reply", source="", title="", author="Ana",
                 excerpt="Nice.", text="Nice *film*.", parent=None, by_author=False)
    data.update(overrides)
    return data


def write(content: Path, name: str, data) -> Path:
    folder = content / "linkbacks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_the_folder_is_read_and_each_review_sorted_by_date(tmp_path):
    write(tmp_path, "her-2013.json", {"review": "her-2013", "linkbacks": [
        entry(id=2, date="2026-11-21T09:00:00+01:00", kind="trackback", type="mention"),  # legacy integer id
        entry(id="hand-1", date="2026-11-19T10:00:00+00:00", kind="pingback", type="mention"),
    ]})
    write(tmp_path, "alien-1979.json", {"review": "alien-1979", "linkbacks": []})
    result = approved_records(tmp_path, SLUGS)
    assert set(result) == {"her-2013", "alien-1979"}
    assert [lb.id for lb in result["her-2013"]] == ["hand-1", "2"]  # an integer is a hand-written id
    first = result["her-2013"][0]
    assert isinstance(first, Linkback)
    assert (first.label, result["her-2013"][1].label) == ("Pingback", "Trackback")
    assert first.link == "https://blog.example/posts/her"
    assert first.date == datetime(2026, 11, 19, 10, tzinfo=UTC)
    assert first.iso_date == "2026-11-19T10:00:00+00:00"
    assert result["alien-1979"] == []


def test_missing_folder_means_no_linkbacks(tmp_path):
    assert load_folder(tmp_path / "linkbacks", SLUGS) == ({}, [])


@pytest.mark.parametrize(
    "name, data, fragments",
    [
        ("her-2013.json", '{"review": "her-2013", "linkbacks": [', ["her-2013.json", "not valid JSON", "line 1"]),
        ("her-2013.json", "[]", ["her-2013.json", "top level", "expected an object"]),
        ("gone-2020.json", {"review": "gone-2020", "linkbacks": []},
         ["gone-2020.json", "'review'", '"gone-2020"', "published review"]),
        ("her-2013.json", {"review": "alien-1979", "linkbacks": []},
         ["her-2013.json", "'review'", '"alien-1979"', '"her-2013"']),
        ("her-2013.json", {"review": "her-2013"}, ["her-2013.json", "'linkbacks' is missing"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(source="javascript:alert(1)")]},
         ["her-2013.json", "linkbacks[0]", "'source'", '"javascript:alert(1)"', "http:// or https://"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [{k: v for k, v in entry().items() if k != "date"}]},
         ["her-2013.json", "linkbacks[0]", "'date' is missing"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(kind="comment")]},
         ["'kind'", '"comment"', "trackback, pingback, webmention"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(type="bookmark")]},
         ["'type'", '"bookmark"', "mention, reply, like, repost"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(date="yesterday")]},
         ["'date'", '"yesterday"', "ISO 8601"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(date="2026-11-20T10:00:00")]},
         ["'date'", "UTC offset"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(excerpt="x" * 281)]},
         ["'excerpt'", "281 characters", "at most 280"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(title="<b>bold</b>")]},
         ["'title'", "plain text"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(id="<7>")]},
         ["'id'", '"<7>"', "expected a record id", "hand-1"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(id=0)]},
         ["'id'", "0", "expected a record id"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(), entry()]},
         ["linkbacks[1]", "'id' is \"receiver-12\"", "not used earlier"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(text="Hi")]},
         ["'text' is not known", "belong to kind \"reply\""]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [reply_entry(text="")]},
         ["'text'", "expected the reply's text"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [reply_entry(text="x" * 5001)]},
         ["'text'", "5001 characters", "at most 5000"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [reply_entry(by_author="yes")]},
         ["'by_author'", '"yes"', "true or false"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [reply_entry(parent="a b")]},
         ["'parent'", '"a b"', "record id"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [reply_entry(source="javascript:x")]},
         ["'source'", "or \"\" (no website)"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [reply_entry(type="like")]},
         ["'type'", "\"reply\" for kind \"reply\""]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [{k: v for k, v in reply_entry().items()
                                                                 if k != "parent"}]},
         ["'parent' is missing"]),
        ("her-2013.json", {"review": "her-2013", "linkbacks": [entry(extra=1)]},
         ["'extra' is not known"]),
    ],
)
def test_bad_data_files_name_file_field_value_and_expectation(tmp_path, name, data, fragments):
    path = write(tmp_path, name, data)
    write(tmp_path, "alien-1979.json", {"review": "alien-1979", "linkbacks": [entry()]})
    by_slug, errors = load_folder(tmp_path / "linkbacks", SLUGS)
    assert list(by_slug) == ["alien-1979"]  # the bad file is left out, the good one still read
    [message] = [str(error) for error in errors]
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_non_utf8_file(tmp_path):
    folder = tmp_path / "linkbacks"
    folder.mkdir()
    (folder / "her-2013.json").write_bytes(b'{"review": "her-2013", "linkbacks": [], "x": "\xff"}')
    _, [error] = load_folder(folder, SLUGS)
    assert "her-2013.json: is not UTF-8" in str(error)


def test_write_file_round_trip_is_pretty_and_atomic(tmp_path):
    path = tmp_path / "linkbacks" / "her-2013.json"
    linkbacks = [Linkback.from_dict(entry(id="receiver-3")),
                 Linkback.from_dict(entry(id="hand-1", date="2026-01-01T00:00:00+00:00")),
                 Linkback.from_dict(reply_entry(parent="receiver-3", date="2026-12-01T00:00:00+00:00"))]
    assert write_file(path, "her-2013", linkbacks) is True
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "review": "her-2013",\n  "linkbacks": [\n')
    records = json.loads(text)["linkbacks"]
    assert [lb["id"] for lb in records] == ["hand-1", "receiver-3", "receiver-14"]
    assert "text" not in records[0] and (records[2]["text"], records[2]["parent"]) == ("Nice *film*.", "receiver-3")
    assert write_file(path, "her-2013", linkbacks) is False  # unchanged: not rewritten
    assert [p.name for p in path.parent.iterdir()] == ["her-2013.json"]  # no temp files left
    assert approved_records(tmp_path, SLUGS)["her-2013"] == sorted(linkbacks, key=lambda lb: lb.date)


def test_labels_and_helpers():
    base = Linkback.from_dict(entry())
    labels = {t: Linkback.from_dict(entry(type=t)).label for t in ("reply", "like", "repost", "mention")}
    assert labels == {"reply": "Webmention reply", "like": "Like", "repost": "Repost", "mention": "Webmention"}
    assert Linkback.from_dict(entry(kind="trackback", type="mention")).label == "Trackback"
    assert Linkback.from_dict(reply_entry()).label == "Reply"
    assert Linkback.from_dict(reply_entry(author="")).display_title == "Anonymous"
    assert base.date_label == "20 November 2026"
    assert Linkback.from_dict(entry(title="", author="")).display_title == "https://blog.example/posts/her"
    assert endpoint_urls("https://example.org/linkbacks/", "her-2013") == {
        "trackback_url": "https://example.org/linkbacks/trackback/her-2013",
        "pingback_url": "https://example.org/linkbacks/pingback",
        "webmention_url": "https://example.org/linkbacks/webmention",
        "reply_url": "https://example.org/linkbacks/reply/her-2013",
    }
    assert set(endpoint_urls("", "her-2013").values()) == {""}
    assert clean_display_text("  <p>Hello</p>\n\n<p>world &amp; co</p> ") == "Hello world & co"


def test_clean_display_text_is_idempotent_and_never_markup():
    """Random soups of markup fragments: the result is stable and an HTML
    parser finds no element, comment or processing instruction in it, even
    embedded unescaped between other elements."""
    import random

    from bs4 import BeautifulSoup

    tokens = ["<", ">", "&", "amp;", "lt;", "gt;", "&amp", "<b>", "</b>", "<script>", "</script>", "<!--", "-->",
              "x", " ", "\n", "\x00", "\u202e", "&#60;", "&#x3c;", "=", '"', "/", "!", "?", "<!", "<?", "&nbsp;",
              "<3", "<img src=x onerror=y>", "&lt", "img", "b"]
    rng = random.Random(20261124)
    for _ in range(3000):
        raw = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 12)))
        text = clean_display_text(raw, 40)
        assert clean_display_text(text) == text, raw
        soup = BeautifulSoup(f"<p>{text}</p><i>end</i>", "html.parser")
        assert [t.name for t in soup.find_all(True)] == ["p", "i"], (raw, text)
        assert all(type(s).__name__ == "NavigableString" for s in soup.find_all(string=True)), (raw, text)


def test_reviews_index_round_trip(tmp_path):
    path = tmp_path / "output" / "reviews.json"
    reviews = [ReviewEntry("her-2013", "/reviews/her-2013/", "Her"), ReviewEntry("cleo-1962", "/reviews/cleo/", "Cléo")]
    write_reviews_index(path, "https://example.org", reviews)
    assert read_reviews_index(path) == ("https://example.org", reviews)
    assert "Cléo" in path.read_text(encoding="utf-8")  # readable by a person, not \u-escaped
    assert [p.name for p in path.parent.iterdir()] == ["reviews.json"]  # no temp file left


@pytest.mark.parametrize("text, fragment", [
    ("{", "cannot read the reviews index"),
    ("[]", "expected an object with a 'reviews' list"),
    ('{"reviews": [{"url": "/x/"}]}', "reviews[0] has no 'slug' string"),
    ('{"reviews": [{"slug": "x", "url": 7}]}', "reviews[0].url is not a string"),
    ('{"site_url": 1, "reviews": []}', "site_url is 1, expected a string"),
])
def test_a_bad_reviews_index_names_the_file_and_the_entry(tmp_path, text, fragment):
    path = tmp_path / "reviews.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReviewsIndexError) as info:
        read_reviews_index(path)
    assert str(info.value).startswith(f"{path}: ") and fragment in str(info.value)
