"""Thin functions for the invoke tasks: paths and strings in, data or lines of
text out, nothing printed (except by ``serve``, which logs while it runs)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from . import moderation
from .fetch import Fetcher
from .receiver import Config
from .records import DEFAULT_SUBDIR, plain_text
from .sender import send_from_output
from .server import serve as _serve
from .store import Store, StoredLinkback

DEFAULT_DB = "linkbacks.sqlite3"
DEFAULT_CACHE = "cache/linkbacks-sent.json"


def serve(
    host: str = "127.0.0.1",
    port: int = 8010,
    db: str | Path = DEFAULT_DB,
    reviews_json: str | Path = "output/reviews.json",
    site_url: str = "",
    allow_loopback: bool = False,
    base_path: str = "",
) -> None:
    """Run the receiver until Ctrl-C. ``base_path``: the public prefix when a
    proxy mounts it (e.g. "/linkbacks") without setting SCRIPT_NAME."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = Config(db_path=Path(db), reviews_json=Path(reviews_json), site_url=site_url,
                    allow_loopback=allow_loopback, base_path=base_path)
    _serve(config, host, int(port))


def format_linkback(row: StoredLinkback) -> str:
    kind = row.kind if row.kind != "webmention" else f"webmention/{row.type}"
    title = plain_text(row.title, 80) or "(no title)"
    author = plain_text(row.author, 40)
    return (
        f"#{row.id:<5} {row.status:<8} {kind:<19} {row.review:<28} {row.source}  "
        f"\"{title}\"{' by ' + author if author else ''}  {row.received}"
    )


def list_linkbacks(db: str | Path = DEFAULT_DB, status: str | None = None) -> list[str]:
    return [format_linkback(row) for row in moderation.list_linkbacks(Store(db), status or None)]


def set_status(db: str | Path, id: int, status: str) -> str:  # noqa: A002 -- task parameter name
    """Raises store.UnknownLinkback (a KeyError) or ValueError for bad input."""
    row = moderation.set_status(Store(db), int(id), status)
    return format_linkback(row)


def export(
    db: str | Path = DEFAULT_DB,
    content_dir: str | Path = "content",
    reviews_json: str | Path = "output/reviews.json",
    subdir: str = DEFAULT_SUBDIR,
) -> list[str]:
    """Write approved linkbacks into content/<subdir>/<slug>.json; returns a
    report line per file written and per linkback skipped. reviews.json
    gives the known review slugs (site_url is not needed)."""
    slugs = _known_slugs(Path(reviews_json))
    result = moderation.export(Store(db), Path(content_dir), slugs, subdir)
    lines = [f"wrote {path}" for path in result.written]
    lines += [f"unchanged {path}" for path in result.unchanged]
    lines += [f"skipped #{row.id}: review {row.review!r} is not published" for row in result.skipped]
    return lines


def reverify(db: str | Path = DEFAULT_DB, allow_loopback: bool = False) -> list[str]:
    results = moderation.reverify(Store(db), Fetcher(allow_loopback=allow_loopback))
    return [f"#{r.id} {r.outcome}: {r.reason} ({r.source})" for r in results]


def send(
    output_dir: str | Path = "output",
    cache_path: str | Path = DEFAULT_CACHE,
    allow_loopback: bool = False,
    reviews_json: str | Path | None = None,
    site_url: str = "",
    blog_name: str = "",
) -> list[str]:
    """Send linkbacks for the reviews in the output folder. Needs an absolute
    site URL (from reviews.json, i.e. a publish build, or ``site_url``)."""
    results = send_from_output(
        Path(output_dir),
        Path(cache_path),
        Fetcher(allow_loopback=allow_loopback),
        Path(reviews_json) if reviews_json else None,
        site_url=site_url,
        blog_name=blog_name,
    )
    return [
        f"{r.outcome:<11} {r.kind or '-':<10} {r.review} -> {r.target}" + (f"  ({r.detail})" if r.detail else "")
        for r in results
    ]


def _known_slugs(reviews_json: Path) -> set[str]:
    try:
        data = json.loads(reviews_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{reviews_json}: cannot read the reviews index ({exc})") from exc
    reviews = data.get("reviews") if isinstance(data, dict) else None
    if not isinstance(reviews, list):
        raise ValueError(f"{reviews_json}: expected an object with a 'reviews' list")
    return {r["slug"] for r in reviews if isinstance(r, dict) and isinstance(r.get("slug"), str)}


__all__ = ["serve", "list_linkbacks", "set_status", "export", "reverify", "send"]
