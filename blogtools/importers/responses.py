"""Comments, pingbacks and trackbacks from another blog, as this site's response records.

* approved pingbacks and trackbacks → approved linkback records, and
  approved comments → approved reply records, in the review's file
  `content/linkbacks/<review-slug>.json`;
* pending pingbacks and trackbacks → the moderation store (pending), and
  pending comments → `content/imports/<source>-pending-replies.json`, for the
  replies' moderation queue to load;
* spam and trash → dropped and counted.

Every imported record's id is "<source>-<comment id>" ("wordpress-57"). A
re-run replaces exactly those records and no others: hand-written records and
those the receiver exported stay, and an imported record the writer has
edited since (its content no longer matches the manifest) is kept as edited.

What is never written: commenters' e-mail addresses (only compared, to tell
the review's author by) and IP addresses (never even read). E-mail addresses
typed into a name or a comment's text are replaced with "[e-mail removed]".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ImportFailed
from .site import AUTHOR_MAX, EXCERPT_MAX, TITLE_MAX, Linkback, LinkbackDataError, dump_linkbacks, plain_text
from .wp_content import plain_excerpt, user_markdown
from .writer import record_hash

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_REMOVED = "[e-mail removed]"
STATUSES = {"1": "approved", "0": "pending", "spam": "spam", "trash": "trash", "post-trashed": "trash"}
KINDS = {"": "comment", "comment": "comment", "pingback": "pingback", "trackback": "trackback"}


def redact(text: str) -> str:
    return EMAIL.sub(EMAIL_REMOVED, text)


@dataclass
class Responses:
    """Everything one import found under its posts' comments."""

    approved: dict[str, list[dict]] = field(default_factory=dict)  # review slug -> records
    pending_replies: list[dict] = field(default_factory=list)
    pending_linkbacks: list[dict] = field(default_factory=list)  # store rows to add
    counts: Counter = field(default_factory=Counter)  # (kind, status) -> number
    notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def iso_date(gmt: str, local: str, zone) -> str | None:
    """A comment's time as ISO 8601 with the site's UTC offset."""
    for value, tz in ((gmt, dt.timezone.utc), (local, zone)):
        value = (value or "").strip()
        if not value or value.startswith("0000"):
            continue
        try:
            moment = dt.datetime.fromisoformat(value.replace(" ", "T"))
        except ValueError:
            continue
        return moment.replace(tzinfo=tz).astimezone(zone).isoformat()
    return None


def _trackback_parts(content: str) -> tuple[str, str]:
    """WordPress stores a trackback as "<strong>Title</strong>\n\nexcerpt"."""
    match = re.match(r"\s*<strong>(.*?)</strong>(.*)", content or "", re.S)
    if match:
        return plain_excerpt(match[1]), plain_excerpt(match[2])
    return "", plain_excerpt(content)


def collect(responses: Responses, *, source: str, comments, review_slug: str, post_label: str,
            author_id: str, author_email: str, zone, target_url: str) -> None:
    """Sort one post's comments into `responses` (see the module docstring)."""
    approved_ids = {c.id for c in comments if STATUSES.get(c.approved) == "approved"
                    and KINDS.get(c.type) == "comment"}
    for comment in comments:
        status = STATUSES.get(comment.approved, "unknown")
        kind = KINDS.get(comment.type)
        record_id = f"{source}-{comment.id}"
        where = f"comment {comment.id} on {post_label}"
        if kind is None:
            responses.counts[(comment.type or "?", status)] += 1
            responses.dropped.append(f"{where}: its type {comment.type!r} is not a comment, pingback or trackback")
            continue
        responses.counts[(kind, status)] += 1
        if status in ("spam", "trash", "unknown"):
            reason = status if status != "unknown" else f"status {comment.approved!r}"
            responses.dropped.append(f"{where} ({kind}): {reason}")
            continue
        date = iso_date(comment.date_gmt, comment.date, zone)
        if date is None:
            responses.dropped.append(f"{where} ({kind}): no readable date")
            continue
        if kind == "comment":
            record = _reply(comment, record_id, date, source, approved_ids, author_id, author_email)
        else:
            record = _linkback(comment, record_id, date, kind)
        if record is None:
            responses.dropped.append(f"{where} ({kind}): " + ("empty" if kind == "comment" else
                                                              "no http(s) address to link to"))
            continue
        try:
            Linkback.from_dict(record, where)
        except LinkbackDataError as exc:
            responses.dropped.append(f"{exc}")
            continue
        if EMAIL_REMOVED in json.dumps(record, ensure_ascii=False):
            responses.notes.append(f"{where}: an e-mail address in it was replaced with {EMAIL_REMOVED!r}")
        if status == "approved":
            responses.approved.setdefault(review_slug, []).append(record)
        elif kind == "comment":
            responses.pending_replies.append({"review": review_slug, **record})
        else:
            responses.pending_linkbacks.append({
                "record_id": record_id, "review": review_slug, "source": record["source"],
                "target": target_url, "kind": kind, "title": record["title"],
                "author": record["author"], "excerpt": record["excerpt"], "received": date})


