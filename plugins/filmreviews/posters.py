"""Posters: responsive image derivatives, social cards and `article.poster`.

Owns everything between a review's `Poster` file and the `<picture>` a reader
downloads:

* checking the source (from its header first: a huge image or a decompression
  bomb is refused before a single pixel is decoded) and reporting each unusable
  one as a "Poster problem" naming the review, the field and the value;
* encoding AVIF, WebP and JPEG derivatives at FILMREVIEWS_POSTER_WIDTHS plus one
  1200×630 social card, in a process pool, into a cache keyed by the source's
  content and the encode settings, so an unchanged poster is never encoded twice;
* attaching a `Poster` (or None) to every review that will be written;
* placing the cached files under output/images/posters/derived/ with names that
  change whenever their content does, so browsers may cache them forever.

Settings (all optional): FILMREVIEWS_POSTER_WIDTHS, FILMREVIEWS_POSTER_CACHE,
FILMREVIEWS_POSTER_OUTPUT, FILMREVIEWS_POSTER_MAX_PIXELS.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .catalog import display_path
from reelnotes.settings import default, setting

from .problems import Problem, report, report_settings
from .social_card import CARD_DESIGN_VERSION, CARD_SIZE, CardText, draw_card

logger = logging.getLogger(__name__)

DEFAULT_WIDTHS = default("FILMREVIEWS_POSTER_WIDTHS")
DEFAULT_MAX_PIXELS = default("FILMREVIEWS_POSTER_MAX_PIXELS")

# Formats a poster may arrive in. Limiting Pillow to these keeps exotic
# decoders (and their bugs) away from files that merely end in .jpg.
SOURCE_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF")

# Output formats, best first: <source> order is the browser's preference order.
FORMATS = ("avif", "webp", "jpeg")
MIME_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}
EXTENSIONS = {"avif": "avif", "webp": "webp", "jpeg": "jpg"}
ENCODE_OPTIONS = {
    "avif": {"quality": 55, "speed": 8},
    "webp": {"quality": 78, "method": 4},
    "jpeg": {"quality": 80, "progressive": True, "optimize": True},
}
CARD_OPTIONS = {"quality": 85, "progressive": True, "optimize": True}
# Bump when the encoding changes in a way the options above do not show.
ENCODER_VERSION = 1

# How much room the poster takes on screen, for the browser to pick a width
# before layout. Kept here, next to the widths, so the two change together.
# Each slot follows theme/static/css/site.css (tests/test_browser.py measures
# them): the page has gutters of clamp(1rem, 4vw, 2.5rem) and is at most 76rem.
SIZES = {
    # .poster-grid: auto-fill columns of at least 8.25rem (10.5rem from 48rem),
    # gaps of clamp(1rem, 2vw, 1.75rem). One entry per column count, starting
    # where that count starts, because a card narrows by a third when one more
    # column fits.
    "small": ", ".join((
        "(min-width: 75.56rem) 11rem",  # 6 columns; 168-181 px
        "(min-width: 62.5rem) calc(18.4vw - 1rem)",  # 5
        "(min-width: 48.9rem) 21.5vw",  # 4
        "(min-width: 48rem) 14rem",  # 3, as the columns' minimum grows
        "(min-width: 39.13rem) calc(23vw - 0.75rem)",  # 4
        "(min-width: 29.08rem) calc(30.67vw - 0.67rem)",  # 3
        "(min-width: 19.5rem) calc(50vw - 1.5rem)",  # 2
        "calc(100vw - 2rem)",  # 1
    )),
    # .poster-card-large: beside the text in a 20rem column from 44rem; above
    # it, at most 17rem, or the whole width between the gutters.
    "large": "(min-width: 44rem) 20rem, (min-width: 19rem) 17rem, calc(100vw - 2rem)",
}

MANIFEST = "manifest.json"
FAILED = ".failed"  # beside an entry: why its source could not be decoded


# --- What templates, feeds and structured data read ---------------------------

@dataclass(frozen=True)
class PosterImage:
    """One derivative file: its URL (relative to the site root) and size."""

    url: str
    width: int
    height: int


@dataclass(frozen=True)
class PosterSource:
    """All widths of one format, for one `<source>` (or the `<img>` fallback)."""

    mime_type: str
    images: tuple[PosterImage, ...]  # narrowest first

    @property
    def srcset(self) -> str:
        """Candidates relative to the site root; pages prefix each with SITEURL."""
        return ", ".join(f"{image.url} {image.width}w" for image in self.images)


@dataclass(frozen=True)
class Poster:
    """A review's poster, ready for `<picture>`, Open Graph and feeds."""

    alt: str
    width: int  # intrinsic size of the largest derivative
    height: int
    sources: tuple[PosterSource, ...]  # AVIF, then WebP
    fallback: PosterSource  # JPEG, for <img> and for anything that needs one file type
    fallback_url: str
    social_card_url: str
    social_card_alt: str = ""
    social_card_width: int = CARD_SIZE[0]
    social_card_height: int = CARD_SIZE[1]
    # (cache file, URL) pairs the build places in the output folder.
    files: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    @property
    def fallback_srcset(self) -> str:
        return self.fallback.srcset

    @property
    def largest_jpeg_url(self) -> str:
        return self.fallback.images[-1].url

    def sizes_for(self, variant: str) -> str:
        """The `sizes` attribute for a layout: "small" (grid cards) or "large" (review header)."""
        try:
            return SIZES[variant]
        except KeyError:
            raise ValueError(f"poster variant {variant!r}: expected one of {', '.join(SIZES)}") from None


