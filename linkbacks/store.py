"""The SQLite store of received linkbacks.

One row per (review slug, source) -- the UNIQUE constraint is what makes a
second ping for the same pair a duplicate, also under concurrency. Every
operation opens its own short-lived connection (WAL mode, busy timeout,
``BEGIN IMMEDIATE`` for writes), so the store is safe to share between the
receiver's threads and with other processes (the moderation CLI).

Readers' replies (kind ``reply``) live in the same table, so one moderation
queue covers every response: ``add_reply`` stores one, refusing a second
reply with the same normalised text to the same review. For a reply,
``author`` is the name the reader gave, ``source`` and ``website`` their
optional site, ``text`` the Markdown source, ``client_hash`` a keyed hash of
the client address (the address itself is never stored for replies),
``email`` the optional address for the one reply notice (never exported),
``parent_id`` the response it answers and ``by_author`` marks the writer's
own replies. ``held_reason`` says why a response waits for moderation.

Webmentions are verified asynchronously; each request gets a row in
``webmention_requests`` with an unguessable token for its status URL.

``init`` migrates a database written by an older version in place (see
``_migrate``): nothing stored is lost.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reelnotes.contract import Linkback, receiver_id

STATUSES = ("pending", "approved", "rejected", "spam")
REQUEST_STATES = ("queued", "verified", "failed")

LINKBACKS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    review TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('trackback', 'pingback', 'webmention', 'reply')),
    type TEXT NOT NULL CHECK (type IN ('mention', 'reply', 'like', 'repost')),
    title TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    excerpt TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
    client_ip TEXT NOT NULL DEFAULT '',
    received TEXT NOT NULL,
    updated TEXT NOT NULL{columns}
)"""
# Columns added for replies (and the moderation list); an older database gets
# them by ALTER TABLE ... ADD COLUMN.
ADDED_COLUMNS = {
    "text": "TEXT NOT NULL DEFAULT ''",
    "website": "TEXT NOT NULL DEFAULT ''",
    "email": "TEXT NOT NULL DEFAULT ''",
    "client_hash": "TEXT NOT NULL DEFAULT ''",
    "parent_id": "INTEGER",
    "by_author": "INTEGER NOT NULL DEFAULT 0",
    "held_reason": "TEXT NOT NULL DEFAULT ''",
    # A hash of a reader's reply as reply_key normalises it ('' for the
    # writer's replies and for linkbacks): one reply per (review, text_key).
    "text_key": "TEXT NOT NULL DEFAULT ''",
}
BASE_COLUMNS = ("id", "review", "source", "target", "kind", "type", "title", "author", "excerpt", "status",
                "client_ip", "received", "updated")

SCHEMA = LINKBACKS_TABLE.format(
    name="linkbacks", columns="".join(f",\n    {name} {decl}" for name, decl in ADDED_COLUMNS.items())
) + """;
CREATE INDEX IF NOT EXISTS linkbacks_status ON linkbacks (status);
-- A (review, source) pair is one linkback; replies (no source, or the
-- reader's website) are told apart by their text instead (add_reply).
CREATE UNIQUE INDEX IF NOT EXISTS linkbacks_pair ON linkbacks (review, source) WHERE kind != 'reply';
CREATE INDEX IF NOT EXISTS linkbacks_review_kind ON linkbacks (review, kind);
CREATE UNIQUE INDEX IF NOT EXISTS linkbacks_reply_text ON linkbacks (review, text_key)
    WHERE kind = 'reply' AND text_key != '';
CREATE TABLE IF NOT EXISTS webmention_requests (
    token TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    review TEXT NOT NULL,
    client_ip TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'verified', 'failed')),
    linkback_id INTEGER REFERENCES linkbacks (id),
    received TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webmention_requests_state ON webmention_requests (state);
"""


class DuplicateLinkback(Exception):
    """A linkback from this source to this review is already stored."""

    def __init__(self, existing_id: int | None = None):
        super().__init__("already registered")
        self.existing_id = existing_id


