"""The receiver as a WSGI ``application`` for a production server, configured
by environment variables (a WSGI server passes no arguments; the variables,
their defaults and checks are in ``reelnotes.settings.receiver_environ``):

``LINKBACKS_DB`` (required)
    the SQLite database, e.g. ``/srv/reelnotes/linkbacks.sqlite3``, or the
    PostgreSQL database several instances share, e.g.
    ``postgresql://reelnotes@db.internal/reelnotes`` (a password is better
    kept in ``PGPASSWORD`` or ``~/.pgpass`` than in the URL);
``LINKBACKS_REVIEWS_JSON`` (required)
    the ``reviews.json`` of the deployed site, e.g. ``/var/www/reelnotes/reviews.json``;
``LINKBACKS_SITE_URL`` (required)
    the live site's address, e.g. ``https://reelnotes.example.org``;
``LINKBACKS_SECRET`` (required)
    at least 32 random characters; keys the reply form's time tokens and the
    hashes client addresses are stored as (keep it across restarts);
``LINKBACKS_SITE_NAME`` (optional, default: the site's host name)
    the name in the header of the reply pages, e.g. ``Reel Notes``;
``LINKBACKS_BASE_PATH`` (optional, default empty)
    the path the proxy serves the receiver under, e.g. ``/linkbacks``;
``LINKBACKS_TRUST_FORWARDED_FOR`` (optional, default ``no``)
    ``yes`` behind a proxy that sets X-Forwarded-For: rate limits then count
    the real client, not the proxy;
``LINKBACKS_SMTP_*``, ``LINKBACKS_NOTIFY_*`` (optional)
    e-mail notices of new responses (``reelnotes.settings.notice_settings``);
    with ``LINKBACKS_SMTP_HOST`` set, a sender thread starts with the
    receiver and delivers the outbox.

    gunicorn --workers 1 --threads 8 --bind 127.0.0.1:8001 linkbacks.wsgi:application

On SQLite, one worker process: the rate limits live in the process
(threads are fine). On PostgreSQL, any number of processes and hosts: the
rate limits and the webmention queue are in the database.

Importing this module checks the configuration -- a missing or bad variable,
a ``reviews.json`` that cannot be read, a file that is not a linkbacks
database or a PostgreSQL server that does not answer raises
``SettingProblem`` naming the variable, so the server refuses to start --
but starts no thread and keeps no database connection open. The
receiver itself (its store, its webmention workers and its notice sender)
is built when the first request arrives, in the process that serves it:
after gunicorn forks, not before. On PostgreSQL the notice senders of all
processes and instances share the outbox: each notice is sent once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path

from reelnotes.settings import SettingProblem, notice_settings, receiver_environ

from .app import Config, LinkbackApp
from .database import database_errors, dialect_for, is_database_url, reason
from .targets import ReviewsIndex


def config_from_env(environ: Mapping[str, str]) -> Config:
    values = receiver_environ(environ)
    return Config(
        db_path=values.db,
        reviews_json=values.reviews_json,
        site_url=values.site_url,
        base_path=values.base_path,
        trust_forwarded_for=values.trust_forwarded_for,
        notices=notice_settings({}, environ),
        secret=values.secret,
        site_name=values.site_name,
    )


def _database_problem(path: Path | str, exc: Exception) -> SettingProblem:
    if is_database_url(path):
        return SettingProblem("LINKBACKS_DB", str(path), f"a reachable PostgreSQL database ({reason(exc)})")
    return SettingProblem("LINKBACKS_DB", str(path), f"a linkbacks SQLite database ({reason(exc)})")


def _reviews_problem(path: Path, exc: Exception) -> SettingProblem:
    return SettingProblem("LINKBACKS_REVIEWS_JSON", str(path), f"a readable reviews.json ({exc})")


def check_files(config: Config) -> None:
    """What the receiver will need at its first request, checked now: the
    reviews index must be readable if it exists, an existing database
    file must be SQLite, and a PostgreSQL server must answer. Read-only;
    nothing is created."""
    if config.reviews_json.exists():
        try:
            ReviewsIndex.load(config.reviews_json, config.site_url)
        except ValueError as exc:
            raise _reviews_problem(config.reviews_json, exc) from None
    if is_database_url(config.db_path):
        dialect = dialect_for(config.db_path)
        try:
            dialect.connect(str(config.db_path), timeout=5).close()
        except dialect.errors as exc:
            raise _database_problem(config.db_path, exc) from None
    elif config.db_path.exists():
        try:
            conn = sqlite3.connect(f"{config.db_path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                conn.execute("PRAGMA schema_version").fetchone()  # reads the header
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise _database_problem(config.db_path, exc) from None


def build_app(config: Config) -> LinkbackApp:
    """The receiver, with its webmention workers running; a database or
    reviews index that turned bad since start-up is named as at start-up."""
    try:
        return LinkbackApp(config)
    except database_errors() as exc:
        raise _database_problem(config.db_path, exc) from None
    except ValueError as exc:  # reviews.json present but unreadable
        raise _reviews_problem(config.reviews_json, exc) from None


class LazyApplication:
    """The WSGI callable a server loads: builds the receiver on the first
    request (once, even when requests arrive together) and hands every
    request to it."""

    def __init__(self, config: Config):
        self.config = config
        self._app: LinkbackApp | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> LinkbackApp:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = build_app(self.config)
        return self._app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)

    def close(self) -> None:
        """Stop the webmention workers, if the receiver was ever built."""
        if self._app is not None:
            self._app.close()


def _checked_config() -> Config:
    config = config_from_env(os.environ)
    check_files(config)
    return config


application = LazyApplication(_checked_config())