@dataclass
class EncodeStats:
    """What the last build did with posters; `ENCODE_STATS` holds the latest."""

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


ENCODE_STATS = EncodeStats()


class PosterError(Exception):
    """A source that cannot be used; the message says what was expected instead."""


# --- Work done in the pool (module-level, so worker processes can import it) ----

@dataclass(frozen=True)
class EncodeJob:
    source: str
    entry_dir: str | None  # cache folder for the derivatives; None when already cached
    widths: tuple[int, ...]
    cards: tuple[tuple[str, CardText], ...]  # (cache file, text) for each card to draw
    max_pixels: int
    threads: int


@dataclass
class EncodeResult:
    error: str | None = None
    files_encoded: int = 0
    cards_drawn: int = 0


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".rstrip("0").rstrip(".")


def _too_big(max_pixels: int, detail: str) -> PosterError:
    return PosterError(f"an image of at most {_megapixels(max_pixels)} megapixels ({detail})")


def open_checked(path: str | Path, max_pixels: int) -> Image.Image:
    """Open a poster lazily, refusing it from its header if it is not one we can use.

    Nothing is decoded here: Pillow reads the header, so the pixel count of a
    decompression bomb is known before any memory is spent on it.
    """
    try:
        with warnings.catch_warnings():
            # The pixel limit below is stricter than Pillow's warning threshold.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=SOURCE_FORMATS)
    except FileNotFoundError:
        raise PosterError("an existing file (it was not found when the build read it)") from None
    except Image.DecompressionBombError as exc:
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        detail = f"this one claims {_megapixels(int(claimed.group(1)))} megapixels" if claimed \
            else "this one is larger than Pillow's own safety limit"
        raise _too_big(max_pixels, detail) from None
    except UnidentifiedImageError:
        raise PosterError("a JPEG, PNG, WebP or AVIF image (Pillow does not recognise "
                          "this file as any of them)") from None
    except Exception as exc:  # a malformed header can fail in many ways; all mean the same
        raise PosterError(f"a readable image (its header is damaged: {exc})") from None
    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise PosterError(f"an image with a size (this one is {width}×{height})")
    if width * height > max_pixels:
        image.close()
        raise _too_big(max_pixels, f"this one is {width}×{height}, "
                                   f"{_megapixels(width * height)} megapixels")
    return image


def plan_widths(source_width: int, widths) -> tuple[int, ...]:
    """The widths to encode: never wider than the source, and at least one."""
    usable = sorted({w for w in widths if w <= source_width})
    return tuple(usable) or (source_width,)


def scaled_height(width: int, source_size: tuple[int, int]) -> int:
    source_width, source_height = source_size
    return max(1, round(width * source_height / source_width))