class DuplicateReply(Exception):
    """The same text was already sent as a reply to this review."""

    def __init__(self, existing_id: int):
        super().__init__("already received")
        self.existing_id = existing_id


class UnknownLinkback(KeyError):
    pass


def reply_key(text: str) -> str:
    """What makes two replies the same: their text with compatibility forms,
    case, punctuation, invisible characters and spacing ignored."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc") or ch.isspace())
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def text_key(text: str) -> str:
    """What the store keeps of reply_key(text): a fixed-size hash."""
    return hashlib.sha256(reply_key(text).encode("utf-8")).hexdigest()[:32]


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class StoredLinkback:
    id: int
    review: str
    source: str
    target: str
    kind: str
    type: str
    title: str
    author: str
    excerpt: str
    status: str
    client_ip: str
    received: str
    updated: str
    text: str = ""
    website: str = ""
    email: str = ""
    client_hash: str = ""
    parent_id: int | None = None
    by_author: int = 0
    held_reason: str = ""
    text_key: str = ""

    def to_linkback(self) -> Linkback:
        """The record export writes: id "receiver-<row>"; a reply's website
        is its source; the e-mail address and client never leave the store."""
        reply = {}
        if self.kind == "reply":
            reply = {
                "text": self.text,
                "parent": receiver_id(self.parent_id) if self.parent_id else None,
                "by_author": bool(self.by_author),
            }
        return Linkback(
            id=receiver_id(self.id),
            kind=self.kind,
            type=self.type,
            source=self.website if self.kind == "reply" else self.source,
            title="" if self.kind == "reply" else self.title,
            author=self.author,
            excerpt=self.excerpt,
            date=datetime.fromisoformat(self.received),
            **reply,
        )


@dataclass(frozen=True)
class WebmentionRequest:
    token: str
    source: str
    target: str
    review: str
    client_ip: str
    state: str
    linkback_id: int | None
    received: str
    updated: str


class Store:
    def __init__(self, path: Path | str, timeout: float = 30.0, pool_size: int = 8):
        self.path = str(path)
        self.timeout = timeout
        self.pool_size = pool_size
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._initialised = False
        self.init()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def _connection(self):
        """A connection from a small pool; each is used by one thread at a
        time. Reusing connections also keeps the WAL open between operations
        (closing the last connection would checkpoint and delete it)."""
        with self._pool_lock:
            conn = self._pool.pop() if self._pool else None
        if conn is None:
            conn = self._connect()
        healthy = True
        try:
            yield conn
        except sqlite3.IntegrityError:
            raise  # a constraint said no; the connection is fine
        except sqlite3.Error:
            healthy = False
            raise
        finally:
            if healthy and not conn.in_transaction:
                with self._pool_lock:
                    if len(self._pool) < self.pool_size:
                        self._pool.append(conn)
                        conn = None
            if conn is not None:
                conn.close()

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()

    @contextmanager
    def _read(self):
        with self._connection() as conn:
            yield conn

    @contextmanager
    def _write(self):
        """A write transaction taken with BEGIN IMMEDIATE: the write lock is
        acquired up front, so concurrent writers (threads or processes) queue
        on busy_timeout instead of failing on a read-to-write upgrade."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def init(self) -> None:
        with self._init_lock:
            if self._initialised:
                return
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                _migrate(conn)
                conn.executescript(SCHEMA)
            finally:
                conn.close()
            self._initialised = True

    # --- linkbacks -----------------------------------------------------------

    def add(
        self,
        *,
        review: str,
        source: str,
        target: str,
        kind: str,
        type: str = "mention",
        title: str = "",
        author: str = "",
        excerpt: str = "",
        status: str = "pending",
        client_ip: str = "",
        received: str | None = None,
    ) -> int:
        """Insert a linkback; raises DuplicateLinkback for a known (review, source)."""
        stamp = received or now_iso()
        try:
            with self._write() as conn:
                cur = conn.execute(
                    "INSERT INTO linkbacks (review, source, target, kind, type, title, author,"
                    " excerpt, status, client_ip, received, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (review, source, target, kind, type, title, author, excerpt, status,
                     client_ip, stamp, stamp),
                )
                return cur.lastrowid
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            existing = self.find(review, source)
            raise DuplicateLinkback(existing.id if existing else None) from None

    def add_reply(
        self,
        *,
        review: str,
        target: str,
        author: str,
        text: str,
        excerpt: str,
        website: str = "",
        email: str = "",
        client_hash: str = "",
        parent_id: int | None = None,
        by_author: bool = False,
        status: str = "pending",
        held_reason: str = "",
        received: str | None = None,
    ) -> int:
        """Insert a reader's (or the writer's) reply; raises DuplicateReply
        when a reader's reply with the same normalised text to the same
        review is stored already (a UNIQUE index decides, so two at once
        store one). The writer may say the same thing twice."""
        stamp = received or now_iso()
        key = "" if by_author else text_key(text)
        try:
            with self._write() as conn:
                cur = conn.execute(
                    "INSERT INTO linkbacks (review, source, target, kind, type, title, author, excerpt, status,"
                    " client_ip, received, updated, text, website, email, client_hash, parent_id, by_author,"
                    " held_reason, text_key)"
                    " VALUES (?, ?, ?, 'reply', 'reply', '', ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (review, website, target, author, excerpt, status, stamp, stamp, text, website, email,
                     client_hash, parent_id, int(bool(by_author)), held_reason, key),
                )
                return cur.lastrowid
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            with self._read() as conn:
                row = conn.execute("SELECT id FROM linkbacks WHERE review = ? AND kind = 'reply' AND text_key = ?",
                                   (review, key)).fetchone()
            raise DuplicateReply(row["id"] if row else 0) from None

    def approved_replies_from(self, client_hash: str) -> int:
        """How many approved replies came from this (hashed) client."""
        if not client_hash:
            return 0
        with self._read() as conn:
            return conn.execute(
                "SELECT COUNT(*) FROM linkbacks WHERE kind = 'reply' AND status = 'approved' AND client_hash = ?",
                (client_hash,),
            ).fetchone()[0]

    def delete_replies(self, ids) -> list[StoredLinkback]:
        """Delete these replies (rows of other kinds are left alone); replies
        that answered them become top-level. Returns what was deleted."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT * FROM linkbacks WHERE kind = 'reply' AND id IN ({marks}) ORDER BY id", ids
            ).fetchall()
            gone = [row["id"] for row in rows]
            if gone:
                gone_marks = ", ".join("?" * len(gone))
                conn.execute(f"DELETE FROM linkbacks WHERE id IN ({gone_marks})", gone)
                conn.execute(f"UPDATE linkbacks SET parent_id = NULL WHERE parent_id IN ({gone_marks})", gone)
        return [StoredLinkback(**dict(row)) for row in rows]

    def get(self, linkback_id: int) -> StoredLinkback | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM linkbacks WHERE id = ?", (int(linkback_id),)).fetchone()
        return StoredLinkback(**dict(row)) if row else None

    def find(self, review: str, source: str) -> StoredLinkback | None:
        """The linkback (not reply) from ``source`` to ``review``."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM linkbacks WHERE review = ? AND source = ? AND kind != 'reply'", (review, source)
            ).fetchone()
        return StoredLinkback(**dict(row)) if row else None

    def exists(self, review: str, source: str) -> bool:
        return self.find(review, source) is not None

    def list(self, status: str | None = None, review: str | None = None) -> list[StoredLinkback]:
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}, expected one of {', '.join(STATUSES)}")
        query, args = "SELECT * FROM linkbacks WHERE 1 = 1", []
        if status is not None:
            query += " AND status = ?"
            args.append(status)
        if review is not None:
            query += " AND review = ?"
            args.append(review)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY received, id", args).fetchall()
        return [StoredLinkback(**dict(row)) for row in rows]

    def set_status(self, linkback_id: int, status: str) -> StoredLinkback:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}, expected one of {', '.join(STATUSES)}")
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE linkbacks SET status = ?, updated = ? WHERE id = ?",
                (status, now_iso(), int(linkback_id)),
            )
            if cur.rowcount == 0:
                raise UnknownLinkback(linkback_id)
        return self.get(linkback_id)

    # --- webmention requests ----------------------------------------------------

    def add_request(self, *, source: str, target: str, review: str, client_ip: str = "") -> str:
        token = secrets.token_urlsafe(16)
        stamp = now_iso()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO webmention_requests (token, source, target, review, client_ip,"
                " state, received, updated) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                (token, source, target, review, client_ip, stamp, stamp),
            )
        return token

    def get_request(self, token: str) -> WebmentionRequest | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM webmention_requests WHERE token = ?", (token,)
            ).fetchone()
        return WebmentionRequest(**dict(row)) if row else None

    def finish_request(self, token: str, state: str, linkback_id: int | None = None) -> None:
        if state not in REQUEST_STATES:
            raise ValueError(state)
        with self._write() as conn:
            conn.execute(
                "UPDATE webmention_requests SET state = ?, linkback_id = ?, updated = ?"
                " WHERE token = ?",
                (state, linkback_id, now_iso(), token),
            )

    def queued_requests(self) -> list[WebmentionRequest]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM webmention_requests WHERE state = 'queued' ORDER BY received"
            ).fetchall()
        return [WebmentionRequest(**dict(row)) for row in rows]

    def request_status(self, token: str) -> str | None:
        """What the public status URL reports: pending (not verified yet),
        verified (awaiting moderation), approved, or rejected (failed
        verification, rejected or spam -- spam is not told apart)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT r.state, l.status FROM webmention_requests r"
                " LEFT JOIN linkbacks l ON l.id = r.linkback_id WHERE r.token = ?",
                (token,),
            ).fetchone()
        if row is None:
            return None
        state, status = row
        if state == "queued":
            return "pending"
        if state == "failed" or status is None:
            return "rejected"
        return {"pending": "verified", "approved": "approved"}.get(status, "rejected")

    # --- maintenance ---------------------------------------------------------------

    def integrity_check(self) -> str:
        with self._read() as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]

    def journal_mode(self) -> str:
        with self._read() as conn:
            return conn.execute("PRAGMA journal_mode").fetchone()[0]


# --- Migrations ----------------------------------------------------------------------


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database written by an older version up to SCHEMA, keeping
    every row and id: a ``linkbacks`` table whose CHECK does not know the
    kind 'reply' (or with a table-wide UNIQUE (review, source), which would
    allow one reply per review) is rebuilt; missing columns are added."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'linkbacks'").fetchone()
    if row is None:
        return  # a new database: SCHEMA creates everything
    if "'reply')" not in row[0] or "UNIQUE (review, source)" in row[0]:
        _rebuild_linkbacks(conn)
    have = {info[1] for info in conn.execute("PRAGMA table_info(linkbacks)")}
    for name, declaration in ADDED_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE linkbacks ADD COLUMN {name} {declaration}")


def _rebuild_linkbacks(conn: sqlite3.Connection) -> None:
    """SQLite cannot change a CHECK or drop a constraint in place: copy the
    table into one with the current definition, in one transaction (the
    steps SQLite's documentation gives for ALTER TABLE)."""
    have = [info[1] for info in conn.execute("PRAGMA table_info(linkbacks)")]
    kept = [name for name in have if name in BASE_COLUMNS or name in ADDED_COLUMNS]
    columns = ", ".join(kept)
    conn.execute("PRAGMA foreign_keys = OFF")  # webmention_requests refers to linkbacks
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DROP TABLE IF EXISTS linkbacks_migrating")
            conn.execute(LINKBACKS_TABLE.format(
                name="linkbacks_migrating",
                columns="".join(f",\n    {name} {decl}" for name, decl in ADDED_COLUMNS.items())))
            conn.execute(f"INSERT INTO linkbacks_migrating ({columns}) SELECT {columns} FROM linkbacks")
            conn.execute("DROP TABLE linkbacks")
            conn.execute("ALTER TABLE linkbacks_migrating RENAME TO linkbacks")
            problems = conn.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise sqlite3.IntegrityError(f"migration would break {len(problems)} reference(s)")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
