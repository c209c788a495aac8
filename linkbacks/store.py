"""The store of received responses (linkbacks, and replies: one table, one
moderation queue): an SQLite file (the default) or a PostgreSQL database (a
``postgresql://`` URL) that several receiver instances share.
``linkbacks.database`` is what differs between the two; the SQL here is
written once for both (its rules are in that module).

One linkback per (review slug, source) -- a unique index on (review,
source_key) is what makes a second ping for the same page a duplicate, also
under concurrency and across instances. ``source_key`` is the source's
identity (``targets.identity_url``: one spelling for
``HTTP://Blog.example:80/a/./b`` and ``http://blog.example/a/b?utm_source=x``);
``source`` keeps the URL as it was sent, for display. Replies are not
linkbacks: a reader may leave several, and their ``source`` is their
website or '', so the unique indexes leave them out.

Every operation borrows a connection from a small pool and runs in its own
short transaction (SQLite: WAL mode, busy timeout, ``BEGIN IMMEDIATE`` for
writes), so the store is safe to share between the receiver's threads, with
other processes (the moderation CLI, the notices cron job) and, on
PostgreSQL, with other instances.

The schema is ``MIGRATIONS``, applied on start by ``Store.init``: each
entry once, in order, recorded in ``schema_version``; two instances
starting together apply them once.

Webmentions are verified asynchronously; each request gets a row in
``webmention_requests`` with an unguessable token for its status URL. The
row is the queue: any instance's worker claims it (``claim_next``) for a
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
waits for moderation.

E-mail notices wait in the outbox, ``notices``: ``add`` and ``add_reply``
(and approving a reply) queue one in the same transaction as the response;
a sender claims them (``claim_notices``) the same way workers claim
webmentions, so two senders -- threads, the cron job, other instances --
never send one twice.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from reelnotes.contract import Linkback, is_http_url, receiver_id

from .database import DatabaseError, apply_migrations, dialect_for, redact
from .targets import identity_url, site_key

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

# --- Responses of every kind (issue 11) --------------------------------------------
LINKBACK_KINDS = ("trackback", "pingback", "webmention")  # and 'reply'


def _linkbacks_take_replies(conn, dialect) -> None:
    """kind gains 'reply', and the table-wide UNIQUE (review, source) goes:
    replies have no source to be unique by (``_one_linkback_per_source``
    puts it back, for linkbacks only). PostgreSQL alters its constraints;
    SQLite, which cannot, rebuilds the table with every row and id (with
    foreign keys off during migrations, see ``Store.init``)."""
    check = "kind IN ('trackback', 'pingback', 'webmention', 'reply')"
    if dialect.name == "postgresql":
        conn.execute("ALTER TABLE linkbacks DROP CONSTRAINT IF EXISTS linkbacks_kind_check")
        conn.execute(f"ALTER TABLE linkbacks ADD CONSTRAINT linkbacks_kind_check CHECK ({check})")
        conn.execute("ALTER TABLE linkbacks DROP CONSTRAINT IF EXISTS linkbacks_review_source_key")
        return
    conn.execute(f"""CREATE TABLE linkbacks_rebuilt (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        review TEXT NOT NULL,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        kind TEXT NOT NULL CHECK ({check}),
        type TEXT NOT NULL CHECK (type IN ('mention', 'reply', 'like', 'repost')),
        title TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL DEFAULT '',
        excerpt TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'approved', 'rejected', 'spam')),
        client_ip TEXT NOT NULL DEFAULT '',
        received TEXT NOT NULL,
        updated TEXT NOT NULL
    )""")
    kept = ", ".join(name for name in _column_order(conn, "linkbacks")
                     if name in dialect.columns(conn, "linkbacks_rebuilt"))
    conn.execute(f"INSERT INTO linkbacks_rebuilt ({kept}) SELECT {kept} FROM linkbacks")
    # Numbers of responses deleted at the end are not handed out again.
    last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'linkbacks'").fetchone()
    conn.execute("DROP TABLE linkbacks")
    conn.execute("ALTER TABLE linkbacks_rebuilt RENAME TO linkbacks")
    if last is not None and not conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'linkbacks'", (last[0],)).rowcount:
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('linkbacks', ?)", (last[0],))
    conn.execute("CREATE INDEX IF NOT EXISTS linkbacks_status ON linkbacks (status)")
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise DatabaseError("", f"rebuilding the linkbacks table left {len(broken)} rows pointing at none")


def _column_order(conn, table: str) -> list[str]:
    return [row["name"] for row in conn.execute(f"PRAGMA table_info({table})")]


def added_columns(table: str, columns: dict[str, str]) -> Callable:
    """A migration adding ``columns`` ({name: definition}) to ``table``, each
    only if it is not there yet (so two steps may both name one). A
    definition uses the shared types and, for NOT NULL, a DEFAULT: existing
    rows get it."""

    def migrate(conn, dialect) -> None:
        present = dialect.columns(conn, table)
        for name, definition in columns.items():
            if name not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")

    migrate.__doc__ = f"{table} gains {', '.join(columns)}."
    return migrate


RESPONSE_COLUMNS = added_columns("linkbacks", {
    "source_key": "TEXT",  # identity_url(source); NULL for a reply, or a source that is no URL
    # Shared with the replies (reelnotes contract for issue 11): why a response
    # waits for moderation, and a reader's address for the one notice that
    # their reply was approved ('' once sent or forgotten; never exported).
    "held_reason": "TEXT NOT NULL DEFAULT ''",
    "email": "TEXT NOT NULL DEFAULT ''",
})


def _one_linkback_per_source(conn, dialect) -> None:
    """Rows stored before source_key existed get their identity, then the
    unique indexes replace UNIQUE (review, source), for linkbacks only. Of
    rows that turn out to be one page under two spellings, the oldest gets
    the identity; the others keep none (they are listed, moderated and
    exported as before, and stay unique by their spelling)."""
    taken = {(row[0], row[1]) for row in conn.execute(
        "SELECT review, source_key FROM linkbacks WHERE source_key IS NOT NULL")}
    missing = conn.execute(
        "SELECT id, review, source, kind FROM linkbacks WHERE source_key IS NULL ORDER BY id").fetchall()
    for linkback_id, review, source, kind in missing:
        key = source_key(source, kind)
        if key is None or (review, key) in taken:
            continue
        taken.add((review, key))
        conn.execute("UPDATE linkbacks SET source_key = ? WHERE id = ?", (key, linkback_id))
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS linkbacks_one_per_page"
                 " ON linkbacks (review, source_key) WHERE kind <> 'reply'")
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS linkbacks_one_per_source"
                 " ON linkbacks (review, source) WHERE kind <> 'reply'")


# The outbox of e-mail notices (linkbacks.notices sends them), claimed like
# the webmention queue; and the sender's own state (when the last digest went).
NOTICES = """
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('new-response', 'reply-approved')),
    linkback_id INTEGER NOT NULL REFERENCES linkbacks (id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    done TEXT,
    outcome TEXT NOT NULL DEFAULT '',
    claimed_by TEXT NOT NULL DEFAULT '',
    claimed_at TEXT
);
CREATE INDEX IF NOT EXISTS notices_due ON notices (done, next_attempt);
CREATE INDEX IF NOT EXISTS notices_linkback ON notices (linkback_id);
CREATE TABLE IF NOT EXISTS notice_state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _fair_queue_keys(conn, dialect) -> None:
    """Each queued webmention's source site, by which the workers share
    themselves out (``claim_next``)."""
    added_columns("webmention_requests", {"source_site": "TEXT NOT NULL DEFAULT ''"})(conn, dialect)
    for token, source in conn.execute(
            "SELECT token, source FROM webmention_requests WHERE state = 'queued'").fetchall():
        conn.execute("UPDATE webmention_requests SET source_site = ? WHERE token = ?",
                     (site_key(source) or "", token))


