"""Load test of the Leave a Reply form on the receiver, entirely on 127.0.0.1.

Starts the receiver (threaded wsgiref server, temporary SQLite database,
``--trust-forwarded-for`` as behind a proxy, the real 3 s minimum from
preview to Send) and plays readers:

1. **Load.** N replies from C client threads, spread over many client
   addresses (X-Forwarded-For; each address sends as many replies as the
   per-client limit allows, no more) and a few reviews. Every reply is
   previewed, then sent once its token is 3 s old: each thread keeps its
   previews in a queue and sends them as they ripen, so the minimum delay
   costs no throughput. Checks: every preview and send answered 200, exactly
   N replies stored (none lost), each text once (none stored twice), no
   client address in the database files, ``PRAGMA integrity_check`` ok.
2. **Floods,** on a receiver with the default limits: one address sending
   many replies gets exactly the per-client allowance through; many
   addresses replying to one review get exactly the per-review allowance
   through; the same words from many addresses are stored once.

Prints requests per second and p50/p99 latency (previews and sends).

    python benchmarks/replies_load.py [--replies 2000] [--clients 8] [--reviews 4]

Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.linkbacks_load import run_clients
from linkbacks.app import Config
from linkbacks.limits import RateLimit
from linkbacks.server import start_in_thread

SITE = "https://example.org"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">')
WAIT = Config.reply_min_seconds + 0.05  # a token this old may be sent


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def post(port: int, path: str, fields: dict, address: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, urlencode(fields), {"Content-Type": "application/x-www-form-urlencoded",
                                                       "X-Forwarded-For": address})
        response = conn.getresponse()
        status, body = response.status, response.read().decode("utf-8", "replace")
    except OSError as exc:
        status, body = 0, repr(exc)
    finally:
        conn.close()
    return status, body, time.perf_counter() - started


def preview(port: int, slug: str, text: str, address: str, name: str = "Reader"):
    """(status, the Send form's fields or None, seconds)."""
    status, body, elapsed = post(port, f"/reply/{slug}", {"name": name, "website": "", "email": "", "text": text,
                                                          "homepage": "", "step": "preview"}, address)
    fields = {k: unescape(v) for k, v in HIDDEN.findall(body)} if status == 200 else None
    if fields is not None:
        fields["step"] = "send"
    return status, fields, elapsed


def send(port: int, slug: str, fields: dict, address: str):
    status, _, elapsed = post(port, f"/reply/{slug}", fields, address)
    return status, elapsed


def reviews_json(folder: Path, slugs) -> Path:
    path = folder / "reviews.json"
    path.write_text(json.dumps({"site_url": "", "reviews": [
        {"slug": s, "url": f"/reviews/{s}/", "title": s} for s in slugs]}), encoding="utf-8")
    return path


def receiver(folder: Path, slugs, **limits):
    folder.mkdir(parents=True, exist_ok=True)
    return start_in_thread(Config(db_path=folder / "replies.sqlite3", reviews_json=reviews_json(folder, slugs),
                                  site_url=SITE, trust_forwarded_for=True, site_name="Reel Notes", **limits))


# --- 1. Load ---------------------------------------------------------------------------------


def load(folder: Path, replies: int, clients: int, reviews: int) -> tuple[dict, list[str]]:
    slugs = [f"film-{n:02d}" for n in range(reviews)]
    per_address = Config.reply_client_limit.requests  # the burst one address may send
    running = receiver(folder, slugs, reply_review_limit=RateLimit(10**9, 1.0))
    results: list = [None] * replies  # (preview status, preview s, send status, send s)
    texts = [f"Reply {i} to {slugs[i % reviews]}: the second act drags, but the ending lands." for i in range(replies)]
    address_of = [f"10.{i // per_address // 65536 % 256}.{i // per_address // 256 % 256}.{i // per_address % 256}"
                  for i in range(replies)]
    counter = iter(range(replies))
    lock = threading.Lock()

    def client():
        ripening: deque = deque()  # (ready at, i, fields, preview status, preview seconds)

        def send_ready(block: bool):
            while ripening and (block or ripening[0][0] <= time.monotonic()):
                ready, i, fields, p_status, p_time = ripening.popleft()
                time.sleep(max(0.0, ready - time.monotonic()))
                s_status, s_time = send(running.port, slugs[i % reviews], fields, address_of[i])
                results[i] = (p_status, p_time, s_status, s_time)

        while True:
            send_ready(block=False)
            with lock:
                i = next(counter, None)
            if i is None:
                break
            p_status, fields, p_time = preview(running.port, slugs[i % reviews], texts[i], address_of[i])
            if fields is None:
                results[i] = (p_status, p_time, 0, 0.0)
                continue
            ripening.append((time.monotonic() + WAIT, i, fields, p_status, p_time))
        send_ready(block=True)

    try:
        elapsed = run_clients(client, clients)
        store = running.app.store
        rows = store.list()
        stored_texts = [row.text for row in rows]
        db = running.app.config.db_path
        db_bytes = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        sample = {address_of[i] for i in range(0, replies, max(1, replies // 50))}
        failures = [(i, r[0], r[2]) for i, r in enumerate(results) if r is None or (r[0], r[2]) != (200, 200)]
        checks = {
            "every preview and send answered 200": not failures,
            f"{replies} replies stored (none lost)": len(rows) == replies,
            "each text stored once (none twice)": len(set(stored_texts)) == len(stored_texts)
            and set(stored_texts) == set(texts),
            "all pending, kind reply, spread over the reviews":
                {(r.kind, r.status) for r in rows} == {("reply", "pending")} and {r.review for r in rows} == set(slugs),
            "no client address in the database files": not [a for a in sample if a.encode() in db_bytes],
            "PRAGMA integrity_check ok": store.integrity_check() == "ok",
        }
        done = [r for r in results if r is not None]
        previews, sends = [r[1] * 1000 for r in done], [r[3] * 1000 for r in done if r[2]]
        figures = {
            "replies": replies, "clients": clients, "reviews": reviews, "addresses": len(set(address_of)),
            "seconds": elapsed, "requests": len(previews) + len(sends),
            "req_per_s": (len(previews) + len(sends)) / elapsed, "replies_per_s": replies / elapsed,
            "preview_p50": statistics.median(previews), "preview_p99": percentile(previews, 99),
            "send_p50": statistics.median(sends), "send_p99": percentile(sends, 99),
            "all_p50": statistics.median(previews + sends), "all_p99": percentile(previews + sends, 99),
        }
        lines = [f"  [{'ok' if passed else 'FAIL'}] {name}" for name, passed in checks.items()]
        if failures:
            lines.append(f"  first failures (index, preview status, send status): {failures[:5]}")
        figures["ok"] = all(checks.values())
        return figures, lines
    finally:
        running.stop()


# --- 2. Floods ------------------------------------------------------------------------------


def in_parallel(jobs, clients: int):
    results = [None] * len(jobs)
    counter = iter(range(len(jobs)))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            results[i] = jobs[i]()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def preview_then_send(port: int, items, clients: int) -> list[int]:
    """Preview every (slug, text, address), wait out the minimum, send; the send statuses (0: preview refused)."""
    previews = in_parallel([lambda s=slug, t=text, a=address: preview(port, s, t, a) for slug, text, address in items],
                           clients)
    time.sleep(WAIT)
    jobs = [(lambda p=p, item=item: send(port, item[0], p[1], item[2])[0] if p[1] else 0)
            for p, item in zip(previews, items, strict=True)]
    return in_parallel(jobs, clients)


def floods(folder: Path, clients: int, size: int) -> tuple[bool, list[str]]:
    running = receiver(folder, ["flooded", "quiet", "same"])  # the default limits
    client_cap = Config.reply_client_limit.requests
    review_cap = Config.reply_review_limit.requests
    try:
        store = running.app.store
        one_client = preview_then_send(running.port, [("quiet", f"Flood {i}.", "192.0.2.66") for i in range(size)],
                                       clients)
        from_flooder = len(store.list(review="quiet"))
        one_review = preview_then_send(
            running.port, [("flooded", f"Pile-on {i}.", f"198.51.100.{i % 250}") for i in range(size)], clients)
        at_review = len(store.list(review="flooded"))
        before = len(store.list())
        same = preview_then_send(  # 20 fits the review's allowance: only the duplicate check says no
            running.port, [("same", "Same words, different people.", f"203.0.113.{i}") for i in range(20)], clients)
        checks = {
            f"one address, {size} replies: {client_cap} stored, the rest refused 429":
                from_flooder == client_cap and one_client.count(200) == client_cap
                and all(s in (0, 429) for s in one_client if s != 200),
            f"one review, {size} replies from {min(size, 250)} addresses: {review_cap} stored, the rest 429":
                at_review == review_cap and one_review.count(200) == review_cap
                and all(s == 429 for s in one_review if s != 200),
            "the same words from 20 addresses: stored once, 19 refused 409":
                same.count(200) == 1 and same.count(409) == 19 and len(store.list()) == before + 1,
        }
        lines = [f"  [{'ok' if passed else 'FAIL'}] {name}" for name, passed in checks.items()]
        lines.append(f"  floods: one address got {one_client.count(200)}/{size} through ({one_client.count(0)} "
                     f"already stopped at the preview), one review {one_review.count(200)}/{size}")
        return all(checks.values()), lines
    finally:
        running.stop()


def run(replies: int = 2000, clients: int = 8, reviews: int = 4, flood: int = 60) -> int:
    folder = Path(tempfile.mkdtemp(prefix="replies-load-"))
    figures, lines = load(folder / "load", replies, clients, reviews)
    flood_ok, flood_lines = floods(folder / "floods", clients, flood)
    print(f"replies load: {replies} replies (preview + send each) from {clients} client threads, "
          f"{figures['addresses']} client addresses, {reviews} reviews, loopback only")
    print(f"  requests:   {figures['requests']} in {figures['seconds']:.2f} s  ->  {figures['req_per_s']:.0f} req/s "
          f"({figures['replies_per_s']:.0f} replies/s; each send waits {Config.reply_min_seconds:g} s "
          "after its preview)")
    print(f"  latency:    all p50 {figures['all_p50']:.1f} ms  p99 {figures['all_p99']:.1f} ms;  "
          f"preview p50 {figures['preview_p50']:.1f} / p99 {figures['preview_p99']:.1f} ms;  "
          f"send p50 {figures['send_p50']:.1f} / p99 {figures['send_p99']:.1f} ms")
    for line in lines + flood_lines:
        print(line)
    return 0 if figures["ok"] and flood_ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reviews", type=int, default=4)
    parser.add_argument("--flood", type=int, default=60, help="replies in each flood")
    args = parser.parse_args(argv)
    return run(args.replies, args.clients, args.reviews, args.flood)


if __name__ == "__main__":
    sys.exit(main())
