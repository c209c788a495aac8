"""Hostile input against the receiver, the data files and the templates:
XSS in every field, oversize bodies, UTF-7, XML bombs, system.multicall,
SSRF (private addresses, redirects), rate limits."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup, Comment

from filmreviews.linkbacks import thread_responses, trackback_rdf
from linkbacks import fetch, moderation
from linkbacks.limits import RateLimit, RateLimiter, SharedRateLimiter
from linkbacks.store import Store
from reelnotes import contract
from reelnotes.contract import Linkback
from tests.linkbacks.support import (
    BACKENDS,
    HER,
    ConnectionLog,
    approved_records,
    pingback,
    post_form,
    request,
    start_receiver,
    xmlrpc_result,
)
from tests.site_fixture import theme_environment

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "&lt;script&gt;alert(2)&lt;/script&gt;",
    "' onmouseover='alert(3)",
    "-- --> <!-- --!> <script>alert(4)</script>",
    "<svg onload=alert(5)>",
    "javascript:alert(6)",
]
TITLE_XSS = "Title -- --> <script>alert('t')</script> \"><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module", params=BACKENDS)
def receiver(request, tmp_path_factory, new_database):
    running = start_receiver(tmp_path_factory.mktemp("attacks"), db=new_database(request.param))
    yield running
    running.stop()


def render(template: str, **context) -> str:
    """Render a partial the way Pelican does for this site (autoescape on)."""
    return theme_environment().get_template(template).render(**context)


def assert_inert(html: str):
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find_all(["script", "img", "svg", "iframe", "style"]) == []
    for element in soup.find_all(True):
        for name, value in element.attrs.items():
            assert not name.lower().startswith("on"), (element.name, name)
            if name in ("href", "src"):
                assert not str(value).strip().lower().startswith(("javascript:", "data:", "vbscript:"))
    return soup


def assert_plain(value: str):
    assert "<script" not in value.lower()
    assert BeautifulSoup(value, "html.parser").find_all(True) == []


# --- XSS -------------------------------------------------------------------------------


def xss_source_page(pages, path: str, target: str) -> str:
    payload = " ".join(XSS)
    return pages.set(
        path,
        f"""<html><head><title>{XSS[0]} {XSS[4]}</title>
        <meta name="author" content='{XSS[1]}'><meta name="description" content="{XSS[2]}"></head>
        <body><article class="h-entry"><h1 class="p-name">{TITLE_XSS}</h1>
        <span class="p-author h-card">{XSS[1]}<script>alert(7)</script></span>
        <div class="e-content"><p>{payload} <a href="{target}">link</a>
        <a href="javascript:alert(8)">click</a></p></div></article></body></html>""",
    )


def test_xss_in_every_field_is_stored_as_plain_text_and_rendered_inert(pages, receiver, tmp_path):
    store = receiver.app.store
    # TrackBack: every form field hostile.
    tb_source = pages.page_linking("/xss/tb", HER)
    reply = post_form(
        receiver.port,
        "/trackback/her-2013",
        {"url": tb_source, "title": TITLE_XSS, "excerpt": " ".join(XSS), "blog_name": XSS[1] + XSS[0]},
    )
    assert b"<script" not in reply.body and b"onerror" not in reply.body  # nothing reflected
    # Pingback and Webmention: hostile source pages (title, author, h-entry, content).
    pb_source = xss_source_page(pages, "/xss/pb", HER)
    assert xmlrpc_result(pingback(receiver.port, pb_source, HER))[1] is None
    wm_source = xss_source_page(pages, "/xss/wm", HER)
    assert post_form(receiver.port, "/webmention", {"source": wm_source, "target": HER}).status == 202
    assert receiver.app.wait_idle(10)
    rows = [store.find("her-2013", s) for s in (tb_source, pb_source, wm_source)]
    assert all(rows)
    for row in rows:
        for value in (row.title, row.author, row.excerpt):
            assert_plain(value)
        store.set_status(row.id, "approved")
    # Export, load back through the validator, render the partial.
    content = tmp_path / "content"
    moderation.export(store, content, {"her-2013", "alien-1979"})
    linkbacks = approved_records(content, {"her-2013", "alien-1979"})["her-2013"]
    assert {lb.source for lb in linkbacks} >= {tb_source, pb_source, wm_source}
    ping = "https://example.org/linkbacks/trackback/her-2013?x=--><script>alert(9)</script>"
    html = render(
        "partials/linkbacks.html",
        responses=thread_responses(linkbacks),
        trackback_url=ping,
        pingback_url="https://example.org/linkbacks/pingback",
        webmention_url="https://example.org/linkbacks/webmention",
        trackback_rdf=trackback_rdf(HER, TITLE_XSS, ping),
    )
    soup = assert_inert(html)
    assert "<script" not in html and "<img" not in html and "<svg" not in html
    links = soup.select("a.linkback-title")
    assert {a["href"] for a in links} >= {tb_source, pb_source, wm_source}
    assert all(a["rel"] == ["nofollow", "ugc"] for a in links)
    comments = soup.find_all(string=lambda s: isinstance(s, Comment))
    assert len(comments) == 1 and "--" not in str(comments[0])
    assert "trackback:ping" in comments[0]


def test_partial_never_links_a_non_http_source():
    evil = Linkback(
        id="hand-1", kind="webmention", type="reply", source="javascript:alert(1)", title='"><script>x</script>',
        author="<img src=x onerror=alert(1)>", excerpt="--><script>y</script>",
        date=datetime(2026, 11, 20, 10, tzinfo=UTC),
    )
    assert evil.link is None
    html = render("partials/linkbacks.html", responses=thread_responses([evil]), trackback_url=None, pingback_url=None,
                  webmention_url=None, trackback_rdf=None)
    soup = assert_inert(html)
    assert soup.find("a") is None
    assert soup.find(string=lambda s: isinstance(s, Comment)) is None
    item = soup.select_one("li.linkback")
    assert item.select_one(".linkback-kind").get_text() == "Webmention reply"
    assert "<script>x</script>" in item.select_one(".linkback-title").get_text()  # shown as text
    assert soup.find("time")["datetime"] == "2026-11-20T10:00:00+00:00"


def test_head_links_are_escaped_and_optional():
    html = render("partials/linkback_links.html", pingback_url='https://e.org/p"><script>x</script>',
                  webmention_url="https://e.org/w?a=1&b=2")
    soup = assert_inert(html)
    assert [link["rel"] for link in soup.find_all("link")] == [["pingback"], ["webmention"]]
    assert soup.find("link", rel="webmention")["href"] == "https://e.org/w?a=1&b=2"
    assert render("partials/linkback_links.html", pingback_url="", webmention_url=None).strip() == ""


def test_trackback_rdf_is_comment_safe():
    block = str(trackback_rdf("https://e.org/a--b/", "x --> <!-- ---", "https://e.org/tb/a--b-"))
    assert block.startswith("<!--") and block.endswith("-->")
    inner = block[4:-3]
    assert "--" not in inner and "<script" not in inner and "<!" not in inner
    soup = BeautifulSoup(f"<div>{block}<p id=after>x</p></div>", "html.parser")
    assert soup.find("p", id="after") is not None  # the comment closed where it should


# --- oversize, encodings, XML ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/trackback/her-2013", "/pingback", "/webmention"])
def test_oversize_bodies_are_refused(receiver, path):
    before = len(receiver.app.store.list())
    body = b"url=" + b"A" * (64 * 1024 + 1)
    reply = request(receiver.port, "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 413
    # A lying Content-Length is refused without waiting for the body.
    started = time.monotonic()
    reply = request(receiver.port, "POST", path, b"url=x", {"Content-Length": str(10**9)})
    assert reply.status == 413 and time.monotonic() - started < 5
    assert len(receiver.app.store.list()) == before


def test_utf7_and_undecodable_input_are_refused(pages, receiver):
    source = pages.page_linking("/enc/utf7", HER)
    before = len(receiver.app.store.list())
    utf7_title = "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"
    for charset in ("utf-7", "UTF-7", "x-utf-7", "unicode-1-1-utf-7"):
        reply = post_form(receiver.port, "/trackback/her-2013", {"url": source, "title": utf7_title}, charset=charset)
        assert reply.status == 400 and b"<error>1</error>" in reply.body
        reply = post_form(receiver.port, "/webmention", {"source": source, "target": HER}, charset=charset)
        assert reply.status == 400
    body = f"""<?xml version="1.0" encoding="UTF-7"?><methodCall><methodName>pingback.ping</methodName>
    <params><param><value>{source}</value></param><param><value>{HER}</value></param></params></methodCall>"""
    reply = request(receiver.port, "POST", "/pingback", body, {"Content-Type": "text/xml"})
    assert reply.status == 400 and xmlrpc_result(reply)[1] == -32701
    reply = request(receiver.port, "POST", "/pingback", body.replace("UTF-7", "utf-8"),
                    {"Content-Type": "text/xml; charset=utf-7"})
    assert reply.status == 400
    # Invalid UTF-8 behind percent-encoding, and raw.
    reply = request(receiver.port, "POST", "/trackback/her-2013", f"url={source}&title=%FF%FE".encode(),
                    {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert reply.status == 400
    reply = request(receiver.port, "POST", "/pingback", b"<methodCall>\xff\xfe</methodCall>",
                    {"Content-Type": "text/xml"})
    assert reply.status == 400
    assert len(receiver.app.store.list()) == before
    assert pages.hits("/enc/utf7") == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>{source}&lol9;</string></value></param>
<param><value><string>{target}</string></value></param></params></methodCall>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY file SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>{source}</string></value></param>
<param><value><string>&file;</string></value></param></params></methodCall>"""


