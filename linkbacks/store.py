"""The store of received linkbacks: an SQLite file (the default) or a
PostgreSQL database (a ``postgresql://`` URL) that several receiver
instances share. ``linkbacks.database`` is what differs between the two;
the SQL here is written once for both (its rules are in that module).

One row per (review slug, source) -- the UNIQUE constraint is what makes a
second ping for the same pair a duplicate, also under concurrency and
across instances. Every operation borrows a connection from a small pool
and runs in its own short transaction (SQLite: WAL mode, busy timeout,
``BEGIN IMMEDIATE`` for writes), so the store is safe to share between the
receiver's threads, with other processes (the moderation CLI) and, on
PostgreSQL, with other instances.

The schema is ``MIGRATIONS``, applied on start by ``Store.init``: each
entry once, in order, recorded in ``schema_version``; two instances
starting together apply them once.

Webmentions are verified asynchronously; each request gets a row in
``webmention_requests`` with an unguessable token for its status URL. The
row is the queue: any instance's worker claims it (``claim_request``) for a
lease, and a claim whose instance died runs out and is taken again.

Rate limits shared by instances are rows of ``rate_limits`` (``rate_limit``).

Readers' replies (kind ``reply``) live in the ``linkbacks`` table too, so
one moderation queue covers every response: ``add_reply`` stores one. For a
reply, ``author`` is the name the reader gave, ``source`` and ``website``
their optional site, ``text`` the Markdown source, ``client_hash`` a keyed
hash of the client address (the address itself is never stored for
replies), ``email`` the optional address for the one reply notice (never
exported), ``parent_id`` the response it answers, ``by_author`` marks the
writer's own replies and ``text_key`` a hash of the normalised text (one
reader's reply per (review, text_key)). ``held_reason`` says why a response
waits for moderation. A (review, source) pair is unique among linkbacks
only: replies have no source, or the reader's website.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reelnotes.contract import Linkback, receiver_id

from .database import DatabaseError, apply_migrations, dialect_for, redact

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

# Several instances: the webmention queue's leases, and rate limits kept in
# the database (one row per limit and key: a token bucket as the time it is
# full again, "tat"; see Store.rate_limit).
SHARED_QUEUE_AND_LIMITS = """
ALTER TABLE webmention_requests ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE webmention_requests ADD COLUMN claimed_at TEXT;
ALTER TABLE webmention_requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS webmention_requests_queue ON webmention_requests (state, received);
CREATE TABLE IF NOT EXISTS rate_limits (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    tat DOUBLE PRECISION NOT NULL,
    allowed INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (name, key)
);
CREATE INDEX IF NOT EXISTS rate_limits_tat ON rate_limits (tat);
"""

# The schema, as the steps that build it: append a step for every change
# (never edit one that has shipped). A step is SQL text or a function
# (conn, dialect) -- see linkbacks.database.apply_migrations. For example:
#   a column:  "ALTER TABLE linkbacks ADD COLUMN website TEXT NOT NULL DEFAULT ''",
#              plus a field with that default on StoredLinkback (rows are read with SELECT *);
#   a table:   "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, ...)";
#   what the two databases spell differently: a function that branches on
#              dialect.name ("sqlite" / "postgresql").
# Readers' replies: the kind 'reply' (a CHECK neither database can widen in
# place on SQLite), a (review, source) pair unique among linkbacks only,
# and the reply's columns.
REPLY_COLUMNS = {
    "text": "TEXT NOT NULL DEFAULT ''",
    "website": "TEXT NOT NULL DEFAULT ''",
    "email": "TEXT NOT NULL DEFAULT ''",
    "client_hash": "TEXT NOT NULL DEFAULT ''",
    "parent_id": "INTEGER",
    "by_author": "INTEGER NOT NULL DEFAULT 0",
    "held_reason": "TEXT NOT NULL DEFAULT ''",
    "text_key": "TEXT NOT NULL DEFAULT ''",
}
KINDS_CHECK = "CHECK (kind IN ('trackback', 'pingback', 'webmention', 'reply'))"


def add_replies(conn, dialect) -> None:
    if dialect.name == "sqlite":
        _rebuild_linkbacks_for_replies(conn)
    else:
        conn.execute("ALTER TABLE linkbacks DROP CONSTRAINT IF EXISTS linkbacks_kind_check")
        conn.execute(f"ALTER TABLE linkbacks ADD CONSTRAINT linkbacks_kind_check {KINDS_CHECK}")
        conn.execute("ALTER TABLE linkbacks DROP CONSTRAINT IF EXISTS linkbacks_review_source_key")
        for name, declaration in REPLY_COLUMNS.items():
            conn.execute(f"ALTER TABLE linkbacks ADD COLUMN IF NOT EXISTS {name} {declaration}")
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS linkbacks_pair ON linkbacks (review, source)"
                 " WHERE kind <> 'reply'")
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS linkbacks_reply_text ON linkbacks (review, text_key)"
                 " WHERE kind = 'reply' AND text_key <> ''")
    conn.execute("CREATE INDEX IF NOT EXISTS linkbacks_review_kind ON linkbacks (review, kind)")


def _rebuild_linkbacks_for_replies(conn) -> None:
    """SQLite cannot change a CHECK or drop a UNIQUE in place: the table is
    copied into one with the new definition, keeping every row and id. The
    webmention requests that refer to its rows step aside meanwhile (kept in
    a temporary table), so no reference is ever broken, not even for a moment."""
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'linkbacks'").fetchone()[0]
    new_sql = sql.replace("CHECK (kind IN ('trackback', 'pingback', 'webmention'))", KINDS_CHECK)
    new_sql = re.sub(r",\s*UNIQUE \(review, source\)", "", new_sql)
    new_sql = re.sub(r"^CREATE TABLE (IF NOT EXISTS )?linkbacks", "CREATE TABLE linkbacks_migrating", new_sql)
    new_sql = new_sql.rstrip().removesuffix(")").rstrip() + "".join(
        f",\n    {name} {declaration}" for name, declaration in REPLY_COLUMNS.items()) + "\n)"
    columns = ", ".join(row["name"] for row in conn.execute("PRAGMA table_info(linkbacks)"))
    conn.execute("CREATE TEMP TABLE webmention_requests_aside AS SELECT * FROM webmention_requests")
    conn.execute("DELETE FROM webmention_requests")
    conn.execute(new_sql)
    conn.execute(f"INSERT INTO linkbacks_migrating ({columns}) SELECT {columns} FROM linkbacks")
    conn.execute("DROP TABLE linkbacks")
    conn.execute("ALTER TABLE linkbacks_migrating RENAME TO linkbacks")
    conn.execute("CREATE INDEX IF NOT EXISTS linkbacks_status ON linkbacks (status)")
    conn.execute("INSERT INTO webmention_requests SELECT * FROM webmention_requests_aside")
    conn.execute("DROP TABLE webmention_requests_aside")


MIGRATIONS = (SCHEMA, SHARED_QUEUE_AND_LIMITS, add_replies)
MAX_ATTEMPTS = 3  # claims of one webmention before it counts as failed


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
    claimed_by: str = ""  # the worker holding it, while its lease lasts
    claimed_at: str | None = None
    attempts: int = 0


class Store:
    """``path``: an SQLite file, or a ``postgresql://`` URL."""

    def __init__(self, path: Path | str, timeout: float = 30.0, pool_size: int = 8):
        self.path = str(path)
        self.dialect = dialect_for(self.path)
        self.timeout = timeout
        self.pool_size = pool_size
        self._pool: list = []
        self._pool_lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._initialised = False
        self.init()

    @property
    def shared(self) -> bool:
        """True when other instances may use this database (PostgreSQL)."""
        return self.dialect.shared

    def __repr__(self) -> str:
        return f"Store({redact(self.path)!r})"

    def _connect(self):
        try:
            return self.dialect.connect(self.path, self.timeout)
        except self.dialect.errors as exc:
            if not self.dialect.shared:
                raise  # SQLite: the file's own error says it best
            raise DatabaseError(self.path, f"cannot connect ({exc})") from None

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
        except self.dialect.integrity_errors:
            raise  # a constraint said no; the connection is fine
        except self.dialect.errors:
            healthy = False
            raise
        finally:
            if healthy and not getattr(conn, "closed", False) and not conn.in_transaction:
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
            conn.execute(self.dialect.begin_write)
            try:
                yield conn
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except self.dialect.errors:
                    pass  # the connection broke: no transaction is left, and it is not reused
                raise
            conn.execute("COMMIT")

    def init(self) -> None:
        with self._init_lock:
            if self._initialised:
                return
            if not self.dialect.shared and self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            try:
                if not self.dialect.shared:
                    conn.execute("PRAGMA journal_mode = WAL")
                try:
                    apply_migrations(conn, self.dialect, MIGRATIONS)
                except DatabaseError as exc:
                    raise DatabaseError(self.path, exc.reason) from None
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
        with self._write() as conn:
            inserted = conn.execute(
                "INSERT INTO linkbacks (review, source, target, kind, type, title, author,"
                " excerpt, status, client_ip, received, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (review, source, target, kind, type, title, author, excerpt, status,
                 client_ip, stamp, stamp),
            ).fetchall()
        if inserted:
            return inserted[0][0]
        existing = self.find(review, source)
        raise DuplicateLinkback(existing.id if existing else None)

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
        review is stored already (a UNIQUE index decides, so two at once,
        even on two instances, store one). The writer may say the same thing
        twice."""
        stamp = received or now_iso()
        key = "" if by_author else text_key(text)
        with self._write() as conn:
            inserted = conn.execute(
                "INSERT INTO linkbacks (review, source, target, kind, type, title, author, excerpt, status,"
                " client_ip, received, updated, text, website, email, client_hash, parent_id, by_author,"
                " held_reason, text_key)"
                " VALUES (?, ?, ?, 'reply', 'reply', '', ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING id",
                (review, website, target, author, excerpt, status, stamp, stamp, text, website, email,
                 client_hash, parent_id, int(bool(by_author)), held_reason, key),
            ).fetchall()
        if inserted:
            return inserted[0][0]
        with self._read() as conn:
            row = conn.execute("SELECT id FROM linkbacks WHERE review = ? AND kind = 'reply' AND text_key = ?",
                               (review, key)).fetchone()
        raise DuplicateReply(row[0] if row else 0)

    def approved_replies_from(self, client_hash: str) -> int:
        """How many approved replies came from this (hashed) client."""
        if not client_hash:
            return 0
        with self._read() as conn:
            return conn.execute(
                "SELECT count(*) FROM linkbacks WHERE kind = 'reply' AND status = 'approved' AND client_hash = ?",
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
                "SELECT * FROM linkbacks WHERE review = ? AND source = ? AND kind <> 'reply'", (review, source)
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

    def claim_request(self, worker: str, lease: float, max_attempts: int = MAX_ATTEMPTS) -> str | None:
        """Take the oldest queued webmention nobody holds (or whose holder's
        lease of ``lease`` seconds ran out: that instance died) for
        ``worker``; its token, or None when there is nothing to do. Two
        workers, in any instances, never get the same row while a lease
        lasts. A webmention claimed ``max_attempts`` times without an answer
        is failed."""
        now = datetime.now(UTC).replace(microsecond=0)
        stamp, expired = now.isoformat(), (now - timedelta(seconds=lease)).isoformat()
        waiting = "state = 'queued' AND (claimed_at IS NULL OR claimed_at < ?)"
        with self._read() as conn:  # most polls find nothing: no write lock for them
            waiting_row = conn.execute(f"SELECT 1 FROM webmention_requests WHERE {waiting} LIMIT 1", (expired,))
            if waiting_row.fetchone() is None:
                return None
        with self._write() as conn:
            claimed = conn.execute(
                "UPDATE webmention_requests SET claimed_by = ?, claimed_at = ?, attempts = attempts + 1"
                " WHERE token = (SELECT token FROM webmention_requests"
                f" WHERE {waiting} AND attempts < ? ORDER BY received, token LIMIT 1{self.dialect.skip_locked})"
                " RETURNING token",
                (worker, stamp, expired, max_attempts),
            ).fetchall()
            if not claimed:
                conn.execute(
                    f"UPDATE webmention_requests SET state = 'failed', updated = ? WHERE {waiting} AND attempts >= ?",
                    (stamp, expired, max_attempts),
                )
        return claimed[0][0] if claimed else None

    def release_requests(self, worker: str) -> int:
        """Give back what ``worker`` claimed and has not finished (it is
        stopping), so another worker takes it now rather than after the lease."""
        with self._write() as conn:
            return conn.execute(
                "UPDATE webmention_requests SET claimed_by = '', claimed_at = NULL, attempts = attempts - 1"
                " WHERE claimed_by = ? AND state = 'queued'",
                (worker,),
            ).rowcount

    def count_queued(self, up_to: int = 1_000_000) -> int:
        """How many webmentions wait for verification (counting stops at ``up_to``)."""
        with self._read() as conn:
            return conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM webmention_requests WHERE state = 'queued' LIMIT ?) waiting",
                (up_to,),
            ).fetchone()[0]

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

    # --- rate limits shared by instances -------------------------------------------

    def rate_limit(self, name: str, key: str, requests: int, per_seconds: float, now: float) -> bool:
        """One request for ``key`` under the limit ``name`` (``requests`` per
        ``per_seconds``, bursts allowed): True if it may go ahead. A token
        bucket kept as the time it is full again (GCRA), updated in one
        statement, so instances sharing the database share the limit."""
        interval = per_seconds / requests
        burst_end = now + (requests - 1) * interval
        key = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        with self._write() as conn:
            row = conn.execute(
                "INSERT INTO rate_limits (name, key, tat, allowed) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (name, key) DO UPDATE SET"
                " allowed = CASE WHEN rate_limits.tat <= ? THEN 1 ELSE 0 END,"
                " tat = CASE WHEN rate_limits.tat > ? THEN rate_limits.tat"
                "   WHEN rate_limits.tat > ? THEN rate_limits.tat + ? ELSE ? END"
                " RETURNING allowed",
                (name, key, now + interval, burst_end, burst_end, now, interval, now + interval),
            ).fetchall()
        return bool(row[0][0])

    def forget_rate_limits(self, now: float) -> int:
        """Drop the buckets that are full again (as good as absent)."""
        with self._write() as conn:
            return conn.execute("DELETE FROM rate_limits WHERE tat < ?", (now,)).rowcount

    # --- maintenance ---------------------------------------------------------------

    def integrity_check(self) -> str:
        """"ok", or what is wrong. SQLite: PRAGMA integrity_check. PostgreSQL
        (which guards its own pages): the store's own invariants -- one row
        per (review, source), every request's linkback exists."""
        with self._read() as conn:
            if not self.dialect.shared:
                return conn.execute("PRAGMA integrity_check").fetchone()[0]
            twice = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM linkbacks WHERE kind <> 'reply'"
                " GROUP BY review, source HAVING count(*) > 1) t"
            ).fetchone()[0]
            orphans = conn.execute(
                "SELECT count(*) FROM webmention_requests r WHERE r.linkback_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM linkbacks l WHERE l.id = r.linkback_id)"
            ).fetchone()[0]
        problems = [f"{twice} (review, source) pairs stored twice"] * bool(twice)
        problems += [f"{orphans} requests pointing at no linkback"] * bool(orphans)
        return "; ".join(problems) or "ok"

    def journal_mode(self) -> str:
        """SQLite's journal mode ("wal"); "postgresql" for PostgreSQL."""
        if self.dialect.shared:
            return self.dialect.name
        with self._read() as conn:
            return conn.execute("PRAGMA journal_mode").fetchone()[0]
