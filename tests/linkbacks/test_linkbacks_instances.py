"""Several receiver instances on one database: the schema migrations that
every instance runs on start, then two (or three) real receiver processes
on their own ports of 127.0.0.1 sharing one PostgreSQL database -- one
stored row per linkback whichever instance got it, one rate limit across
them, and a webmention queue that any instance works through, also after
another was killed with SIGKILL holding claims."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from linkbacks.database import DatabaseError
from linkbacks.store import MAX_ATTEMPTS, MIGRATIONS, SCHEMA, Store
from tests.linkbacks.instance import Instance
from tests.linkbacks.support import HER, pingback, post_form, request, write_reviews_json, xmlrpc_result

# --- migrations ------------------------------------------------------------------------------


def schema_versions(store: Store) -> list[int]:
    with store._read() as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]


def test_instances_starting_together_apply_each_migration_once(backend, new_database):
    db = new_database(backend)
    start = threading.Barrier(8)
    stores, errors = [], []

    def instance():
        start.wait()
        try:
            stores.append(Store(db))
        except Exception as exc:  # noqa: BLE001 -- any error fails the test
            errors.append(exc)

    threads = [threading.Thread(target=instance) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert schema_versions(stores[0]) == list(range(1, len(MIGRATIONS) + 1))
    first = stores[0].add(review="her-2013", source="https://a.example/", target=HER, kind="pingback")
    assert [row.id for row in stores[-1].list()] == [first]
    for store in stores:
        store.close()


def test_a_database_from_before_migrations_is_upgraded_in_place(tmp_path):
    """A linkbacks.sqlite3 written before the schema had versions keeps its
    rows and gains the queue's lease columns."""
    path = tmp_path / "linkbacks.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO linkbacks (review, source, target, kind, type, received, updated) VALUES"
                 " ('her-2013', 'https://old.example/', 't', 'trackback', 'mention', '2020-01-01', '2020-01-01')")
    conn.execute("INSERT INTO webmention_requests (token, source, target, review, received, updated) VALUES"
                 " ('tok12345', 'https://old.example/wm', 't', 'her-2013', '2020-01-01', '2020-01-01')")
    conn.commit()
    conn.close()
    store = Store(path)
    assert schema_versions(store) == list(range(1, len(MIGRATIONS) + 1))
    assert [row.source for row in store.list()] == ["https://old.example/"]
    assert store.claim_request("worker-1", lease=60) == "tok12345"
    assert store.get_request("tok12345").claimed_by == "worker-1"


def test_a_database_newer_than_the_code_is_refused(backend, new_database):
    db = new_database(backend)
    store = Store(db)
    with store._write() as conn:
        conn.execute("INSERT INTO schema_version (version, applied) VALUES (99, 'later')")
    store.close()
    with pytest.raises(DatabaseError) as info:
        Store(db)
    assert f"its schema is version 99, newer than this code's {len(MIGRATIONS)}" in str(info.value)


# --- the queue's claims ----------------------------------------------------------------------


def queue_of(store: Store, n: int) -> list[str]:
    return [store.add_request(source=f"https://q.example/{i}", target=HER, review="her-2013") for i in range(n)]


def test_concurrent_workers_never_claim_the_same_webmention(backend, new_database):
    store = Store(new_database(backend))
    tokens = queue_of(store, 60)
    claimed: list[str] = []
    start = threading.Barrier(8)

    def worker(n):
        start.wait()
        while (token := store.claim_request(f"worker-{n}", lease=60)) is not None:
            claimed.append(token)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(tokens)  # each exactly once
    assert store.count_queued() == 60  # claimed is not finished: still queued until verified
    store.close()


def test_a_claim_is_exclusive_until_its_lease_runs_out_or_it_is_given_back(backend, new_database):
    store = Store(new_database(backend))
    queued = queue_of(store, 2)
    first, second = store.claim_request("a", lease=60), store.claim_request("b", lease=60)
    assert sorted([first, second]) == sorted(queued)
    assert store.claim_request("c", lease=60) is None
    assert store.release_requests("a") == 1  # "a" is stopping
    assert store.claim_request("c", lease=60) == first
    assert store.get_request(first).attempts == 1
    # A lease that ran out (its worker died): claimed again, counted.
    assert store.claim_request("d", lease=-5) in (first, second)
    # Claimed MAX_ATTEMPTS times without an answer: failed, not retried forever.
    while store.claim_request("e", lease=-5) is not None:
        pass
    assert store.count_queued() == 0
    assert {store.request_status(t) for t in (first, second)} == {"rejected"}
    assert {store.get_request(t).attempts for t in (first, second)} == {MAX_ATTEMPTS}
    store.close()


def test_a_claim_passes_over_the_sites_and_clients_at_their_cap(backend, new_database):
    """What the fair queue asks of the store: the oldest webmention whose
    source site and client are not among those to skip, with its keys."""
    store = Store(new_database(backend))
    flood = [store.add_request(source=f"http://slow.example:8080/{i}", target=HER, review="her-2013",
                               client_ip="198.51.100.1") for i in range(3)]
    other_client = store.add_request(source="https://slow.example:8080/x", target=HER, review="her-2013",
                                     client_ip="203.0.113.5")
    good = store.add_request(source="https://good.example/post", target=HER, review="her-2013",
                             client_ip="203.0.113.9")
    claim = store.claim_next("w", lease=60, skip_clients={"198.51.100.1", "203.0.113.9"})
    assert (claim.site, claim.client) == ("slow.example:8080", "203.0.113.5") and claim.token == other_client
    claim = store.claim_next("w", lease=60, skip_sites={"slow.example:8080"})
    assert (claim.token, claim.site, claim.client) == (good, "good.example", "203.0.113.9")
    assert store.claim_next("w", lease=60, skip_sites={"slow.example:8080"}, skip_clients={"x"}) is None
    assert store.claim_next("w", lease=60).token in flood  # no caps: the flood is next
    store.close()