@pytest.mark.parametrize("template", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_xml_bombs_are_refused(pages, receiver, template):
    source = pages.page_linking("/xml/bomb", HER)
    before = len(receiver.app.store.list())
    started = time.monotonic()
    reply = request(receiver.port, "POST", "/pingback", template.format(source=source, target=HER),
                    {"Content-Type": "text/xml"})
    assert time.monotonic() - started < 5
    assert reply.status == 400 and xmlrpc_result(reply) == (None, -32700)
    assert b"lollol" not in reply.body and b"root:" not in reply.body
    assert len(receiver.app.store.list()) == before
    assert pages.hits("/xml/bomb") == []


def test_system_multicall_is_never_executed(pages, receiver):
    source = pages.page_linking("/xml/multicall", HER)
    before = len(receiver.app.store.list())
    import xmlrpc.client

    calls = [{"methodName": "pingback.ping", "params": [source, HER]}] * 3
    body = xmlrpc.client.dumps((calls,), "system.multicall")
    reply = request(receiver.port, "POST", "/pingback", body, {"Content-Type": "text/xml"})
    assert reply.status == 200 and xmlrpc_result(reply) == (None, -32601)
    assert len(receiver.app.store.list()) == before
    assert pages.hits("/xml/multicall") == []


# --- SSRF --------------------------------------------------------------------------------------


@pytest.fixture()
def strict_receiver(tmp_path):
    running = start_receiver(tmp_path, allow_loopback=False)
    yield running
    running.stop()


def ssrf_sources(pages):
    loopback = pages.page_linking("/ssrf/loop", HER)
    port = pages.port
    return [
        loopback,  # a real page on 127.0.0.1 that links correctly
        f"http://localhost:{port}/ssrf/loop",
        f"http://[::1]:{port}/ssrf/loop",
        f"http://[::ffff:127.0.0.1]:{port}/ssrf/loop",
        f"http://2130706433:{port}/ssrf/loop",  # 127.0.0.1 as one number
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00::1]/",
        "http://0.0.0.0:80/",
    ]


