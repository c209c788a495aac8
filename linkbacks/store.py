"""The SQLite store of received linkbacks.

One row per (review slug, source) -- the unique index on (review,
source_key) is what makes a second ping for the same pair a duplicate, also
under concurrency. ``source_key`` is the source's identity
(``targets.identity_url``: one spelling for ``HTTP://Blog.example:80/a/./b``
and ``http://blog.example/a/b?utm_source=x``); ``source`` keeps the URL as
it was sent, for display. Every
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
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from reelnotes.contract import Linkback, is_http_url

from .targets import identity_url

STATUSES = ("pending", "approved", "rejected", "spam")
REQUEST_STATES = ("queued", "verified", "failed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS linkbacks (
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
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('new-response', 'reply-approved')),
    linkback_id INTEGER NOT NULL REFERENCES linkbacks (id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    done TEXT,
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS notices_due ON notices (done, next_attempt);
CREATE TABLE IF NOT EXISTS notice_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


# Columns added after the first release, each with its definition: a store
# made by an older version gains them when it is opened (ALTER TABLE ... ADD
# COLUMN, so existing rows keep everything they had).
ADDED_COLUMNS = {
    "linkbacks": {
        "source_key": "TEXT",  # identity_url(source); NULL for a source that is no URL
        # Shared with the replies (reelnotes contract for issue 11): why a
        # response waits for moderation, and a reader's address for the one
        # notice that their reply was approved ('' once sent or forgotten).
        "held_reason": "TEXT NOT NULL DEFAULT ''",
        "email": "TEXT NOT NULL DEFAULT ''",
    },
}
LINKBACK_KINDS = ("trackback", "pingback", "webmention")


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store made by an older version up to date (idempotent; runs in
    the caller's write transaction, with foreign keys off)."""
    _allow_reply_kind(conn)
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, definition in columns.items():
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
    _fill_source_keys(conn)
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS linkbacks_review_source_key ON linkbacks (review, source_key)")


def _allow_reply_kind(conn: sqlite3.Connection) -> None:
    """A store whose kind CHECK predates replies is rebuilt with the current
    definition (SQLite cannot alter a CHECK); every row and id is kept."""
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'linkbacks'").fetchone()
    if "'webmention', 'reply'" in sql:
        return
    create = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS linkbacks"):SCHEMA.index(");") + 2]
    conn.execute(create.replace("CREATE TABLE IF NOT EXISTS linkbacks", "CREATE TABLE linkbacks_rebuilt"))
    old_columns = [row[1] for row in conn.execute("PRAGMA table_info(linkbacks)")]
    new_columns = {row[1] for row in conn.execute("PRAGMA table_info(linkbacks_rebuilt)")}
    kept = ", ".join(name for name in old_columns if name in new_columns)
    conn.execute(f"INSERT INTO linkbacks_rebuilt ({kept}) SELECT {kept} FROM linkbacks")
    conn.execute("DROP TABLE linkbacks")
    conn.execute("ALTER TABLE linkbacks_rebuilt RENAME TO linkbacks")
    conn.execute("CREATE INDEX IF NOT EXISTS linkbacks_status ON linkbacks (status)")


def _fill_source_keys(conn: sqlite3.Connection) -> None:
    """Give rows stored before source_key existed their identity. Of rows that
    turn out to be one page under two spellings, the oldest gets it; the
    others stay as they are (listed, moderated and exported as before)."""
    missing = conn.execute(
        "SELECT id, review, source FROM linkbacks WHERE source_key IS NULL ORDER BY id").fetchall()
    if not missing:
        return
    taken = {(row[0], row[1]) for row in conn.execute(
        "SELECT review, source_key FROM linkbacks WHERE source_key IS NOT NULL")}
    for linkback_id, review, source in missing:
        key = source_key(source)
        if key is None or (review, key) in taken:
            continue
        taken.add((review, key))
        conn.execute("UPDATE linkbacks SET source_key = ? WHERE id = ?", (key, linkback_id))


def source_key(source: str) -> str | None:
    """The identity a source is stored under: None when it is no http(s) URL
    (a reply without a website), so such rows never collide."""
    return identity_url(source) if is_http_url(source) else None


def _linkback_held_reason(conn: sqlite3.Connection, key: str | None) -> str:
    """Why a new linkback waits: every one does, but a site never approved
    before is worth a closer look."""
    host = urlsplit(key).netloc if key else ""
    if host:
        pattern = host.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        approved = conn.execute(
            "SELECT 1 FROM linkbacks WHERE status = 'approved' AND (source_key LIKE ? ESCAPE '\\'"
            " OR source_key LIKE ? ESCAPE '\\') LIMIT 1",
            (f"http://{pattern}/%", f"https://{pattern}/%"),
        ).fetchone()
        if approved:
            return "linkbacks always wait for approval"
    return "first linkback from this site"


