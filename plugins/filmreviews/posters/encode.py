"""Encoding: AVIF, WebP and JPEG derivatives and the social card, in a process pool.

Owns the output formats and their options, the layout of one cache entry (a
folder of derivatives with a manifest) and the work a worker process does for
one source. Everything here runs in workers, so it is module-level and takes
plain data (`EncodeJob`); it never touches Pelican.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from reelnotes.files import atomic_write

from ..social_card import CardText, draw_card
from .decode import PosterError, decode, scaled_height

# Output formats, best first: <source> order is the browser's preference order.
FORMATS = ("avif", "webp", "jpeg")
EXTENSIONS = {"avif": "avif", "webp": "webp", "jpeg": "jpg"}
ENCODE_OPTIONS = {
    "avif": {"quality": 55, "speed": 8},
    "webp": {"quality": 78, "method": 4},
    "jpeg": {"quality": 80, "progressive": True, "optimize": True},
}
CARD_OPTIONS = {"quality": 85, "progressive": True, "optimize": True}
# Bump when the encoding changes in a way the options above do not show.
ENCODER_VERSION = 1

MANIFEST = "manifest.json"  # in an entry: the size of the source and every file
FAILED = ".failed"  # beside an entry: why its source could not be decoded


@dataclass(frozen=True)
class EncodeJob:
    """Everything one source still needs, as plain data a worker process can receive."""

    source: str
    entry_dir: str | None  # cache folder for the derivatives; None when already cached
    widths: tuple[int, ...]
    cards: tuple[tuple[str, CardText], ...]  # (cache file, text) for each card to draw
    max_pixels: int
    threads: int  # AVIF encoder threads


@dataclass
class EncodeResult:
    error: str | None = None
    files_encoded: int = 0
    cards_drawn: int = 0


def plan_widths(source_width: int, widths) -> tuple[int, ...]:
    """The widths to encode: never wider than the source, and at least one."""
    usable = sorted({w for w in widths if w <= source_width})
    return tuple(usable) or (source_width,)


def run_jobs(jobs: list[EncodeJob], workers: int) -> list[EncodeResult]:
    """Run the jobs in a pool of `workers` processes; one result per job, in order."""
    # Worker processes started fresh (spawn/forkserver) import this module by
    # name: the project is installed, so they find it like any package.
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(encode_job, jobs))
    except BrokenProcessPool:
        # A worker died (out of memory, killed): report every job, never crash the build.
        return [EncodeResult(error="an image the encoder can process (the encoder process "
                                   "stopped while working on the posters)") for _ in jobs]


def encode_job(job: EncodeJob) -> EncodeResult:
    """Encode one source's missing derivatives and cards into the cache (runs in a worker)."""
    try:
        image = decode(job.source, job.max_pixels, max(job.widths))
    except Exception as exc:  # never a traceback for a bad image
        error = str(exc) if isinstance(exc, PosterError) else \
            f"a readable image (decoding failed: {type(exc).__name__}: {exc})"
        if job.entry_dir is not None:
            # Remembered like a success, so an unchanged broken file is not decoded again.
            atomic_write(job.entry_dir + FAILED, error)
        return EncodeResult(error=error)
    result = EncodeResult()
    try:
        if job.entry_dir is not None:
            result.files_encoded = _encode_derivatives(image, Path(job.entry_dir), job.widths, job.threads)
        for card_path, text in job.cards:
            card = io.BytesIO()
            draw_card(image, text).save(card, "JPEG", **CARD_OPTIONS)
            atomic_write(card_path, card.getvalue())
            result.cards_drawn += 1
    except Exception as exc:  # a full disk or an unwritable cache: not the image's fault, so not remembered
        result.error = f"an image the build can store (writing to the cache failed: {exc})"
    return result


def _save(image: Image.Image, path: Path, fmt: str, threads: int) -> None:
    options = dict(ENCODE_OPTIONS[fmt])
    if fmt == "avif":
        options["max_threads"] = threads
    image.save(path, fmt.upper(), **options)


def _encode_derivatives(image: Image.Image, entry: Path, widths, threads: int) -> int:
    # Written beside the entry and renamed into place: a half-written entry is
    # never mistaken for a cached one, and a failed one leaves nothing behind.
    staging = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        files = []
        for width in plan_widths(image.width, widths):
            height = scaled_height(width, image.size)
            resized = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0) \
                if width != image.width else image
            for fmt in FORMATS:
                name = f"{width}.{EXTENSIONS[fmt]}"
                _save(resized, staging / name, fmt, threads)
                files.append({"format": fmt, "width": width, "height": height, "name": name})
        manifest = {"width": image.width, "height": image.height, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            staging.rename(entry)
        except OSError:
            if not (entry / MANIFEST).is_file():
                raise
            # Another build filled the same entry first: same content.
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the rename worked
    return len(files)
