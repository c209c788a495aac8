"""The poster cache: derivatives and cards kept by the source's content hash.

Owns the cache folder (FILMREVIEWS_POSTER_CACHE). An entry is named by a hash
of the source file's bytes and the encode settings (widths, formats and their
options, the code that decodes and encodes, Pillow's version), and a card by a
hash of the source, the card's text and its design, so an unchanged poster is
never encoded twice, whichever review or build asks for it.

`PosterCache` is one build's view of it. A poster is requested the moment its
review has been read: its source is checked from the header, and what the
cache lacks goes to the encoder pool at once, so encoding runs while Pelican
reads and writes. The answer never waits: for a poster still being encoded
it holds the derivatives the encoder will write (the same plan, worked out
from the header), and `finish` says which posters turned out otherwise (a
source that cannot be decoded after all), so the build can be redone for
them.

Each build also records which entries it used (`used/`); entries no recent
build of any configuration used are pruned (`prune`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reelnotes.files import atomic_write
from reelnotes.settings import default

from .. import fingerprint, social_card
from ..social_card import CardText
from .decode import PosterError, open_checked, upright_size
from .encode import (
    CARD_OPTIONS,
    ENCODE_OPTIONS,
    ENCODER_VERSION,
    FAILED,
    FORMATS,
    MANIFEST,
    EncodeJob,
    EncoderPool,
    largest_width,
    manifest_for,
    outcome,
)

DEFAULT_WIDTHS = default("FILMREVIEWS_POSTER_WIDTHS")
DEFAULT_JPEG_WIDTHS = default("FILMREVIEWS_POSTER_JPEG_WIDTHS")
DEFAULT_MAX_PIXELS = default("FILMREVIEWS_POSTER_MAX_PIXELS")
CARDS = "cards"
USED = "used"  # one record per site configuration: the entries its last build used
RECORD_LIFETIME = 30 * 24 * 3600  # a configuration not built for a month no longer keeps entries
PRUNE_GRACE = 3600  # an entry younger than this is never pruned: a build may be about to record it
PIXEL_CODE = ("decode.py", "encode.py")
CARD_CODE = ("social_card.py", "typesetting.py")


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
    pending: bool = False  # being encoded: `manifest` is the plan, checked by `finish`


@dataclass
class EncodeStats:
    """What one build did with posters: sent with the `posters_attached` signal."""

    posters: int = 0  # reviews given a Poster
    problems: int = 0  # reviews left without one
    decoded_sources: list[str] = field(default_factory=list)  # handed to an encoder
    encoded_sources: list[str] = field(default_factory=list)  # whose derivatives were encoded
    files_encoded: int = 0  # derivative files written
    cards_drawn: int = 0
    workers: int = 0  # size of the process pool (0: no pool was started)
    jobs: int = 0  # encoder jobs (a source, or a card of an already encoded source)
    wait_seconds: float = 0.0  # how long the build waited for the encoder at the end
    worker_cpu_seconds: float = 0.0  # CPU time the encoder processes spent

    @property
    def encodes(self) -> int:
        return self.files_encoded + self.cards_drawn

    def add(self, other: EncodeStats) -> None:
        """Count another attempt's work in with this one (a build that was redone)."""
        self.decoded_sources[:0] = other.decoded_sources
        self.encoded_sources[:0] = other.encoded_sources
        self.files_encoded += other.files_encoded
        self.cards_drawn += other.cards_drawn
        self.workers = max(self.workers, other.workers)
        self.jobs += other.jobs
        self.worker_cpu_seconds += other.worker_cpu_seconds


@dataclass
class _Source:
    """One poster file as this build found it."""

    path: Path
    key: str = ""
    content_hash: str = ""
    error: str | None = None
    manifest: dict | None = None  # from the cache, or the plan while it is encoded
    needs_entry: bool = False  # the cache lacks its derivatives and no job was started yet
    job: int | None = None  # index of the job encoding its derivatives


@dataclass
class _Job:
    source: _Source
    job: EncodeJob
    future: object
    card_files: tuple[Path, ...]


def encode_fingerprint(widths, jpeg_widths, max_pixels) -> str:
    """Everything besides a source's bytes that decides its derivatives."""
    return fingerprint.digest(
        widths, jpeg_widths, FORMATS, ENCODE_OPTIONS, ENCODER_VERSION, max_pixels,
        fingerprint.versions("pillow"), _code_digest(PIXEL_CODE))


def card_fingerprint(text: CardText) -> str:
    return fingerprint.digest(social_card.CARD_SIZE, CARD_OPTIONS, social_card.design(), asdict(text),
                              fingerprint.versions("pillow"), _code_digest(PIXEL_CODE + CARD_CODE))


_code_digests: dict[tuple[str, ...], str] = {}


