"""The poster cache: derivatives and cards kept by the source's content hash.

Owns the cache folder (FILMREVIEWS_POSTER_CACHE). An entry is named by a hash
of the source file's bytes and the encode settings, and a card by a hash of
the source, the card's text and its design, so an unchanged poster is never
encoded twice, whichever review or build asks for it. `cache_posters` checks
each source from its header, hands only what the cache lacks to the encoder
pool, and says where everything is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reelnotes.settings import default

from .. import social_card
from ..social_card import CardText
from .decode import PosterError, open_checked
from .encode import (
    CARD_OPTIONS,
    ENCODE_OPTIONS,
    ENCODER_VERSION,
    FAILED,
    FORMATS,
    MANIFEST,
    EncodeJob,
    run_jobs,
)

DEFAULT_WIDTHS = default("FILMREVIEWS_POSTER_WIDTHS")
DEFAULT_MAX_PIXELS = default("FILMREVIEWS_POSTER_MAX_PIXELS")


@dataclass(frozen=True)
class PosterRequest:
    """A poster file the cache must hold derivatives of, and the card to draw from it."""

    source: Path
    card: CardText


@dataclass
class Cached:
    """Where one request's derivatives and card are in the cache, or why there are none."""

    source: Path
    key: str = ""  # the derivatives' entry: hash of the content and the encode settings
    card_key: str = ""
    entry: Path | None = None
    card_file: Path | None = None
    manifest: dict | None = None
    error: str | None = None


@dataclass
class EncodeStats:
    """What one run did with posters: `cache_posters` returns it, and the build
    sends it with the `posters_attached` signal."""

    posters: int = 0  # reviews given a Poster
    problems: int = 0  # reviews left without one
    decoded_sources: list[str] = field(default_factory=list)  # handed to an encoder
    encoded_sources: list[str] = field(default_factory=list)  # whose derivatives were encoded
    files_encoded: int = 0  # derivative files written
    cards_drawn: int = 0
    workers: int = 0  # size of the process pool (0: no pool was started)

    @property
    def encodes(self) -> int:
        return self.files_encoded + self.cards_drawn


@dataclass
class _Source:
    """One poster file as this run found it."""

    path: Path
    key: str = ""  # hash of the content and the encode settings
    content_hash: str = ""
    error: str | None = None


@dataclass
class _Work:
    """What one source still lacks in the cache: its derivatives, some cards, or both."""

    source: _Source
    entry: Path | None = None
    cards: dict[Path, CardText] = field(default_factory=dict)


def cache_posters(requests: Iterable[PosterRequest], cache: Path, widths=DEFAULT_WIDTHS,
                  max_pixels: int = DEFAULT_MAX_PIXELS,
                  relative_to: Path | None = None) -> tuple[list[Cached], EncodeStats]:
    """Make sure the cache holds derivatives and a card for each request.

    Sources are checked from their headers here; only what the cache lacks is
    decoded and encoded, in a process pool started only when there is work.
    Returns one `Cached` per request, in order, and what was done.
    `relative_to` shortens the source paths the stats list.
    """
    cache = Path(cache)
    widths = tuple(sorted(set(widths)))
    encode_settings = _fingerprint(widths=widths, formats=FORMATS, options=ENCODE_OPTIONS,
                                   version=ENCODER_VERSION, max_pixels=max_pixels)
    sources: dict[Path, _Source] = {}
    planned: list[tuple[_Source, CardText]] = []
    for request in requests:
        path = Path(request.source).resolve()
        if path not in sources:
            sources[path] = _check(path, cache, encode_settings, max_pixels)
        planned.append((sources[path], request.card))

    results = [Cached(source.path) for source, _ in planned]
    work = _missing(planned, results, cache)
    stats = _encode(work, cache, widths, max_pixels, relative_to)

    manifests: dict[str, dict | None] = {}
    for cached, (source, _) in zip(results, planned, strict=True):
        if source.error:  # refused from its header, or the encoder failed on it
            cached.error = source.error
            continue
        if source.key not in manifests:
            manifests[source.key] = _load_manifest(cached.entry)
        cached.manifest = manifests[source.key]
        if cached.manifest is None or not cached.card_file.is_file():
            cached.error = f"an image the encoder can process (nothing was cached in {cache})"
    return results, stats


def _check(path: Path, cache: Path, encode_settings: str, max_pixels: int) -> _Source:
    """The source with its cache key, or with why it cannot be used."""
    source = _Source(path)
    try:
        open_checked(path, max_pixels).close()
        source.content_hash = _file_hash(path)
        source.key = _hash(source.content_hash, encode_settings)
    except PosterError as exc:
        source.error = str(exc)
    except OSError as exc:
        source.error = f"a readable file ({exc.strerror or exc})"
    if source.key:
        failed = Path(f"{cache / source.key}{FAILED}")
        if failed.is_file():
            source.error = failed.read_text(encoding="utf-8")
    return source


def _missing(planned, results: list[Cached], cache: Path) -> list[_Work]:
    """Fill in where each request's files belong; one `_Work` per source with anything missing."""
    design = social_card.design()
    work: dict[str, _Work] = {}
    for cached, (source, text) in zip(results, planned, strict=True):
        if source.error:
            continue
        cached.key, cached.entry = source.key, cache / source.key
        cached.card_key = _hash(source.content_hash, _fingerprint(
            size=social_card.CARD_SIZE, options=CARD_OPTIONS, design=design, text=asdict(text)))
        cached.card_file = cache / "cards" / f"{cached.card_key}.jpg"
        need_entry = not (cached.entry / MANIFEST).is_file()
        need_card = not cached.card_file.is_file()
        if need_entry or need_card:
            item = work.setdefault(source.key, _Work(source))
            if need_entry:
                item.entry = cached.entry
            if need_card:
                item.cards[cached.card_file] = text
    return list(work.values())


def _encode(work: list[_Work], cache: Path, widths: tuple[int, ...], max_pixels: int,
            relative_to: Path | None) -> EncodeStats:
    stats = EncodeStats()
    if not work:
        return stats  # nothing to encode: no pool, no worker start-up
    cache.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    stats.workers = min(cores, len(work))
    threads = max(1, cores // stats.workers)  # AVIF threads per worker
    jobs = [EncodeJob(str(item.source.path), str(item.entry) if item.entry else None, widths,
                      tuple((str(path), text) for path, text in item.cards.items()), max_pixels, threads)
            for item in work]
    for item, result in zip(work, run_jobs(jobs, stats.workers), strict=True):
        source = item.source
        shown = _relative(source.path, relative_to) if relative_to else str(source.path)
        stats.decoded_sources.append(shown)
        if result.error:
            source.error = result.error
            continue
        if result.files_encoded:
            stats.encoded_sources.append(shown)
        stats.files_encoded += result.files_encoded
        stats.cards_drawn += result.cards_drawn
    return stats


def _fingerprint(**parts) -> str:
    return json.dumps(parts, sort_keys=True, ensure_ascii=False)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_manifest(entry: Path) -> dict | None:
    try:
        return json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)
