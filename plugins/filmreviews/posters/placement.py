"""What a build does with posters: the Pelican signal handlers.

A review's poster is handed to the cache (`PosterCache`) as soon as the
review is read (`request_early`), so encoding runs in worker processes while
Pelican reads and writes. `attach_posters` gives every review that will be
written its `Poster` (or None, reporting the source as a Poster problem that
names the review, the field and the value); pages name the derivatives
before they exist, from the plan the encoder follows. `finish_posters`, once
everything else is written, waits for the encoder, places the files in the
output under names that change whenever their content does (so browsers may
cache them forever), and removes the files no review uses any more.

A source that passes the header check but cannot be decoded is only found
out by the encoder, after pages showing it were written: it is reported, and
`rebuild_needed` tells the caller (blogtools.build) to build once more, which
then shows the placeholder.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
from pathlib import Path

from blinker import signal

from reelnotes.files import place
from reelnotes.settings import setting

from .. import progress
from ..catalog import display_path
from ..problems import Problem, report, report_settings
from ..social_card import CardText
from .cache import Cached, EncodeStats, PosterCache, PosterRequest, prune
from .encode import EXTENSIONS, FORMATS
from .model import Poster, PosterImage, PosterSource

logger = logging.getLogger(__name__)

MIME_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}

# Sent by every build once its posters are encoded and placed: (generator, stats=EncodeStats).
# Tests and tools connect to it to learn what the build encoded.
posters_attached = signal("filmreviews_posters_attached")


class _Build:
    """The posters of one build."""

    def __init__(self, settings):
        widths, jpeg_widths, cache, self.output, max_pixels = _settings(settings)
        self.content_root = Path(settings["PATH"])
        self.with_future_dates = settings.get("WITH_FUTURE_DATES", True)
        self.cache = PosterCache(cache, widths, jpeg_widths, max_pixels, relative_to=self.content_root,
                                 on_progress=progress.posters)
        self.configuration = hashlib.sha256(
            repr((str(self.content_root.resolve()), widths, jpeg_widths, max_pixels)).encode()).hexdigest()[:16]
        self.articles: list = []  # every article that will be written
        self.generator = None
        self.reported: set[int] = set()  # id() of articles whose poster problem is reported


_build: _Build | None = None
rebuild_needed = False  # set by a build whose pages show a poster that turned out unusable
_carried = EncodeStats()  # the work of a build that is being redone, counted in the next one


def start(pelican) -> None:
    """initialized: a new build, with nothing encoding yet."""
    global _build, rebuild_needed
    abandon()
    rebuild_needed = False
    _build = None


def _current(settings) -> _Build:
    global _build
    if _build is None:
        _build = _Build(settings)
    return _build


def request_early(sender, article) -> None:
    """review_attached: start encoding a review's poster the moment the review is read."""
    review = article.review
    if review.poster is None or getattr(article, "status", "") == "draft":
        return
    build = _current(article.settings)
    date = getattr(article, "date", None)
    if not build.with_future_dates and date is not None and date > _now(date):
        return  # it will be a draft: WITH_FUTURE_DATES holds it back
    try:
        build.cache.request(_request(build, article))
    except OSError:
        pass  # the cache folder cannot be used: attach_posters reports it


def attach_posters(generator) -> None:
    """article_generator_pretaxonomy: give every review that will be written its Poster.

    Runs before article_generator_finalized so every handler there can rely on
    `article.poster`. Never waits for the encoder.
    """
    build = _current(generator.settings)
    build.generator = generator
    for draft in getattr(generator, "drafts", []) + getattr(generator, "drafts_translations", []):
        draft.poster = None
    build.articles = _written(generator)
    with_poster = []
    for article in build.articles:
        article.poster = None
        review = getattr(article, "review", None)
        if review is not None and review.poster is not None:
            with_poster.append(article)
        # Otherwise there is no Poster line or the file is missing: the review model said so.
    try:
        results = [build.cache.request(_request(build, article)) for article in with_poster]
    except OSError as exc:  # the cache folder itself cannot be made or read
        report(Problem("", "FILMREVIEWS_POSTER_CACHE", str(build.cache.cache),
                       f"a folder the build can write ({exc.strerror or exc}); every review "
                       "shows a placeholder instead of its poster", kind="Poster"))
        build.cache.close(wait=False)
        build.articles = []
        return
    for article, cached in zip(with_poster, results, strict=True):
        if cached.error:
            _problem(build, article, cached.error)
        else:
            article.poster = _poster(article, cached, build.output)
    if build.cache.outstanding:
        progress.phase(f"Posters: encoding {build.cache.outstanding} in {build.cache.cores} processes "
                       "while the pages are written")