def _code_digest(names: tuple[str, ...]) -> str:
    """A hash of the modules that draw the pixels: changing them re-encodes."""
    if names not in _code_digests:
        here = Path(__file__).resolve().parent
        hashed = hashlib.sha256()
        for name in names:
            path = here / name if (here / name).is_file() else here.parent / name
            hashed.update(name.encode() + b"\0" + path.read_bytes())
        _code_digests[names] = hashed.hexdigest()
    return _code_digests[names]


class PosterCache:
    """One build's posters: checked at once, encoded in the background, placed at the end."""

    def __init__(self, cache: Path, widths=DEFAULT_WIDTHS, jpeg_widths=DEFAULT_JPEG_WIDTHS,
                 max_pixels: int = DEFAULT_MAX_PIXELS, relative_to: Path | None = None,
                 on_progress: Callable[[int, int], None] | None = None, workers: int | None = None):
        self.cache = Path(cache)
        self.widths = tuple(sorted(set(widths)))
        self.jpeg_widths = tuple(sorted(set(jpeg_widths)))
        self.max_pixels = max_pixels
        self.relative_to = relative_to
        self.on_progress = on_progress
        self.cores = workers or os.cpu_count() or 1
        self.settings_key = encode_fingerprint(self.widths, self.jpeg_widths, max_pixels)
        self.sources: dict[Path, _Source] = {}
        self.resolved: dict[Path, Path] = {}  # as requested -> resolved
        self.requested: dict[tuple[Path, CardText], Cached] = {}
        self.cards_wanted: set[Path] = set()
        self.jobs: list[_Job] = []
        self.pool: EncoderPool | None = None
        self.done = 0
        self.lock = threading.Lock()
        self.stats = EncodeStats()

    # --- Asking -----------------------------------------------------------------------

    def request(self, request: PosterRequest) -> Cached:
        """Where this poster's files are (or will be), starting their encoding if needed."""
        path = self.resolved.get(request.source)
        if path is None:
            path = self.resolved[request.source] = Path(request.source).resolve()
        known = self.requested.get((path, request.card))
        if known is not None:
            return known
        source = self.sources.get(path) or self._check(path)
        self.sources[path] = source
        cached = Cached(path)
        self.requested[(path, request.card)] = cached
        if source.error:
            cached.error = source.error
            return cached
        cached.key, cached.entry = source.key, self.cache / source.key
        cached.card_key = _hash(source.content_hash, card_fingerprint(request.card))
        cached.card_file = self.cache / CARDS / f"{cached.card_key}.jpg"
        cached.manifest = source.manifest
        cards = ()
        if cached.card_file not in self.cards_wanted and not cached.card_file.is_file():
            self.cards_wanted.add(cached.card_file)
            cards = ((cached.card_file, request.card),)
        entry = cached.entry if source.needs_entry else None
        if entry is not None or cards:
            # One job decodes the source once for its derivatives and this card.
            source.needs_entry = False
            self._submit(source, entry, cards)
        cached.pending = source.job is not None or cached.card_file in self.cards_wanted
        return cached

    def _check(self, path: Path) -> _Source:
        """The source with its cache key, and its derivatives' manifest (or their plan)."""
        source = _Source(path)
        try:
            source.content_hash = _file_hash(path)
        except OSError as exc:
            source.error = f"a readable file ({exc.strerror or exc})"
            return source
        source.key = _hash(source.content_hash, self.settings_key)
        # These very bytes were checked and encoded before: nothing to open.
        source.manifest = _load_manifest(self.cache / source.key)
        if source.manifest is not None:
            return source
        failed = Path(f"{self.cache / source.key}{FAILED}")
        if failed.is_file():
            source.error = failed.read_text(encoding="utf-8")
            return source
        try:
            with open_checked(path, self.max_pixels) as image:
                size = upright_size(image, largest_width(self.widths, self.jpeg_widths))
        except PosterError as exc:
            source.error = str(exc)
            return source
        except OSError as exc:
            source.error = f"a readable file ({exc.strerror or exc})"
            return source
        source.manifest = manifest_for(size, self.widths, self.jpeg_widths)
        source.needs_entry = True
        return source

    def _submit(self, source: _Source, entry: Path | None, cards) -> None:
        if self.pool is None:
            self.cache.mkdir(parents=True, exist_ok=True)
            (self.cache / CARDS).mkdir(exist_ok=True)
            self.pool = EncoderPool(self.cores)
            self.stats.workers = self.cores
        job = EncodeJob(str(source.path), str(entry) if entry else None, self.widths,
                        tuple((str(path), text) for path, text in cards), self.max_pixels,
                        threads=1, jpeg_widths=self.jpeg_widths)
        if entry is not None:
            source.job = len(self.jobs)
        future = self.pool.submit(job)
        self.jobs.append(_Job(source, job, future, tuple(path for path, _ in cards)))
        self.stats.jobs = len(self.jobs)
        future.add_done_callback(self._one_done)

    def _one_done(self, future) -> None:
        with self.lock:
            self.done += 1
            done, total = self.done, len(self.jobs)
        if self.on_progress is not None:
            self.on_progress(done, total)

    @property
    def outstanding(self) -> int:
        return len(self.jobs) - self.done

    # --- Finishing ----------------------------------------------------------------------

    def finish(self) -> tuple[EncodeStats, set[Path]]:
        """Wait for the encoder; the stats, and the sources whose outcome differs from the
        plan that pages were written with (they failed to decode, or came out otherwise)."""
        started = time.perf_counter()
        diverged: set[Path] = set()
        try:
            for job in self.jobs:
                result = outcome(job.future)
                source = job.source
                shown = self._shown(source.path)
                if shown not in self.stats.decoded_sources:
                    self.stats.decoded_sources.append(shown)
                if job.job.entry_dir is not None:
                    if result.manifest is not None:
                        self.stats.encoded_sources.append(shown)
                        if result.manifest != source.manifest:
                            diverged.add(source.path)
                            source.manifest = result.manifest
                self.stats.files_encoded += result.files_encoded
                self.stats.cards_drawn += result.cards_drawn
                self.stats.worker_cpu_seconds += result.cpu_seconds
                if result.error and not source.error:
                    source.error = result.error
                    diverged.add(source.path)
                elif result.error is None and job.job.entry_dir is not None \
                        and _load_manifest(Path(job.job.entry_dir)) is None:
                    source.error = f"an image the encoder can process (nothing was cached in {self.cache})"
                    diverged.add(source.path)
        finally:
            self.stats.wait_seconds = time.perf_counter() - started
            self.close()
        for cached in self.requested.values():
            source = self.sources[cached.source]
            if source.error:
                cached.error, cached.manifest = source.error, None
            elif cached.card_file is not None and not cached.card_file.is_file():
                cached.error = f"an image the encoder can process (nothing was cached in {self.cache})"
                diverged.add(cached.source)
            else:
                cached.manifest = source.manifest
            cached.pending = False
        return self.stats, diverged

    def close(self, wait: bool = True) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=wait)
            self.pool = None

    def _shown(self, path: Path) -> str:
        if self.relative_to is not None:
            try:
                return str(path.relative_to(Path(self.relative_to).resolve()))
            except ValueError:
                pass
        return str(path)

    # --- Pruning ------------------------------------------------------------------------

    def record_use(self, configuration: str) -> None:
        """Note the entries and cards this build used, for `prune`."""
        used = sorted({c.key for c in self.requested.values() if c.key}
                      | {f"{CARDS}/{c.card_key}.jpg" for c in self.requested.values() if c.card_key})
        atomic_write(self.cache / USED / f"{configuration}.json", json.dumps(used) + "\n")


