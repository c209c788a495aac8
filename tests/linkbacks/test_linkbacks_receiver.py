"""Protocol conformance of the linkback receiver over real HTTP on 127.0.0.1:
TrackBack 1.2, Pingback 1.0 and Webmention, each success and error path.
Sources are pages on a second loopback server. Every test runs on both
stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import pytest

from linkbacks.app import Config, LinkbackApp
from linkbacks.limits import RateLimit
from linkbacks.protocols import webmention
from tests.linkbacks.support import (
    ALIEN,
    BACKENDS,
    HER,
    SITE,
    pingback,
    post_form,
    request,
    start_receiver,
    xmlrpc_result,
)


@pytest.fixture(scope="module", params=BACKENDS)
def receiver(request, tmp_path_factory, new_database):
    running = start_receiver(tmp_path_factory.mktemp("receiver"), db=new_database(request.param))
    yield running
    running.stop()


def trackback_reply(reply):
    root = ET.fromstring(reply.body)
    assert root.tag == "response"
    return root.findtext("error"), root.findtext("message")


# --- TrackBack 1.2 ------------------------------------------------------------------------


def test_trackback_success_stores_pending_plain_text(pages, receiver):
    source = pages.page_linking("/tb/ok", HER)
    reply = post_form(
        receiver.port,
        "/trackback/her-2013",
        {"url": source, "title": "My take", "excerpt": "Lovely film", "blog_name": "Film <b>Blog</b>"},
    )
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/xml")
    assert reply.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert trackback_reply(reply) == ("0", None)
    row = receiver.app.store.find("her-2013", source)
    assert (row.kind, row.type, row.status) == ("trackback", "mention", "pending")
    assert row.author == "Film Blog"
    assert row.target == HER


def test_trackback_prefers_the_source_pages_title_and_excerpt_over_the_form(pages, receiver):
    source = pages.page_linking("/tb/claims", HER, title="What the page says")
    fields = {"url": source, "title": "Cheap pills", "excerpt": "Buy now at pills.example", "blog_name": "Blog"}
    assert trackback_reply(post_form(receiver.port, "/trackback/her-2013", fields))[0] == "0"
    row = receiver.app.store.find("her-2013", source)
    assert (row.title, row.excerpt) == ("What the page says", "I wrote about this review .")


def test_trackback_form_title_and_excerpt_fill_in_when_the_source_has_none(pages, receiver):
    source = pages.set("/tb/bare", f'<html><body><a href="{HER}">Her</a></body></html>')
    fields = {"url": source, "title": "My <em>take</em>", "excerpt": "Lovely   film"}
    assert trackback_reply(post_form(receiver.port, "/trackback/her-2013", fields))[0] == "0"
    row = receiver.app.store.find("her-2013", source)
    assert (row.title, row.excerpt) == ("My take", "Lovely film")


def test_trackback_charset_from_content_type(pages, receiver):
    source = pages.page_linking("/tb/latin1", HER)
    reply = post_form(
        receiver.port,
        "/trackback/her-2013",
        {"url": source, "title": "x", "blog_name": "Café crème"},
        charset="iso-8859-1",
        encoding="iso-8859-1",
    )
    assert trackback_reply(reply) == ("0", None)
    assert receiver.app.store.find("her-2013", source).author == "Café crème"


def test_trackback_without_title_uses_the_source_page(pages, receiver):
    source = pages.page_linking("/tb/untitled", HER, title="Page title")
    assert trackback_reply(post_form(receiver.port, "/trackback/her-2013", {"url": source}))[0] == "0"
    row = receiver.app.store.find("her-2013", source)
    assert row.title == "Page title"
    assert "this review" in row.excerpt


def test_trackback_url_with_trailing_slash(pages, receiver):
    source = pages.page_linking("/tb/slash", ALIEN)
    assert trackback_reply(post_form(receiver.port, "/trackback/alien-1979/", {"url": source}))[0] == "0"


def test_trackback_missing_url(receiver):
    before = len(receiver.app.store.list())
    reply = post_form(receiver.port, "/trackback/her-2013", {"title": "No url"})
    assert reply.status == 400
    error, message = trackback_reply(reply)
    assert error == "1" and "url" in message
    assert len(receiver.app.store.list()) == before


def test_trackback_unknown_slug(pages, receiver):
    source = pages.page_linking("/tb/unknown", HER)
    reply = post_form(receiver.port, "/trackback/no-such-film", {"url": source})
    assert reply.status == 404
    assert trackback_reply(reply)[0] == "1"
    assert pages.hits("/tb/unknown") == []  # nothing fetched


def test_trackback_non_http_url(receiver):
    reply = post_form(receiver.port, "/trackback/her-2013", {"url": "ftp://example.net/x"})
    assert reply.status == 400 and trackback_reply(reply)[0] == "1"


def test_trackback_source_without_link_is_refused_generically(pages, receiver):
    source = pages.page_linking("/tb/nolink", "https://elsewhere.example/")
    reply = post_form(receiver.port, "/trackback/her-2013", {"url": source, "title": "x"})
    error, message = trackback_reply(reply)
    assert error == "1"
    assert message == "Sorry, this trackback could not be accepted."
    assert receiver.app.store.find("her-2013", source) is None


def test_trackback_missing_source_and_duplicate(pages, receiver):
    missing = pages.url("/tb/missing")
    assert trackback_reply(post_form(receiver.port, "/trackback/her-2013", {"url": missing}))[0] == "1"
    source = pages.page_linking("/tb/dup", HER)
    assert trackback_reply(post_form(receiver.port, "/trackback/her-2013", {"url": source}))[0] == "0"
    again = post_form(receiver.port, "/trackback/her-2013", {"url": source})
    assert again.status == 409 and trackback_reply(again)[0] == "1"
    assert len([r for r in receiver.app.store.list() if r.source == source]) == 1


def test_trackback_get_is_not_allowed(receiver):
    reply = request(receiver.port, "GET", "/trackback/her-2013?url=https://x.example/")
    assert reply.status == 405 and reply.headers["allow"] == "POST"


# --- Pingback 1.0 --------------------------------------------------------------------------


def test_pingback_success(pages, receiver):
    source = pages.page_linking("/pb/ok", ALIEN, title="In space")
    reply = pingback(receiver.port, source, ALIEN)
    assert reply.status == 200
    result, fault = xmlrpc_result(reply)
    assert fault is None and isinstance(result, str)
    row = receiver.app.store.find("alien-1979", source)
    assert (row.kind, row.status, row.title) == ("pingback", "pending", "In space")
    assert "this review" in row.excerpt


def test_pingback_target_variants_are_the_review(pages, receiver):
    """http vs https, no trailing slash, index.html and a fragment all name the review."""
    source = pages.page_linking("/pb/variant", "http://example.org/reviews/her-2013/index.html#top")
    assert xmlrpc_result(pingback(receiver.port, source, "https://EXAMPLE.org/reviews/her-2013"))[1] is None
    assert receiver.app.store.find("her-2013", source) is not None


@pytest.mark.parametrize(
    "case, expected",
    [
        ("source-404", 16),
        ("source-not-http", 16),
        ("no-link", 17),
        ("target-unknown-review", 32),
        ("target-foreign-site", 33),
        ("target-not-http", 33),
        ("source-500", 50),
        ("source-refused", 50),
        ("same-uri", 0),
    ],
)
def test_pingback_faults(pages, receiver, case, expected):
    before = len(receiver.app.store.list())
    source, target = pages.page_linking(f"/pb/{case}", HER), HER
    if case == "source-404":
        source = pages.url("/pb/nothing-here")
    elif case == "source-not-http":
        source = "file:///etc/passwd"
    elif case == "no-link":
        source = pages.page_linking("/pb/no-link", "https://elsewhere.example/")
    elif case == "target-unknown-review":
        target = f"{SITE}/about/"
    elif case == "target-foreign-site":
        target = "https://elsewhere.example/reviews/her-2013/"
    elif case == "target-not-http":
        target = "javascript:alert(1)"
    elif case == "source-500":
        source = pages.set("/pb/source-500", "<p>oops</p>", status=500)
    elif case == "source-refused":
        source = "http://127.0.0.1:9/"  # discard port: nothing listens
    elif case == "same-uri":
        source = HER
    reply = pingback(receiver.port, source, target)
    assert reply.status == 200
    assert xmlrpc_result(reply) == (None, expected)
    assert len(receiver.app.store.list()) == before


def test_pingback_already_registered(pages, receiver):
    source = pages.page_linking("/pb/twice", HER)
    assert xmlrpc_result(pingback(receiver.port, source, HER))[1] is None
    hits = len(pages.hits("/pb/twice"))
    assert xmlrpc_result(pingback(receiver.port, source, HER)) == (None, 48)
    assert len(pages.hits("/pb/twice")) == hits  # refused before fetching again


def test_pingback_access_denied_for_private_source(tmp_path, pages):
    with start_receiver(tmp_path, allow_loopback=False) as strict:
        source = pages.page_linking("/pb/private", HER)
        assert xmlrpc_result(pingback(strict.port, source, HER)) == (None, 49)
        assert len(strict.app.store.list()) == 0
    assert pages.hits("/pb/private") == []


def test_pingback_bad_calls(receiver):
    body = "<?xml version='1.0'?><methodCall><methodName>pingback.ping</methodName><params>" \
           "<param><value><string>https://a.example/</string></value></param></params></methodCall>"
    reply = request(receiver.port, "POST", "/pingback", body, {"Content-Type": "text/xml"})
    assert xmlrpc_result(reply) == (None, -32602)
    body = body.replace("<string>https://a.example/</string>", "<int>4</int>") \
               .replace("</params>", f"<param><value>{HER}</value></param></params>")
    assert xmlrpc_result(request(receiver.port, "POST", "/pingback", body))[1] == -32602
    assert xmlrpc_result(pingback(receiver.port, "https://a.example/", HER, method="system.listMethods"))[1] == -32601
    reply = request(receiver.port, "POST", "/pingback", "<methodCall><oops", {"Content-Type": "text/xml"})
    assert reply.status == 400 and xmlrpc_result(reply)[1] == -32700
    reply = request(receiver.port, "POST", "/pingback", "<notACall/>", {"Content-Type": "text/xml"})
    assert xmlrpc_result(reply)[1] == -32600
    assert request(receiver.port, "GET", "/pingback").status == 405


# --- Webmention -------------------------------------------------------------------------------


def status_of(receiver, location):
    reply = request(receiver.port, "GET", location)
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    return json.loads(reply.body)["status"]


def send_webmention(receiver, source, target):
    return post_form(receiver.port, "/webmention", {"source": source, "target": target})


def test_webmention_accepted_verified_and_moderated(pages, receiver):
    source = pages.page_linking("/wm/ok", HER, title="A mention")
    reply = send_webmention(receiver, source, HER)
    assert reply.status == 202
    location = reply.headers["location"]
    assert location.startswith("/webmention/status/")
    assert json.loads(reply.body)["status"] == "pending"
    assert receiver.app.wait_idle(10)
    assert status_of(receiver, location) == "verified"
    row = receiver.app.store.find("her-2013", source)
    assert (row.kind, row.type, row.status, row.title) == ("webmention", "mention", "pending", "A mention")
    receiver.app.store.set_status(row.id, "approved")
    assert status_of(receiver, location) == "approved"
    receiver.app.store.set_status(row.id, "spam")
    assert status_of(receiver, location) == "rejected"


def test_webmention_status_is_pending_until_verified(pages, tmp_path, backend, new_database):
    with start_receiver(tmp_path, webmention_workers=1, db=new_database(backend)) as running:
        running.app.close()  # no workers: the request stays queued
        source = pages.page_linking("/wm/queued", HER)
        location = send_webmention(running, source, HER).headers["location"]
        assert status_of(running, location) == "pending"
        assert len(running.app.store.list()) == 0
        assert webmention.process(running.app, location.rsplit("/", 1)[1]) == "verified"
        assert status_of(running, location) == "verified"


@pytest.mark.parametrize(
    "prop, expected",
    [("u-in-reply-to", "reply"), ("u-like-of", "like"), ("u-repost-of", "repost"), ("u-bookmark-of", "mention")],
)
def test_webmention_types_from_h_entry(pages, receiver, prop, expected):
    source = pages.set(
        f"/wm/{prop}",
        f"""<html><head><title>Page</title></head><body><article class="h-entry">
        <h1 class="p-name">Entry name {prop}</h1>
        <a class="{prop}" href="{ALIEN}">Alien</a>
        <a class="p-author h-card" href="/">Ripley</a>
        <div class="e-content">Content about <b>the film</b>.</div></article></body></html>""",
    )
    reply = send_webmention(receiver, source, ALIEN)
    assert reply.status == 202
    assert receiver.app.wait_idle(10)
    row = receiver.app.store.find("alien-1979", source)
    assert (row.type, row.title, row.author, row.excerpt) == (
        expected, f"Entry name {prop}", "Ripley", "Content about the film.")


def test_webmention_failed_verification_reports_rejected(pages, receiver):
    source = pages.page_linking("/wm/nolink", "https://elsewhere.example/")
    location = send_webmention(receiver, source, HER).headers["location"]
    assert receiver.app.wait_idle(10)
    assert status_of(receiver, location) == "rejected"
    assert receiver.app.store.find("her-2013", source) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"target": HER},
        {"source": "https://a.example/post"},
        {"source": "", "target": HER},
        {"source": HER, "target": HER},
        {"source": "https://example.org/reviews/her-2013", "target": HER},
        {"source": "javascript:alert(1)//", "target": HER},
        {"source": "ftp://a.example/post", "target": HER},
        {"source": "https://a.example/post", "target": "mailto:x@example.org"},
        {"source": "https://a.example/post", "target": f"{SITE}/reviews/unknown/"},
        {"source": "https://a.example/post", "target": "https://elsewhere.example/"},
    ],
)
def test_webmention_invalid_requests(receiver, fields):
    before = len(receiver.app.store.list())
    reply = post_form(receiver.port, "/webmention", fields)
    assert reply.status == 400
    assert "location" not in reply.headers
    assert len(receiver.app.store.list()) == before


def test_webmention_repeated_field_and_wrong_media_type(receiver):
    body = f"source=https%3A%2F%2Fa.example%2F&source=https%3A%2F%2Fb.example%2F&target={HER}"
    reply = request(receiver.port, "POST", "/webmention", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 400
    reply = request(receiver.port, "POST", "/webmention", json.dumps({"source": "x"}),
                    {"Content-Type": "application/json"})
    assert reply.status == 415


def test_webmention_resend_updates_instead_of_duplicating(pages, receiver):
    source = pages.page_linking("/wm/update", HER)
    send_webmention(receiver, source, HER)
    assert receiver.app.wait_idle(10)
    first = receiver.app.store.find("her-2013", source)
    receiver.app.store.set_status(first.id, "approved")
    second = send_webmention(receiver, source, HER)  # still links: nothing new
    assert receiver.app.wait_idle(10)
    assert status_of(receiver, second.headers["location"]) == "approved"
    assert [r.id for r in receiver.app.store.list() if r.source == source] == [first.id]
    pages.set("/wm/update", "<p>deleted</p>", status=410)  # the post was deleted
    third = send_webmention(receiver, source, HER)
    assert receiver.app.wait_idle(10)
    assert status_of(receiver, third.headers["location"]) == "rejected"
    assert receiver.app.store.get(first.id).status == "rejected"


def test_webmention_status_unknown_and_methods(receiver):
    assert request(receiver.port, "GET", "/webmention/status/doesnotexist123").status == 404
    assert request(receiver.port, "GET", "/webmention/status/../../etc").status == 404
    assert request(receiver.port, "POST", "/webmention/status/abcdefgh1234", b"").status == 405
    assert request(receiver.port, "GET", "/webmention").status == 405
    assert request(receiver.port, "GET", "/nothing").status == 404


def test_receiver_reloads_reviews_json(pages, receiver):
    path = receiver.app.config.reviews_json
    data = json.loads(path.read_text())
    data["reviews"].append({"slug": "new-film-2026", "url": "/reviews/new-film-2026/", "title": "New"})
    time.sleep(0.01)
    path.write_text(json.dumps(data))
    target = f"{SITE}/reviews/new-film-2026/"
    source = pages.page_linking("/wm/new-review", target)
    assert send_webmention(receiver, source, target).status == 202
    assert receiver.app.wait_idle(10)
    assert receiver.app.store.find("new-film-2026", source) is not None


def test_reviews_json_half_written_keeps_the_last_good_index(pages, tmp_path):
    with start_receiver(tmp_path) as running:
        path = running.app.config.reviews_json
        path.write_text('{"site_url": "", "reviews": [')  # a rebuild caught mid-write
        source = pages.page_linking("/wm/half", HER)
        assert send_webmention(running, source, HER).status == 202


def test_broken_reviews_json_fails_at_start_up(tmp_path):
    (tmp_path / "reviews.json").write_text(json.dumps({"site_url": "", "reviews": [{"slug": "x", "url": "/x/"}]}))
    with pytest.raises(ValueError, match="relative and no absolute site_url"):
        LinkbackApp(Config(db_path=tmp_path / "db.sqlite3", reviews_json=tmp_path / "reviews.json"))


def test_base_path_prefixes_the_status_location(pages, tmp_path):
    with start_receiver(tmp_path, base_path="/linkbacks/") as running:
        reply = send_webmention(running, pages.page_linking("/wm/base", HER), HER)
        location = reply.headers["location"]
        assert location.startswith("/linkbacks/webmention/status/")
        assert status_of(running, location[len("/linkbacks"):]) in ("pending", "verified")


def test_full_webmention_queue_answers_503(pages, tmp_path, backend, new_database):
    with start_receiver(tmp_path, max_queued_webmentions=0, db=new_database(backend)) as running:
        reply = send_webmention(running, pages.page_linking("/wm/busy", HER), HER)
        assert reply.status == 503 and reply.headers["retry-after"] == "120"
        assert len(running.app.store.list()) == 0


def test_base_path_prefix_is_accepted_in_request_paths(pages, tmp_path):
    """A proxy may pass /linkbacks/... on unchanged instead of stripping it."""
    with start_receiver(tmp_path, base_path="/linkbacks") as running:
        source = pages.page_linking("/tb/prefixed", HER)
        reply = post_form(running.port, "/linkbacks/trackback/her-2013", {"url": source})
        assert trackback_reply(reply) == ("0", None)
        assert request(running.port, "GET", "/linkbacks/nothing").status == 404


# --- URLs: non-ASCII sources, fragments -----------------------------------------------------


def test_non_ascii_source_urls_are_fetched_percent_encoded(pages, receiver):
    """/café goes on the wire as /caf%C3%A9; the protocols answer as usual, never 500."""
    tb = pages.url("/tb/café")
    pages.page_linking("/tb/caf%C3%A9", HER)
    reply = post_form(receiver.port, "/trackback/her-2013", {"url": tb})
    assert (reply.status, trackback_reply(reply)) == (200, ("0", None))
    assert receiver.app.store.find("her-2013", tb) is not None

    pb = pages.url("/pb/café")
    pages.page_linking("/pb/caf%C3%A9", ALIEN)
    assert xmlrpc_result(pingback(receiver.port, pb, ALIEN))[1] is None
    assert receiver.app.store.find("alien-1979", pb) is not None
    assert xmlrpc_result(pingback(receiver.port, pages.url("/pb/ø-missing"), HER)) == (None, 16)
    assert xmlrpc_result(pingback(receiver.port, pb, f"{SITE}/reviews/amélie-2001/")) == (None, 32)
    reply = post_form(receiver.port, "/trackback/her-2013", {"url": "http://" + "é" * 64 + ".example/"})
    assert (reply.status, trackback_reply(reply)[0]) == (400, "1")  # no IDNA form: refused, not 500

    wm = pages.url("/wm/café")
    pages.page_linking("/wm/caf%C3%A9", HER)
    location = send_webmention(receiver, wm, HER).headers["location"]
    assert receiver.app.wait_idle(10)
    assert status_of(receiver, location) == "verified"


def _ping(protocol, running, source):
    """Send one linkback for Her: "stored", "duplicate" (nothing new stored) or "limited"."""
    before = len(running.app.store.list())
    if protocol == "trackback":
        limited = post_form(running.port, "/trackback/her-2013", {"url": source}).status == 429
    elif protocol == "pingback":
        limited = xmlrpc_result(pingback(running.port, source, HER))[1] == 49
    else:
        limited = send_webmention(running, source, HER).status == 429
        assert running.app.wait_idle(10)
    if limited:
        return "limited"
    return "stored" if len(running.app.store.list()) > before else "duplicate"


@pytest.mark.parametrize("protocol", ["trackback", "pingback", "webmention"])
def test_source_fragments_are_one_source_for_duplicates_and_the_pair_limit(pages, tmp_path, protocol, backend,
                                                                           new_database):
    source = pages.page_linking(f"/frag/{protocol}/{backend}", HER)
    with start_receiver(tmp_path, pair_limit=RateLimit(2, 3600.0), db=new_database(backend)) as running:
        outcomes = [_ping(protocol, running, source + fragment) for fragment in ("#a", "#b", "#c")]
        assert outcomes == ["stored", "duplicate", "limited"]
        assert [row.source for row in running.app.store.list()] == [source]
