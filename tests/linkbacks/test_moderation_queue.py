"""The moderation queue as the writer sees it: ``python -m linkbacks.cli``
(argparse, JSON with --json), one list for every kind of response with
pending first, why each is held, control characters shown escaped and
mixed-script look-alikes flagged; and a store made before any of this. The
store's part runs on both stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from linkbacks import cli
from linkbacks.database import apply_migrations, dialect_for
from linkbacks.listing import mixed_script_words, terminal_text
from linkbacks.store import MIGRATIONS, DuplicateLinkback, Store, _linkbacks_take_replies
from tests.linkbacks.support import HER

OLD_SCHEMA = """
CREATE TABLE linkbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, review TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('trackback', 'pingback', 'webmention')),
    type TEXT NOT NULL CHECK (type IN ('mention', 'reply', 'like', 'repost')),
    title TEXT NOT NULL DEFAULT '', author TEXT NOT NULL DEFAULT '', excerpt TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
    client_ip TEXT NOT NULL DEFAULT '', received TEXT NOT NULL, updated TEXT NOT NULL, UNIQUE (review, source));
CREATE TABLE webmention_requests (
    token TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, review TEXT NOT NULL,
    client_ip TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'queued',
    linkback_id INTEGER REFERENCES linkbacks (id), received TEXT NOT NULL, updated TEXT NOT NULL);
