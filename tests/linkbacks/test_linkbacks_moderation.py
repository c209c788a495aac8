"""The store, moderation, export into data files, reverify, and the CLI API,
on both stores (SQLite and PostgreSQL) wherever the database matters."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from linkbacks import cli, moderation
from linkbacks.fetch import Fetcher
from linkbacks.store import DuplicateLinkback, Store, UnknownLinkback
from tests.linkbacks.support import HER, REVIEWS, PageServer, approved_records, write_reviews_json

SLUGS = {"her-2013", "alien-1979"}
ROOT = Path(__file__).resolve().parents[2]


def add(store, n, review="her-2013", **kw):
    fields = dict(review=review, source=f"https://blog{n}.example/post", target=HER, kind="pingback",
                  title=f"Post {n}", author=f"Blog {n}", excerpt="Nice.",
                  received=f"2026-11-{10 + n:02d}T10:00:00+00:00")
    fields.update(kw)
    return store.add(**fields)


@pytest.fixture()
def store(backend, new_database):
    store = Store(new_database(backend))
    yield store
    store.close()


def test_store_schema_wal_and_unique_pair(store, backend):
    assert store.journal_mode() == {"sqlite": "wal", "postgresql": "postgresql"}[backend]
    first = add(store, 1)
    with pytest.raises(DuplicateLinkback) as info:
        add(store, 1, kind="webmention")
    assert info.value.existing_id == first
    add(store, 1, review="alien-1979")  # same source, other review: fine
    assert len(store.list()) == 2


def test_store_concurrent_writers_threads_and_processes(store):
    """8 threads and a second process insert at once, each pair twice:
    every pair is stored exactly once and the database is intact."""
    script = (
        "import sys\n"
        "from linkbacks.store import Store, DuplicateLinkback\n"
        "s = Store(sys.argv[1])\n"
        "for i in range(100):\n"
        "    for _ in range(2):\n"
        "        try: s.add(review='alien-1979', source=f'https://p.example/{i}', target='t', kind='trackback')\n"
        "        except DuplicateLinkback: pass\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, store.path])
    errors, duplicates = [], []

    def worker(t):
        for i in range(40):
            for _ in range(2):
                try:
                    store.add(review="her-2013", source=f"https://t.example/{i}", target=HER, kind="webmention")
                except DuplicateLinkback:
                    duplicates.append(i)
                except Exception as exc:  # noqa: BLE001 -- any error fails the test
                    errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert proc.wait(timeout=60) == 0
    assert errors == []
    assert len(store.list(review="her-2013")) == 40 and len(duplicates) == 8 * 80 - 40
    assert len(store.list(review="alien-1979")) == 100
    assert store.integrity_check() == "ok"


def test_store_moderates_by_id_and_lists_by_status(store):
    ids = [add(store, n) for n in range(1, 5)]
    assert [row.id for row in store.list("pending")] == ids
    store.set_status(ids[0], "approved")
    store.set_status(ids[1], "rejected")
    assert store.set_status(ids[2], "spam").status == "spam"
    by_status = {s: [r.id for r in store.list(s)] for s in ("pending", "approved", "rejected", "spam")}
    assert by_status == {"pending": [ids[3]], "approved": [ids[0]], "rejected": [ids[1]], "spam": [ids[2]]}
    assert len(store.list()) == 4
    with pytest.raises(UnknownLinkback):
        store.set_status(999, "approved")
    with pytest.raises(ValueError):
        store.set_status(ids[3], "published")
    with pytest.raises(ValueError):
        store.list("nonsense")


def test_export_writes_data_files_the_loader_reads_back(store, tmp_path):
    content = tmp_path / "content"
    a, b, c = add(store, 3), add(store, 1), add(store, 2, review="alien-1979", kind="webmention", type="like")
    pending = add(store, 4)
    gone = add(store, 5, review="deleted-review")
    for i in (a, b, c, gone):
        store.set_status(i, "approved")
    result = moderation.export(store, content, SLUGS)
    assert sorted(p.name for p in result.written) == ["alien-1979.json", "her-2013.json"]
    assert [row.id for row in result.skipped] == [gone]
    loaded = approved_records(content, SLUGS)
    assert [lb.id for lb in loaded["her-2013"]] == [f"receiver-{b}", f"receiver-{a}"]  # by date
    assert f"receiver-{pending}" not in [lb.id for lb in loaded["her-2013"]]
    assert loaded["alien-1979"][0].type == "like" and loaded["alien-1979"][0].label == "Like"
    assert loaded["her-2013"][0].title == "Post 1"
    # Nothing changed: files untouched.
    assert moderation.export(store, content, SLUGS).written == []
    assert sorted(p.name for p in (content / "linkbacks").iterdir()) == ["alien-1979.json", "her-2013.json"]


def test_export_keeps_hand_edits_and_drops_unapproved(store, tmp_path):
    content = tmp_path / "content"
    keep, drop = add(store, 1), add(store, 2)
    store.set_status(keep, "approved")
    store.set_status(drop, "approved")
    moderation.export(store, content, SLUGS)
    path = content / "linkbacks" / "her-2013.json"
    data = json.loads(path.read_text())
    data["linkbacks"][0]["excerpt"] = "Edited by hand."
    data["linkbacks"].append({"id": "hand-9000", "kind": "trackback", "type": "mention", "source": "https://old.example/",
                              "title": "From the old blog", "author": "Old", "excerpt": "",
                              "date": "2010-01-01T00:00:00+00:00"})
    path.write_text(json.dumps(data, indent=2))
    store.set_status(drop, "rejected")
    moderation.export(store, content, SLUGS)
    loaded = approved_records(content, SLUGS)["her-2013"]
    assert [(lb.id, lb.excerpt) for lb in loaded] == [("hand-9000", ""), (f"receiver-{keep}", "Edited by hand.")]


def test_reverify_rejects_gone_and_unlinked_sources(store, tmp_path):
    pages = PageServer()
    try:
        ids = {}
        for name, status, links in (("gone", 410, False), ("unlinked", 200, False), ("fine", 200, True),
                                    ("down", 503, False)):
            body = f'<p><a href="{HER if links else "https://else.example/"}">x</a></p>'
            url = pages.set(f"/{name}", body, status=status)
            ids[name] = add(store, len(ids) + 1, source=url)
            store.set_status(ids[name], "approved")
        results = {r.id: r.outcome for r in moderation.reverify(store, Fetcher(allow_loopback=True))}
        assert results == {ids["gone"]: "rejected", ids["unlinked"]: "rejected", ids["fine"]: "kept",
                           ids["down"]: "unreachable"}
        assert [r.id for r in store.list("approved")] == [ids["fine"], ids["down"]]
        # Private sources are not fetched by default (no loopback): kept, not fetched.
        before = len(pages.requests)
        assert {r.outcome for r in moderation.reverify(store)} == {"unreachable"}
        assert len(pages.requests) == before
    finally:
        pages.stop()


def test_reverify_leaves_replies_alone(store):
    """A reader's website need not link to the review: reverify does not fetch it."""
    pages = PageServer()
    try:
        website = pages.set("/ann", '<p><a href="https://else.example/">no link here</a></p>')
        reply = store.add_reply(review="her-2013", target=HER, author="Ann", text="Hi.", excerpt="Hi.",
                                website=website)
        store.set_status(reply, "approved")
        assert moderation.reverify(store, Fetcher(allow_loopback=True)) == []
        assert store.get(reply).status == "approved" and pages.requests == []
    finally:
        pages.stop()