def test_ssrf_sources_are_never_fetched(pages, strict_receiver, monkeypatch):
    log = ConnectionLog(monkeypatch)
    port = strict_receiver.port
    tokens = []
    earlier = pages.hits("/ssrf/")  # other tests in this module fetch /ssrf/ pages on purpose
    for source in ssrf_sources(pages):
        assert xmlrpc_result(pingback(port, source, HER)) == (None, 49), source
        reply = post_form(port, "/trackback/her-2013", {"url": source})
        assert b"<error>1</error>" in reply.body, source
        reply = post_form(port, "/webmention", {"source": source, "target": HER})
        assert reply.status == 202  # accepted for asynchronous verification...
        tokens.append(reply.headers["location"].rsplit("/", 1)[1])
    assert strict_receiver.app.wait_idle(10)
    assert log.calls == []  # ...but refused before any connection
    assert pages.hits("/ssrf/") == earlier
    assert len(strict_receiver.app.store.list()) == 0
    assert {strict_receiver.app.store.request_status(t) for t in tokens} == {"rejected"}


def test_ssrf_redirect_to_metadata_address_is_refused(pages, receiver, monkeypatch):
    """allow_loopback=True admits the loopback source, but not where it redirects."""
    log = ConnectionLog(monkeypatch)
    pages.set("/ssrf/redirect", "", status=302, headers=[("Location", "http://169.254.169.254/latest/meta-data/")])
    pages.set("/ssrf/redirect6", "", status=301, headers=[("Location", "http://[fe80::1]/")])
    before = len(receiver.app.store.list())
    for path in ("/ssrf/redirect", "/ssrf/redirect6"):
        assert xmlrpc_result(pingback(receiver.port, pages.url(path), HER)) == (None, 49)
    assert set(log.calls) == {"127.0.0.1"}  # only the allowed first hop was connected
    assert len(receiver.app.store.list()) == before


