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
import time
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
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
ENCODER_VERSION = 2  # 2: the JPEG fallback at its own widths

MANIFEST = "manifest.json"  # in an entry: the size of the source and every file
FAILED = ".failed"  # beside an entry: why its source could not be decoded


@dataclass(frozen=True)
class EncodeJob:
    """Everything one source still needs, as plain data a worker process can receive."""

    source: str
    entry_dir: str | None  # cache folder for the derivatives; None when already cached
    widths: tuple[int, ...]  # AVIF and WebP
    cards: tuple[tuple[str, CardText], ...]  # (cache file, text) for each card to draw
    max_pixels: int
    threads: int  # AVIF encoder threads
    jpeg_widths: tuple[int, ...] = ()  # the JPEG fallback; empty: the same as `widths`


@dataclass
class EncodeResult:
    error: str | None = None
    files_encoded: int = 0
    cards_drawn: int = 0
    manifest: dict | None = None  # the entry's manifest, when this job wrote it
    cpu_seconds: float = 0.0  # the worker's CPU time for this job


def plan_widths(source_width: int, widths) -> tuple[int, ...]:
    """The widths to encode: never wider than the source, and at least one."""
    usable = sorted({w for w in widths if w <= source_width})
    return tuple(usable) or (source_width,)


def plan_files(size: tuple[int, int], widths, jpeg_widths=()) -> list[dict]:
    """Every derivative of an upright source of `size`: format, width, height and file name.

    AVIF and WebP at every width; the JPEG fallback at `jpeg_widths` only.
    The encoder writes exactly these, and the build names them in pages
    before the encoder has finished, so both use this one plan.
    """
    files = []
    for fmt in FORMATS:
        for width in plan_widths(size[0], (jpeg_widths or widths) if fmt == "jpeg" else widths):
            files.append({"format": fmt, "width": width, "height": scaled_height(width, size),
                          "name": f"{width}.{EXTENSIONS[fmt]}"})
    return files


def manifest_for(size: tuple[int, int], widths, jpeg_widths=()) -> dict:
    return {"width": size[0], "height": size[1], "files": plan_files(size, widths, jpeg_widths)}


def largest_width(widths, jpeg_widths=()) -> int:
    return max(tuple(widths) + tuple(jpeg_widths))


class EncoderPool:
    """Worker processes that encode while the build goes on.

    Jobs are handed over one at a time as the build finds them; each comes
    back as a Future. Workers are started from a fork server, never forked
    from the build itself: the build has threads (the search indexer), and
    forking a process with threads can leave a lock held forever.
    """

    def __init__(self, workers: int):
        import multiprocessing

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["filmreviews.posters.encode"])
        self.workers = workers
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def submit(self, job: EncodeJob) -> Future:
        return self.executor.submit(encode_job, job)

    def shutdown(self, wait: bool = True) -> None:
        self.executor.shutdown(wait=wait, cancel_futures=not wait)


def outcome(future: Future) -> EncodeResult:
    """A finished job's result; a worker that died is the image's problem, never a crash."""
    try:
        return future.result()
    except (BrokenProcessPool, CancelledError):
        return EncodeResult(error="an image the encoder can process (the encoder process "
                                  "stopped while working on the posters)")


def run_jobs(jobs: list[EncodeJob], workers: int) -> list[EncodeResult]:
    """Run the jobs in a pool of `workers` processes; one result per job, in order."""
    pool = EncoderPool(workers)
    try:
        return [outcome(future) for future in [pool.submit(job) for job in jobs]]
    finally:
        pool.shutdown()


def encode_job(job: EncodeJob) -> EncodeResult:
    """Encode one source's missing derivatives and cards into the cache (runs in a worker)."""
    started = time.process_time()
    result = _encode(job)
    result.cpu_seconds = time.process_time() - started
    return result


def _encode(job: EncodeJob) -> EncodeResult:
    try:
        image = decode(job.source, job.max_pixels, largest_width(job.widths, job.jpeg_widths))
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
            result.manifest = _encode_derivatives(image, Path(job.entry_dir), job.widths, job.jpeg_widths,
                                                  job.threads)
            result.files_encoded = len(result.manifest["files"])
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


def _encode_derivatives(image: Image.Image, entry: Path, widths, jpeg_widths, threads: int) -> dict:
    # Written beside the entry and renamed into place: a half-written entry is
    # never mistaken for a cached one, and a failed one leaves nothing behind.
    staging = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest = manifest_for(image.size, widths, jpeg_widths)
        resized = {}
        for item in manifest["files"]:
            width, height = item["width"], item["height"]
            if width not in resized:
                resized[width] = image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0) \
                    if width != image.width else image
            _save(resized[width], staging / item["name"], item["format"], threads)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        try:
            staging.rename(entry)
        except OSError:
            if not (entry / MANIFEST).is_file():
                raise
            # Another build filled the same entry first: same content.
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the rename worked
    return manifest
