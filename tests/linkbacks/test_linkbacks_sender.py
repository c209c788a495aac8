"""Sending linkbacks: endpoint discovery, sending to a real receiver over
loopback, the sent-cache, changed reviews and SSRF on the sending side."""

from __future__ import annotations

import json

import pytest

from linkbacks import cli, fetch, sender
from tests.linkbacks.support import ConnectionLog, PageServer, start_receiver


def test_parse_link_header():
    links = sender.parse_link_header([
        '<https://a.example/wm>; rel="webmention", </x,y>; rel="other webmention"; title="a, b"',
        "<https://b.example/>; rel=preload; as=style",
        "garbage",
    ])
    assert links == [
        ("https://a.example/wm", {"webmention"}),
        ("/x,y", {"other", "webmention"}),
        ("https://b.example/", {"preload"}),
    ]


def test_trackback_rdf_discovery_matches_the_identifier():
    page = """<!-- <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/">
    <rdf:Description rdf:about="https://t.example/other/" dc:identifier="https://t.example/other/"
      trackback:ping="https://t.example/tb/other" /></rdf:RDF> -->
    <!-- <rdf:RDF><rdf:Description rdf:about="https://t.example/a&#45;&#45;b/"
      dc:identifier="https://t.example/a&#45;&#45;b/" dc:title="x"
      trackback:ping="https://t.example/tb/a&#45;-b?x=1&amp;y=2" />
    </rdf:RDF> -->"""
    assert sender.trackback_ping_url(page, "https://t.example/a--b/") == "https://t.example/tb/a--b?x=1&y=2"
    assert sender.trackback_ping_url(page, "https://t.example/other") == "https://t.example/tb/other"
    assert sender.trackback_ping_url(page, "https://t.example/unrelated/") is None


@pytest.fixture()
def sites(tmp_path):
    """ours: where our review is published; theirs: the sites we link to,
    whose endpoints belong to a real receiver."""
    ours, theirs = PageServer(), PageServer()
    target_paths = ["/wm-header", "/wm-link", "/wm-a", "/pb-header", "/pb-link", "/tb"]
    reviews = [{"slug": p.strip("/"), "url": theirs.url(p), "title": p} for p in target_paths]
    receiver = start_receiver(tmp_path / "receiver", site_url=theirs.base, reviews=reviews)
    r = receiver.url
    page = "<html><head><title>{t}</title>{head}</head><body><p>Their post</p>{body}</body></html>"
    theirs.set("/wm-header", page.format(t="wm", head="", body=""),
               headers=[("Link", f'<{r}/webmention>; rel="webmention"')])
    theirs.set("/wm-link", page.format(t="wm", head=f'<link rel="webmention" href="{r}/webmention">', body=""))
    theirs.set("/wm-a", page.format(t="wm", head="", body='<!-- <a rel="webmention" href="http://10.0.0.1/">x</a> -->'
                                                          f'<a rel="nofollow webmention" href="{r}/webmention">wm</a>'))
    theirs.set("/pb-header", page.format(t="pb", head="", body=""), headers=[("X-Pingback", f"{r}/pingback")])
    theirs.set("/pb-link", page.format(t="pb", head=f'<link rel="pingback" href="{r}/pingback">', body=""))
    rdf = (f'<!--\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dc="http://purl.org/dc/elements/1.1/"'
           f' xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/">\n<rdf:Description'
           f' rdf:about="{theirs.url("/tb")}" dc:identifier="{theirs.url("/tb")}" dc:title="TB"'
           f' trackback:ping="{r}/trackback/tb" />\n</rdf:RDF>\n-->')
    theirs.set("/tb", page.format(t="tb", head="", body=rdf))
    theirs.set("/none", page.format(t="none", head="", body=""))
    yield ours, theirs, receiver, target_paths
    receiver.stop()
    ours.stop()
    theirs.stop()


def review_html(theirs, paths, extra=""):
    links = " ".join(f'<a href="{theirs.url(p)}#frag">{p}</a>' for p in paths)
    return (
        "<html><head><title>My review</title></head><body>"
        f'<nav><a href="{theirs.url("/nav-only")}">nav</a></nav>'
        f'<article><h1>My review</h1><div class="review-body"><p>Links: {links} '
        f'<a href="{theirs.url("/none")}">none</a> <a href="/reviews/other/">internal</a> '
        f'<a href="mailto:me@example.org">mail</a></p>{extra}</div></article></body></html>'
    )


