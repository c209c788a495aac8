"""Publishing the approved linkbacks and checking them again. (Approving,
rejecting and marking spam is ``Store.set_status``.)

* ``export`` writes the approved linkbacks and replies into
  ``<content_dir>/linkbacks/<slug>.json`` (atomically, sorted by date; the
  format is ``reelnotes.contract``). It only ever adds, replaces or removes
  records with a "receiver-<row>" id, the ones it writes: records imported
  from WordPress or written by hand are never touched, whatever their id.
  The files stay hand-editable: a receiver record whose row is still
  approved keeps the file's (possibly edited) text, and one whose row is no
  longer approved (rejected, spam, forgotten) is dropped.
* ``reverify`` fetches each approved source again and rejects the ones that
  now answer 410 Gone or no longer link to the review.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from reelnotes.contract import Linkback, LinkbackDataError, dump, load_file, sort_key
from reelnotes.files import atomic_write
from reelnotes.settings import default

from . import fetch, verify
from .store import Store, StoredLinkback

logger = logging.getLogger(__name__)


@dataclass
class ExportResult:
    written: list[Path] = field(default_factory=list)  # files created or changed
    unchanged: list[Path] = field(default_factory=list)
    skipped: list[StoredLinkback] = field(default_factory=list)  # review no longer published


def write_file(path: Path, slug: str, linkbacks: list[Linkback]) -> bool:
    """Replace a data file in one step. Returns False when the file already
    had exactly this content (left untouched)."""
    path = Path(path)
    text = dump(slug, linkbacks)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text)
    return True


def export(
    store: Store, content_dir: Path, known_slugs: set[str], subdir: str | None = None
) -> ExportResult:
    """Write the approved linkbacks into the data files (see module docstring).
    ``subdir``: the folder under ``content_dir`` (FILMREVIEWS_LINKBACKS_PATH)."""
    known_slugs = set(known_slugs)
    folder = Path(content_dir) / (subdir or default("FILMREVIEWS_LINKBACKS_PATH"))
    result = ExportResult()
    approved: dict[str, dict[str, Linkback]] = defaultdict(dict)
    for row in store.list("approved"):
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
        approved[row.review][linkback.id] = linkback
    existing_files = {p.stem: p for p in folder.glob("*.json")} if folder.is_dir() else {}
    slugs = set(approved) | (set(existing_files) & known_slugs)
    for slug in sorted(slugs):
        path = folder / f"{slug}.json"
        merged: dict[str, Linkback] = {}
        if path.exists():
            _, current = load_file(path, known_slugs)  # a broken file is reported, not overwritten
            for linkback in current:
                if not linkback.from_receiver:
                    merged[linkback.id] = linkback  # not ours: kept as it is
                elif _same_response(linkback, approved[slug].get(linkback.id)):
                    merged[linkback.id] = linkback  # still approved: the file's (edited) text stays
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


def _same_response(in_file: Linkback, in_store: Linkback | None) -> bool:
    """A receiver record in the file is still the store's row of that id (a
    file exported from another database holds other responses under the same
    numbers: those are replaced)."""
    return in_store is not None and (in_file.kind, in_file.source) == (in_store.kind, in_store.source)


@dataclass(frozen=True)
class ReverifyResult:
    id: int
    source: str
    outcome: str  # "kept", "rejected", "unreachable" (kept; try again later)
    reason: str


def reverify(store: Store, fetcher: fetch.Fetcher | None = None) -> list[ReverifyResult]:
    """Fetch every approved source again; a 410 Gone or a page that no longer
    links to its review is marked rejected (the next export drops it).
    Other failures (timeouts, 5xx, 404) keep the linkback. Replies are
    not linkbacks: a reader's website need not link here, and is not fetched."""
    fetcher = fetcher or fetch.Fetcher()
    results = []
    for row in store.list("approved"):
        if row.kind == "reply":
            continue
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