"""


def run_cli(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linkbacks.cli", *argv], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})


@pytest.fixture
def store(backend, new_database):
    store = Store(new_database(backend))
    yield store
    store.close()


def test_a_store_from_before_replies_keeps_every_row_and_takes_replies(tmp_path):
    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO linkbacks (id, review, source, target, kind, type, status, received, updated)"
                 " VALUES (7, 'her-2013', 'https://a.example/p', ?, 'webmention', 'like', 'approved', ?, ?)",
                 (HER, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"))
    conn.execute("INSERT INTO webmention_requests VALUES ('tok', 'https://a.example/p', ?, 'her-2013', '',"
                 " 'verified', 7, 't', 't')", (HER,))
    conn.execute("INSERT INTO linkbacks (id, review, source, target, kind, type, received, updated)"
                 " VALUES (9, 'her-2013', 'https://gone.example/', 't', 'pingback', 'mention', 't', 't')")
    conn.execute("DELETE FROM linkbacks WHERE id = 9")  # forgotten: its number is not handed out again
    conn.commit()
    conn.close()
    store = Store(db)
    (row,) = store.list()
    assert (row.id, row.kind, row.type, row.status, row.held_reason, row.email) == (7, "webmention", "like",
                                                                                     "approved", "", "")
    assert row.source_key == "https://a.example/p"
    assert store.request_status("tok") == "approved"
    reply = store.add(review="her-2013", source="", target=HER, kind="reply", author="Ann", excerpt="Hi.",
                      held_reason="new reader")
    assert reply > 9 and store.get(reply).kind == "reply"
    assert store.integrity_check() == "ok"
    Store(db)  # opening it again changes nothing
    assert [r.id for r in Store(db).list()] == [7, reply]


def test_a_store_at_the_schema_before_replies_is_migrated_on_both_databases(backend, new_database):
    """A database the receiver of issue 12 made (kind without 'reply', UNIQUE
    (review, source)) keeps its rows, ids and requests, takes any number of
    replies, and still stores a linkback once."""
    db = str(new_database(backend))
    dialect = dialect_for(db)
    conn = dialect.connect(db, 30)
    try:
        apply_migrations(conn, dialect, MIGRATIONS[:MIGRATIONS.index(_linkbacks_take_replies)])
        for source, status in (("https://a.example/p", "approved"), ("https://b.example/q", "pending")):
            conn.execute("INSERT INTO linkbacks (review, source, target, kind, type, status, received, updated)"
                         " VALUES ('her-2013', ?, ?, 'webmention', 'like', ?, '2026-01-01', '2026-01-01')",
                         (source, HER, status))
        (first,) = conn.execute("SELECT min(id) FROM linkbacks").fetchone()
        conn.execute("INSERT INTO webmention_requests (token, source, target, review, state, linkback_id,"
                     " received, updated) VALUES ('tok', 'https://a.example/p', ?, 'her-2013', 'verified', ?,"
                     " 't', 't')", (HER, first))
        conn.execute("INSERT INTO webmention_requests (token, source, target, review, received, updated)"
                     " VALUES ('waiting', 'https://c.example:8080/r', ?, 'her-2013', 't', 't')", (HER,))
    finally:
        conn.close()
    store = Store(db)
    try:
        rows = store.list()
        assert [(r.id, r.source, r.source_key, r.held_reason) for r in rows] == [
            (first, "https://a.example/p", "https://a.example/p", ""),
            (first + 1, "https://b.example/q", "https://b.example/q", "")]
        assert store.request_status("tok") == "approved"
        assert store.get_request("waiting").source_site == "c.example:8080"
        replies = [store.add(review="her-2013", source=website, target=HER, kind="reply", author="Ann",
                             excerpt="Hi.", held_reason="new reader")
                   for website in ("", "", "https://ann.example/", "https://ann.example/")]
        assert len(set(replies)) == 4 and min(replies) > first + 1
        assert {store.get(reply).kind for reply in replies} == {"reply"}
        assert store.find("her-2013", "https://ann.example/") is None  # a reader's website is no linkback
        with pytest.raises(DuplicateLinkback) as info:
            store.add(review="her-2013", source="HTTPS://A.example:443/p", target=HER, kind="pingback")
        assert info.value.existing_id == first
        assert store.integrity_check() == "ok"
    finally:
        store.close()


def test_the_queue_lists_pending_first_then_the_latest_moderated(store):
    ids = [store.add(review="her-2013", source=f"https://b{n}.example/p", target=HER, kind="pingback",
                     received=f"2026-11-0{n}T10:00:00+00:00") for n in range(1, 5)]
    store.set_status(ids[0], "approved")
    store.set_status(ids[2], "spam")
    assert [r.id for r in store.moderation_queue()] == [ids[1], ids[3], ids[2], ids[0]]
    assert [r.id for r in store.moderation_queue("pending")] == [ids[1], ids[3]]


def test_a_linkback_is_held_as_the_first_from_its_site_until_one_is_approved(store):
    first = store.add(review="her-2013", source="https://blog.example/a", target=HER, kind="trackback")
    assert store.get(first).held_reason == "first linkback from this site"
    store.set_status(first, "approved")
    second = store.add(review="alien-1979", source="https://BLOG.example:443/b", target=HER, kind="webmention")
    assert store.get(second).held_reason == "linkbacks always wait for approval"
    other = store.add(review="alien-1979", source="https://blog_example.net/b", target=HER, kind="pingback")
    assert store.get(other).held_reason == "first linkback from this site"


@pytest.mark.parametrize("raw, shown", [
    ("https://evil.example/\u202egnp.exe", "https://evil.example/\\u202egnp.exe"),
    ("a\u009b2Jb", "a\\u009b2Jb"),
    ("\x1b[31mred", "\\u001b[31mred"),
    ("zero\u200bwidth", "zero\\u200bwidth"),
    ("line\u2028break", "line\\u2028break"),
    ("tab\tand\nnewline", "tab and newline"),
    ("<b>bold</b> & more", "bold & more"),
    ("tag\U000e0041", "tag\\U000e0041"),
])
def test_terminal_text_shows_control_and_format_characters_escaped(raw, shown):
    assert terminal_text(raw) == shown


def test_mixed_script_look_alikes_are_found_and_ordinary_text_is_not():
    assert mixed_script_words("Re\u0435l N\u043etes review") == ["Re\u0435l", "N\u043etes"]
    assert mixed_script_words("\U0001d411eel") == ["\U0001d411eel"]  # mathematical bold R + Latin
    for fine in ("Reel Notes", "Ре́ль", "Ελληνικά και English", "東京タワー and Tokyo", "café naïve", "Tシャツ"):
        assert mixed_script_words(fine) == [], fine


def test_the_list_shows_kind_review_excerpt_held_reason_and_warnings(store):
    store.add(review="her-2013", source="https://evil.example/\u202ex", target=HER, kind="webmention",
              type="reply", title="Re\u0435l N\u043etes", author="M\u0430llory", excerpt="Buy \u009b now")
    (block,) = cli.list_linkbacks(store.path)
    lines = block.splitlines()
    assert lines[0].split()[:4] == ["#1", "pending", "webmention/reply", "her-2013"]
    assert lines[1] == "       from:    https://evil.example/\\u202ex  by M\u0430llory"
    assert "       excerpt: Buy \\u009b now" in lines
    assert "       held:    first linkback from this site" in lines
    assert '       warning: mixed scripts in the title: "Re\u0435l", "N\u043etes"' in lines
    assert '       warning: mixed scripts in the author: "M\u0430llory"' in lines
    assert not any(ch in block for ch in "\u202e\u009b\x1b")


def test_the_cli_prints_json_with_every_non_ascii_character_escaped(store):
    store.add(review="her-2013", source="https://evil.example/\u202ex\u009b", target=HER, kind="pingback",
              title="Caf\u00e9")
    with store._write() as conn:
        conn.execute("UPDATE linkbacks SET email = 'secret@reader.example', client_ip = '203.0.113.9'")
    done = run_cli("list", "--db", store.path, "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii() and done.stdout.count("\n") == 1
    (response,) = json.loads(done.stdout)["responses"]
    assert response["source"] == "https://evil.example/\u202ex\u009b" and response["title"] == "Caf\u00e9"
    assert response["has_email"] is True and "email" not in response and "client_ip" not in response
    assert "secret@reader.example" not in done.stdout and "203.0.113.9" not in done.stdout
    human = run_cli("--db", store.path, "list")
    assert human.returncode == 0 and "\\u202e" in human.stdout and "\u202e" not in human.stdout


def test_the_cli_moderates_and_says_what_is_wrong_in_one_line(store):
    linkback = store.add(review="her-2013", source="https://a.example/p", target=HER, kind="pingback")
    done = run_cli("approve", str(linkback), "--db", store.path, "--json")
    assert json.loads(done.stdout)["response"]["status"] == "approved"
    for argv, message in [
        (["approve", "99"], "No linkback #99 (see invoke linkbacks.list)"),
        (["reject", "twelve"], "Linkback 'twelve': expected a linkback number"),
        (["list", "--status", "gone"], "--status 'gone': expected one of pending, approved, rejected, spam"),
        (["publish"], "argument command: invalid choice: 'publish'"),
    ]:
        done = run_cli(*argv, "--db", store.path, "--json")
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert message in json.loads(done.stdout)["error"]
    done = run_cli("list")
    assert done.returncode == 1 and done.stderr.strip() == \
        "--db: expected the receiver's database file (or set LINKBACKS_DB)"


def test_the_cli_never_makes_a_database_at_a_wrong_path(tmp_path):
    missing = tmp_path / "linkbacks.sqlite3.missing"
    done = run_cli("list", "--db", str(missing))
    assert done.returncode == 1 and "no such file" in done.stderr
    assert not missing.exists()  # a wrong path never becomes a new database


def test_forget_removes_the_response_its_notices_and_what_its_status_url_said(store):
    store.add(review="her-2013", source="https://keep.example/p", target=HER, kind="pingback")
    token = store.add_request(source="https://b.example/p", target=HER, review="her-2013")
    linkback = store.add(review="her-2013", source="https://b.example/p", target=HER, kind="webmention")
    store.finish_request(token, "verified", linkback)
    assert "b.example" in cli.forget(store.path, linkback)
    assert store.get(linkback) is None and store.request_status(token) == "rejected"
    assert [n.linkback_id for n in store.notices()] == [1]
    with pytest.raises(cli.LinkbacksError, match="No linkback #"):
        cli.forget(store.path, linkback)


def test_a_reply_is_listed_with_its_name_website_text_and_why_it_is_held(store):
    reply = store.add_reply(review="her-2013", target=HER, author="Ann\u202e",
                            website="https://ann.example/\u009b[2J", text="Loved *the* ending.\n\nReally loved it.",
                            excerpt="Loved the ending. Really\u200b loved it.", email="ann@reader.example",
                            client_hash="c1ienth4sh", held_reason="new reader, 2 links")
    (block,) = cli.list_linkbacks(store.path)
    lines = block.splitlines()
    assert lines[0].split()[:4] == [f"#{reply}", "pending", "reply", "her-2013"]
    assert lines[1:4] == ["       name:    Ann\\u202e", "       website: https://ann.example/\\u009b[2J",
                          "       notice:  the reader gets one e-mail when it is approved"]
    assert "       excerpt: Loved the ending. Really\\u200b loved it." in lines
    assert "       held:    new reader, 2 links" in lines
    assert not any(ch in block for ch in "\u202e\u009b\u200b")
    done = run_cli("list", "--db", store.path, "--json")
    for private in ("ann@reader.example", "c1ienth4sh"):
        assert private not in block and private not in done.stdout
    (response,) = json.loads(done.stdout)["responses"]
    assert response["text"].startswith("Loved *the* ending.") and "text_key" not in response
    store.set_status(reply, "approved")
    answer = cli.reply_as_author(store.path, reply, "Thank you, Ann.", "Marta")
    assert "       by:      the author" in answer.splitlines() and f"       answers: #{reply}" in answer.splitlines()
    assert "(no website)" not in answer and "       website: (none)" in answer.splitlines()


def test_a_stored_reply_queues_the_writers_notice_and_its_approval_the_readers(store):
    reply = store.add_reply(review="her-2013", target=HER, author="Ann", text="Hi.", excerpt="Hi.",
                            email="ann@reader.example", held_reason="new reader")
    quiet = store.add_reply(review="her-2013", target=HER, author="Bo", text="Hello.", excerpt="Hello.")
    assert [(n.kind, n.linkback_id) for n in store.notices()] == [("new-response", reply), ("new-response", quiet)]
    store.set_status(reply, "approved")
    store.set_status(quiet, "approved")  # no address: no reader's notice
    store.set_status(reply, "approved")  # approving again: still one
    answer = store.add_reply(review="her-2013", target=HER, author="Marta", text="Thanks!", excerpt="Thanks!",
                             parent_id=reply, by_author=True, status="approved")  # the writer's own: no notice
    assert [(n.kind, n.linkback_id) for n in store.notices()][2:] == [("reply-approved", reply)]
    store.delete_replies([reply])
    assert [n.linkback_id for n in store.notices()] == [quiet]
    assert store.get(answer).parent_id is None
