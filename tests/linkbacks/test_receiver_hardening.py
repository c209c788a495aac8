"""What a hostile test run found in the receiver, each reproduced over real
HTTP on 127.0.0.1 against a real SQLite store (the upgrade of older rows
also on PostgreSQL): TrackBack without a Content-Type, truncated and
slow-drip bodies, one page stored many times under different spellings,
invisible characters in names and titles, and a flood of slow sources."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from linkbacks import targets
from linkbacks.limits import RateLimit
from reelnotes.contract import clean_display_text
from tests.linkbacks.support import HER, pingback, post_form, request, start_receiver, xmlrpc_result


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    running = start_receiver(tmp_path_factory.mktemp("hardening"))
    yield running
    running.stop()


def raw_exchange(port: int, chunks, pause: float = 0.0, read_timeout: float = 30.0) -> tuple[bytes, float]:
    """Send ``chunks`` on a raw socket (``pause`` seconds apart, stopping
    early if the server answers or hangs up), then read the answer; returns
    (answer, seconds from the first byte sent to the answer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    started = time.monotonic()
    try:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # the server already answered and closed
                break
            if pause:
                sock.settimeout(pause)
                try:
                    peek = sock.recv(65536, socket.MSG_PEEK)
                except TimeoutError:
                    peek = None
                sock.settimeout(read_timeout)
                if peek is not None:
                    break  # answered (or closed) while we were still sending
        answer = b""
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            answer += data
        return answer, time.monotonic() - started
    finally:
        sock.close()


# --- 2. TrackBack without a Content-Type ----------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "text/plain; charset=utf-8"])
def test_trackback_without_a_form_content_type_is_accepted(pages, receiver, content_type):
    """TrackBack 1.2 clients often send the form with no Content-Type; wsgiref
    then reports text/plain."""
    name = "absent" if content_type is None else f"{len(content_type)}"
    source = pages.page_linking(f"/tb/no-ctype/{name}", HER)
    body = f"url={source}&title=x"
    head = (f"POST /trackback/her-2013 HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            + (f"Content-Type: {content_type}\r\n" if content_type is not None else "") + "\r\n")
    answer, _ = raw_exchange(receiver.port, [head.encode() + body.encode()])
    assert answer.startswith(b"HTTP/1.0 200"), answer
    assert b"<error>0</error>" in answer
    assert receiver.app.store.find("her-2013", source).status == "pending"


def test_webmention_still_needs_a_form_content_type(receiver):
    reply = request(receiver.port, "POST", "/webmention", "source=https://a.example/&target=" + HER,
                    {"Content-Type": "text/plain"})
    assert reply.status == 415


# --- 3. Truncated and slow bodies -----------------------------------------------------------


@pytest.fixture(scope="module")
def strict_receiver(tmp_path_factory):
    """A receiver with short read limits, so the deadlines show in seconds."""
    running = start_receiver(tmp_path_factory.mktemp("deadlines"), read_timeout=2.0, request_deadline=5.0)
    yield running
    running.stop()


def test_a_truncated_body_is_answered_400_promptly_with_one_log_line(strict_receiver, caplog):
    head = b"POST /trackback/her-2013 HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n" \
           b"Content-Length: 500\r\n\r\nurl=x"
    with caplog.at_level(logging.INFO, logger="linkbacks"):
        answer, seconds = raw_exchange(strict_receiver.port, [head])
    assert answer.startswith(b"HTTP/1.0 400"), answer
    assert b"Traceback" not in answer
    assert seconds < 4.5  # the read timeout (2 s), not the old 15 s
    records = [r for r in caplog.records if "incomplete" in r.getMessage()]
    assert len(records) == 1 and records[0].exc_info is None
    assert "\n" not in records[0].getMessage()


def test_a_slow_drip_body_is_cut_off_at_the_request_deadline(strict_receiver, caplog):
    """One byte a second never trips the per-read timeout; the request deadline
    (5 s here) ends it, and the receiver keeps serving others meanwhile."""
    body = b"url=http://blog.example.net/post&title=" + b"x" * 60
    head = (b"POST /trackback/her-2013 HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    with caplog.at_level(logging.INFO, logger="linkbacks"):
        answer, seconds = raw_exchange(strict_receiver.port, [head] + [body[i:i + 1] for i in range(len(body))],
                                       pause=1.0)
        assert request(strict_receiver.port, "GET", "/webmention/status/unknown-token").status == 404
    assert answer.startswith(b"HTTP/1.0 400"), answer
    assert seconds < 9  # the deadline, not the 60 s the client would take
    assert not any(r.exc_info for r in caplog.records)


def test_slow_drip_headers_are_cut_off_too(strict_receiver, caplog):
    head = b"POST /webmention HTTP/1.0\r\nX-Slow: " + b"y" * 40
    with caplog.at_level(logging.INFO, logger="linkbacks"):
        answer, seconds = raw_exchange(strict_receiver.port, [head[i:i + 1] for i in range(len(head))], pause=1.0)
    assert seconds < 9
    assert answer == b"" or answer.startswith(b"HTTP/1.0 408"), answer
    assert not any(r.exc_info for r in caplog.records)


# --- 4. One page, many spellings --------------------------------------------------------------


SPELLINGS = ["/dup/post", "//dup/post", "/dup/./post", "/dup/x/../post", "/dup/post?utm_source=x",
             "/dup/post?fbclid=abc&utm_medium=y", "/dup/%70ost"]


def test_identity_url_normalises_spellings_of_one_page():
    base = "http://blog.example"
    keys = {targets.identity_url(base + path) for path in SPELLINGS}
    keys |= {targets.identity_url("http://BLOG.EXAMPLE/dup/post"), targets.identity_url("http://blog.example:80/dup/post"),
             targets.identity_url("HTTP://blog.example./dup/post#frag")}
    assert keys == {"http://blog.example/dup/post"}
    # What changes the page is kept: other queries, the scheme, a trailing slash, the path's case.
    others = ["http://blog.example/dup/post?page=2", "https://blog.example/dup/post", "http://blog.example/dup/post/",
              "http://blog.example/dup/Post", "http://blog.example:8080/dup/post"]
    assert len({targets.identity_url(url) for url in others} | keys) == len(others) + 1
    assert targets.identity_url("http://blog.example/a?b=1&utm_campaign=z&c=2") == "http://blog.example/a?b=1&c=2"
    assert targets.identity_url("https://Bücher.example/ä") == "https://xn--bcher-kva.example/%C3%A4"


def test_spellings_of_one_page_are_stored_once_and_share_the_pair_limit(pages, tmp_path):
    page = "/dup/post"
    pages.page_linking(page, HER)
    host = f"127.0.0.1:{pages.port}"
    spellings = [f"http://{host}{page}", f"HTTP://{host}/dup/%70ost", f"http://{host}//dup/post",
                 f"http://{host}/dup/./post", f"http://{host}/dup/post?utm_source=x"]
    with start_receiver(tmp_path / "identity") as running:
        statuses = [post_form(running.port, "/trackback/her-2013", {"url": url}).status for url in spellings]
        assert statuses == [200, 409, 409, 409, 409]
        assert xmlrpc_result(pingback(running.port, spellings[3], HER))[1] == 48
        rows = running.app.store.list()
        assert [row.source for row in rows] == [spellings[0]]  # the original spelling is what is shown
    with start_receiver(tmp_path / "limit", pair_limit=RateLimit(2, 3600.0)) as running:
        statuses = [post_form(running.port, "/trackback/her-2013", {"url": url}).status for url in spellings]
        assert statuses == [200, 409, 429, 429, 429]


def test_a_store_with_older_rows_gets_their_identities(backend, new_database):
    """Rows stored before the identity column existed (a database at the
    schema before it) are found by any spelling once the store opens it; of
    two spellings of one page, the older row is the one found."""
    from linkbacks.database import apply_migrations, dialect_for
    from linkbacks.store import MIGRATIONS, Store, _one_linkback_per_source

    db = str(new_database(backend))
    dialect = dialect_for(db)
    conn = dialect.connect(db, 30)
    try:
        apply_migrations(conn, dialect, MIGRATIONS[:MIGRATIONS.index(_one_linkback_per_source)])
        for source in ("http://Blog.Example:80/a/./b?utm_source=x", "http://blog.example/a/b"):
            conn.execute("INSERT INTO linkbacks (review, source, target, kind, type, received, updated)"
                         " VALUES ('her-2013', ?, ?, 'pingback', 'mention', '2026-01-01', '2026-01-01')",
                         (source, HER))
    finally:
        conn.close()
    store = Store(db)
    try:
        assert store.find("her-2013", "http://blog.example/a/b").source == "http://Blog.Example:80/a/./b?utm_source=x"
        assert [row.source_key for row in store.list()] == ["http://blog.example/a/b", None]
        assert store.integrity_check() == "ok"
    finally:
        store.close()


# --- 7. Invisible characters --------------------------------------------------------------------


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\u2061",
                                       "\u2062", "\u2063", "\u2064", "\ufeff", "\u202a", "\u202e", "\u2066",
                                       "\u2069", "\u00ad", "\U000e0041"])
def test_invisible_format_characters_are_stripped_from_display_text(invisible):
    assert clean_display_text(f"Reel{invisible} Notes{invisible}") == "Reel Notes"
    assert clean_display_text(f"Re{invisible}el") == "Reel"


def test_joiners_inside_emoji_and_joining_scripts_are_kept():
    assert clean_display_text("\U0001F469\u200d\U0001F4BB coder") == "\U0001F469\u200d\U0001F4BB coder"
    assert clean_display_text("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == \
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"


def test_a_source_titled_with_zero_width_characters_is_stored_without_them(pages, receiver):
    source = pages.page_linking("/tb/zero-width", HER, title="Re\u0435l N\u043etes\u200b\u2060 \ufeffreview")
    assert post_form(receiver.port, "/trackback/her-2013", {"url": source, "blog_name": "Bl\u200bog"}).status == 200
    row = receiver.app.store.find("her-2013", source)
    assert row.title == "Re\u0435l N\u043etes review"
    assert row.author == "Blog"


# --- 6. Head-of-line blocking ------------------------------------------------------------------


@pytest.fixture
def slow_source():
    """A blog whose pages take longer than the fetch deadline to answer."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stop = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- http.server's hook name
            stop.wait(6)
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()
    server.shutdown()
    server.server_close()


def _verified_within(running, token: str, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if running.app.store.request_status(token) == "verified":
            return time.monotonic() - started
        time.sleep(0.05)
    return float("inf")


@pytest.mark.parametrize("flood", ["one client", "many clients"])
def test_a_flood_of_slow_sources_does_not_hold_up_a_good_webmention(pages, tmp_path, slow_source, flood, backend,
                                                                     new_database):
    """16 webmentions whose sources answer after the 2 s deadline, then a good
    one from someone else: it is verified at once, not after the flood (which
    a first-in-first-out queue with 2 workers made wait 16 s). On both stores:
    the workers claim from the database, passing over what is at its cap."""
    workers = {"one client": 2, "many clients": 4}[flood]
    with start_receiver(tmp_path, webmention_workers=workers, webmention_per_client=max(1, workers // 2),
                        fetch_timeout=2.0, trust_forwarded_for=True, db=new_database(backend)) as running:
        for n in range(16):
            client = "198.51.100.1" if flood == "one client" else f"198.51.100.{n + 1}"
            reply = request(running.port, "POST", "/webmention",
                            f"source={slow_source}/slow/{n}&target={HER}",
                            {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": client})
            assert reply.status == 202
        time.sleep(0.3)  # the flood has taken its workers
        good = pages.page_linking(f"/wm/good-after-flood/{backend}", HER)
        reply = request(running.port, "POST", "/webmention", f"source={good}&target={HER}",
                        {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "203.0.113.50"})
        token = reply.headers["location"].rsplit("/", 1)[1]
        assert _verified_within(running, token, 30) < 1.5  # less than one slow source's deadline
