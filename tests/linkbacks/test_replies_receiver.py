"""Leave a Reply on the receiver, over real HTTP on 127.0.0.1 with a real
SQLite store: the form page, preview, send, and every refusal -- each a page
in the site's look that says why, with the right status and nothing stored."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from bs4 import BeautifulSoup

from linkbacks.app import Config
from linkbacks.limits import RateLimit
from linkbacks.pages import ReplyFields
from linkbacks.protocols.reply import FIELDS, sign_token
from reelnotes.reply_text import ALLOWED_TAGS
from tests.linkbacks.support import (
    BACKENDS,
    HER,
    REPLY,
    SITE,
    post_reply,
    preview_and_send,
    request,
    send_fields,
    start_receiver,
)

QUICK = 0.3  # reply_min_seconds for most tests; the 3 s default has its own test


@pytest.fixture(scope="module", params=BACKENDS)
def receiver(request, tmp_path_factory, new_database):
    running = start_receiver(tmp_path_factory.mktemp("replies"), db=new_database(request.param),
                             reply_min_seconds=QUICK,
                             reply_client_limit=RateLimit(10_000, 1.0), reply_review_limit=RateLimit(10_000, 1.0),
                             reply_preview_limit=RateLimit(10_000, 1.0), trust_forwarded_for=True)
    yield running
    running.stop()


def soup(reply) -> BeautifulSoup:
    return BeautifulSoup(reply.text, "html.parser")


def unique(text: str) -> str:
    """Texts differ between tests, so the duplicate check never joins them."""
    return f"{text} ({time.perf_counter_ns()})"


def assert_site_page(reply, status: int):
    """An HTML page in the site's look, no script, no stack trace."""
    assert reply.status == status, reply.text
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    page = soup(reply)
    assert page.find("link", rel="stylesheet")["href"] == f"{SITE}/theme/css/site.css"
    assert page.select_one("header.site-header a.site-title")["href"] == f"{SITE}/"
    assert page.find("script") is None and "Traceback" not in reply.text
    for tag in page.find_all(True):
        assert not [a for a in tag.attrs if a.lower().startswith("on")], tag
    csp = reply.headers["content-security-policy"]
    assert "default-src 'none'" in csp and f"style-src {SITE}" in csp and "script-src" not in csp
    assert len([k for k in reply.headers if k == "content-security-policy"]) == 1
    return page


def test_the_form_page_has_only_the_whitelisted_fields_and_a_hidden_trap(receiver):
    reply = request(receiver.port, "GET", "/reply/her-2013")
    page = assert_site_page(reply, 200)
    form = page.select_one("form.reply-form")
    assert form["method"] == "post" and form["action"] == "/reply/her-2013"
    names = {field["name"] for field in form.find_all(["input", "textarea", "button"])}
    assert names <= FIELDS and {"name", "website", "email", "text", "homepage", "step"} <= names
    trap = form.select_one(".reply-trap")
    assert trap["aria-hidden"] == "true" and trap.find("input")["tabindex"] == "-1"
    assert "never shown or published" in form.get_text()
    assert page.find("h1").get_text() == "Reply to the review of Her"


def test_preview_shows_the_reply_as_it_will_appear_then_send_stores_it_pending(receiver):
    text = unique("I *loved* the [letters](https://ana.example/letters).\nTruly.")
    fields = dict(REPLY, name="Ana", website="ana.example", email="ana@example.org", text=text)
    preview, sent = preview_and_send(receiver.port, "her-2013", fields, wait=QUICK + 0.1,
                                     headers={"X-Forwarded-For": "198.51.100.23"})
    page = assert_site_page(preview, 200)
    item = page.select_one(".reply-preview li.linkback-reply")
    assert item.select_one(".linkback-kind").get_text() == "Reply"
    assert item.select_one("a.linkback-title")["href"] == "https://ana.example"
    assert item.select_one(".reply-text em").get_text() == "loved"
    assert item.select_one(".reply-text a")["rel"] == ["nofollow", "ugc"]
    thanks = assert_site_page(sent, 200)
    assert thanks.find("h1").get_text() == "Thanks — your reply is waiting for approval"
    assert thanks.select_one("a.reply-back")["href"] == f"{HER}#responses"
    [row] = [r for r in receiver.app.store.list() if r.text == text.replace("\n", "\n")]
    assert (row.kind, row.status, row.author, row.website, row.email) == (
        "reply", "pending", "Ana", "https://ana.example", "ana@example.org")
    assert row.client_ip == "" and len(row.client_hash) == 32 and row.held_reason == "new reader, 1 link"
    assert "198.51.100.23" not in repr(row)


