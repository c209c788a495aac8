"""Thin functions for the invoke tasks: paths and strings in, data or lines of
text out, nothing printed (except by ``serve``, which logs while it runs).
``site_files`` turns the site's settings into the paths and addresses the
tasks pass in, with the defaults of ``reelnotes.settings``.

The moderation commands also run as ``python -m linkbacks.cli <command>
[--db DB] [--json]`` (``main``): on the web server, where the receiver's
database is, the tasks on the writer's machine run them over SSH
(``remote``) and read the JSON they print. Every function taking
``remote`` works on that database when it is given, else on ``db`` here.

Every problem the person at the keyboard can fix -- a bad option value, an
unknown linkback, a missing build, a port in use, a file that is not a
linkbacks database -- raises ``LinkbacksError`` with a message naming the
option or file, the value and what was expected; the tasks print it and
exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
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
    read_reviews_index,
    receiver_id,
)
from reelnotes.settings import (
    NoticeSettings,
    RemoteModeration,
    SettingProblem,
    database_location,
    default,
    notice_settings,
    port_number,
    remote_moderation,
    setting,
    url_path,
)

from . import moderation, notices, replies, secret
from .app import Config
from .database import database_errors, is_database_url, reason, redact
from .fetch import Fetcher
from .listing import format_response, terminal_text
from .queue import Snapshot, export_fields, response_fields, stored_from_fields
from .remote import RemoteQueue, RemoteQueueError
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
    # The receiver's database on the web server, when LINKBACKS_REMOTE_* are
    # set: the moderation tasks then work there over SSH (unless --local).
    remote: RemoteModeration | None = None
    notices: NoticeSettings | None = None  # for `invoke linkbacks.serve`

    @property
    def reviews_json(self) -> Path:
        return self.output / REVIEWS_INDEX


def site_files(settings: Mapping[str, Any], root: str | Path, where: str = "the site's settings",
               environ: Mapping[str, str] | None = None) -> SiteFiles:
    """SiteFiles from the settings dict Pelican reads (relative paths are
    under ``root``; for the SSH and SMTP settings an environment variable of
    the same name wins); a bad setting is a LinkbacksError naming it and
    ``where`` it is set."""
    root = Path(root)
    environ = os.environ if environ is None else environ
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
            remote=remote_moderation(settings, environ),
            notices=notice_settings(settings, environ),
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
    notices: NoticeSettings | None = None,
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
                    trust_forwarded_for=bool(trust_forwarded_for), notices=notices,
                    secret=service_secret(db), site_name=site_name)
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


# --- The moderation queue ---------------------------------------------------------
# Each command is a handler (store, parsed arguments) -> JSON-ready payload.
# ``execute`` runs one from command-line arguments: ``python -m linkbacks.cli``
# (on the server, over SSH) and ``LocalQueue`` (here) both go through it, so
# the tasks get the same payload from either side.

MODERATION = {"approve": "approved", "reject": "rejected", "spam": "spam"}


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as LinkbacksError (one line, JSON with --json)."""

    def error(self, message):
        raise LinkbacksError(f"{self.prog}: {message}")


def _linkback_id(value: int | str) -> int:
    try:
        return int(str(value).strip().lstrip("#"))
    except ValueError:
        raise LinkbacksError(f"Linkback {value!r}: expected a linkback number (see invoke linkbacks.list)") from None


def _status(status: str | None) -> str | None:
    if status and status not in STATUSES:
        raise LinkbacksError(f"--status {status!r}: expected one of {', '.join(STATUSES)} (or none for all)")
    return status or None


def _cmd_list(store: Store, args) -> dict:
    return {"responses": [response_fields(row) for row in store.moderation_queue(_status(args.status))]}


def _cmd_moderate(store: Store, args) -> dict:
    linkback_id = _linkback_id(args.id)
    try:
        row = store.set_status(linkback_id, MODERATION[args.command])
    except UnknownLinkback:
        raise LinkbacksError(f"No linkback #{linkback_id} (see invoke linkbacks.list)") from None
    return {"response": response_fields(row)}


def _cmd_forget(store: Store, args) -> dict:
    linkback_id = _linkback_id(args.id)
    try:
        row = store.delete_response(linkback_id)
    except UnknownLinkback:
        raise LinkbacksError(f"No linkback #{linkback_id} (see invoke linkbacks.list)") from None
    return {"forgotten": response_fields(row)}


def _response_id(value: int | str) -> int:
    """A response's number for the reply commands: a row id (which is below 2**63)."""
    try:
        response_id = int(str(value).strip().lstrip("#"))
        if not 0 < response_id < 2**63:
            raise ValueError(response_id)
    except ValueError:
        raise LinkbacksError(f"Response {value!r}: expected a response number (see invoke linkbacks.list)") from None
    return response_id