def _reply(comment, record_id, date, source, approved_ids, author_id, author_email) -> dict | None:
    text = redact(user_markdown(comment.content))
    if not text.strip():
        return None
    url = comment.author_url if urlsplit(comment.author_url).scheme in ("http", "https") else ""
    parent = f"{source}-{comment.parent}" if comment.parent in approved_ids else None
    by_author = bool((author_id and comment.user_id not in ("", "0") and comment.user_id == author_id)
                     or (author_email and comment.author_email
                         and comment.author_email.casefold() == author_email.casefold()))
    return {
        "id": record_id, "kind": "reply", "type": "reply", "source": url, "title": "",
        "author": plain_text(redact(comment.author), AUTHOR_MAX) or "Anonymous",
        "excerpt": plain_text(redact(plain_excerpt(comment.content)), EXCERPT_MAX),
        "text": text, "date": date, "parent": parent, "by_author": by_author,
    }


def _linkback(comment, record_id, date, kind) -> dict | None:
    url = comment.author_url.strip()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        return None
    if kind == "trackback":
        title, excerpt = _trackback_parts(comment.content)
        author = comment.author
    else:  # WordPress names a pingback after the page that linked
        title, excerpt, author = comment.author, plain_excerpt(comment.content), urlsplit(url).hostname
    return {
        "id": record_id, "kind": kind, "type": "mention", "source": url,
        "title": plain_text(redact(title), TITLE_MAX),
        "author": plain_text(redact(author or ""), AUTHOR_MAX),
        "excerpt": plain_text(redact(excerpt), EXCERPT_MAX),
        "date": date,
    }


# --- the review files ---------------------------------------------------------------------


def _canonical(record: dict, where: str) -> dict:
    return Linkback.from_dict(record, where).to_dict()


def merge_file(existing: bytes | None, shown: str, slug: str, ours: list[dict], source: str,
               manifest_records: dict) -> tuple[str | None, dict, list[str]]:
    """The new text of one review's response file: the writer's and the
    receiver's records kept, this source's records replaced by `ours` (except
    the ones edited since the last import). Returns (text or None when there
    is nothing to write, this file's manifest records, notes)."""
    prefix = f"{source}-"
    records: dict = {}
    written: dict = {}
    notes: list[str] = []
    edited: set = set()
    if existing is not None:
        try:
            data = json.loads(existing.decode("utf-8"))
            items = data["linkbacks"]
            if not isinstance(items, list):
                raise TypeError
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ImportFailed(f"{shown}: cannot be read as a responses file ({type(exc).__name__}: {exc}); "
                               "expected {\"review\": ..., \"linkbacks\": [...]} -- fix it before importing") from None
        for index, item in enumerate(items):
            where = f"{shown}: linkbacks[{index}]"
            try:
                record = _canonical(item, where)
            except LinkbackDataError as exc:
                raise ImportFailed(f"{exc} -- fix it before importing") from None
            ident = record["id"]
            if isinstance(ident, str) and ident.startswith(prefix):
                previous = manifest_records.get(ident)
                if previous and previous.get("sha256") != record_hash(record):
                    edited.add(ident)
                    records[ident] = record
                    written[ident] = previous
                    notes.append(f"{shown}: {ident} was edited since the last import: kept as it is")
                continue  # replaced below (or gone from the export)
            records[ident] = record
    for item in ours:
        if item["id"] in edited:
            continue
        record = _canonical(item, f"{shown}: {item['id']}")
        records[record["id"]] = record
        written[record["id"]] = {"review": slug, "sha256": record_hash(record)}
    if existing is None and not records:
        return None, written, notes
    linkbacks = [Linkback.from_dict(r) for r in records.values()]
    return dump_linkbacks(slug, linkbacks), written, notes
