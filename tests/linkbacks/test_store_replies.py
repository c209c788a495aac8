"""Replies in the store, on SQLite and on PostgreSQL: the migration of a
database written before replies, the reply rows, duplicate detection by
normalised text, and deleting replies."""

from __future__ import annotations

import threading

import pytest

from linkbacks.database import apply_migrations, dialect_for
from linkbacks.store import MIGRATIONS, DuplicateLinkback, DuplicateReply, Store, reply_key
from tests.linkbacks.support import HER

STAMP = "2026-11-20T10:00:00+00:00"


def reply(store, text="A fine review.", review="her-2013", **kw):
    fields = dict(review=review, target=HER, author="Ana", text=text, excerpt=text[:280],
                  client_hash="h1")
    fields.update(kw)
    return store.add_reply(**fields)


@pytest.fixture()
def store(backend, new_database):
    store = Store(new_database(backend))
    yield store
    store.close()


def test_an_older_database_is_migrated_keeping_rows_ids_and_references(backend, new_database):
    """A database as the receiver left it before replies (the migrations
    before theirs), with linkbacks and a webmention request pointing at one."""
    path = new_database(backend)
    dialect = dialect_for(path)
    conn = dialect.connect(str(path), 10)
    try:
        apply_migrations(conn, dialect, MIGRATIONS[:-1])
        for n in (1, 2, 3):
            conn.execute("INSERT INTO linkbacks (review, source, target, kind, type, title, status, client_ip,"
                         " received, updated) VALUES ('her-2013', ?, ?, 'webmention', 'mention', ?, 'approved',"
                         " '192.0.2.1', ?, ?)", (f"https://b{n}.example/", HER, f"Post {n}", STAMP, STAMP))
        conn.execute("DELETE FROM linkbacks WHERE id = 2")  # ids are not contiguous
        conn.execute("INSERT INTO webmention_requests (token, source, target, review, client_ip, state,"
                     " linkback_id, received, updated) VALUES ('tok', 'https://b3.example/', ?, 'her-2013', '',"
                     " 'verified', 3, ?, ?)", (HER, STAMP, STAMP))
    finally:
        conn.close()

    store = Store(path)
    assert [(row.id, row.title, row.client_ip, row.text, row.parent_id, row.by_author)
            for row in store.list()] == [(1, "Post 1", "192.0.2.1", "", None, 0),
                                         (3, "Post 3", "192.0.2.1", "", None, 0)]
    assert store.request_status("tok") == "approved"  # the reference still reaches row 3
    assert store.integrity_check() == "ok"
    # Replies now fit, ids continue after the highest ever used, and pairs stay unique.
    assert reply(store) == 4 and reply(store, "Another one.") == 5
    with pytest.raises(DuplicateLinkback):
        store.add(review="her-2013", source="https://b1.example/", target=HER, kind="pingback")
    with pytest.raises(DuplicateReply):
        reply(store, "another one")
    store.close()
    again = Store(path)  # migrating again changes nothing
    assert len(again.list()) == 4 and again.integrity_check() == "ok"
    again.close()


def test_reply_rows_keep_their_fields_and_export_as_receiver_records(store):
    parent = reply(store, website="https://ana.example/")
    child = reply(store, "Thanks, Ana!", author="The writer", parent_id=parent, by_author=True,
                  status="approved", client_hash="", email="")
    row = store.get(child)
    assert (row.kind, row.type, row.parent_id, row.by_author, row.status) == ("reply", "reply", parent, 1, "approved")
    record = row.to_linkback()
    assert (record.id, record.parent, record.by_author, record.text) == (
        f"receiver-{child}", f"receiver-{parent}", True, "Thanks, Ana!")
    assert store.get(parent).to_linkback().source == "https://ana.example/"


@pytest.mark.parametrize("again", [
    "A fine review.", "a FINE review", "  A   fine\nreview!! ", "A fine\u200b review.", "Ａ ｆｉｎｅ review.",
])
def test_the_same_text_to_the_same_review_is_a_duplicate(store, again):
    first = reply(store)
    with pytest.raises(DuplicateReply) as info:
        reply(store, again, author="Someone else", client_hash="h2")
    assert info.value.existing_id == first
    reply(store, again, review="alien-1979")  # another review: fine
    reply(store, "A fine review, truly.")  # other words: fine


def test_the_writer_may_say_the_same_thing_twice(store):
    reply(store, "Thank you!", by_author=True, status="approved")
    reply(store, "Thank you!", by_author=True, status="approved")
    with pytest.raises(DuplicateReply):  # readers may not
        reply(store, "thank you")
        reply(store, "Thank you.")


def test_two_replies_with_no_website_are_two_rows_not_a_source_clash(store):
    assert reply(store, "One.") != reply(store, "Two.")
    # A trackback from a reader's website is not taken for that reply.
    reply(store, "Three.", website="https://ana.example/")
    store.add(review="her-2013", source="https://ana.example/", target=HER, kind="trackback")
    assert store.find("her-2013", "https://ana.example/").kind == "trackback"


def test_concurrent_identical_replies_store_one(store):
    outcomes = []

    def send():
        try:
            outcomes.append(reply(store, "Same words at once."))
        except DuplicateReply:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("duplicate") == 7
    assert len(store.list()) == 1


def test_delete_replies_leaves_linkbacks_and_unthreads_answers(store):
    linkback = store.add(review="her-2013", source="https://b.example/", target=HER, kind="pingback")
    parent = reply(store)
    child = reply(store, "An answer.", parent_id=parent)
    gone = store.delete_replies([parent, linkback, 999])
    assert [row.id for row in gone] == [parent]
    assert store.get(linkback) is not None and store.get(child).parent_id is None


def test_reply_key_ignores_case_spacing_punctuation_and_invisible_characters():
    assert reply_key("Hello,   World!\u200b") == reply_key("hello world") == "hello world"
    assert reply_key("Hello world") != reply_key("Hello, other world")