def _cmd_reply(store: Store, args) -> dict:
    try:
        row = replies.reply_as_author(store, _response_id(args.id), args.text, args.author)
    except replies.RepliesError as exc:
        raise LinkbacksError(str(exc)) from None
    return {"response": response_fields(row)}


def _cmd_forget_replies(store: Store, args) -> dict:
    """The stored half of forgetting a person: their replies' rows. The
    record ids tell the caller which records to remove from content/."""
    try:
        rows = replies.forget_rows(store, email=args.email, name=args.name, ids=args.id or ())
    except replies.RepliesError as exc:
        raise LinkbacksError(str(exc)) from None
    return {"forgotten_replies": [response_fields(row) for row in rows],
            "ids": [receiver_id(row.id) for row in rows]}


def _cmd_export_records(store: Store, args) -> dict:
    return {"rows": [export_fields(row) for row in store.list()]}


def _reverify_payload(results) -> dict:
    return {"results": [{"id": r.id, "source": r.source, "outcome": r.outcome, "reason": r.reason}
                        for r in results]}


def _cmd_reverify(store: Store, args) -> dict:
    return _reverify_payload(moderation.reverify(store, Fetcher()))


def _cmd_notify(store: Store, args) -> dict:
    try:
        settings = notice_settings({}, os.environ)
    except SettingProblem as exc:
        raise LinkbacksError(str(exc)) from None
    if settings is None:
        raise LinkbacksError("LINKBACKS_SMTP_HOST is not set: notices are off (see README, Notices)")
    return notices.send_due(store, settings, digest_now=args.digest_now).to_dict()


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """--db and --json, accepted before or after the command. Only the main
    parser has defaults: a subcommand's would overwrite what came before it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=os.environ.get("LINKBACKS_DB", "") if defaults else argparse.SUPPRESS,
                        help="the receiver's SQLite file or postgresql:// URL (default: $LINKBACKS_DB)")
    common.add_argument("--json", action="store_true", default=False if defaults else argparse.SUPPRESS,
                        help="print the result as JSON (for the tasks over SSH)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(defaults=False)
    parser = _Parser(prog="python -m linkbacks.cli", parents=[_common_options(defaults=True)],
                     description="Moderate the responses the receiver stored: the commands behind "
                                 "`invoke linkbacks.*`, run on the server over SSH.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    listing = commands.add_parser("list", parents=[common], help="the queue, pending first")
    listing.add_argument("--status", help="pending, approved, rejected or spam (default: all)")
    listing.set_defaults(handler=_cmd_list)
    for name, status in MODERATION.items():
        command = commands.add_parser(name, parents=[common], help=f"mark a response as {status}")
        command.add_argument("id", help="the response's number (see list)")
        command.set_defaults(handler=_cmd_moderate)
    forget = commands.add_parser("forget", parents=[common], help="remove a response from the store for good")
    forget.add_argument("id", help="the response's number (see list)")
    forget.set_defaults(handler=_cmd_forget)
    answer = commands.add_parser("reply", parents=[common], help="reply as the author to a response (stored approved)")
    answer.add_argument("id", help="the response's number (see list)")
    answer.add_argument("--text", required=True, help="the reply (Markdown subset)")
    answer.add_argument("--author", required=True, help="the name shown")
    answer.set_defaults(handler=_cmd_reply)
    forget_person = commands.add_parser("forget-replies", parents=[common],
                                        help="delete a person's replies (each option given narrows the selection)")
    forget_person.add_argument("--email", help="the e-mail address they gave (stored until the notice is sent)")
    forget_person.add_argument("--name", help="the name they gave (exact, any case)")
    forget_person.add_argument("--id", action="append", help="a reply's number or record id (repeat for several)")
    forget_person.set_defaults(handler=_cmd_forget_replies)
    records = commands.add_parser("export-records", parents=[common],
                                  help="the approved records, for `invoke linkbacks.export` to write")
    records.set_defaults(handler=_cmd_export_records)
    reverify_command = commands.add_parser("reverify", parents=[common],
                                           help="fetch approved sources again; reject the dead ones")
    reverify_command.set_defaults(handler=_cmd_reverify)
    notify = commands.add_parser("notify", parents=[common],
                                 help="send the notices that are due (LINKBACKS_SMTP_*, LINKBACKS_NOTIFY_*); for cron")
    notify.add_argument("--digest-now", action="store_true", help="send the daily digest now, if anything waits")
    notify.set_defaults(handler=_cmd_notify)
    return parser


def execute(argv: list[str]) -> dict:
    """Run one moderation command from command-line arguments; returns its
    payload or raises LinkbacksError."""
    args = build_parser().parse_args(argv)
    if not args.db:
        raise LinkbacksError("--db: expected the receiver's database file (or set LINKBACKS_DB)")
    with _opened(args.db) as store:
        return args.handler(store, args)


class LocalQueue:
    """The moderation queue in a database on this machine."""

    def __init__(self, db: str | Path):
        self.db = db

    def run(self, argv: list[str]) -> dict:
        return execute([*argv, "--db", str(self.db)])


class _Remote:
    """RemoteQueue whose failures are LinkbacksErrors, like the local queue's."""

    def __init__(self, remote: RemoteModeration):
        self.queue = RemoteQueue(remote)

    def run(self, argv: list[str]) -> dict:
        try:
            return self.queue.run(argv)
        except RemoteQueueError as exc:
            raise LinkbacksError(str(exc)) from None


