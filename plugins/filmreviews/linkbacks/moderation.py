"""Moderating received linkbacks and publishing the approved ones.

* ``list_linkbacks`` / ``approve`` / ``reject`` / ``mark_spam`` / ``set_status``
  work on the store by linkback ID.
* ``export`` writes the approved linkbacks into
  ``<content_dir>/linkbacks/<slug>.json`` (atomically, sorted by date). The
  files stay hand-editable: an entry whose ID is still approved keeps the
  file's (possibly edited) text, entries whose ID the store no longer has
  approved are dropped, and entries with IDs the store does not know at all
  (added by hand) are kept.
* ``reverify`` fetches each approved source again and rejects the ones that
  now answer 410 Gone or no longer link to the review.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import fetch, verify
from .records import (
    DEFAULT_SUBDIR,
    Linkback,
    LinkbackDataError,
    linkbacks_dir,
    load_file,
    sort_key,
    write_file,
)
from .store import STATUSES, Store, StoredLinkback

logger = logging.getLogger(__name__)


def list_linkbacks(store: Store, status: str | None = None) -> list[StoredLinkback]:
    return store.list(status)


def set_status(store: Store, linkback_id: int, status: str) -> StoredLinkback:
    """Raises store.UnknownLinkback for an unknown ID, ValueError for an unknown status."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}, expected one of {', '.join(STATUSES)}")
    return store.set_status(linkback_id, status)


def approve(store: Store, linkback_id: int) -> StoredLinkback:
    return set_status(store, linkback_id, "approved")


def reject(store: Store, linkback_id: int) -> StoredLinkback:
    return set_status(store, linkback_id, "rejected")


def mark_spam(store: Store, linkback_id: int) -> StoredLinkback:
    return set_status(store, linkback_id, "spam")


@dataclass
class ExportResult:
    written: list[Path] = field(default_factory=list)  # files created or changed
    unchanged: list[Path] = field(default_factory=list)
    skipped: list[StoredLinkback] = field(default_factory=list)  # review no longer published


def export(
    store: Store, content_dir: Path, known_slugs: set[str], subdir: str = DEFAULT_SUBDIR
) -> ExportResult:
    """Write the approved linkbacks into the data files (see module docstring)."""
    known_slugs = set(known_slugs)
    folder = linkbacks_dir(content_dir, subdir)
    result = ExportResult()
    all_rows = store.list()
    known_ids = {row.id for row in all_rows}
    approved: dict[str, dict[int, Linkback]] = defaultdict(dict)
    for row in all_rows:
        if row.status != "approved":
            continue
        if row.review not in known_slugs:
            result.skipped.append(row)
            continue
        linkback = row.to_linkback()
        try:
            Linkback.from_dict(linkback.to_dict(), f"linkback #{row.id}")
        except LinkbackDataError as exc:  # cannot happen for receiver data; be safe
            logger.warning("not exported: %s", exc)
            result.skipped.append(row)
            continue
        approved[row.review][row.id] = linkback
    existing_files = {p.stem: p for p in folder.glob("*.json")} if folder.is_dir() else {}
    slugs = set(approved) | (set(existing_files) & known_slugs)
    for slug in sorted(slugs):
        path = folder / f"{slug}.json"
        merged: dict[int, Linkback] = {}
        if path.exists():
            _, current = load_file(path, known_slugs)  # a broken file is reported, not overwritten
            for linkback in current:
                if linkback.id not in known_ids or linkback.id in approved[slug]:
                    merged[linkback.id] = linkback
        for linkback_id, linkback in approved[slug].items():
            merged.setdefault(linkback_id, linkback)
        linkbacks = sorted(merged.values(), key=sort_key)
        if not path.exists() and not linkbacks:
            continue
        if write_file(path, slug, linkbacks):
            result.written.append(path)
        else:
            result.unchanged.append(path)
    return result


@dataclass(frozen=True)
class ReverifyResult:
    id: int
    source: str
    outcome: str  # "kept", "rejected", "unreachable" (kept; try again later)
    reason: str


def reverify(store: Store, fetcher: fetch.Fetcher | None = None) -> list[ReverifyResult]:
    """Fetch every approved source again; a 410 Gone or a page that no longer
    links to its review is marked rejected (the next export drops it).
    Other failures (timeouts, 5xx, 404) keep the linkback."""
    fetcher = fetcher or fetch.Fetcher()
    results = []
    for row in store.list("approved"):
        try:
            response = verify.fetch_source(fetcher, row.source)
            verify.verify_html(response.text(), response.url, row.target)
        except verify.SourceGone:
            store.set_status(row.id, "rejected")
            results.append(ReverifyResult(row.id, row.source, "rejected", "410 Gone"))
        except verify.NoLinkToTarget as exc:
            if isinstance(exc.__cause__, fetch.NotHTML):
                results.append(ReverifyResult(row.id, row.source, "unreachable", "not HTML any more"))
                continue
            store.set_status(row.id, "rejected")
            results.append(ReverifyResult(row.id, row.source, "rejected", "no longer links to the review"))
        except verify.VerificationError as exc:
            results.append(ReverifyResult(row.id, row.source, "unreachable", type(exc).__name__))
        else:
            results.append(ReverifyResult(row.id, row.source, "kept", "still links to the review"))
    return results
