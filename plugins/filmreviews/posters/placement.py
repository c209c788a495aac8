"""What a build does with posters: the two Pelican signal handlers.

`attach_posters` reads the poster settings, asks the cache for every review
that will be written, reports each unusable source as a Poster problem naming
the review, the field and the value, and gives each review its `Poster` (or
None). `write_posters` places the cached files in the output under names that
change whenever their content does, so browsers may cache them forever.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from blinker import signal

from reelnotes.settings import setting

from ..catalog import display_path
from ..problems import Problem, report, report_settings
from ..social_card import CardText
from .cache import Cached, EncodeStats, PosterRequest, cache_posters
from .encode import EXTENSIONS, FORMATS
from .model import Poster, PosterImage, PosterSource

logger = logging.getLogger(__name__)

MIME_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg"}

# Sent by every build once the reviews have their posters: (generator, stats=EncodeStats).
# Tests and tools connect to it to learn what the build encoded.
posters_attached = signal("filmreviews_posters_attached")


def attach_posters(generator) -> None:
    """article_generator_pretaxonomy: give every review that will be written its Poster.

    Runs before article_generator_finalized so every handler there can rely on
    `article.poster`. Encodes only what the cache lacks, in a process pool.
    """
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

    requests = [PosterRequest(content_root / a.review.poster, _card_text(a)) for a in articles]
    try:
        results, stats = cache_posters(requests, cache, widths, max_pixels, relative_to=content_root)
    except OSError as exc:  # the cache folder itself cannot be made or read
        report(Problem("", "FILMREVIEWS_POSTER_CACHE", str(cache),
                       f"a folder the build can write ({exc.strerror or exc}); every review "
                       "shows a placeholder instead of its poster", kind="Poster"))
        posters_attached.send(generator, stats=EncodeStats(problems=len(articles)))
        return
    for article, cached in zip(articles, results, strict=True):
        if cached.error:
            stats.problems += 1
            _problem(article, article.review.poster, cached.error)
        else:
            article.poster = _poster(article, cached, output)
            stats.posters += 1
    posters_attached.send(generator, stats=stats)
    logger.info("Posters: %d ready, %d encoded (%d files, %d social cards), %d problems",
                stats.posters, len(stats.encoded_sources), stats.files_encoded,
                stats.cards_drawn, stats.problems)


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


def _written(generator) -> list:
    """Every article Pelican will write; drafts are never written, so never encoded."""
    lists = ("articles", "translations", "hidden_articles", "hidden_translations")
    return [article for name in lists for article in getattr(generator, name, [])]


def _problem(article, value: str, expected: str) -> None:
    report(Problem(display_path(article, article.settings), "Poster", value, expected, kind="Poster"))


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