def _queue(db: str | Path, remote: RemoteModeration | None):
    """The queue the tasks work on: on the server over SSH when ``remote`` is
    given, else the database ``db`` here."""
    return _Remote(remote) if remote is not None else LocalQueue(db)


def format_linkback(row: StoredLinkback) -> str:
    return format_response(response_fields(row))


def list_linkbacks(db: str | Path = default("FILMREVIEWS_LINKBACKS_DB"), status: str | None = None,
                   remote=None) -> list[str]:
    """The queue, pending first: one block of lines per response (kind,
    review, where from, excerpt, why it is held, warnings)."""
    argv = ["list"] + (["--status", status] if status else [])
    return [format_response(response) for response in _queue(db, remote).run(argv)["responses"]]


def set_status(db: str | Path, id: int | str, status: str, remote=None) -> str:  # noqa: A002 -- task parameter name
    """Moderate one response; returns its listing."""
    command = {value: name for name, value in MODERATION.items()}.get(status)
    if command is None:
        raise LinkbacksError(f"Status {status!r}: expected one of {', '.join(STATUSES[1:])}")
    return format_response(_queue(db, remote).run([command, str(id)])["response"])


def forget(db: str | Path, id: int | str, remote=None) -> str:  # noqa: A002 -- task parameter name
    """Remove one response from the store for good; returns what it was.
    Its record leaves content/ at the next export."""
    return format_response(_queue(db, remote).run(["forget", str(id)])["forgotten"])


def export(
    db: str | Path,
    content_dir: str | Path,
    reviews_json: str | Path,
    subdir: str = default("FILMREVIEWS_LINKBACKS_PATH"),
    remote=None,
) -> list[str]:
    """Write approved responses into content/<subdir>/<slug>.json; returns a
    report line per file written and per response skipped. reviews.json
    gives the known review slugs (site_url is not needed). With ``remote``
    the records come from the server (``export-records`` over SSH) and are
    written here by the same rules."""
    slugs = _known_slugs(_reviews_index_file(reviews_json))
    if remote is not None:
        rows = _queue(db, remote).run(["export-records"])["rows"]
        snapshot = Snapshot([stored_from_fields(row) for row in rows])
        return _export_lines(lambda: moderation.export(snapshot, Path(content_dir), slugs, subdir), content_dir, subdir)
    with _opened(db) as store:
        return _export_lines(lambda: moderation.export(store, Path(content_dir), slugs, subdir), content_dir, subdir)


def _export_lines(run, content_dir, subdir) -> list[str]:
    try:
        result = run()
    except LinkbackDataError as exc:  # a hand-edited file gone wrong is not overwritten
        raise LinkbacksError(f"{exc}; fix or remove the file, then export again") from None
    except OSError as exc:
        raise LinkbacksError(f"Cannot write the linkbacks into {Path(content_dir) / subdir}: {exc}") from None
    lines = [f"wrote {path}" for path in result.written]
    lines += [f"unchanged {path}" for path in result.unchanged]
    lines += [f"skipped #{row.id}: review {terminal_text(row.review)!r} is not published" for row in result.skipped]
    return lines


