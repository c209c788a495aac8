"""Publishing the approved linkbacks and checking them again. (Approving,
rejecting and marking spam is ``Store.set_status``.)

* ``export`` writes the approved linkbacks into
  ``<content_dir>/linkbacks/<slug>.json`` (atomically, sorted by date; the
  format is ``reelnotes.contract``). The files stay hand-editable: an entry
  whose ID is still approved keeps the file's (possibly edited) text,
  entries whose ID the store no longer has approved are dropped, and entries
  with IDs the store does not know at all (added by hand) are kept.
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