def test_fetcher_refuses_private_addresses_before_connecting(monkeypatch, pages):
    log = ConnectionLog(monkeypatch)
    fetcher = fetch.Fetcher(allow_loopback=False)
    for url in ssrf_sources(pages):
        with pytest.raises(fetch.BlockedAddress):
            fetcher.get(url)
    loopback_ok = fetch.Fetcher(allow_loopback=True)
    for url in ("http://10.0.0.1/", "http://169.254.169.254/", "http://[fd00::1]/", "http://192.168.1.1/"):
        with pytest.raises(fetch.BlockedAddress):
            loopback_ok.get(url)
    assert log.calls == []
    for url in ("gopher://127.0.0.1/", "file:///etc/passwd", "http://user:pw@example.org/", "http:///x"):
        with pytest.raises(fetch.BadURL):
            fetcher.get(url)
    assert log.calls == []


# --- rate limits and duplicates ------------------------------------------------------------------


def test_rate_limit_per_client_ip(tmp_path, pages, backend, new_database):
    with start_receiver(tmp_path, ip_limit=RateLimit(3, 3600), db=new_database(backend)) as running:
        replies = [post_form(running.port, "/webmention", {"source": f"https://a.example/{i}", "target": HER})
                   for i in range(4)]
        assert [r.status for r in replies] == [202, 202, 202, 429]
        assert xmlrpc_result(pingback(running.port, "https://a.example/x", HER)) == (None, 49)
        reply = post_form(running.port, "/trackback/her-2013", {"url": "https://a.example/y"})
        assert reply.status == 429 and b"<error>1</error>" in reply.body


def test_rate_limit_per_source_and_target(tmp_path, pages, backend, new_database):
    with start_receiver(tmp_path, pair_limit=RateLimit(2, 3600), db=new_database(backend)) as running:
        source = pages.page_linking("/rate/pair", "https://elsewhere.example/")
        statuses = [post_form(running.port, "/webmention", {"source": source, "target": HER}).status for _ in range(3)]
        assert statuses == [202, 202, 429]
        # Another source to the same review is not affected.
        assert post_form(running.port, "/webmention", {"source": source + "?2", "target": HER}).status == 202
        assert xmlrpc_result(pingback(running.port, source, HER)) == (None, 49)


def test_rate_limiter_refills():
    now = [0.0]
    limiter = RateLimiter(RateLimit(2, 10.0), clock=lambda: now[0], max_keys=4)
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    now[0] = 5.0
    assert limiter.allow("a") and not limiter.allow("a")
    for key in "bcdefg":  # pruning keeps memory bounded
        limiter.allow(key)
    assert len(limiter._buckets) <= 4


def test_shared_rate_limiter_refills_like_the_one_in_memory_and_forgets_full_buckets(backend, new_database):
    store = Store(new_database(backend))
    now = [1000.0]
    clock = lambda: now[0]  # noqa: E731
    shared = SharedRateLimiter(store, "ip", RateLimit(2, 10.0), clock=clock)
    memory = RateLimiter(RateLimit(2, 10.0), clock=clock)
    outcomes = []
    for at in (1000.0, 1000.0, 1000.0, 1004.9, 1005.0, 1005.0, 1012.0, 1012.0, 1012.0, 1012.0):
        now[0] = at
        outcomes.append((shared.allow(("a", "b")), memory.allow(("a", "b"))))
    assert [s for s, _ in outcomes] == [m for _, m in outcomes] == [
        True, True, False, False, True, False, True, False, False, False]
    assert shared.allow("other key") and SharedRateLimiter(store, "pair", RateLimit(1, 10.0), clock).allow("a")
    assert store.forget_rate_limits(now=1100.0) == 3  # every bucket is full again by then
    store.close()


def test_errors_do_not_echo_input(receiver):
    marker = "<script>alert('echo')</script>"
    replies = [
        post_form(receiver.port, "/webmention", {"source": marker, "target": HER}),
        post_form(receiver.port, "/webmention",
                  {"source": "https://a.example/", "target": "https://a.example/" + marker}),
        post_form(receiver.port, "/trackback/her-2013", {"url": marker}),
        request(receiver.port, "POST", "/trackback/" + "%3Cscript%3E", b"url=x",
                {"Content-Type": "application/x-www-form-urlencoded"}),
        pingback(receiver.port, marker, HER),
        pingback(receiver.port, "https://a.example/", marker),
        request(receiver.port, "GET", "/webmention/status/" + "%3Cscript%3E"),
    ]
    for reply in replies:
        assert reply.status >= 200
        assert b"script" not in reply.body and b"echo" not in reply.body
        assert reply.headers["x-content-type-options"] == "nosniff"


def test_clean_display_text_caps_lengths():
    assert len(contract.clean_display_text("word " * 200, contract.TITLE_MAX)) <= 200
    assert len(contract.clean_display_text("x" * 1000, contract.EXCERPT_MAX)) == 280
    assert contract.clean_display_text("a\u202eb\x00c\x1b[31m  d") == "abc[31m d"