def test_a_client_address_is_never_stored(receiver, tmp_path):
    preview_and_send(receiver.port, "her-2013", dict(REPLY, text=unique("Hashed.")), wait=QUICK + 0.1,
                     headers={"X-Forwarded-For": "203.0.113.99"})
    store = receiver.app.store
    rows = [r for r in store.list() if r.kind == "reply"]
    assert rows and not [r for r in rows if "203.0.113.99" in repr(r)]
    db = receiver.app.config.db_path
    if not store.shared:  # SQLite: not in any byte of the files (WAL included)
        for path in Path(db).parent.glob(Path(db).name + "*"):
            assert b"203.0.113.99" not in path.read_bytes(), path


HOSTILE = {
    "script": {"name": "Eve", "text": "<script>alert(1)</script> hi"},
    "event handler": {"name": "Eve", "text": '<img src=x onerror="alert(1)"> <b onmouseover=alert(1)>x</b>'},
    "javascript link": {"name": "Eve", "text": "[click me](javascript:alert(document.cookie))"},
    "javascript website": {"name": "Eve", "website": "javascript:alert(1)", "text": "hello"},
    "markup in name": {"name": '<img src=x onerror=alert(1)>Eve"><script>x</script>', "text": "hello"},
    "entity-encoded markup": {"name": "&lt;script&gt;Eve", "text": "&lt;script&gt;alert(1)&lt;/script&gt;"},
    "attribute breakout": {"name": '" autofocus onfocus="alert(1)', "text": '"><svg onload=alert(1)>'},
    "bidi override": {"name": "Eve\u202egnp.exe", "text": "\u202eesrever"},
}


