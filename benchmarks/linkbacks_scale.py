"""The receiver at scale, entirely on 127.0.0.1: the same pings against one
instance on SQLite and against two instances sharing PostgreSQL, then the
two instances again with one killed (SIGKILL) half-way.

Each instance is a process of its own (``tests.linkbacks.instance``: what
``invoke linkbacks.serve`` runs). PostgreSQL is a throwaway cluster started
here (Debian's ``postgresql`` package, as the tests use it) with
``synchronous_commit=off`` -- like SQLite's ``synchronous=NORMAL`` in WAL
mode, an instance crash loses nothing, a power cut may lose the last moment.
The pings are those of ``benchmarks.linkbacks_load``: a third each
TrackBack, Webmention and Pingback, each from its own source page on a
loopback blog, sent by N client threads; with two instances, ping ``i``
goes to instance ``i % 2``, as a round-robin load balancer would send it.
Webmention sources answer after ``--verify-delay`` seconds (a remote blog
is not instant), so verification takes the time it takes in real life and
an instance's four workers hold claims while they wait.

Killing: when half the pings are answered, instance A gets SIGKILL. A ping
whose connection to A fails is sent to B, as a load balancer retries; a
ping A had stored but not yet answered then comes back from B as "already
registered", which the sender counts as delivered. Afterwards B verifies
the webmentions A had accepted or claimed (after the lease).

Checks, per run: every acknowledged ping is stored (none lost), no
(review, source) pair is stored twice (none duplicated), every acknowledged
webmention is verified. Figures: requests per second, p50/p99 latency,
end-to-end time including verification.

    python -m benchmarks.linkbacks_scale [--pings 2000] [--clients 8] [--lease 5]

Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections import Counter
from pathlib import Path

from benchmarks.linkbacks_load import (
    PROTOCOLS,
    REVIEWS,
    percentile,
    ping_request,
    run_clients,
    start_source_server,
)
from linkbacks.store import Store
from tests.linkbacks.instance import Instance
from tests.postgres_server import PostgresServer

ALREADY = "already registered"


def send(port: int, source_base: str, i: int):
    """Ping ``i`` to the instance on ``port``: (outcome, elapsed, token).
    outcome is "ok", ALREADY, "refused" (no connection: the instance is
    gone) or an HTTP status / fault code."""
    ping = ping_request(source_base, i)
    protocol, path, body, content_type = ping.protocol, ping.path, ping.body, ping.content_type
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body, {"Content-Type": content_type})
        resp = conn.getresponse()
        status, data = resp.status, resp.read()
    except ConnectionError:
        return "refused", time.perf_counter() - started, None
    except OSError as exc:
        return f"error {exc!r}", time.perf_counter() - started, None
    finally:
        conn.close()
    elapsed = time.perf_counter() - started
    if protocol == "trackback":
        outcome = "ok" if status == 200 else ALREADY if status == 409 else status
        return outcome, elapsed, None
    if protocol == "webmention":
        if status != 202:
            return status, elapsed, None
        return "ok", elapsed, json.loads(data)["location"].rsplit("/", 1)[1]
    try:
        xmlrpc.client.loads(data)
        return "ok", elapsed, None
    except xmlrpc.client.Fault as fault:
        return (ALREADY if fault.faultCode == 48 else f"fault {fault.faultCode}"), elapsed, None


def run(name: str, db, instances: int, pings: int, clients: int, workdir: Path, lease: float,
        verify_delay: float, kill_at: float | None = None) -> bool:
    reviews_json = workdir / "reviews.json"
    reviews_json.write_text(json.dumps({
        "site_url": "", "reviews": [{"slug": s, "url": f"/reviews/{s}/", "title": s} for s in REVIEWS]}))
    def delay_of(path: str) -> float:  # webmention sources (ping i % 3 == 1) answer slowly
        number = path.rsplit("/", 1)[-1]
        return verify_delay if number.isdigit() and PROTOCOLS[int(number) % len(PROTOCOLS)] == "webmention" else 0.0

    source_server, hits = start_source_server(delay_of)
    source_base = f"http://127.0.0.1:{source_server.server_address[1]}"
    running = [Instance.start(db, reviews_json, workdir / f"{name}-{n}.log", workers=4, lease=lease, poll=0.5)
               for n in range(instances)]
    alive = list(running)
    results: list = [None] * pings
    counter = iter(range(pings))
    lock = threading.Lock()
    answered = [0]
    killed_at = [None]

    def client():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            instance = running[i % len(running)]
            outcome, elapsed, token = send(instance.port, source_base, i)
            if outcome == "refused" and len(running) > 1:  # the load balancer tries another instance
                other = next(x for x in alive if x is not instance)
                outcome, retry_elapsed, token = send(other.port, source_base, i)
                elapsed += retry_elapsed
            results[i] = (outcome, elapsed, token)
            with lock:
                answered[0] += 1
                if kill_at is not None and killed_at[0] is None and answered[0] >= kill_at * pings:
                    killed_at[0] = answered[0]
                    alive.remove(running[0])
                    running[0].kill()

    store = Store(db)
    try:
        started = time.perf_counter()
        requests_done = run_clients(client, clients)
        deadline = time.monotonic() + max(120.0, 4 * lease)
        while store.count_queued() and time.monotonic() < deadline:
            time.sleep(0.05)
        drained = store.count_queued() == 0
        all_done = time.perf_counter() - started

        outcomes = Counter(r[0] if isinstance(r[0], str) else f"HTTP {r[0]}" for r in results)
        acknowledged = {i for i, r in enumerate(results) if r[0] in ("ok", ALREADY)}
        rows = store.list()
        stored_pairs = Counter((row.review, row.source) for row in rows)
        pair_of = {i: (REVIEWS[i % len(REVIEWS)], f"{source_base}/s/{i}?r={REVIEWS[i % len(REVIEWS)]}")
                   for i in range(pings)}
        lost = sorted(i for i in acknowledged if pair_of[i] not in stored_pairs)
        duplicated = sum(n - 1 for n in stored_pairs.values() if n > 1)
        tokens = [r[2] for r in results if r[2]]
        states = Counter(store.request_status(token) for token in tokens)
        latencies = [r[1] * 1000 for r in results]
        with store._read() as conn:  # webmentions claimed more than once: their first holder died
            taken_over = conn.execute("SELECT count(*) FROM webmention_requests WHERE attempts > 1").fetchone()[0]
        integrity = store.integrity_check()
    finally:
        for instance in running:
            instance.stop()
        store.close()
        source_server.shutdown()
        source_server.server_close()

    checks = {
        "every ping answered" + (" (retried on B after the kill)" if kill_at else ""): len(acknowledged) == pings,
        "webmention queue drained": drained,
        "no acknowledged ping lost": not lost,
        "none stored twice": duplicated == 0,
        "every acknowledged webmention verified": states == Counter({"verified": len(tokens)}),
        "integrity check ok": integrity == "ok",
    }
    where = "SQLite (WAL)" if instances == 1 else f"{instances} instances on PostgreSQL"
    print(f"\n{name}: {pings} pings, {clients} clients, {where}"
          + (f"; instance A killed (SIGKILL) after {killed_at[0]} answers" if kill_at else ""))
    print(f"  requests:   {requests_done:.2f} s  ->  {pings / requests_done:.0f} req/s")
    print(f"  end to end: {all_done:.2f} s (incl. webmention verification)  ->  {pings / all_done:.0f} linkbacks/s")
    print(f"  latency:    p50 {statistics.median(latencies):.1f} ms   p99 {percentile(latencies, 99):.1f} ms   "
          f"max {max(latencies):.1f} ms")
    print(f"  answers:    {dict(outcomes)}")
    print(f"  stored:     {len(rows)} rows; lost {len(lost)}; duplicated {duplicated}; "
          f"webmentions {dict(states)}, {taken_over} taken over after the lease; "
          f"sources fetched {sum(hits.values())} times for {len(hits)} sources")
    for label, passed in checks.items():
        print(f"  [{'ok' if passed else 'FAIL'}] {label}")
    if lost:
        print(f"  first lost pings: {lost[:5]}")
    return all(checks.values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--lease", type=float, default=5.0,
                        help="seconds before a killed instance's claimed webmentions are taken over")
    parser.add_argument("--verify-delay", type=float, default=0.05,
                        help="seconds a webmention's source page takes to answer (verification is not instant)")
    args = parser.parse_args(argv)
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"(1/5/15 min), {os.cpu_count()} CPUs")
    workdir = Path(tempfile.mkdtemp(prefix="linkbacks-scale-"))
    common = dict(pings=args.pings, clients=args.clients, workdir=workdir, lease=args.lease,
                  verify_delay=args.verify_delay)
    try:
        ok = run("sqlite-1", workdir / "linkbacks.sqlite3", 1, **common)
        with PostgresServer.start(settings={"synchronous_commit": "off"}) as postgres:
            ok &= run("postgresql-2", postgres.new_database("scale"), 2, **common)
            ok &= run("postgresql-2-kill", postgres.new_database("kill"), 2, kill_at=0.5, **common)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nload after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