# --- several receiver processes on one PostgreSQL database ---------------------------------------


@pytest.fixture()
def shared(tmp_path, new_database):
    """Start receiver processes on one fresh PostgreSQL database; all are
    killed at the end."""
    db = new_database("postgresql")
    reviews_json = write_reviews_json(tmp_path / "reviews.json")
    started: list[Instance] = []

    def start(**options) -> Instance:
        instance = Instance.start(db, reviews_json, tmp_path / f"instance-{len(started)}.log", **options)
        started.append(instance)
        return instance

    store = Store(db)
    yield SimpleNamespace(db=db, start=start, store=store)
    store.close()
    for instance in started:
        instance.kill()


def webmention(instance: Instance, source: str, target: str = HER):
    return post_form(instance.port, "/webmention", {"source": source, "target": target})


def status(instance: Instance, location: str) -> str:
    return json.loads(request(instance.port, "GET", location).body)["status"]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_a_linkback_sent_to_every_instance_at_once_is_stored_once(shared, pages):
    a, b = shared.start(), shared.start()
    sources = [pages.page_linking(f"/instances/dup/{i}", HER) for i in range(8)]

    def send(job):
        protocol, instance, source = job
        if protocol == "trackback":
            reply = post_form(instance.port, "/trackback/her-2013", {"url": source})
            return source, "stored" if reply.status == 200 else ("duplicate" if reply.status == 409 else reply.status)
        _, fault = xmlrpc_result(pingback(instance.port, source, HER))
        return source, {None: "stored", 48: "duplicate"}.get(fault, fault)

    jobs = [(protocol, instance, source) for source in sources
            for protocol in ("trackback", "pingback") for instance in (a, b)]
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(send, jobs))
    for source in sources:
        assert sorted(outcome for s, outcome in outcomes if s == source) == ["duplicate"] * 3 + ["stored"]
    rows = shared.store.list()
    assert sorted(row.source for row in rows) == sorted(sources)
    # A webmention for a stored source, through either instance, points at the same row.
    locations = [webmention(instance, sources[0]).headers["location"] for instance in (a, b)]
    wait_for(lambda: shared.store.count_queued() == 0, 20, "the webmentions to be verified")
    assert {status(a, location) for location in locations} == {"verified"}
    assert len(shared.store.list()) == len(sources)
    assert shared.store.integrity_check() == "ok"


def test_the_rate_limit_of_a_client_counts_its_requests_to_every_instance(shared):
    a, b = shared.start(ip_limit="4/3600"), shared.start(ip_limit="4/3600")
    # 192.0.2.x (documentation addresses): the sources are refused later, without any connection.
    statuses = [webmention((a, b)[i % 2], f"http://192.0.2.1/post-{i}").status for i in range(6)]
    assert statuses == [202, 202, 202, 202, 429, 429]
    assert xmlrpc_result(pingback(b.port, "http://192.0.2.1/x", HER)) == (None, 49)
    assert post_form(a.port, "/trackback/her-2013", {"url": "http://192.0.2.1/y"}).status == 429


def test_a_webmention_accepted_by_one_instance_is_verified_by_another(shared, pages):
    a = shared.start(workers=0)  # accepts, never verifies
    b = shared.start(workers=2, poll=0.2)
    source = pages.page_linking("/instances/handed-over", HER, title="Handed over")
    reply = webmention(a, source)
    assert reply.status == 202
    location = reply.headers["location"]
    wait_for(lambda: status(a, location) == "verified", 20, "instance B to verify A's webmention")
    token = location.rsplit("/", 1)[1]
    assert f":{b.pid}:" in shared.store.get_request(token).claimed_by
    assert shared.store.find("her-2013", source).title == "Handed over"
    assert pages.hits("/instances/handed-over") == [("GET", "/instances/handed-over")]


def test_an_instance_killed_mid_queue_loses_nothing_it_acknowledged(shared, pages):
    a = shared.start(workers=2, lease=3)
    tracked = [pages.page_linking(f"/instances/kill/tb/{i}", HER) for i in range(4)]
    for source in tracked:  # answered 200: stored before the answer
        assert post_form(a.port, "/trackback/her-2013", {"url": source}).status == 200
    slow = [pages.page_linking(f"/instances/kill/wm/{i}", HER, delay=1.5) for i in range(6)]
    locations = []
    for source in slow:
        reply = webmention(a, source)
        assert reply.status == 202
        locations.append(reply.headers["location"])
    tokens = [location.rsplit("/", 1)[1] for location in locations]

    def held_by_a():
        return [t for t in tokens if f":{a.pid}:" in shared.store.get_request(t).claimed_by]

    wait_for(lambda: len(held_by_a()) >= 2, 20, "instance A to claim two webmentions")
    a.kill()
    orphaned = [t for t in held_by_a() if shared.store.get_request(t).state == "queued"]
    assert orphaned, "A finished its claims before it was killed"
    b = shared.start(workers=2, lease=3, poll=0.2)
    wait_for(lambda: shared.store.count_queued() == 0, 40, "instance B to work through the queue")
    assert [status(b, location) for location in locations] == ["verified"] * len(slow)
    for token in orphaned:  # taken over once A's lease ran out
        request_row = shared.store.get_request(token)
        assert f":{b.pid}:" in request_row.claimed_by and request_row.attempts == 2
    assert sorted(row.source for row in shared.store.list()) == sorted(tracked + slow)
    assert shared.store.integrity_check() == "ok"