# The schema, as the steps that build it: append a step for every change
# (never edit one that has shipped). A step is SQL text or a function
# (conn, dialect) -- see linkbacks.database.apply_migrations. For example:
#   columns:   added_columns("linkbacks", {"website": "TEXT NOT NULL DEFAULT ''"}),
#              plus a field with that default on StoredLinkback (rows are read with
#              SELECT *; StoredLinkback.from_row leaves out columns it does not know);
#   a table:   "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, ...)";
#   what the two databases spell differently: a function that branches on
#              dialect.name ("sqlite" / "postgresql"), as _linkbacks_take_replies does.
# Readers' replies (issue 11a): steps 3-5 already let the table hold them
# (kind 'reply', a (review, source) pair unique among linkbacks only,
# held_reason and email); their own columns and the index that finds a
# reader's duplicate reply come after.
REPLY_COLUMNS = added_columns("linkbacks", {
    "text": "TEXT NOT NULL DEFAULT ''",  # the reply's Markdown-subset source
    "website": "TEXT NOT NULL DEFAULT ''",
    "client_hash": "TEXT NOT NULL DEFAULT ''",  # keyed hash of the client address
    "parent_id": "INTEGER",  # the reply it answers (one level)
    "by_author": "INTEGER NOT NULL DEFAULT 0",
    "text_key": "TEXT NOT NULL DEFAULT ''",  # text_key(text): one reader's reply per (review, text_key)
})
REPLY_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS linkbacks_reply_text ON linkbacks (review, text_key)
    WHERE kind = 'reply' AND text_key <> '';
