"""Thin functions for the invoke tasks: paths and strings in, data or lines of
text out, nothing printed (except by ``serve``, which logs while it runs).
``site_files`` turns the site's settings into the paths and addresses the
tasks pass in, with the defaults of ``reelnotes.settings``.

Every problem the person at the keyboard can fix -- a bad option value, an
unknown linkback, a missing build, a port in use, a file that is not a
linkbacks database -- raises ``LinkbacksError`` with a message naming the
option or file, the value and what was expected; the tasks print it and
exit 1.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reelnotes.contract import (
    REVIEWS_INDEX,
    LinkbackDataError,
    ReviewsIndexError,
    clean_display_text,
    read_reviews_index,
)
from reelnotes.settings import (
    SettingProblem,
    database_location,
    default,
    is_database_url,
    port_number,
    setting,
    url_path,
)

from . import moderation, replies, secret
from .app import Config
from .database import database_errors, reason, redact
from .fetch import Fetcher
from .sender import send_from_output
from .server import serve as _serve
from .store import STATUSES, Store, StoredLinkback, UnknownLinkback

BUILD_FIRST = "build the site first: invoke preview"


class LinkbacksError(Exception):
    """A problem with the task's input or the files it needs; the message is
    for the user, and no traceback goes with it."""


@dataclass(frozen=True)
class SiteFiles:
    """Where the tasks find the linkbacks' files and the site's address, from
    the site's settings; what the settings leave out is the default in
    ``reelnotes.settings``."""

    db: Path | str  # an SQLite file, or a postgresql:// URL
    sent_cache: Path
    port: int
    content: Path
    records_folder: str  # under content/
    output: Path
    site_url: str
    site_name: str
    base_path: str  # the path of FILMREVIEWS_LINKBACKS_ENDPOINT, e.g. /linkbacks

    @property
    def reviews_json(self) -> Path:
        return self.output / REVIEWS_INDEX


def site_files(settings: Mapping[str, Any], root: str | Path, where: str = "the site's settings") -> SiteFiles:
    """SiteFiles from the settings dict Pelican reads (relative paths are
    under ``root``); a bad setting is a LinkbacksError naming it and ``where``
    it is set."""
    root = Path(root)
    try:
        endpoint = setting(settings, "FILMREVIEWS_LINKBACKS_ENDPOINT")
        return SiteFiles(
            db=database_location(setting(settings, "FILMREVIEWS_LINKBACKS_DB"), "FILMREVIEWS_LINKBACKS_DB", root),
            sent_cache=root / setting(settings, "FILMREVIEWS_LINKBACKS_SENT_CACHE"),
            port=setting(settings, "FILMREVIEWS_LINKBACKS_PORT"),
            content=root / settings["PATH"],
            records_folder=setting(settings, "FILMREVIEWS_LINKBACKS_PATH"),
            output=root / settings["OUTPUT_PATH"],
            site_url=settings["SITEURL"],
            site_name=settings["SITENAME"],
            base_path=url_path(urlsplit(endpoint).path, "FILMREVIEWS_LINKBACKS_ENDPOINT"),
        )
    except SettingProblem as exc:
        raise LinkbacksError(f"{where}: {exc}") from None


@contextmanager
def _opened(db: str | Path):
    """The store at ``db``; a file that is not an SQLite database, or a
    database that cannot be reached, becomes a LinkbacksError naming it
    (without a password)."""
    store = None
    db = _option(database_location, db, "--db")
    try:
        store = Store(db)
        yield store
    except (*database_errors(), OSError) as exc:
        raise LinkbacksError(
            f"{redact(db)}: cannot use this linkbacks database ({reason(exc)}); expected the SQLite file "
            "`invoke linkbacks.serve` writes or a reachable postgresql:// URL (FILMREVIEWS_LINKBACKS_DB, or --db)"
        ) from None
    finally:
        if store is not None:
            store.close()


def _reviews_index_file(reviews_json: str | Path) -> Path:
    path = Path(reviews_json)
    if not path.is_file():
        raise LinkbacksError(f"{path} not found: {BUILD_FIRST}")
    return path


def _option(check, value, name: str):
    """An option checked by a reelnotes.settings validator; its SettingProblem
    becomes a LinkbacksError."""
    try:
        return check(value, name)
    except SettingProblem as exc:
        raise LinkbacksError(str(exc)) from None


def serve(
    *,
    reviews_json: str | Path,
    host: str = "127.0.0.1",
    port: int | str = default("FILMREVIEWS_LINKBACKS_PORT"),
    db: str | Path = default("FILMREVIEWS_LINKBACKS_DB"),
    site_url: str = "",
    allow_loopback: bool = False,
    base_path: str = "",
    trust_forwarded_for: bool = False,
    site_name: str = "",
) -> None:
    """Run the receiver until Ctrl-C. ``base_path``: the public prefix when a
    proxy mounts it (e.g. "/linkbacks") without setting SCRIPT_NAME;
    ``trust_forwarded_for``: the client address is the last X-Forwarded-For
    entry (only behind a proxy that sets it); ``site_name``: the reply pages'
    header. The service secret is LINKBACKS_SECRET, or else the one kept in
    a file beside the database (made on the first run)."""
    port = _option(port_number, port, "--port")
    db = _option(database_location, db, "--db")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with _opened(db):
        pass  # a broken database is reported here, before anything listens
    config = Config(db_path=db, reviews_json=Path(reviews_json), site_url=site_url,
                    allow_loopback=allow_loopback, base_path=_option(url_path, base_path, "--base-path"),
                    trust_forwarded_for=bool(trust_forwarded_for), secret=service_secret(db),
                    site_name=site_name)
    try:
        _serve(config, host, port)
    except ValueError as exc:  # reviews.json that cannot be read at start-up
        raise LinkbacksError(f"{exc}; {BUILD_FIRST}") from None
    except database_errors() as exc:
        raise LinkbacksError(f"{redact(db)}: cannot use this linkbacks database ({reason(exc)})") from None
    except OSError as exc:
        raise LinkbacksError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another --port (or --host), or stop what is using it"
        ) from None


def service_secret(db: str | Path) -> bytes:
    """LINKBACKS_SECRET when set, else the secret kept beside the (SQLite) database."""
    given = os.environ.get("LINKBACKS_SECRET", "").strip()
    if given:
        if len(given) < secret.MIN_LENGTH:
            raise LinkbacksError(f"LINKBACKS_SECRET is {len(given)} characters long: expected at least "
                                 f"{secret.MIN_LENGTH} random characters (or unset it to keep one beside the database)")
        return given.encode("utf-8")
    if is_database_url(str(db)):
        raise LinkbacksError("LINKBACKS_SECRET is not set: with a postgresql:// database, give every instance the "
                             f"same secret of at least {secret.MIN_LENGTH} random characters in LINKBACKS_SECRET")
    path = secret.secret_file(db)
    try:
        return secret.load_or_create(path)
    except (OSError, UnicodeError) as exc:
        raise LinkbacksError(f"{path}: cannot read or write the service secret ({exc})") from None


def format_linkback(row: StoredLinkback) -> str:
    kind = row.kind if row.kind != "webmention" else f"webmention/{row.type}"
    title = clean_display_text(row.title, 80) or "(no title)"
    author = clean_display_text(row.author, 40)
    return (
        f"#{row.id:<5} {row.status:<8} {kind:<19} {row.review:<28} {row.source}  "
        f"\"{title}\"{' by ' + author if author else ''}  {row.received}"
    )


def _status(status: str | None) -> str | None:
    if status and status not in STATUSES:
        raise LinkbacksError(f"--status {status!r}: expected one of {', '.join(STATUSES)} (or none for all)")
    return status or None


def list_linkbacks(db: str | Path = default("FILMREVIEWS_LINKBACKS_DB"), status: str | None = None) -> list[str]:
    status = _status(status)
    with _opened(db) as store:
        return [format_linkback(row) for row in store.list(status)]


def set_status(db: str | Path, id: int | str, status: str) -> str:  # noqa: A002 -- task parameter name
    """Moderate one linkback; returns its new listing line."""
    try:
        linkback_id = int(str(id).strip().lstrip("#"))
    except ValueError:
        raise LinkbacksError(f"Linkback {id!r}: expected a linkback number (see invoke linkbacks.list)") from None
    if status not in STATUSES:
        raise LinkbacksError(f"Status {status!r}: expected one of {', '.join(STATUSES)}")
    with _opened(db) as store:
        try:
            row = store.set_status(linkback_id, status)
        except UnknownLinkback:
            raise LinkbacksError(f"No linkback #{linkback_id} (see invoke linkbacks.list)") from None
    return format_linkback(row)


def export(
    db: str | Path,
    content_dir: str | Path,
    reviews_json: str | Path,
    subdir: str = default("FILMREVIEWS_LINKBACKS_PATH"),
) -> list[str]:
    """Write approved linkbacks into content/<subdir>/<slug>.json; returns a
    report line per file written and per linkback skipped. reviews.json
    gives the known review slugs (site_url is not needed)."""
    slugs = _known_slugs(_reviews_index_file(reviews_json))
    with _opened(db) as store:
        try:
            result = moderation.export(store, Path(content_dir), slugs, subdir)
        except LinkbackDataError as exc:  # a hand-edited file gone wrong is not overwritten
            raise LinkbacksError(f"{exc}; fix or remove the file, then export again") from None
        except OSError as exc:
            raise LinkbacksError(f"Cannot write the linkbacks into {Path(content_dir) / subdir}: {exc}") from None
    lines = [f"wrote {path}" for path in result.written]
    lines += [f"unchanged {path}" for path in result.unchanged]
    lines += [f"skipped #{row.id}: review {row.review!r} is not published" for row in result.skipped]
    return lines


def reverify(db: str | Path = default("FILMREVIEWS_LINKBACKS_DB"), allow_loopback: bool = False) -> list[str]:
    """Fetch every approved source again; a line per linkback and a summary.
    Rejected ones stay on the site until the next ``invoke linkbacks.export``
    (and build): reverify only changes the database, so the moderator sees
    what went before the site changes."""
    with _opened(db) as store:
        results = moderation.reverify(store, Fetcher(allow_loopback=allow_loopback))
    lines = [f"#{r.id} {r.outcome}: {r.reason} ({r.source})" for r in results]
    counts = {outcome: sum(r.outcome == outcome for r in results) for outcome in ("kept", "rejected", "unreachable")}
    summary = (f"{len(results)} approved linkback(s) checked: {counts['kept']} kept, "
               f"{counts['rejected']} rejected, {counts['unreachable']} unreachable (kept; try again later).")
    if counts["rejected"]:
        summary += " Run `invoke linkbacks.export`, then build and publish, to take the rejected ones off the site."
    return lines + [summary]


def send(
    output_dir: str | Path,
    cache_path: str | Path = default("FILMREVIEWS_LINKBACKS_SENT_CACHE"),
    allow_loopback: bool = False,
    reviews_json: str | Path | None = None,
    site_url: str = "",
    blog_name: str = "",
) -> list[str]:
    """Send linkbacks for the reviews in the output folder. Needs an absolute
    site URL (from reviews.json, i.e. a publish build, or ``site_url``)."""
    index_file = _reviews_index_file(reviews_json or Path(output_dir) / REVIEWS_INDEX)
    try:
        results = send_from_output(
            Path(output_dir),
            Path(cache_path),
            Fetcher(allow_loopback=allow_loopback),
            index_file,
            site_url=site_url,
            blog_name=blog_name,
        )
    except ValueError as exc:  # reviews.json unreadable, or URLs it cannot resolve
        raise LinkbacksError(f"{exc}; {BUILD_FIRST}") from None
    except OSError as exc:
        raise LinkbacksError(f"Cannot save what was sent to {cache_path}: {exc}") from None
    return [
        f"{r.outcome:<11} {r.kind or '-':<10} {r.review} -> {r.target}" + (f"  ({r.detail})" if r.detail else "")
        for r in results
    ]


def _known_slugs(reviews_json: Path) -> set[str]:
    try:
        _, reviews = read_reviews_index(reviews_json)
    except ReviewsIndexError as exc:
        raise LinkbacksError(f"{exc}; {BUILD_FIRST}") from None
    return {review.slug for review in reviews}


# --- Replies: the writer's answers, and forgetting a person ---------------------------


def reply_as_author(db: str | Path, id: int | str, text: str, author: str) -> str:  # noqa: A002 -- task parameter
    """Store the writer's reply to response ``id`` (approved, marked as the
    author's); returns its listing line."""
    try:
        parent_id = int(str(id).strip().lstrip("#"))
        if not 0 < parent_id < 2**63:
            raise ValueError(parent_id)
    except ValueError:
        raise LinkbacksError(f"Response {id!r}: expected a response number (see invoke linkbacks.list)") from None
    with _opened(db) as store:
        try:
            row = replies.reply_as_author(store, parent_id, text, author)
        except replies.RepliesError as exc:
            raise LinkbacksError(str(exc)) from None
    return format_linkback(row)


def forget_replies(db: str | Path, content_dir: str | Path, subdir: str = default("FILMREVIEWS_LINKBACKS_PATH"),
                   email: str | None = None, name: str | None = None, ids=()) -> list[str]:
    """Remove a person's replies from the database and content/<subdir>/;
    a line per reply removed."""
    with _opened(db) as store:
        try:
            return replies.forget(store, Path(content_dir) / subdir, email=email, name=name, ids=ids).lines()
        except replies.RepliesError as exc:
            raise LinkbacksError(str(exc)) from None
        except LinkbackDataError as exc:  # a hand-edited file gone wrong is not overwritten
            raise LinkbacksError(f"{exc}; fix or remove the file, then forget again") from None
        except OSError as exc:
            raise LinkbacksError(f"Cannot rewrite the records in {Path(content_dir) / subdir}: {exc}") from None


__all__ = ["LinkbacksError", "SiteFiles", "site_files", "serve", "list_linkbacks", "set_status", "export",
           "reverify", "send", "reply_as_author", "forget_replies"]
