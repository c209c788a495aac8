"""The writer's side of readers' replies, on a store and a records folder:
answering as the author, and forgetting a person.

* ``reply_as_author`` stores the writer's reply to a response, approved and
  marked as the author's, in that response's thread (one level: answering a
  reply to a reply answers its thread).
* ``forget`` removes a person's replies from the store (``forget_rows``,
  which runs where the database is) and from the approved-records files
  (``forget_records``, on the writer's machine), selected by e-mail address, name and/or id (each
  given criterion narrows the selection), and says what it removed. The
  e-mail address is only in the store, and only until the reply notice has
  been sent; after that, select by name or id.

Errors a person can fix are ``RepliesError`` with a message for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from reelnotes.contract import EXCERPT_MAX, TEXT_MAX, clean_display_text, load_file, receiver_id
from reelnotes.reply_text import render_reply

from .moderation import write_file
from .store import DuplicateReply, Store, StoredLinkback


class RepliesError(ValueError):
    """Input the writer can fix; the message says what and how."""


def reply_as_author(store: Store, parent_id: int, text: str, author: str) -> StoredLinkback:
    """The writer's reply to response ``parent_id``, stored approved."""
    parent = store.get(parent_id)
    if parent is None:
        raise RepliesError(f"No response #{parent_id} (see invoke linkbacks.list)")
    if parent.status != "approved":
        raise RepliesError(f"Response #{parent_id} is {parent.status}: approve it first, then answer it")
    root = parent
    if parent.parent_id is not None:  # one level: answer in the thread of what it answers
        root = store.get(parent.parent_id) or parent
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise RepliesError("The reply is empty: give its text, e.g. invoke replies.reply 12 \"Thank you!\"")
    if len(text) > TEXT_MAX:
        raise RepliesError(f"The reply is {len(text)} characters long: at most {TEXT_MAX}")
    if not clean_display_text(author):
        raise RepliesError("No author name: set AUTHOR in pelicanconf.py, or give --author")
    try:
        row_id = store.add_reply(
            review=root.review,
            target=root.target,
            author=clean_display_text(author, 100),
            text=text,
            excerpt=clean_display_text(render_reply(text), EXCERPT_MAX),
            parent_id=root.id,
            by_author=True,
            status="approved",
        )
    except DuplicateReply as dup:
        raise RepliesError(f"Reply #{dup.existing_id} to this review already says that") from None
    return store.get(row_id)


@dataclass
class Forgotten:
    rows: list[StoredLinkback] = field(default_factory=list)  # deleted from the store
    records: list[tuple[Path, str, str]] = field(default_factory=list)  # (file, record id, author) removed

    def lines(self) -> list[str]:
        lines = [f"forgot reply #{row.id} to {row.review} by {clean_display_text(row.author, 40)!r}: "
                 f"{clean_display_text(row.excerpt, 60)!r} (database)" for row in self.rows]
        lines += [f"removed {record_id} by {clean_display_text(author, 40)!r} from {path}"
                  for path, record_id, author in self.records]
        return lines or ["No reply matched: nothing removed."]


def _record_ids(ids: Iterable[str | int]) -> set[str]:
    """"12", "#12", 12 and "receiver-12" all name database row 12; other ids
    ("wordpress-5", "hand-1") name records in the files."""
    result = set()
    for value in ids:
        text = str(value).strip().lstrip("#")
        if not text:
            continue
        result.add(receiver_id(int(text)) if text.isdigit() else text)
    return result


def _criteria(email: str | None, name: str | None, ids: Iterable[str | int]):
    """(email, name, record ids) as compared: addresses and names in any case."""
    email = (email or "").strip().casefold() or None
    name = (name or "").strip().casefold() or None
    wanted_ids = _record_ids(ids)
    if email is None and name is None and not wanted_ids:
        raise RepliesError("Say whose replies to forget: --email ADDRESS, --name NAME and/or --id N")
    return email, name, wanted_ids


def check_criteria(*, email: str | None = None, name: str | None = None, ids: Iterable[str | int] = ()) -> None:
    """Raise RepliesError when no criterion is given (before anything is asked of the server)."""
    _criteria(email, name, ids)


def forget_rows(store: Store, *, email: str | None = None, name: str | None = None,
                ids: Iterable[str | int] = ()) -> list[StoredLinkback]:
    """Delete the stored replies matching every given criterion; returns them.
    This is the part that runs where the database is (on the server, over SSH)."""
    email, name, wanted_ids = _criteria(email, name, ids)

    def row_matches(row: StoredLinkback) -> bool:
        return (row.kind == "reply"
                and (email is None or row.email.strip().casefold() == email)
                and (name is None or row.author.strip().casefold() == name)
                and (not wanted_ids or receiver_id(row.id) in wanted_ids))

    return store.delete_replies(row.id for row in store.list() if row_matches(row))


def forget_records(records_folder: Path, gone: Iterable[str], *, email: str | None = None, name: str | None = None,
                   ids: Iterable[str | int] = ()) -> list[tuple[Path, str, str]]:
    """Remove from the approved-records files the records of the replies
    ``gone`` from the store (their record ids) and the other replies matching
    every given criterion; returns (file, record id, author) per record removed."""
    email, name, wanted_ids = _criteria(email, name, ids)
    gone = set(gone)

    def record_matches(record) -> bool:
        if record.id in gone:
            return True
        return (record.is_reply
                and email is None  # addresses are never in the files: by e-mail, only the rows found above
                and (name is None or record.author.strip().casefold() == name)
                and (not wanted_ids or record.id in wanted_ids))

    removed = []
    folder = Path(records_folder)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        slug, records = load_file(path)
        kept = [record for record in records if not record_matches(record)]
        if len(kept) != len(records):
            write_file(path, slug, kept)
            removed += [(path, r.id, r.author) for r in records if record_matches(r)]
    return removed


def forget(store: Store, records_folder: Path, *, email: str | None = None, name: str | None = None,
           ids: Iterable[str | int] = ()) -> Forgotten:
    """Remove the replies matching every given criterion (see module docstring)."""
    ids = list(ids)
    rows = forget_rows(store, email=email, name=name, ids=ids)
    records = forget_records(records_folder, {receiver_id(row.id) for row in rows}, email=email, name=name, ids=ids)
    return Forgotten(rows=rows, records=records)


__all__ = ["Forgotten", "RepliesError", "check_criteria", "forget", "forget_records", "forget_rows", "reply_as_author"]
