"""The two databases the store runs on, behind one small interface: SQLite
(a file: the default, nothing to set up) and PostgreSQL (a
``postgresql://`` URL: several receiver instances share it).

The store writes its SQL once, in the dialect both understand:

* ``?`` placeholders (turned into psycopg's ``%s`` for PostgreSQL);
* ``INSERT … ON CONFLICT DO NOTHING``, ``ON CONFLICT (…) DO UPDATE``,
  ``… RETURNING id`` (SQLite has them since 3.35);
* timestamps as ISO 8601 text in UTC, compared as text;
* in DDL, the types ``TEXT``, ``INTEGER`` and ``DOUBLE PRECISION``, and
  ``INTEGER PRIMARY KEY AUTOINCREMENT`` for a row number (PostgreSQL gets an
  identity column).

What cannot be shared is a ``Dialect`` attribute: ``begin_write`` (SQLite
takes its write lock up front), ``skip_locked`` (PostgreSQL's ``FOR UPDATE
SKIP LOCKED``; SQLite's one writer at a time needs none), and the lock that
lets two instances start at once (``lock_migrations``).

Rows come back as ``sqlite3.Row`` or ``Row`` (the same behaviour for
PostgreSQL): by index, by column name, unpacked, or ``dict(row)``.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from reelnotes.settings import is_database_url, redact_database_url

# pg_advisory_xact_lock key of the schema migrations: any constant, the same
# in every instance ("reelnote" in ASCII).
MIGRATION_LOCK = 0x7265656C6E6F7465


class DatabaseError(Exception):
    """The database cannot be reached or is not one the store can use. The
    message names the location (never a password) and the ``reason``."""

    def __init__(self, location: Any, reason: str):
        self.reason = " ".join(reason.split())  # libpq's messages span lines
        super().__init__(f"{redact(location)}: {self.reason}")


def reason(exc: BaseException) -> str:
    """What went wrong, on one line, without the location."""
    return getattr(exc, "reason", None) or " ".join(str(exc).split())


def redact(location: Any) -> str:
    """The location for messages and logs, without a URL's password."""
    return redact_database_url(str(location))


@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` as ``%%``),
    leaving quoted strings alone."""
    def swap(match: re.Match) -> str:
        token = match.group(0)
        return {"?": "%s", "%": "%%"}.get(token, token)

    return re.sub(r"'(?:[^']|'')*'|\?|%", swap, sql)


class Row(tuple):
    """A PostgreSQL row that behaves like ``sqlite3.Row``."""

    def __new__(cls, values, names):
        row = super().__new__(cls, values)
        row._names = names
        return row

    def keys(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)


def _row_factory(cursor):
    names = tuple(column.name for column in cursor.description or ())
    return lambda values: Row(values, names)


class PostgresConnection:
    """A psycopg connection (autocommit: transactions are the store's explicit
    BEGIN/COMMIT) that takes SQL with ``?`` placeholders."""

    def __init__(self, conn):
        self.raw = conn

    def execute(self, sql: str, params=()):
        return self.raw.execute(to_pyformat(sql), tuple(params))

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def close(self) -> None:
        self.raw.close()


class SQLiteDialect:
    name = "sqlite"
    shared = False  # one host: the file is the database
    begin_write = "BEGIN IMMEDIATE"
    skip_locked = ""
    integrity_errors: tuple = (sqlite3.IntegrityError,)
    errors: tuple = (sqlite3.Error,)

    def connect(self, location: str, timeout: float):
        conn = sqlite3.connect(location, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def ddl(self, statement: str) -> str:
        return statement

    def lock_migrations(self, conn) -> None:
        """Nothing to do: BEGIN IMMEDIATE already holds the only write lock."""

    def columns(self, conn, table: str) -> set[str]:
        return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}


class PostgresDialect:
    name = "postgresql"
    shared = True  # several instances, on several hosts, use one database
    begin_write = "BEGIN"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self):
        import psycopg  # only when a PostgreSQL URL is configured

        self.psycopg = psycopg
        self.integrity_errors = (psycopg.IntegrityError,)
        self.errors = (psycopg.Error,)

    def connect(self, location: str, timeout: float):
        conn = self.psycopg.connect(
            location,
            autocommit=True,
            row_factory=_row_factory,
            connect_timeout=max(1, int(timeout)),
            application_name="reelnotes-linkbacks",
        )
        return PostgresConnection(conn)

    def ddl(self, statement: str) -> str:
        return re.sub(r"(?i)INTEGER PRIMARY KEY AUTOINCREMENT",
                      "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)

    def lock_migrations(self, conn) -> None:
        """Two instances starting at once: the second waits here until the
        first has committed its migrations, then finds nothing left to do."""
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    def columns(self, conn, table: str) -> set[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?", (table,))
        return {row[0] for row in rows}


def apply_migrations(conn, dialect, migrations) -> int:
    """Bring the schema up to ``len(migrations)``: each migration not yet
    recorded in ``schema_version`` runs once, in order, all in one
    transaction. Safe when two instances start together (see
    ``lock_migrations``). A migration is SQL text (statements separated by
    ``;`` at the end of a line) or a function ``(conn, dialect)``. Returns
    the number of migrations applied."""
    conn.execute(dialect.begin_write)
    try:
        dialect.lock_migrations(conn)
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)")
        current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
        if current > len(migrations):
            raise DatabaseError("", f"its schema is version {current}, newer than this code's "
                                    f"{len(migrations)}: upgrade this instance like the others")
        for number in range(current + 1, len(migrations) + 1):
            migration = migrations[number - 1]
            if callable(migration):
                migration(conn, dialect)
            else:
                for statement in re.split(r";\s*\n", migration):
                    if statement.strip():
                        conn.execute(dialect.ddl(statement))
            conn.execute("INSERT INTO schema_version (version, applied) VALUES (?, ?)",
                         (number, datetime.now(UTC).replace(microsecond=0).isoformat()))
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except dialect.errors:
            pass  # the connection is gone; so is the transaction
        raise
    conn.execute("COMMIT")
    return len(migrations) - current


def dialect_for(location: Any):
    return PostgresDialect() if is_database_url(location) else SQLiteDialect()


def database_errors() -> tuple[type[BaseException], ...]:
    """Every exception a database problem can raise, for ``except`` clauses
    of code that does not know which database it has."""
    errors: tuple = (DatabaseError, sqlite3.Error)
    try:
        import psycopg
    except ImportError:  # pragma: no cover -- psycopg is a dependency
        return errors
    return errors + (psycopg.Error,)