CREATE INDEX IF NOT EXISTS linkbacks_review_kind ON linkbacks (review, kind);
"""

MIGRATIONS = (
    SCHEMA,  # 1
    SHARED_QUEUE_AND_LIMITS,  # 2: several instances (issue 12)
    _linkbacks_take_replies,  # 3: one table, one moderation queue, for every kind (issue 11)
    RESPONSE_COLUMNS,  # 4
    _one_linkback_per_source,  # 5
    NOTICES,  # 6
    _fair_queue_keys,  # 7
    REPLY_COLUMNS,  # 8: readers' replies (issue 11a)
    REPLY_INDEXES,  # 9
)
MAX_ATTEMPTS = 3  # claims of one webmention before it counts as failed


def source_key(source: str, kind: str = "") -> str | None:
    """The identity a linkback's source is stored under; None for a reply
    (its source is the reader's website, which may recur) and for a source
    that is no http(s) URL, so such rows never collide."""
    if kind == "reply" or not is_http_url(source):
        return None
    return identity_url(source)


def _linkback_held_reason(conn, key: str | None) -> str:
    """Why a new linkback waits: every one does, but a site no linkback was
    approved from before is worth a closer look."""
    host = urlsplit(key).netloc if key else ""
    if host:
        pattern = host.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        approved = conn.execute(
            "SELECT 1 FROM linkbacks WHERE status = 'approved' AND kind <> 'reply'"
            " AND (source_key LIKE ? ESCAPE '\\' OR source_key LIKE ? ESCAPE '\\') LIMIT 1",
            (f"http://{pattern}/%", f"https://{pattern}/%"),
        ).fetchone()
        if approved:
            return "linkbacks always wait for approval"
    return "first linkback from this site"


def _queue_notice(conn, kind: str, linkback_id: int) -> None:
    stamp = now_iso()
    conn.execute("INSERT INTO notices (kind, linkback_id, created, next_attempt) VALUES (?, ?, ?, ?)",
                 (kind, linkback_id, stamp, stamp))


def _in(values) -> str:
    """``(?, ?, …)`` for ``IN`` with one placeholder per value."""
    return "(" + ", ".join("?" for _ in values) + ")"


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
    source_key: str | None = None
    held_reason: str = ""
    email: str = ""
    text: str = ""
    website: str = ""
    client_hash: str = ""
    parent_id: int | None = None
    by_author: int = 0
    text_key: str = ""

    @classmethod
    def from_row(cls, row) -> StoredLinkback:
        """A row of the linkbacks table; columns this version does not know are left out."""
        return cls(**_known(cls, row))

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
    source_site: str = ""  # targets.site_key(source): the workers share themselves out by it

    @classmethod
    def from_row(cls, row) -> WebmentionRequest:
        return cls(**_known(cls, row))


@dataclass(frozen=True)
class Claim:
    """A webmention a worker took (``Store.claim_next``), with what the
    queue's caps count: its source's site and its client."""

    token: str
    site: str
    client: str


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
    claimed_by: str = ""  # the sender holding it, while its lease lasts
    claimed_at: str | None = None

    @classmethod
    def from_row(cls, row) -> Notice:
        return cls(**_known(cls, row))


def _known(cls, row) -> dict:
    names = {f.name for f in fields(cls)}
    return {key: row[key] for key in row.keys() if key in names}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


class Store:
    """``path``: an SQLite file, or a ``postgresql://`` URL. ``on_notice``:
    called (no arguments) after a notice was queued, so a sender can wake
    up; the receiver's request path does no more than that."""

    def __init__(self, path: Path | str, timeout: float = 30.0, pool_size: int = 8, on_notice=None):
        self.on_notice = on_notice
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
                    self._use_wal(conn)
                    # A migration may rebuild a table others refer to (SQLite
                    # cannot alter a constraint): this connection does not
                    # check foreign keys; such a migration checks them itself.
                    conn.execute("PRAGMA foreign_keys = OFF")
                try:
                    apply_migrations(conn, self.dialect, MIGRATIONS)
                except DatabaseError as exc:
                    raise DatabaseError(self.path, exc.reason) from None
            finally:
                conn.close()
            self._initialised = True

    def _use_wal(self, conn) -> None:
        """Switch a SQLite file to WAL. The switch needs the file to itself and,
        unlike a write, can fail at once with "database is locked" rather than
        wait on busy_timeout while another instance is starting: so it is
        tried again until the timeout."""
        deadline = time.monotonic() + self.timeout
        pause = 0.01
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except self.dialect.errors as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

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
        """Insert a response; raises DuplicateLinkback for a linkback of a
        known (review, source), under any spelling of the source. A pending
        one gets its ``held_reason`` (for a linkback, unless given: whether
        its site has had one approved before) and a notice in the outbox, in
        the same transaction: a response is never stored without its notice."""
        stamp = received or now_iso()
        key = source_key(source, kind)
        with self._write() as conn:
            if held_reason is None:
                held = status == "pending" and kind in LINKBACK_KINDS
                held_reason = _linkback_held_reason(conn, key) if held else ""
            inserted = conn.execute(
                "INSERT INTO linkbacks (review, source, source_key, target, kind, type, title, author,"
                " excerpt, status, client_ip, received, updated, held_reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (review, source, key, target, kind, type, title, author, excerpt, status,
                 client_ip, stamp, stamp, held_reason),
            ).fetchall()
            if inserted and status == "pending":
                _queue_notice(conn, "new-response", inserted[0][0])
        if inserted:
            if status == "pending":
                self._noticed()
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
        twice. A pending reply queues the writer's notice in the same
        transaction, as ``add`` does."""
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
            if inserted and status == "pending":
                _queue_notice(conn, "new-response", inserted[0][0])
        if inserted:
            if status == "pending":
                self._noticed()
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
        """Delete these replies (rows of other kinds are left alone) and
        their notices; replies that answered them become top-level. Returns
        what was deleted."""
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
                conn.execute(f"DELETE FROM notices WHERE linkback_id IN ({gone_marks})", gone)
                conn.execute(f"DELETE FROM linkbacks WHERE id IN ({gone_marks})", gone)
                conn.execute(f"UPDATE linkbacks SET parent_id = NULL WHERE parent_id IN ({gone_marks})", gone)
        return [StoredLinkback.from_row(row) for row in rows]

    def get(self, linkback_id: int) -> StoredLinkback | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM linkbacks WHERE id = ?", (int(linkback_id),)).fetchone()
        return StoredLinkback.from_row(row) if row else None

    def find(self, review: str, source: str) -> StoredLinkback | None:
        """The linkback from ``source`` -- under any spelling of it -- to
        ``review`` (replies are not linkbacks: never found here)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM linkbacks WHERE review = ? AND kind <> 'reply' AND (source_key = ? OR source = ?)"
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
                "SELECT 1 FROM linkbacks l WHERE l.id = ? AND l.kind = 'reply' AND l.email <> ''"
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
            conn.execute("UPDATE linkbacks SET parent_id = NULL WHERE parent_id = ?", (row.id,))
        return row

    # --- webmention requests ----------------------------------------------------

    def add_request(self, *, source: str, target: str, review: str, client_ip: str = "") -> str:
        token = secrets.token_urlsafe(16)
        stamp = now_iso()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO webmention_requests (token, source, target, review, client_ip, source_site,"
                " state, received, updated) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
                (token, source, target, review, client_ip, site_key(source) or "", stamp, stamp),
            )
        return token

    def get_request(self, token: str) -> WebmentionRequest | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM webmention_requests WHERE token = ?", (token,)
            ).fetchone()
        return WebmentionRequest.from_row(row) if row else None

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
        """``claim_next`` without caps: the token of the oldest claimable webmention, or None."""
        claim = self.claim_next(worker, lease, max_attempts=max_attempts)
        return claim.token if claim else None

    def claim_next(self, worker: str, lease: float, *, skip_sites: Iterable[str] = (),
                   skip_clients: Iterable[str] = (), max_attempts: int = MAX_ATTEMPTS) -> Claim | None:
        """Take the oldest queued webmention nobody holds (or whose holder's
        lease of ``lease`` seconds ran out: that instance died) for
        ``worker``, passing over those whose source site is in
        ``skip_sites`` or whose client is in ``skip_clients`` (the caller's
        workers already hold their share of them); None when there is
        nothing to do. Two workers, in any instances, never get the same
        row while a lease lasts. A webmention claimed ``max_attempts``
        times without an answer is failed."""
        now = datetime.now(UTC).replace(microsecond=0)
        stamp, expired = now.isoformat(), (now - timedelta(seconds=lease)).isoformat()
        skip_sites, skip_clients = sorted(set(skip_sites)), sorted(set(skip_clients))
        waiting = "state = 'queued' AND (claimed_at IS NULL OR claimed_at < ?)"
        fair = (f" AND source_site NOT IN {_in(skip_sites)}" if skip_sites else "") + (
            f" AND client_ip NOT IN {_in(skip_clients)}" if skip_clients else "")
        with self._read() as conn:  # most polls find nothing: no write lock for them
            waiting_row = conn.execute(f"SELECT 1 FROM webmention_requests WHERE {waiting}{fair} LIMIT 1",
                                       (expired, *skip_sites, *skip_clients))
            if waiting_row.fetchone() is None:
                return None
        with self._write() as conn:
            claimed = conn.execute(
                "UPDATE webmention_requests SET claimed_by = ?, claimed_at = ?, attempts = attempts + 1"
                " WHERE token = (SELECT token FROM webmention_requests"
                f" WHERE {waiting}{fair} AND attempts < ? ORDER BY received, token LIMIT 1{self.dialect.skip_locked})"
                " RETURNING token, source_site, client_ip",
                (worker, stamp, expired, *skip_sites, *skip_clients, max_attempts),
            ).fetchall()
            if not claimed:
                conn.execute(
                    f"UPDATE webmention_requests SET state = 'failed', updated = ? WHERE {waiting} AND attempts >= ?",
                    (stamp, expired, max_attempts),
                )
        return Claim(*claimed[0]) if claimed else None

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
        return [WebmentionRequest.from_row(row) for row in rows]

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

    # --- the notice outbox -------------------------------------------------------------
    # The request path only inserts notices (in ``add``); ``linkbacks.notices``
    # sends them, marks them done, or puts them back with a later attempt.

    def _noticed(self) -> None:
        if self.on_notice is not None:
            self.on_notice()

    def claim_notices(self, now: datetime, lease_seconds: float = 300.0, limit: int = 500,
                      sender: str = "") -> list[Notice]:
        """The notices due at ``now`` that are not done, each claimed for the
        caller (``sender``, a name for people reading the table) for
        ``lease_seconds``, as ``claim_next`` claims webmentions: any other
        sender -- another thread, the cron job, another instance -- skips
        them meanwhile, so none goes out twice. A claim that outlives its
        lease (its sender died) is taken again."""
        stamp, expired = _iso(now), _iso(now - timedelta(seconds=lease_seconds))
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE notices SET claimed_by = ?, claimed_at = ? WHERE id IN (SELECT id FROM notices"
                " WHERE done IS NULL AND next_attempt <= ? AND (claimed_at IS NULL OR claimed_at < ?)"
                f" ORDER BY id LIMIT ?{self.dialect.skip_locked}) RETURNING *",
                (sender or "sender", stamp, stamp, expired, limit),
            ).fetchall()
        return sorted((Notice.from_row(row) for row in rows), key=lambda notice: notice.id)

    def finish_notices(self, ids, outcome: str, now: datetime, clear_email_of: int | None = None) -> None:
        """Mark notices done (sent, or settled without sending: ``outcome``
        says which). ``clear_email_of``: the reply whose reader's address has
        served its one purpose and is removed in the same transaction."""
        ids = [int(notice_id) for notice_id in ids]
        with self._write() as conn:
            if ids:
                conn.execute(f"UPDATE notices SET done = ?, outcome = ?, claimed_by = '', claimed_at = NULL"
                             f" WHERE id IN {_in(ids)}", (_iso(now), outcome, *ids))
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
                conn.execute("UPDATE notices SET attempts = ?, next_attempt = ?, outcome = ?, claimed_by = '',"
                             " claimed_at = NULL WHERE id = ?", (attempts, _iso(when), error, notice_id))
        return earliest

    def postpone_notices(self, ids, when: datetime) -> None:
        """Not a failure, just not yet (the digest is not due): due again at ``when``."""
        ids = [int(notice_id) for notice_id in ids]
        if not ids:
            return
        with self._write() as conn:
            conn.execute(f"UPDATE notices SET next_attempt = ?, claimed_by = '', claimed_at = NULL"
                         f" WHERE id IN {_in(ids)}", (_iso(when), *ids))

    def notices(self, undone_only: bool = False) -> list[Notice]:
        query = "SELECT * FROM notices" + (" WHERE done IS NULL" if undone_only else "") + " ORDER BY id"
        with self._read() as conn:
            return [Notice.from_row(row) for row in conn.execute(query).fetchall()]

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
        """"ok", or what is wrong. SQLite: PRAGMA integrity_check. PostgreSQL
        (which guards its own pages): the store's own invariants -- one
        linkback per (review, page), every request's linkback exists."""
        with self._read() as conn:
            if not self.dialect.shared:
                return conn.execute("PRAGMA integrity_check").fetchone()[0]
            twice = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM linkbacks WHERE kind <> 'reply' AND source_key IS NOT NULL"
                " GROUP BY review, source_key HAVING count(*) > 1) t"
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