def test_cli_functions(store, tmp_path):
    reviews_json = write_reviews_json(tmp_path / "reviews.json", "", REVIEWS)
    first = add(store, 1)
    add(store, 2, title="Tab\tand <b>tags</b>\x1b[2J")  # as if written to the DB directly
    lines = cli.list_linkbacks(store.path)
    assert len(lines) == 2 and lines[0].startswith(f"#{first} ") and "pending" in lines[0]
    assert "Tab and tags" in lines[1] and "<b>" not in lines[1] and "\x1b" not in lines[1]
    assert "approved" in cli.set_status(store.path, first, "approved")
    assert len(cli.list_linkbacks(store.path, "approved")) == 1
    content = tmp_path / "content"
    report = cli.export(store.path, content, reviews_json)
    assert report == [f"wrote {content / 'linkbacks' / 'her-2013.json'}"]
    assert [lb.id for lb in approved_records(content, SLUGS)["her-2013"]] == [f"receiver-{first}"]
    assert cli.reverify(store.path) == [
        f"#{first} unreachable: SourceMissing (https://blog1.example/post)",
        "1 approved linkback(s) checked: 0 kept, 0 rejected, 1 unreachable (kept; try again later).",
    ]


@pytest.mark.parametrize("call, message", [
    (lambda db, rj: cli.set_status(db, 4242, "approved"), "No linkback #4242 (see invoke linkbacks.list)"),
    (lambda db, rj: cli.set_status(db, "twelve", "approved"), "Linkback 'twelve': expected a linkback number"),
    (lambda db, rj: cli.list_linkbacks(db, "bogus"), "--status 'bogus': expected one of pending, approved"),
    (lambda db, rj: cli.export(db, rj.parent / "content", rj), f"reviews.json not found: {cli.BUILD_FIRST}"),
    (lambda db, rj: cli.send(rj.parent, rj.parent / "sent.json"), f"reviews.json not found: {cli.BUILD_FIRST}"),
    # serve: the broken reviews.json makes it stop even if the check under test did not.
    (lambda db, rj: cli.serve(port="http", db=db, reviews_json=rj.parent / "broken.json"),
     "--port: 'http': expected a port number from 1 to 65535"),
    (lambda db, rj: cli.serve(db=db, base_path="linkbacks", reviews_json=rj.parent / "broken.json"),
     "--base-path: 'linkbacks': expected a path starting with /"),
])
def test_cli_bad_input_is_a_linkbacks_error_with_a_message(store, tmp_path, call, message):
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "broken.json").write_text("{")
    with pytest.raises(cli.LinkbacksError) as info:
        call(store.path, tmp_path / "output" / "reviews.json")
    assert message in str(info.value)


def test_cli_names_a_file_that_is_not_a_linkbacks_database(tmp_path):
    db = tmp_path / "linkbacks.sqlite3"
    db.write_bytes(b"not a database, just some text that is long enough to have a header" * 4)
    for call in (lambda: cli.list_linkbacks(db), lambda: cli.set_status(db, 1, "approved"), lambda: cli.reverify(db)):
        with pytest.raises(cli.LinkbacksError) as info:
            call()
        assert str(db) in str(info.value) and "file is not a database" in str(info.value)


def test_cli_reverify_counts_the_rejected_and_points_to_export(store, tmp_path):
    pages = PageServer()
    try:
        gone = add(store, 1, source=pages.set("/gone", "", status=410))
        fine = add(store, 2, source=pages.set("/fine", f'<p><a href="{HER}">Her</a></p>'))
        for linkback_id in (gone, fine):
            store.set_status(linkback_id, "approved")
        lines = cli.reverify(store.path, allow_loopback=True)
    finally:
        pages.stop()
    assert lines[-1] == ("2 approved linkback(s) checked: 1 kept, 1 rejected, 0 unreachable (kept; try again later). "
                         "Run `invoke linkbacks.export`, then build and publish, "
                         "to take the rejected ones off the site.")
    assert store.get(gone).status == "rejected"