def finish_posters(pelican) -> None:
    """finalized: wait for the encoder, then place this build's derivatives in the output.

    The derived folder belongs to this module: files no review uses any more are removed.
    """
    global _build, rebuild_needed, _carried
    build, _build = _build, None
    if build is None:
        return
    if build.cache.outstanding:
        progress.phase(f"Posters: waiting for the last {build.cache.outstanding} encodes")
    stats, diverged = build.cache.finish()
    wanted: dict[str, Path] = {}
    for article in build.articles:
        poster = getattr(article, "poster", None)
        if poster is None:
            continue
        cached = build.cache.request(_request(build, article))  # the same answer, now final
        if cached.error:
            _problem(build, article, cached.error)
            article.poster = None
            continue
        stats.posters += 1
        for cache_file, url in _poster(article, cached, build.output).files:
            wanted[url] = Path(cache_file)
    stats.problems = len(build.reported)
    _place_all(Path(pelican.output_path), build.output, wanted)
    try:
        build.cache.record_use(build.configuration)
        prune(build.cache.cache)
    except OSError as exc:
        logger.info("Poster cache not pruned: %s", exc.strerror or exc)
    if diverged & {Path(build.content_root / a.review.poster).resolve() for a in build.articles
                   if getattr(a, "review", None) and a.review.poster}:
        # Pages name derivatives of a poster that came out otherwise: they must be written again.
        rebuild_needed = True
        stats.add(_carried)
        _carried = stats
        logger.warning("Posters: %d poster(s) turned out unusable after the pages were written; "
                       "building again shows their placeholders", len(diverged))
        return
    stats.add(_carried)
    _carried = EncodeStats()
    posters_attached.send(build.generator, stats=stats)
    progress.phase(f"Posters: {stats.posters:,} placed, {len(stats.encoded_sources):,} encoded in this build"
                   + (f", {stats.problems} with problems" if stats.problems else ""))
    logger.info("Posters: %d ready, %d encoded (%d files, %d social cards) in %d jobs, %d problems; "
                "waited %.1f s for the encoder at the end", stats.posters, len(stats.encoded_sources),
                stats.files_encoded, stats.cards_drawn, stats.jobs, stats.problems, stats.wait_seconds)


def abandon(*args, **kwargs) -> None:
    """A build that stopped half-way: stop its encoder (finished entries stay cached)."""
    global _build
    build, _build = _build, None
    if build is not None:
        build.cache.close(wait=False)


def forget_carried() -> None:
    """The caller will not build again: forget the work of a build that was to be redone."""
    global _carried, rebuild_needed
    _carried, rebuild_needed = EncodeStats(), False


def _place_all(output_root: Path, output: str, wanted: dict[str, Path]) -> None:
    target_dir = output_root / output
    if not wanted and not target_dir.exists():
        return
    target_dir.mkdir(parents=True, exist_ok=True)
    for url, cache_file in wanted.items():
        place(cache_file, output_root / url)
    keep = {Path(url).name for url in wanted}
    for stale in target_dir.iterdir():
        if stale.is_file() and stale.name not in keep:
            stale.unlink()


def _settings(settings) -> tuple[tuple[int, ...], tuple[int, ...], Path, str, int]:
    problems = []
    widths = setting(settings, "FILMREVIEWS_POSTER_WIDTHS", problems)
    jpeg_widths = setting(settings, "FILMREVIEWS_POSTER_JPEG_WIDTHS", problems)
    # Relative to the project root, which is the working directory during builds.
    cache = Path(setting(settings, "FILMREVIEWS_POSTER_CACHE", problems)).resolve()
    max_pixels = setting(settings, "FILMREVIEWS_POSTER_MAX_PIXELS", problems)
    report_settings(problems, "Poster")
    return (tuple(sorted(set(widths))), tuple(sorted(set(jpeg_widths))), cache, _output_dir(settings),
            max_pixels)


def _output_dir(settings) -> str:
    return str(setting(settings, "FILMREVIEWS_POSTER_OUTPUT")).strip("/")


def _now(date: datetime.datetime) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) if date.tzinfo else datetime.datetime.now()


def _written(generator) -> list:
    """Every article Pelican will write; drafts are never written, so never encoded."""
    lists = ("articles", "translations", "hidden_articles", "hidden_translations")
    return [article for name in lists for article in getattr(generator, name, [])]


def _request(build: _Build, article) -> PosterRequest:
    return PosterRequest(build.content_root / article.review.poster, _card_text(article))


def _problem(build: _Build, article, expected: str) -> None:
    if id(article) in build.reported:
        return
    build.reported.add(id(article))
    report(Problem(display_path(article, article.settings), "Poster", article.review.poster, expected,
                   kind="Poster"))


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


def _stem(poster_path: str) -> str:
    """A readable, URL-safe file-name stem, e.g. "her-2013"."""
    stem = re.sub(r"[^a-z0-9]+", "-", Path(poster_path).stem.lower()).strip("-")
    return stem or "poster"


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
    largest = max((image for images in by_format.values() for image in images), key=lambda i: i.width)
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