def _to_srgb(image: Image.Image) -> Image.Image:
    """Colour-managed conversion to plain sRGB, so dropping the profile keeps the colours."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            import io

            from PIL import ImageCms

            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            image = ImageCms.profileToProfile(image, source_profile, srgb, outputMode=mode)
        except Exception:  # a broken or unsupported profile: use the pixels as they are
            pass
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Posters are shown on a page: flatten transparency onto white.
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(flat, rgba)
    return image.convert("RGB")


def decode(path: str, max_pixels: int, largest_width: int) -> Image.Image:
    """Decode a checked source into an upright, metadata-free RGB image."""
    with open_checked(path, max_pixels) as image:
        full_size = image.size
        # JPEG can decode straight at a reduced scale: far less work for big sources.
        image.draft("RGB", (largest_width, scaled_height(largest_width, full_size)))
        try:
            image.load()
        except Exception as exc:  # truncated or corrupt data surfaces only here
            raise PosterError(f"a complete, readable image (decoding failed: {exc})") from None
        upright = ImageOps.exif_transpose(image)
        rgb = _to_srgb(upright)
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)  # a fresh image carries no EXIF, XMP or ICC data
    return clean


def _write_atomically(path: Path, data: bytes) -> None:
    staging = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    staging.write_bytes(data)
    os.replace(staging, path)


def _save(image: Image.Image, path: Path, fmt: str, threads: int) -> None:
    options = dict(ENCODE_OPTIONS[fmt])
    if fmt == "avif":
        options["max_threads"] = threads
    image.save(path, fmt.upper(), **options)


def encode_job(job: EncodeJob) -> EncodeResult:
    """Encode one source's missing derivatives and cards into the cache (runs in a worker)."""
    try:
        image = decode(job.source, job.max_pixels, max(job.widths))
    except Exception as exc:  # never a traceback for a bad image
        error = str(exc) if isinstance(exc, PosterError) else \
            f"a readable image (decoding failed: {type(exc).__name__}: {exc})"
        if job.entry_dir is not None:
            # Remembered like a success, so an unchanged broken file is not decoded again.
            _write_atomically(Path(job.entry_dir + FAILED), error.encode("utf-8"))
        return EncodeResult(error=error)
    result = EncodeResult()
    try:
        if job.entry_dir is not None:
            result.files_encoded = _encode_derivatives(image, Path(job.entry_dir), job.widths, job.threads)
        for card_path, text in job.cards:
            target = Path(card_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = target.with_name(f"{target.stem}.tmp-{os.getpid()}.jpg")
            draw_card(image, text).save(staging, "JPEG", **CARD_OPTIONS)
            os.replace(staging, target)
            result.cards_drawn += 1
    except Exception as exc:  # a full disk or an unwritable cache: not the image's fault, so not remembered
        result.error = f"an image the build can store (writing to the cache failed: {exc})"
    return result


def _encode_derivatives(image: Image.Image, entry: Path, widths, threads: int) -> int:
    # Written beside the entry and renamed into place: a half-written entry is
    # never mistaken for a cached one.
    staging = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
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
    except OSError:  # another build filled the same entry first: same content
        shutil.rmtree(staging, ignore_errors=True)
    return len(files)


# --- Planning in the build process ---------------------------------------------

@dataclass
class _Source:
    """One poster file as this build found it."""

    path: Path
    key: str = ""  # hash of the content and the encode settings
    content_hash: str = ""
    error: str | None = None


def _settings(settings) -> tuple[tuple[int, ...], Path, str, int]:
    problems = []
    widths = setting(settings, "FILMREVIEWS_POSTER_WIDTHS", problems)
    # Relative to the project root, which is the working directory during builds.
    cache = Path(setting(settings, "FILMREVIEWS_POSTER_CACHE", problems)).resolve()
    max_pixels = setting(settings, "FILMREVIEWS_POSTER_MAX_PIXELS", problems)
    report_settings(problems, "Poster")
    return tuple(sorted(set(widths))), cache, _output_dir(settings), max_pixels


def _output_dir(settings) -> str:
    return str(setting(settings, "FILMREVIEWS_POSTER_OUTPUT")).strip("/")


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


def _stem(poster_path: str) -> str:
    """A readable, URL-safe file-name stem, e.g. "her-2013"."""
    stem = re.sub(r"[^a-z0-9]+", "-", Path(poster_path).stem.lower()).strip("-")
    return stem or "poster"


def _card_text(article) -> CardText:
    review = article.review
    return CardText(
        title=review.movie,
        year=review.year,
        rating=review.rating,
        rating_label=review.rating_label,
        site=str(article.settings.get("SITENAME", "")),
    )


def _card_alt(review) -> str:
    film = f"{review.movie} ({review.year})" if review.year else review.movie
    return f"{film}, rated {review.rating_label}" if review.rating_label else film


def _written(generator) -> list:
    """Every article Pelican will write; drafts are never written, so never encoded."""
    lists = ("articles", "translations", "hidden_articles", "hidden_translations")
    return [article for name in lists for article in getattr(generator, name, [])]


def _problem(article, value: str, expected: str) -> None:
    report(Problem(display_path(article, article.settings), "Poster", value, expected, kind="Poster"))


def _run_jobs(jobs: list[EncodeJob], stats: EncodeStats) -> list[EncodeResult]:
    if not jobs:
        return []  # nothing to encode: no pool, no worker start-up
    workers = min(os.cpu_count() or 1, len(jobs))
    stats.workers = workers
    # Worker processes started fresh (spawn/forkserver) import this module by name.
    plugins_dir = str(Path(__file__).resolve().parent.parent)
    if plugins_dir not in sys.path:
        sys.path.append(plugins_dir)
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(encode_job, jobs))
    except BrokenProcessPool:
        # A worker died (out of memory, killed): report every job, never crash the build.
        return [EncodeResult(error="an image the encoder can process (the encoder process "
                                   "stopped while working on the posters)") for _ in jobs]