def test_sender_discovers_each_endpoint_type_and_sends_to_the_receiver(sites, tmp_path):
    ours, theirs, receiver, paths = sites
    review_url = ours.url("/reviews/mine/")
    html = review_html(theirs, paths)
    ours.set("/reviews/mine/", html)
    cache = tmp_path / "cache" / "sent.json"
    send = sender.Sender(fetch.Fetcher(allow_loopback=True), cache)

    results = {r.target: r for r in send.send_pages([(review_url, html)])}
    expected = {"/wm-header": "webmention", "/wm-link": "webmention", "/wm-a": "webmention",
                "/pb-header": "pingback", "/pb-link": "pingback", "/tb": "trackback"}
    for path, kind in expected.items():
        result = results[theirs.url(path)]
        assert (result.outcome, result.kind) == ("sent", kind), result
    assert results[theirs.url("/none")].outcome == "no-endpoint"
    assert len(results) == 7  # internal, mailto and nav links are not targets
    assert theirs.hits("/nav-only") == []
    assert receiver.app.wait_idle(10)
    stored = {row.review: row for row in receiver.app.store.list()}
    assert set(stored) == {p.strip("/") for p in paths}
    for path, kind in expected.items():
        row = stored[path.strip("/")]
        assert (row.kind, row.source) == (kind, review_url)
    assert stored["tb"].title == "My review" and stored["tb"].excerpt.startswith("Links: /wm-header")
    cached = json.loads(cache.read_text())
    assert set(cached["sent"][review_url]) == set(results)

    # Same review again: nothing is fetched or sent.
    before = (len(theirs.requests), len(ours.requests), len(receiver.app.store.list()))
    again = sender.Sender(fetch.Fetcher(allow_loopback=True), cache).send_pages([(review_url, html)])
    assert {r.outcome for r in again} == {"skipped"}
    assert (len(theirs.requests), len(ours.requests), len(receiver.app.store.list())) == before

    # The review changed: every target is discovered and sent to again.
    changed = review_html(theirs, paths, extra="<p>An update.</p>")
    ours.set("/reviews/mine/", changed)
    hits_before = {p: len(theirs.hits(p)) for p in paths}
    third = {r.target: r
             for r in sender.Sender(fetch.Fetcher(allow_loopback=True), cache).send_pages([(review_url, changed)])}
    assert all(third[theirs.url(p)].outcome != "skipped" for p in paths)
    assert all(len(theirs.hits(p)) > hits_before[p] for p in paths)
    assert third[theirs.url("/pb-link")].detail == "already registered"
    assert receiver.app.wait_idle(10)
    assert len(receiver.app.store.list()) == len(paths)  # no duplicates at the receiver

    # A webmention target removed from the review is told, and drops the mention.
    fewer = review_html(theirs, [p for p in paths if p != "/wm-a"], extra="<p>Link removed.</p>")
    ours.set("/reviews/mine/", fewer)
    fourth = {r.target: r
              for r in sender.Sender(fetch.Fetcher(allow_loopback=True), cache).send_pages([(review_url, fewer)])}
    assert fourth[theirs.url("/wm-a")].outcome == "sent"
    assert receiver.app.wait_idle(10)
    assert receiver.app.store.find("wm-a", review_url).status == "rejected"
    assert theirs.url("/wm-a") not in json.loads(cache.read_text())["sent"][review_url]


def test_webmention_endpoint_resolution(sites, tmp_path):
    ours, theirs, _, _ = sites
    theirs.set("/rel-endpoint", "<p>hi</p>", headers=[("Link", '<endpoint?x=1>; rel="webmention"')])
    theirs.set("/endpoint", "", status=202, content_type="text/plain")
    theirs.set("/empty-href", '<html><head><link rel="webmention" href=""></head><body></body></html>')
    f = fetch.Fetcher(allow_loopback=True)
    assert sender.discover(f, theirs.url("/rel-endpoint")) == sender.Endpoint("webmention", theirs.url("/endpoint?x=1"))
    assert sender.discover(f, theirs.url("/empty-href")) == sender.Endpoint("webmention", theirs.url("/empty-href"))
    html = f'<article><a href="{theirs.url("/rel-endpoint")}">x</a></article>'
    result, = sender.Sender(f, tmp_path / "c.json").send_pages([(ours.url("/r/"), html)])
    assert result.outcome == "sent"
    assert ("POST", "/endpoint?x=1") in theirs.requests
    body = theirs.bodies[theirs.requests.index(("POST", "/endpoint?x=1"))]
    expected = f"source={ours.url('/r/')}&target={theirs.url('/rel-endpoint')}"
    assert body == expected.replace(":", "%3A").replace("/", "%2F").encode()