def _queue_notice(conn: sqlite3.Connection, kind: str, linkback_id: int) -> None:
    stamp = now_iso()
    conn.execute("INSERT INTO notices (kind, linkback_id, created, next_attempt) VALUES (?, ?, ?, ?)",
                 (kind, linkback_id, stamp, stamp))


class DuplicateLinkback(Exception):
    """A linkback from this source to this review is already stored."""

    def __init__(self, existing_id: int | None = None):
        super().__init__("already registered")
        self.existing_id = existing_id


class UnknownLinkback(KeyError):
    pass


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
    source_key: str | None = None
    held_reason: str = ""
    email: str = ""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredLinkback:
        """A row of the linkbacks table; columns this version does not know are left out."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: row[key] for key in row.keys() if key in names})

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


@dataclass(frozen=True)
class Notice:
    """One e-mail in the outbox: ``new-response`` (to the writer) or
    ``reply-approved`` (to the reader who left an address)."""

    id: int
    kind: str
    linkback_id: int
    created: str
    attempts: int
    next_attempt: str
    done: str | None
    outcome: str


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


class Store:
    def __init__(self, path: Path | str, timeout: float = 30.0, pool_size: int = 8, on_notice=None):
        """``on_notice``: called (no arguments) after a notice was queued, so a
        sender can wake up; the receiver's request path does no more than that."""
        self.on_notice = on_notice
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
                conn.execute("PRAGMA foreign_keys = OFF")  # a rebuild drops and renames a referenced table
                conn.execute("BEGIN IMMEDIATE")
                try:
                    _migrate(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
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
        held_reason: str | None = None,
    ) -> int:
        """Insert a linkback; raises DuplicateLinkback for a known (review,
        source), under any spelling of the source. A pending one gets its
        ``held_reason`` (for a linkback, unless given: whether its site has
        had one approved before) and a notice in the outbox, in the same
        transaction: a response is never stored without its notice."""
        stamp = received or now_iso()
        key = source_key(source)
        try:
            with self._write() as conn:
                if held_reason is None:
                    held_linkback = status == "pending" and kind in LINKBACK_KINDS
                    held_reason = _linkback_held_reason(conn, key) if held_linkback else ""
                cur = conn.execute(
                    "INSERT INTO linkbacks (review, source, source_key, target, kind, type, title, author,"
                    " excerpt, status, client_ip, received, updated, held_reason)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (review, source, key, target, kind, type, title, author, excerpt, status,
                     client_ip, stamp, stamp, held_reason),
                )
                if status == "pending":
                    _queue_notice(conn, "new-response", cur.lastrowid)
                linkback_id = cur.lastrowid
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            existing = self.find(review, source)
            raise DuplicateLinkback(existing.id if existing else None) from None
        self._noticed()
        return linkback_id

    def get(self, linkback_id: int) -> StoredLinkback | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM linkbacks WHERE id = ?", (int(linkback_id),)).fetchone()
        return StoredLinkback.from_row(row) if row else None

    def find(self, review: str, source: str) -> StoredLinkback | None:
        """The linkback from ``source`` -- under any spelling of it -- to ``review``."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM linkbacks WHERE review = ? AND (source_key = ? OR source = ?)"
                " ORDER BY source_key IS NULL, id LIMIT 1",
                (review, source_key(source), source),
            ).fetchone()
        return StoredLinkback.from_row(row) if row else None

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
        return [StoredLinkback.from_row(row) for row in rows]

    def moderation_queue(self, status: str | None = None) -> list[StoredLinkback]:
        """What the moderator sees: pending responses first (oldest first),
        then the others, newest moderated first."""
        rows = self.list(status)
        pending = [row for row in rows if row.status == "pending"]
        others = sorted((row for row in rows if row.status != "pending"), key=lambda r: (r.updated, r.id),
                        reverse=True)
        return pending + others

    def set_status(self, linkback_id: int, status: str) -> StoredLinkback:
        """Moderate one response. Approving a reply whose reader left an
        address queues their one notice (once)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}, expected one of {', '.join(STATUSES)}")
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE linkbacks SET status = ?, updated = ? WHERE id = ?",
                (status, now_iso(), int(linkback_id)),
            )
            if cur.rowcount == 0:
                raise UnknownLinkback(linkback_id)
            noticed = status == "approved" and conn.execute(
                "SELECT 1 FROM linkbacks l WHERE l.id = ? AND l.kind = 'reply' AND l.email != ''"
                " AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.linkback_id = l.id AND n.kind = 'reply-approved')",
                (int(linkback_id),),
            ).fetchone() is not None
            if noticed:
                _queue_notice(conn, "reply-approved", int(linkback_id))
        if noticed:
            self._noticed()
        return self.get(linkback_id)

    def delete_response(self, linkback_id: int) -> StoredLinkback:
        """Remove one response for good (``forget``): its row, its notices and
        what a webmention status URL said about it. Returns what was removed."""
        row = self.get(linkback_id)
        if row is None:
            raise UnknownLinkback(linkback_id)
        with self._write() as conn:
            conn.execute("UPDATE webmention_requests SET linkback_id = NULL WHERE linkback_id = ?", (row.id,))
            conn.execute("DELETE FROM notices WHERE linkback_id = ?", (row.id,))
            conn.execute("DELETE FROM linkbacks WHERE id = ?", (row.id,))
        return row

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

    # --- the notice outbox -------------------------------------------------------------
    # The request path only inserts notices (in ``add``); ``linkbacks.notices``
    # sends them, marks them done, or puts them back with a later attempt.

    def _noticed(self) -> None:
        if self.on_notice is not None:
            self.on_notice()

    def claim_notices(self, now: datetime, lease_seconds: float = 300.0, limit: int = 500) -> list[Notice]:
        """The notices due at ``now`` that are not done, each leased to the
        caller for ``lease_seconds``: a second sender (the cron job next to the
        receiver's thread) skips them meanwhile, so none goes out twice."""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT * FROM notices WHERE done IS NULL AND next_attempt <= ? ORDER BY id LIMIT ?",
                (_iso(now), limit),
            ).fetchall()
            lease = _iso(now + timedelta(seconds=lease_seconds))
            conn.executemany("UPDATE notices SET next_attempt = ? WHERE id = ?", [(lease, row["id"]) for row in rows])
        return [Notice(**dict(row)) for row in rows]

    def finish_notices(self, ids, outcome: str, now: datetime, clear_email_of: int | None = None) -> None:
        """Mark notices done (sent, or settled without sending: ``outcome``
        says which). ``clear_email_of``: the reply whose reader's address has
        served its one purpose and is removed in the same transaction."""
        with self._write() as conn:
            conn.executemany("UPDATE notices SET done = ?, outcome = ? WHERE id = ?",
                             [(_iso(now), outcome, notice_id) for notice_id in ids])
            if clear_email_of is not None:
                conn.execute("UPDATE linkbacks SET email = '' WHERE id = ?", (clear_email_of,))

    def retry_notices(self, ids, error: str, now: datetime, backoff) -> datetime | None:
        """A failed send: each notice counts the attempt and is due again after
        ``backoff(attempts)`` seconds. Returns the earliest next attempt."""
        earliest = None
        with self._write() as conn:
            for notice_id in ids:
                row = conn.execute("SELECT attempts FROM notices WHERE id = ?", (notice_id,)).fetchone()
                if row is None:
                    continue
                attempts = row["attempts"] + 1
                when = now + timedelta(seconds=backoff(attempts))
                earliest = when if earliest is None or when < earliest else earliest
                conn.execute("UPDATE notices SET attempts = ?, next_attempt = ?, outcome = ? WHERE id = ?",
                             (attempts, _iso(when), error, notice_id))
        return earliest

    def postpone_notices(self, ids, when: datetime) -> None:
        """Not a failure, just not yet (the digest is not due): due again at ``when``."""
        with self._write() as conn:
            conn.executemany("UPDATE notices SET next_attempt = ? WHERE id = ?", [(_iso(when), i) for i in ids])

    def notices(self, undone_only: bool = False) -> list[Notice]:
        query = "SELECT * FROM notices" + (" WHERE done IS NULL" if undone_only else "") + " ORDER BY id"
        with self._read() as conn:
            return [Notice(**dict(row)) for row in conn.execute(query).fetchall()]

    def state(self, name: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM notice_state WHERE name = ?", (name,)).fetchone()
        return row["value"] if row else None

    def set_state(self, name: str, value: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO notice_state (name, value) VALUES (?, ?)"
                         " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    # --- maintenance ---------------------------------------------------------------

    def integrity_check(self) -> str:
        with self._read() as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]

    def journal_mode(self) -> str:
        with self._read() as conn:
            return conn.execute("PRAGMA journal_mode").fetchone()[0]