@pytest.mark.parametrize("fields", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_replies_never_render_unsafe(receiver, fields):
    preview = post_reply(receiver.port, "her-2013", {**REPLY, **fields, "text": unique(fields["text"])})
    if preview.status == 400:  # refused outright (a javascript: website, a name that was all markup)
        assert assert_site_page(preview, 400).select_one(".reply-problems li") is not None
        return
    page = assert_site_page(preview, 200)
    body = page.select_one(".reply-preview .reply-text")
    for tag in body.find_all(True):
        assert tag.name in ALLOWED_TAGS and set(tag.attrs) <= {"href", "rel"}, tag
    for link in page.find_all("a"):
        assert not link["href"].lower().startswith(("javascript:", "data:")), link
    assert "\u202e" not in preview.text
    name = page.select_one(".reply-preview .linkback-title").get_text()
    assert "<" not in name or "< " in name


REFUSALS = {
    "unknown field": ({"extra": "x"}, 400, "This form is not ours"),
    "honeypot filled": ({"homepage": "http://spam.example/"}, 400, "This reply looks automated"),
    "unknown step": ({"step": "publish"}, 400, "This form is not ours"),
    "name too long": ({"name": "N" * 101}, 400, "at most 100"),
    "no name": ({"name": "<b></b>  "}, 400, "Please give a name"),
    "website too long": ({"website": "https://a.example/" + "p" * 290}, 400, "at most 300"),
    "website not http": ({"website": "ftp://files.example/"}, 400, "starting with https://"),
    "website javascript:": ({"website": "javascript:alert(1)"}, 400, "starting with https://"),
    "e-mail too long": ({"email": "a" * 250 + "@b.example"}, 400, "at most 254"),
    "e-mail malformed": ({"email": "not an address"}, 400, "does not look like one"),
    "text empty": ({"text": "   "}, 400, "The reply is empty"),
    "text too long": ({"text": "x" * 5001}, 400, "at most 5,000"),
    "too many links": ({"text": "http://a.example http://b.example www.c.example [d](https://d.example)"}, 400,
                       "at most 3"),
}


@pytest.mark.parametrize("fields, status, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_replies_get_a_page_saying_why_and_nothing_is_stored(receiver, fields, status, message):
    before = len(receiver.app.store.list())
    reply = post_reply(receiver.port, "her-2013", {**REPLY, "text": unique(REPLY["text"]), **fields})
    page = assert_site_page(reply, status)
    assert message in page.get_text(), page.get_text()
    assert len(receiver.app.store.list()) == before


def test_a_refused_form_comes_back_filled_in_to_fix(receiver):
    reply = post_reply(receiver.port, "her-2013", dict(REPLY, name="Ana", email="bad", text="Keep this text."))
    page = assert_site_page(reply, 400)
    assert page.find("input", attrs={"name": "name"})["value"] == "Ana"
    assert page.find("textarea", attrs={"name": "text"}).get_text() == "Keep this text."


@pytest.mark.parametrize("query", ["?" + "&".join(f"f{n}=x" for n in range(50)), "?parent=%ff%fe",
                                   "?parent=" + "9" * 500, "?parent=receiver-99999999999999999999"])
def test_odd_query_strings_on_the_form_page_get_a_page_not_an_error(receiver, query):
    reply = request(receiver.port, "GET", "/reply/her-2013" + query)
    assert reply.status in (200, 404)
    assert_site_page(reply, reply.status)


@pytest.mark.parametrize("path, body, headers, status", [
    ("/reply/no-such-review", urlencode(REPLY), {"Content-Type": "application/x-www-form-urlencoded"}, 404),
    ("/reply/her-2013", "x" * 70_000, {"Content-Type": "application/x-www-form-urlencoded"}, 413),
    ("/reply/her-2013", "{}", {"Content-Type": "application/json"}, 415),
    ("/reply/her-2013", "name=%ff%fe", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    ("/reply/her-2013", "name=a&name=b", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
])
def test_requests_that_cannot_be_read_are_refused_with_a_page(receiver, path, body, headers, status):
    reply = request(receiver.port, "POST", path, body, headers)
    page = assert_site_page(reply, status)
    assert page.find("h1").get_text()


def test_a_reply_to_a_reply_is_stored_under_its_parent_and_only_approved_parents_count(receiver):
    store = receiver.app.store
    preview_and_send(receiver.port, "her-2013", dict(REPLY, name="Bo", text=unique("First!")), wait=QUICK + 0.1)
    parent = store.list("pending")[-1]
    answer = dict(REPLY, name="Cy", text=unique("Answering Bo."), parent=f"receiver-{parent.id}")
    refused = post_reply(receiver.port, "her-2013", answer)  # Bo's reply is not approved yet
    assert "is not on this review" in assert_site_page(refused, 404).get_text()
    store.set_status(parent.id, "approved")
    form = request(receiver.port, "GET", f"/reply/her-2013?parent=receiver-{parent.id}")
    page = assert_site_page(form, 200)
    assert page.select_one(".reply-context").get_text() == "In reply to Bo."
    assert page.find("input", attrs={"name": "parent"})["value"] == f"receiver-{parent.id}"
    _, sent = preview_and_send(receiver.port, "her-2013", answer, wait=QUICK + 0.1)
    assert sent.status == 200
    assert store.list("pending")[-1].parent_id == parent.id
    other_review = post_reply(receiver.port, "alien-1979", answer)
    assert assert_site_page(other_review, 404)


def test_the_same_reply_twice_is_refused_as_a_duplicate(receiver):
    text = unique("Exactly the same words.")
    _, first = preview_and_send(receiver.port, "her-2013", dict(REPLY, text=text), wait=QUICK + 0.1)
    assert first.status == 200
    again = dict(REPLY, name="Someone else", text="  " + text.upper() + "!! ")
    _, second = preview_and_send(receiver.port, "her-2013", again, wait=QUICK + 0.1,
                                 headers={"X-Forwarded-For": "192.0.2.77"})
    assert "already sent" in assert_site_page(second, 409).get_text()
    assert sum(r.text == text for r in receiver.app.store.list()) == 1


def test_a_send_that_differs_from_the_preview_is_refused_as_forged(receiver):
    preview = post_reply(receiver.port, "her-2013", dict(REPLY, text=unique("What I previewed.")))
    time.sleep(QUICK + 0.1)
    for change in ({"text": "Something else entirely."}, {"parent": "receiver-999999"}, {"token": "1.abc"},
                   {"token": ""}, {"token": f"{int(time.time() * 1000) - 10_000}.{'0' * 64}"}):
        fields = dict(send_fields(preview), **change)
        reply = request(receiver.port, "POST", "/reply/her-2013", urlencode(fields),
                        {"Content-Type": "application/x-www-form-urlencoded"})
        page = assert_site_page(reply, 403 if "parent" not in change else 404)
        if "parent" not in change:
            assert page.find("h1").get_text() == "This reply could not be verified"
            assert page.find("textarea", attrs={"name": "text"}) is not None  # preview again from here


def test_the_token_is_bound_to_the_review(receiver):
    preview = post_reply(receiver.port, "her-2013", dict(REPLY, text=unique("For Her only.")))
    time.sleep(QUICK + 0.1)
    reply = request(receiver.port, "POST", "/reply/alien-1979", urlencode(send_fields(preview)),
                    {"Content-Type": "application/x-www-form-urlencoded"})
    assert_site_page(reply, 403)


def test_default_timing_refuses_a_send_under_3_seconds_and_after_2_hours(tmp_path):
    assert (Config.reply_min_seconds, Config.reply_max_age_seconds) == (3.0, 7200.0)
    running = start_receiver(tmp_path)
    try:
        store, secret = running.app.store, running.app.secret
        preview = post_reply(running.port, "her-2013", dict(REPLY))
        too_fast = request(running.port, "POST", "/reply/her-2013", urlencode(send_fields(preview)),
                           {"Content-Type": "application/x-www-form-urlencoded"})
        page = assert_site_page(too_fast, 429)
        assert page.find("h1").get_text() == "That was very quick"
        assert int(too_fast.headers["retry-after"]) in (2, 3, 4)
        assert page.select_one("form.reply-send") is not None  # Send again, same preview

        def send_with(issued_ms):
            fields = ReplyFields(name=REPLY["name"], text=REPLY["text"])
            body = dict(send_fields(preview), token=sign_token(secret, "her-2013", fields, issued_ms))
            return request(running.port, "POST", "/reply/her-2013", urlencode(body),
                           {"Content-Type": "application/x-www-form-urlencoded"})

        now = int(time.time() * 1000)
        assert send_with(now - 2_500).status == 429
        expired = send_with(now - 7_201_000)
        assert assert_site_page(expired, 400).find("h1").get_text() == "This preview has expired"
        assert store.list() == []
        assert send_with(now - 3_100).status == 200
        assert len(store.list()) == 1
    finally:
        running.stop()


def test_rate_limits_per_client_and_per_review(tmp_path, backend, new_database):
    """In memory on SQLite, in the shared database on PostgreSQL."""
    running = start_receiver(tmp_path, db=new_database(backend), reply_min_seconds=0.0, trust_forwarded_for=True,
                             reply_client_limit=RateLimit(3, 3600.0), reply_review_limit=RateLimit(5, 3600.0),
                             reply_preview_limit=RateLimit(1000, 1.0))
    try:
        def send(n, client, slug="her-2013"):
            return preview_and_send(running.port, slug, dict(REPLY, text=f"Reply number {n}."),
                                    headers={"X-Forwarded-For": client})[1]

        flood = [send(n, "192.0.2.1").status for n in range(6)]
        assert flood == [200, 200, 200, 429, 429, 429]
        limited = send(99, "192.0.2.1")
        assert "several replies in a short time" in assert_site_page(limited, 429).get_text()
        assert limited.headers["retry-after"] == "600"
        # Other clients still get through, until the review itself has had enough.
        assert [send(10 + n, f"192.0.2.{10 + n}").status for n in range(3)] == [200, 200, 429]
        assert send(20, "192.0.2.50", "alien-1979").status == 200
        assert len(running.app.store.list("pending")) == 6
    finally:
        running.stop()


def test_previews_are_rate_limited_per_client(tmp_path, backend, new_database):
    running = start_receiver(tmp_path, db=new_database(backend), reply_preview_limit=RateLimit(2, 3600.0))
    try:
        statuses = [post_reply(running.port, "her-2013", dict(REPLY)).status for _ in range(3)]
        assert statuses == [200, 200, 429]
    finally:
        running.stop()


def test_replies_are_answered_under_the_public_base_path(tmp_path):
    running = start_receiver(tmp_path, base_path="/linkbacks", reply_min_seconds=0.0)
    try:
        preview = post_reply(running.port, "her-2013", dict(REPLY), path_prefix="/linkbacks")
        assert soup(preview).select_one("form.reply-send")["action"] == "/linkbacks/reply/her-2013"
    finally:
        running.stop()


def test_two_instances_on_one_postgresql_database_share_the_secret_the_limits_and_duplicates(tmp_path, new_database):
    """A reply previewed on one instance may be sent through another that has
    the same LINKBACKS_SECRET; a client's limit and the duplicate check span them."""
    db = new_database("postgresql")
    common = dict(db=db, reply_min_seconds=0.0, trust_forwarded_for=True, secret=b"k" * 40,
                  reply_client_limit=RateLimit(2, 3600.0))
    first = start_receiver(tmp_path / "a", **common)
    second = start_receiver(tmp_path / "b", **common)
    stranger = start_receiver(tmp_path / "c", **{**common, "secret": b"x" * 40})
    try:
        def through(preview_on, send_on, text, client="192.0.2.9"):
            preview = post_reply(preview_on.port, "her-2013", dict(REPLY, text=text),
                                 {"X-Forwarded-For": client})
            return request(send_on.port, "POST", "/reply/her-2013", urlencode(send_fields(preview)),
                           {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": client})

        assert through(first, second, "Previewed on one, sent on the other.").status == 200
        assert through(first, stranger, "Another secret cannot check this.").status == 403
        assert through(second, first, "Previewed on one, sent on the other.", "192.0.2.10").status == 409
        assert through(second, first, "Second reply from this client.").status == 200
        assert through(first, second, "Third reply from this client.").status == 429  # 2 per hour, both instances
        assert len(first.app.store.list()) == 2
    finally:
        for running in (first, second, stranger):
            running.stop()