def _load_manifest(entry: Path) -> dict | None:
    try:
        return json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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


def cache_posters(requests, cache: Path, widths=DEFAULT_WIDTHS, max_pixels: int = DEFAULT_MAX_PIXELS,
                  relative_to: Path | None = None) -> tuple[list[Cached], EncodeStats]:
    """Make sure the cache holds derivatives and a card for each (source path, CardText).

    Sources are checked from their headers here; only what the cache lacks is
    decoded and encoded, in a process pool started only when there is work.
    Returns one `Cached` per request, in order, and what was done.
    `relative_to` shortens the source paths the stats list.
    """
    stats = EncodeStats()
    cache = Path(cache)
    widths = tuple(sorted(set(widths)))
    encode_settings = _fingerprint(widths=widths, formats=FORMATS, options=ENCODE_OPTIONS,
                                   version=ENCODER_VERSION, max_pixels=max_pixels)
    sources: dict[Path, _Source] = {}
    planned = []
    for path, text in requests:
        path = Path(path).resolve()
        if path not in sources:
            source = sources[path] = _Source(path)
            try:
                open_checked(path, max_pixels).close()
                source.content_hash = _file_hash(path)
                source.key = _hash(source.content_hash, encode_settings)
            except PosterError as exc:
                source.error = str(exc)
            except OSError as exc:
                source.error = f"a readable file ({exc.strerror or exc})"
            if source.key and Path(f"{cache / source.key}{FAILED}").is_file():
                source.error = Path(f"{cache / source.key}{FAILED}").read_text(encoding="utf-8")
        planned.append((sources[path], text))

    # One job per source with anything missing; the cards it needs ride along.
    jobs: dict[str, dict] = {}
    results = []
    for source, text in planned:
        cached = Cached(source.path)
        results.append(cached)
        if source.error:
            continue
        cached.key, cached.entry = source.key, cache / source.key
        cached.card_key = _hash(source.content_hash, _fingerprint(
            size=CARD_SIZE, options=CARD_OPTIONS, design=CARD_DESIGN_VERSION, text=asdict(text)))
        cached.card_file = cache / "cards" / f"{cached.card_key}.jpg"
        need_entry = not (cached.entry / MANIFEST).is_file()
        need_card = not cached.card_file.is_file()
        if need_entry or need_card:
            job = jobs.setdefault(source.key, {"source": source, "entry": None, "cards": {}})
            if need_entry:
                job["entry"] = str(cached.entry)
            if need_card:
                job["cards"][str(cached.card_file)] = text

    if jobs:
        cache.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    threads = max(1, cores // max(1, min(cores, len(jobs))))  # AVIF threads per worker
    encode_jobs = [EncodeJob(str(job["source"].path), job["entry"], widths,
                             tuple(job["cards"].items()), max_pixels, threads)
                   for job in jobs.values()]
    for job, result in zip(jobs.values(), _run_jobs(encode_jobs, stats)):
        source = job["source"]
        shown = _relative(source.path, relative_to) if relative_to else str(source.path)
        stats.decoded_sources.append(shown)
        if result.error:
            source.error = result.error
            continue
        if result.files_encoded:
            stats.encoded_sources.append(shown)
        stats.files_encoded += result.files_encoded
        stats.cards_drawn += result.cards_drawn

    manifests: dict[str, dict | None] = {}
    for cached, (source, _) in zip(results, planned):
        if source.error:
            cached.error = source.error
            continue
        if source.key not in manifests:
            manifests[source.key] = _load_manifest(cached.entry)
        cached.manifest = manifests[source.key]
        if cached.manifest is None or not cached.card_file.is_file():
            cached.error = f"an image the encoder can process (nothing was cached in {cache})"
    return results, stats


def _poster(article, cached: Cached, output: str) -> Poster:
    stem = _stem(article.review.poster)
    by_format: dict[str, list[PosterImage]] = {fmt: [] for fmt in FORMATS}
    files = []
    for item in sorted(cached.manifest["files"], key=lambda f: f["width"]):
        url = f"{output}/{stem}-{item['width']}-{cached.key[:10]}.{EXTENSIONS[item['format']]}"
        by_format[item["format"]].append(PosterImage(url, item["width"], item["height"]))
        files.append((str(cached.entry / item["name"]), url))
    card_url = f"{output}/{stem}-card-{cached.card_key[:10]}.jpg"
    files.append((str(cached.card_file), card_url))
    jpeg = PosterSource(MIME_TYPES["jpeg"], tuple(by_format["jpeg"]))
    largest = jpeg.images[-1]
    # <img src> is only for browsers without srcset: a mid-size file is a fair guess.
    fallback_image = ([i for i in jpeg.images if i.width <= 500] or list(jpeg.images))[-1]
    return Poster(
        alt=article.review.poster_alt,
        width=largest.width,
        height=largest.height,
        sources=tuple(PosterSource(MIME_TYPES[fmt], tuple(by_format[fmt])) for fmt in ("avif", "webp")),
        fallback=jpeg,
        fallback_url=fallback_image.url,
        social_card_url=card_url,
        social_card_alt=_card_alt(article.review),
        files=tuple(files),
    )


def attach_posters(generator) -> None:
    """article_generator_pretaxonomy: give every review that will be written its Poster.

    Runs before article_generator_finalized so every handler there can rely on
    `article.poster`. Encodes only what the cache lacks, in a process pool.
    """
    global ENCODE_STATS
    settings = generator.settings
    widths, cache, output, max_pixels = _settings(settings)
    content_root = Path(settings["PATH"])

    for draft in getattr(generator, "drafts", []) + getattr(generator, "drafts_translations", []):
        draft.poster = None
    articles = []
    for article in _written(generator):
        article.poster = None
        review = getattr(article, "review", None)
        if review is not None and review.poster is not None:
            articles.append(article)
        # Otherwise there is no Poster line or the file is missing: the review model said so.

    requests = [(content_root / a.review.poster, _card_text(a)) for a in articles]
    try:
        results, stats = cache_posters(requests, cache, widths, max_pixels, relative_to=content_root)
    except OSError as exc:  # the cache folder itself cannot be made or read
        report(Problem("", "FILMREVIEWS_POSTER_CACHE", str(cache),
                       f"a folder the build can write ({exc.strerror or exc}); every review "
                       "shows a placeholder instead of its poster", kind="Poster"))
        ENCODE_STATS = EncodeStats(problems=len(articles))
        return
    for article, cached in zip(articles, results):
        if cached.error:
            stats.problems += 1
            _problem(article, article.review.poster, cached.error)
        else:
            article.poster = _poster(article, cached, output)
            stats.posters += 1
    ENCODE_STATS = stats
    logger.info("Posters: %d ready, %d encoded (%d files, %d social cards), %d problems",
                stats.posters, len(stats.encoded_sources), stats.files_encoded,
                stats.cards_drawn, stats.problems)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _place(source: Path, target: Path) -> None:
    """Hard-link a cached file into the output, copying where links are impossible."""
    if target.exists():
        if target.stat().st_size == source.stat().st_size:
            return  # the name carries the content hash: same name, same file
        target.unlink()
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, target)


def write_posters(generator, writer) -> None:
    """article_writer_finalized: place this build's derivatives in the output folder.

    The derived folder belongs to this module: files no review uses any more are removed.
    """
    output = _output_dir(generator.settings)
    target_dir = Path(generator.output_path) / output
    wanted: dict[str, Path] = {}
    for article in _written(generator):
        poster = getattr(article, "poster", None)
        if poster is not None:
            for cache_file, url in poster.files:
                wanted[url] = Path(cache_file)
    if not wanted and not target_dir.exists():
        return
    target_dir.mkdir(parents=True, exist_ok=True)
    for url, cache_file in wanted.items():
        _place(cache_file, Path(generator.output_path) / url)
    keep = {Path(url).name for url in wanted}
    for stale in target_dir.iterdir():
        if stale.is_file() and stale.name not in keep:
            stale.unlink()