def prune(cache: Path, now: float | None = None, grace: float = PRUNE_GRACE) -> int:
    """Remove derivatives and cards that no recent build of any configuration used.

    Each build records what it used (`PosterCache.record_use`); a record not
    renewed for RECORD_LIFETIME is dropped first. Entries younger than `grace`
    stay, so a build running now never loses what it is about to record.
    Returns how many entries and cards were removed.
    """
    cache = Path(cache)
    if not cache.is_dir():
        return 0
    now = time.time() if now is None else now
    keep: set[str] = set()
    for record in sorted((cache / USED).glob("*.json")):
        try:
            if now - record.stat().st_mtime > RECORD_LIFETIME:
                record.unlink()
                continue
            keep.update(json.loads(record.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    removed = 0
    candidates = [p for p in cache.iterdir() if p.name not in (CARDS, USED)]
    candidates += list((cache / CARDS).iterdir()) if (cache / CARDS).is_dir() else []
    for path in candidates:
        name = path.relative_to(cache).as_posix()
        key = name.removesuffix(FAILED)
        if key in keep or ".tmp-" in name:
            continue
        try:
            if now - path.stat().st_mtime < grace:
                continue
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def cache_posters(requests: Iterable[PosterRequest], cache: Path, widths=DEFAULT_WIDTHS,
                  max_pixels: int = DEFAULT_MAX_PIXELS, relative_to: Path | None = None,
                  jpeg_widths=DEFAULT_JPEG_WIDTHS, workers: int | None = None) -> tuple[list[Cached], EncodeStats]:
    """Make sure the cache holds derivatives and a card for each request, and wait for it.

    One `Cached` per request, in order, and what was done. (A build does not
    wait: it uses `PosterCache` directly.)
    """
    posters = PosterCache(cache, widths, jpeg_widths, max_pixels, relative_to, workers=workers)
    results = [posters.request(request) for request in requests]
    stats, _ = posters.finish()
    return results, stats


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
