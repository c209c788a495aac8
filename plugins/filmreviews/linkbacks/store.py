"""The SQLite store of received linkbacks.

One row per (review slug, source) -- the UNIQUE constraint is what makes a
second ping for the same pair a duplicate, also under concurrency. Every
operation opens its own short-lived connection (WAL mode, busy timeout,
``BEGIN IMMEDIATE`` for writes), so the store is safe to share between the
receiver's threads and with other processes (the moderation CLI).

Webmentions are verified asynchronously; each request gets a row in
``webmention_requests`` with an unguessable token for its status URL.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .records import Linkback

STATUSES = ("pending", "approved", "rejected", "spam")
REQUEST_STATES = ("queued", "verified", "failed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS linkbacks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    review TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('trackback', 'pingback', 'webmention')),
    type TEXT NOT NULL CHECK (type IN ('mention', 'reply', 'like', 'repost')),
    title TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    excerpt TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
    client_ip TEXT NOT NULL DEFAULT '',
    received TEXT NOT NULL,
    updated TEXT NOT NULL,
    UNIQUE (review, source)
);
CREATE INDEX IF NOT EXISTS linkbacks_status ON linkbacks (status);
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


class UnknownLinkback(KeyError):
    pass


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


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

    def to_linkback(self) -> Linkback:
        return Linkback(
            id=self.id,
            kind=self.kind,
            type=self.type,
            source=self.source,
            title=self.title,
            author=self.author,
            excerpt=self.excerpt,
            date=datetime.fromisoformat(self.received),
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

    def add_imported(self, *, review: str, source: str, target: str, kind: str, title: str = "",
                     author: str = "", excerpt: str = "", received: str) -> tuple[int | None, bool]:
        """Queue a pending linkback brought over from another blog (``invoke
        import.wordpress``): returns (row id, True) when it was added, or
        (the existing row's id, False) when this (review, source) is already
        stored, so importing the same export again adds nothing."""
        try:
            return self.add(review=review, source=source, target=target, kind=kind, title=title,
                            author=author, excerpt=excerpt, status="pending", received=received), True
        except DuplicateLinkback as exc:
            return exc.existing_id, False

    def get(self, linkback_id: int) -> StoredLinkback | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM linkbacks WHERE id = ?", (int(linkback_id),)).fetchone()
        return StoredLinkback(**dict(row)) if row else None

    def find(self, review: str, source: str) -> StoredLinkback | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM linkbacks WHERE review = ? AND source = ?", (review, source)
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

    def count(self, status: str | None = None) -> int:
        with self._read() as conn:
            if status is None:
                return conn.execute("SELECT COUNT(*) FROM linkbacks").fetchone()[0]
            return conn.execute(
                "SELECT COUNT(*) FROM linkbacks WHERE status = ?", (status,)
            ).fetchone()[0]

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
