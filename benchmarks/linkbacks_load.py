"""Bounded load test of the linkback receiver, entirely on 127.0.0.1.

Starts the receiver (threaded wsgiref server, temporary SQLite database,
generous rate limits, loopback sources allowed) and a loopback "blog" server
whose every page links to one review, then sends N pings -- a third each
TrackBack, Webmention and Pingback (XML-RPC), in turn, each from a distinct
source -- from T client threads. Afterwards it checks that none was lost or
duplicated (every request answered with success, exactly N linkbacks stored,
one per source and as many per protocol as were sent, every webmention
verified, every source fetched exactly once) and that ``PRAGMA
integrity_check`` is ok, and prints throughput and latency.

    python -m benchmarks.linkbacks_load [--pings 2000] [--threads 8]
    python benchmarks/linkbacks_load.py [--pings 2000] [--threads 8]

Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import xml.parsers.expat
import xmlrpc.client
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from linkbacks.app import Config
from linkbacks.limits import RateLimit
from linkbacks.server import start_in_thread

SITE = "https://example.org"
REVIEWS = [f"film-{n:02d}" for n in range(10)]
PROTOCOLS = ("trackback", "webmention", "pingback")  # ping i uses PROTOCOLS[i % 3]


class SourceServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a receiver killed mid-fetch hangs up
            super().handle_error(request, client_address)


def start_source_server(delay_of=lambda path: 0.0):
    """Every GET /s/<n>?r=<slug> is a small blog post linking to that review;
    fetches are counted per path. ``delay_of(path)``: seconds before the
    page is sent (a remote blog is not instant)."""
    hits: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path, _, query = self.path.partition("?")
            slug = query.partition("r=")[2]
            with lock:
                hits[path] = hits.get(path, 0) + 1
            time.sleep(delay_of(path))
            body = (
                f"<!doctype html><html><head><title>Post {path}</title></head><body>"
                f'<article class="h-entry"><h1 class="p-name">Post {path}</h1>'
                f'<div class="e-content"><p>About <a href="{SITE}/reviews/{slug}/">this film</a>.</p></div>'
                f"</article></body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = SourceServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


@dataclass(frozen=True)
class Ping:
    """Ping `i` of a run: its protocol, review and source page, and the request to send."""

    protocol: str
    slug: str
    source: str
    path: str
    body: str
    content_type: str


def ping_request(source_base: str, i: int) -> Ping:
    """Ping `i`: PROTOCOLS[i % 3] to REVIEWS[i % len(REVIEWS)], from its own source page."""
    slug = REVIEWS[i % len(REVIEWS)]
    source = f"{source_base}/s/{i}?r={slug}"
    target = f"{SITE}/reviews/{slug}/"
    protocol = PROTOCOLS[i % len(PROTOCOLS)]
    if protocol == "trackback":
        return Ping(protocol, slug, source, f"/trackback/{slug}", urlencode(
            {"url": source, "title": f"Post {i}", "excerpt": "About this film.", "blog_name": f"Blog {i}"}),
            "application/x-www-form-urlencoded")
    if protocol == "webmention":
        return Ping(protocol, slug, source, "/webmention", urlencode({"source": source, "target": target}),
                    "application/x-www-form-urlencoded")
    return Ping(protocol, slug, source, "/pingback", xmlrpc.client.dumps((source, target), "pingback.ping"),
                "text/xml")


def run_clients(client, count: int) -> float:
    """Run `client` in `count` threads at once; the seconds until the last one ends."""
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def one_ping(port: int, source_base: str, i: int):
    ping = ping_request(source_base, i)
    protocol, slug, source = ping.protocol, ping.slug, ping.source
    path, body, content_type = ping.path, ping.body, ping.content_type
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body, {"Content-Type": content_type})
        resp = conn.getresponse()
        data = resp.read()
        status = resp.status
    except OSError as exc:
        status, data = 0, repr(exc).encode()
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    token = None
    if protocol == "trackback":
        ok = status == 200 and b"<error>0</error>" in data
    elif protocol == "webmention":
        ok = status == 202
        token = json.loads(data)["location"].rsplit("/", 1)[1] if ok else None
    else:
        ok = status == 200 and _pingback_ok(data)
    return ok, elapsed, (slug, source), token, status


def _pingback_ok(data: bytes) -> bool:
    try:
        xmlrpc.client.loads(data)
    except (xmlrpc.client.Fault, xmlrpc.client.ResponseError, xml.parsers.expat.ExpatError):
        return False
    return True


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run(pings: int, threads: int) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="linkbacks-load-"))
    reviews_json = tmp / "reviews.json"
    reviews_json.write_text(json.dumps({
        "site_url": "",
        "reviews": [{"slug": s, "url": f"/reviews/{s}/", "title": s} for s in REVIEWS],
    }))
    generous = RateLimit(10**9, 1.0)
    config = Config(
        db_path=tmp / "linkbacks.sqlite3",
        reviews_json=reviews_json,
        site_url=SITE,
        allow_loopback=True,
        ip_limit=generous,
        pair_limit=generous,
        status_limit=generous,
        webmention_workers=4,
    )
    source_server, hits = start_source_server()
    source_base = f"http://127.0.0.1:{source_server.server_address[1]}"
    receiver = start_in_thread(config)
    results = [None] * pings
    counter = iter(range(pings))
    counter_lock = threading.Lock()

    def client():
        while True:
            with counter_lock:
                i = next(counter, None)
            if i is None:
                return
            results[i] = one_ping(receiver.port, source_base, i)

    try:
        started = time.perf_counter()
        requests_done = run_clients(client, threads)
        drained = receiver.app.wait_idle(120)
        all_done = time.perf_counter() - started
        store = receiver.app.store

        failures = [(i, r[4]) for i, r in enumerate(results) if not r[0]]
        rows = store.list()
        stored_pairs = [(row.review, row.source) for row in rows]
        expected_pairs = {r[2] for r in results}
        tokens = [r[3] for r in results if r[3]]
        states = {}
        for token in tokens:
            state = store.request_status(token)
            states[state] = states.get(state, 0) + 1
        integrity = store.integrity_check()
        fetched_twice = sum(1 for n in hits.values() if n > 1)
        expected_kinds = Counter(PROTOCOLS[i % len(PROTOCOLS)] for i in range(pings))
        stored_kinds = Counter(row.kind for row in rows)
        latencies = [r[1] * 1000 for r in results]
        checks = {
            "all requests answered with success": not failures,
            "webmention queue drained": drained,
            f"{pings} linkbacks stored (none lost)": len(rows) == pings,
            "one per (review, source) (none duplicated)": len(set(stored_pairs)) == len(stored_pairs) == pings
            and set(stored_pairs) == expected_pairs,
            "every webmention verified": states == {"verified": len(tokens)},
            "stored per protocol as sent": stored_kinds == expected_kinds,
            "every source fetched exactly once": len(hits) == pings and fetched_twice == 0,
            "PRAGMA integrity_check ok": integrity == "ok",
            "journal mode WAL": store.journal_mode() == "wal",
        }
        mix = ", ".join(f"{expected_kinds[name]} {name}" for name in PROTOCOLS)
        print(f"linkbacks load: {pings} pings ({mix}), {threads} client threads, loopback only")
        print(f"  requests:   {requests_done:.2f} s  ->  {pings / requests_done:.0f} req/s")
        print(f"  end to end: {all_done:.2f} s (incl. async webmention verification)  ->  "
              f"{pings / all_done:.0f} linkbacks/s")
        print(f"  latency:    p50 {statistics.median(latencies):.1f} ms   p99 {percentile(latencies, 99):.1f} ms   "
              f"max {max(latencies):.1f} ms")
        print(f"  stored:     {len(rows)} rows ({', '.join(f'{n} {k}' for k, n in sorted(stored_kinds.items()))}); "
              f"webmention states {states}; integrity_check: {integrity}")
        for name, passed in checks.items():
            print(f"  [{'ok' if passed else 'FAIL'}] {name}")
        if failures:
            print(f"  first failures (index, HTTP status): {failures[:5]}")
        return 0 if all(checks.values()) else 1
    finally:
        receiver.stop()
        source_server.shutdown()
        source_server.server_close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    return run(args.pings, args.threads)


if __name__ == "__main__":
    sys.exit(main())
