"""Queue wait of good webmentions while slow sources flood the receiver, on 127.0.0.1.

Starts the receiver (threaded wsgiref server, temporary SQLite database,
generous rate limits, loopback sources allowed, X-Forwarded-For trusted so
each simulated client has its own address) with a fetch deadline of
``--deadline`` seconds, a "slow blog" whose pages answer only after that
deadline, and a normal blog. Then, for each scenario, it sends ``--slow``
webmentions with slow sources and, while they are being verified, ``--good``
webmentions with normal sources from other clients, one every 0.2 s, and
measures how long each good one waited in the verification queue (from
being queued to a worker taking it) and until its status was "verified".

Scenarios: the flood from one client; the flood from as many clients as
slow webmentions (one slow site). Each runs with the receiver as it is
(8 workers, at most 2 verifications per source site and 4 per client) and,
for comparison, as it was (first in, first out, ``--old-workers`` workers,
no caps).

    python -m benchmarks.linkbacks_slow_sources [--slow 16] [--good 20] [--deadline 2]

Prints p50/p99/max queue wait per scenario; exits 1 if, with the receiver
as it is, a good webmention waited longer than one slow source's deadline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.linkbacks_load import percentile
from linkbacks.app import Config
from linkbacks.limits import RateLimit
from linkbacks.server import start_in_thread

SITE = "https://example.org"
REVIEW = "her-2013"
TARGET = f"{SITE}/reviews/{REVIEW}/"


def start_blog(delay: float, stop: threading.Event):
    """A blog whose every page links to the review, after ``delay`` seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- http.server's hook name
            if delay:
                stop.wait(delay)
            body = f'<html><body><p>About <a href="{TARGET}">this film</a>.</p></body></html>'.encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the receiver gave up at its deadline

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def send(port: int, source: str, client: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/webmention", f"source={source}&target={TARGET}",
                     {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": client})
        reply = conn.getresponse()
        body = reply.read()
    finally:
        conn.close()
    if reply.status != 202:
        raise RuntimeError(f"webmention refused: {reply.status} {body!r}")
    return reply.getheader("Location").rsplit("/", 1)[1]


def run_scenario(name: str, old: bool, args, slow_base: str, good_base: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="linkbacks-slow-"))
    (tmp / "reviews.json").write_text(json.dumps(
        {"site_url": "", "reviews": [{"slug": REVIEW, "url": f"/reviews/{REVIEW}/", "title": "Her"}]}))
    generous = RateLimit(10**9, 1.0)
    workers = args.old_workers if old else Config.webmention_workers
    caps = dict(webmention_per_host=10**6, webmention_per_client=10**6) if old else {}
    config = Config(db_path=tmp / "linkbacks.sqlite3", reviews_json=tmp / "reviews.json", site_url=SITE,
                    allow_loopback=True, ip_limit=generous, pair_limit=generous, status_limit=generous,
                    trust_forwarded_for=True, fetch_timeout=args.deadline, webmention_workers=workers, **caps)
    receiver = start_in_thread(config)
    try:
        for n in range(args.slow):
            client = "198.51.100.1" if name == "one client" else f"198.51.100.{n + 1}"
            send(receiver.port, f"{slow_base}/slow/{n}", client)
        time.sleep(0.1)
        tokens: dict[str, float] = {}
        verified: dict[str, float] = {}
        sending = True

        def watch():  # notes when each good webmention turns "verified", while they are being sent
            deadline = time.monotonic() + args.slow * args.deadline + 60
            while (sending or len(verified) < len(tokens)) and time.monotonic() < deadline:
                for token, sent in list(tokens.items()):
                    if token not in verified and receiver.app.store.request_status(token) == "verified":
                        verified[token] = time.monotonic() - sent
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        for n in range(args.good):
            tokens[send(receiver.port, f"{good_base}/good/{n}", f"203.0.113.{n + 1}")] = time.monotonic()
            time.sleep(0.2)
        sending = False
        watcher.join()
        receiver.app.wait_idle(args.slow * args.deadline + 60)
        waits = receiver.app.queue.waits()
    finally:
        receiver.stop()
    queued = dict(waits)
    good_waits = [queued.get(token, float("inf")) for token in tokens]
    end_to_end = sorted(verified.values())
    shape = f"as it was (FIFO, {workers} workers)" if old else f"as it is ({workers} workers, caps)"
    return {
        "scenario": f"{name}, {shape}",
        "old": old,
        "good_verified": len(verified),
        "wait_p50": statistics.median(good_waits),
        "wait_p99": percentile(good_waits, 99),
        "wait_max": max(good_waits),
        "verified_p99": percentile(end_to_end, 99) if end_to_end else float("inf"),
        "all_wait_p99": percentile([w for _, w in waits], 99) if waits else 0.0,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=16, help="webmentions with slow sources (the flood)")
    parser.add_argument("--good", type=int, default=20, help="good webmentions sent during the flood")
    parser.add_argument("--deadline", type=float, default=2.0, help="the fetch deadline, seconds")
    parser.add_argument("--old-workers", type=int, default=2, help="workers of the FIFO queue compared against")
    args = parser.parse_args(argv)
    stop = threading.Event()
    slow_server, slow_base = start_blog(args.deadline + 3, stop)
    good_server, good_base = start_blog(0, stop)
    results = []
    try:
        for name in ("one client", "many clients"):
            for old in (False, True):
                results.append(run_scenario(name, old, args, slow_base, good_base))
    finally:
        stop.set()
        for server in (slow_server, good_server):
            server.shutdown()
            server.server_close()
    print(f"linkbacks slow-source flood: {args.slow} slow webmentions (sources answer after the "
          f"{args.deadline:g} s deadline), {args.good} good ones from other clients, loopback only; "
          f"load {os.getloadavg()[0]:.2f}")
    print("  queue wait of the good webmentions (s): p50 / p99 / max; their time to 'verified' p99 (s); "
          "queue wait p99 of every webmention, flood included (s)")
    failed = False
    for r in results:
        print(f"  {r['scenario']:<44} wait p50 {r['wait_p50']:6.2f}  p99 {r['wait_p99']:6.2f}  "
              f"max {r['wait_max']:6.2f}   verified p99 {r['verified_p99']:6.2f}   "
              f"all p99 {r['all_wait_p99']:6.2f}   ({r['good_verified']}/{args.good} verified)")
        if not r["old"] and (r["wait_max"] > args.deadline or r["good_verified"] < args.good):
            failed = True
    print("  [FAIL] a good webmention waited longer than one slow source's deadline" if failed
          else "  [ok] no good webmention waited longer than one slow source's deadline")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