def reverify(db: str | Path = default("FILMREVIEWS_LINKBACKS_DB"), allow_loopback: bool = False,
             remote=None) -> list[str]:
    """Fetch every approved source again; a line per linkback and a summary.
    Rejected ones stay on the site until the next ``invoke linkbacks.export``
    (and build): reverify only changes the database, so the moderator sees
    what went before the site changes. With ``remote`` the fetching happens
    on the server."""
    if remote is not None:
        results = _queue(db, remote).run(["reverify"])["results"]
    else:
        with _opened(db) as store:
            results = _reverify_payload(moderation.reverify(store, Fetcher(allow_loopback=allow_loopback)))["results"]
    lines = [f"#{r['id']} {r['outcome']}: {r['reason']} ({terminal_text(r['source'])})" for r in results]
    counts = {outcome: sum(r["outcome"] == outcome for r in results) for outcome in ("kept", "rejected", "unreachable")}
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
# ``reply`` and ``forget-replies`` are commands of the queue like the others,
# so they run on the server over SSH too. Forgetting has two halves: the
# rows go where the database is; the records in content/ are removed here,
# by the record ids the command returns and the same criteria.


def reply_as_author(db: str | Path, id: int | str, text: str, author: str,  # noqa: A002 -- task parameter
                    remote=None) -> str:
    """Store the writer's reply to response ``id`` (approved, marked as the
    author's); returns its listing."""
    argv = ["reply", str(id).strip(), f"--text={text}", f"--author={author}"]
    return format_response(_queue(db, remote).run(argv)["response"])


def forget_replies(db: str | Path, content_dir: str | Path, subdir: str = default("FILMREVIEWS_LINKBACKS_PATH"),
                   email: str | None = None, name: str | None = None, ids=(), remote=None) -> list[str]:
    """Remove a person's replies from the database (on the server with
    ``remote``) and from content/<subdir>/ here; a line per reply removed."""
    ids = [str(value) for value in ids]
    try:
        replies.check_criteria(email=email, name=name, ids=ids)
    except replies.RepliesError as exc:
        raise LinkbacksError(str(exc)) from None
    argv = (["forget-replies"] + ([f"--email={email}"] if email else []) + ([f"--name={name}"] if name else [])
            + [f"--id={value}" for value in ids])
    payload = _queue(db, remote).run(argv)
    rows = [stored_from_fields(row) for row in payload["forgotten_replies"]]
    folder = Path(content_dir) / subdir
    try:
        records = replies.forget_records(folder, payload["ids"], email=email, name=name, ids=ids)
    except LinkbackDataError as exc:  # a hand-edited file gone wrong is not overwritten
        raise LinkbacksError(f"{exc}; fix or remove the file, then forget again") from None
    except OSError as exc:
        raise LinkbacksError(f"Cannot rewrite the records in {folder}: {exc}") from None
    return replies.Forgotten(rows=rows, records=records).lines()


def _payload_lines(payload: dict) -> list[str]:
    """A command's payload as text for a person at the server's terminal."""
    if "responses" in payload:
        return [format_response(r) for r in payload["responses"]] or ["No responses."]
    if "forgotten_replies" in payload:
        return [("Forgotten: " + format_response(r)) for r in payload["forgotten_replies"]] or [
            "No reply matched: nothing removed."]
    for key in ("response", "forgotten"):
        if key in payload:
            return [("Forgotten: " if key == "forgotten" else "") + format_response(payload[key])]
    if "results" in payload:
        return [f"#{r['id']} {r['outcome']}: {r['reason']} ({terminal_text(r['source'])})" for r in payload["results"]]
    if "rows" in payload:
        return [f"{sum(r['status'] == 'approved' for r in payload['rows'])} approved record(s); "
                "use --json to read them"]
    return [terminal_text(f"{key}: {value}") for key, value in payload.items()]


def main(argv: list[str] | None = None) -> int:
    """``python -m linkbacks.cli <command> [--db DB] [--json]``: 0 on success;
    1 with one line (``{"error": ...}`` with --json) when something is wrong."""
    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.db and not is_database_url(args.db) and not Path(args.db).is_file():
            # Here, unlike in the tasks, a missing file is a wrong path, not a new store.
            raise LinkbacksError(f"--db {args.db!r}: no such file; expected the receiver's database "
                                 "(its LINKBACKS_DB; on the writer's machine, LINKBACKS_REMOTE_DB)")
        payload = execute(argv)
    except LinkbacksError as exc:
        if as_json:
            print(json.dumps({"error": str(exc)}, ensure_ascii=True))
        else:
            print(terminal_text(str(exc)), file=sys.stderr)
        return 1
    if as_json:
        # ASCII only: nothing from a response can reach a terminal as a control character.
        print(json.dumps(payload, ensure_ascii=True))
    else:
        print("\n".join(_payload_lines(payload)))
    return 0


__all__ = ["LinkbacksError", "SiteFiles", "site_files", "serve", "list_linkbacks", "set_status", "forget", "export",
           "reverify", "send", "reply_as_author", "forget_replies", "execute", "main", "LocalQueue"]


if __name__ == "__main__":
    sys.exit(main())