def test_sender_refuses_private_targets_and_endpoints(sites, tmp_path, monkeypatch):
    ours, theirs, _, _ = sites
    theirs.set("/evil-endpoint", "<p>x</p>", headers=[("Link", '<http://169.254.169.254/latest>; rel="webmention"')])
    log = ConnectionLog(monkeypatch)
    html = f'<article><a href="http://10.0.0.1/">a</a> <a href="{theirs.url("/evil-endpoint")}">b</a></article>'
    results = {r.target: r for r in sender.Sender(fetch.Fetcher(allow_loopback=True), tmp_path / "c.json")
               .send_pages([(ours.url("/r/"), html)])}
    assert results["http://10.0.0.1/"].outcome == "failed" and "BlockedAddress" in results["http://10.0.0.1/"].detail
    evil = results[theirs.url("/evil-endpoint")]
    assert (evil.outcome, evil.endpoint) == ("failed", "http://169.254.169.254/latest")
    assert "BlockedAddress" in evil.detail
    assert set(log.calls) == {"127.0.0.1"}
    # Without allow_loopback even the loopback target is refused before connecting.
    log.calls.clear()
    result, = sender.Sender(fetch.Fetcher(), tmp_path / "d.json").send_pages(
        [(ours.url("/r/"), f'<article><a href="{theirs.url("/tb")}">t</a></article>')])
    assert result.outcome == "failed" and log.calls == []


def test_send_from_output_folder_via_cli(sites, tmp_path):
    ours, theirs, receiver, _ = sites
    output = tmp_path / "output"
    page = output / "reviews" / "mine" / "index.html"
    page.parent.mkdir(parents=True)
    html = review_html(theirs, ["/wm-link"])
    page.write_text(html, encoding="utf-8")
    ours.set("/reviews/mine/", html)
    (output / "reviews.json").write_text(json.dumps(
        {"site_url": ours.base, "reviews": [{"slug": "mine", "url": "/reviews/mine/", "title": "Mine"},
                                             {"slug": "unbuilt", "url": "/reviews/unbuilt/", "title": "x"}]}))
    cache = tmp_path / "cache.json"
    lines = cli.send(output, cache, allow_loopback=True)
    assert any(line.startswith("sent") and "webmention" in line and theirs.url("/wm-link") in line for line in lines)
    assert any(line.startswith("no-endpoint") for line in lines)
    assert receiver.app.wait_idle(10)
    assert receiver.app.store.find("wm-link", ours.url("/reviews/mine/")) is not None
    assert all(line.startswith("skipped") for line in cli.send(output, cache, allow_loopback=True))
    with pytest.raises(ValueError):
        sender.review_file(output, ours.base, ours.url("/../../etc/passwd"))


def test_non_ascii_links_are_sent_to_and_a_bad_one_fails_alone(sites, tmp_path):
    ours, theirs, receiver, _ = sites
    theirs.set("/caf%C3%A9", "<html><head><title>Café</title></head><body><p>No endpoints here.</p></body></html>")
    cafe, amelie = theirs.url("/café"), "https://fr.wikipedia.org/wiki/Amélie"
    no_idna = "http://" + "é" * 64 + ".example/"
    html = (f'<article><a href="{cafe}">café</a> <a href="{amelie}">Amélie</a> <a href="{no_idna}">bad</a> '
            f'<a href="{theirs.url("/wm-link")}">wm</a></article>')
    ours.set("/reviews/am%C3%A9lie/", html)  # the receiver verifies our non-ASCII source too
    results = {r.target: r for r in sender.Sender(fetch.Fetcher(allow_loopback=True), tmp_path / "c.json")
               .send_pages([(ours.url("/reviews/amélie/"), html)])}
    assert results[cafe].outcome == "no-endpoint"  # fetched as /caf%C3%A9
    assert ("GET", "/caf%C3%A9") in theirs.requests
    assert (results[amelie].outcome, results[amelie].detail.split(":")[0]) == ("failed", "ResolveError")  # offline
    assert (results[no_idna].outcome, results[no_idna].detail.split(":")[0]) == ("failed", "BadURL")
    assert results[theirs.url("/wm-link")].outcome == "sent"  # the run went on
    assert receiver.app.wait_idle(10)
    assert receiver.app.store.find("wm-link", ours.url("/reviews/amélie/")) is not None
