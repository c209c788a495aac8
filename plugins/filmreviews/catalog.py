"""The catalog: attaches a Review to every article and ties reviews together.

Owns the per-article record (`article.review`), the report of review problems,
rewatch links between reviews of the same film, and `reviews.json`, the list of
review URLs other tools (the linkbacks receiver) accept as targets.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from pathlib import Path

from blinker import signal
from pelican.contents import Article, Content, Page
from pelican.readers import MarkdownReader

from reelnotes import contract
from reelnotes.files import write_if_changed

from .problems import Problem, report
from .review import parse_review, text_of_html

logger = logging.getLogger(__name__)

# Sent as soon as an article has its Review (sender None, article=...): the
# posters start encoding then, while the other reviews are still being read.
review_attached = signal("filmreviews_review_attached")


def display_path(content, settings) -> str:
    """The review's path as the writer knows it, e.g. content/reviews/her-2013.md."""
    root = Path(settings["PATH"])
    return str(Path(root.name) / content.relative_source_path)


def attach_review(content) -> None:
    """content_object_init: parse the front matter of each review once."""
    if not isinstance(content, (Article, Page)):
        return  # static files (posters) are content objects too
    # Every page needs plain text for <title>, meta tags and feeds.
    content.plain_title = text_of_html(getattr(content, "title", ""))
    content.plain_summary = text_of_html(getattr(content, "summary", ""))
    if not isinstance(content, Article):
        return
    settings = content.settings
    content.review = parse_review(
        content.metadata,
        display_path(content, settings),
        content_root=Path(settings["PATH"]),
    )
    # Drafts are checked once they are published. A review dated in the future
    # is checked now: it goes live on some later build, with no one looking.
    if content.status != "draft":
        for problem in content.review.problems:
            report(problem)
    review_attached.send(None, article=content)


def link_rewatches(generator) -> None:
    """article_generator_finalized: reviews of the same film point at each other."""
    by_film = defaultdict(list)
    for article in generator.articles:
        by_film[article.review.film_key].append(article)
    for article in generator.articles:
        # Publication order, so "Also reviewed" reads as a history of watching the film.
        same_film = sorted(by_film[article.review.film_key], key=lambda a: (a.date, a.slug))
        article.other_reviews = [a for a in same_film if a is not article]


def pin_urls(generators) -> None:
    """all_generators_finalized: work out each review's URL and output path once.

    Pelican formats them from the settings on every use, and a large archive
    uses them tens of thousands of times (cards, feeds, the sitemap). Nothing
    they depend on changes once every generator has its context, so they are
    kept as the same overrides a `URL:`/`Save_as:` front-matter line gives.
    """
    lists = ("articles", "translations", "hidden_articles", "hidden_translations",
             "pages", "translations", "hidden_pages", "hidden_translations")
    for generator in generators:
        for name in lists:
            for content in getattr(generator, name, None) or ():
                if not isinstance(content, Content):
                    continue  # e.g. the stats generator's own list of pages
                if not hasattr(content, "override_url"):
                    content.override_url = content.url
                if not hasattr(content, "override_save_as"):
                    content.override_save_as = content.save_as


def drop_unpublished_posters(generator) -> None:
    """static_generator_finalized: a draft's poster stays off the site until the review is on it."""
    context = generator.context
    def posters_of(key):
        return {a.review.poster for a in context.get(key, ()) if getattr(a, "review", None) and a.review.poster}
    unpublished = posters_of("drafts") - posters_of("articles") - posters_of("hidden_articles")
    # In place: Pelican copies from the same list, shared through its context.
    generator.staticfiles[:] = [f for f in generator.staticfiles if f.relative_source_path not in unpublished]


def write_reviews_index(generator, writer) -> None:
    """article_writer_finalized: write reviews.json listing every published review."""
    siteurl = generator.settings.get("SITEURL", "")
    # Replaced in one step (a running receiver never reads half a file), and
    # only when it changed.
    write_if_changed(Path(generator.output_path) / contract.REVIEWS_INDEX, contract.dump_reviews_index(siteurl, [
        contract.ReviewEntry(a.slug, f"{siteurl}/{a.url}", a.plain_title) for a in generator.articles
    ]))


class FrontMatterError(ValueError):
    """A front-matter value Pelican itself could not read (e.g. a bad Date)."""

    def __init__(self, field: str, value: str, expected: str):
        self.parts = (field, value, expected)
        super().__init__(f"{field}: {value!r}: expected {expected}")


def guard_metadata(readers) -> None:
    """readers_init: turn Pelican's bare parse errors into file/field/value messages.

    Pelican reads Date and Modified itself and, on a bad value, logs only
    "Could not process <file>". Each reader class is swapped for a subclass
    that names the file, the field and the expected form first.
    """
    for fmt, reader_class in list(readers.reader_classes.items()):
        if reader_class and not getattr(reader_class, "guarded_by_filmreviews", False):
            readers.reader_classes[fmt] = _guarded_reader(reader_class)


@functools.cache
def _guarded_reader(reader_class):
    class GuardedReader(reader_class):
        guarded_by_filmreviews = True

        def process_metadata(self, name, value):
            try:
                return super().process_metadata(name, value)
            except (ValueError, TypeError) as exc:
                expected = ("a date like 2024-03-02 or 2024-03-02 20:15"
                            if name in ("date", "modified") else f"a readable value ({exc})")
                raise FrontMatterError(name.capitalize(), str(value), expected) from None

        def read(self, source_path):
            try:
                return super().read(source_path)
            except FrontMatterError as exc:
                root = Path(self.settings["PATH"])
                shown = Path(root.name) / Path(source_path).resolve().relative_to(root.resolve())
                # Pelican then logs only "Could not process <file>"; say what is wrong first.
                report(Problem(str(shown), *exc.parts))
                raise

    # Pelican derives the "reader" metadata from the class name.
    GuardedReader.__name__ = GuardedReader.__qualname__ = reader_class.__name__
    return GuardedReader


def summaries_as_text(readers) -> None:
    """readers_init: a tag written in a Summary shows as text, never as HTML.

    Pelican renders the Summary with Markdown, which passes raw HTML through,
    and the theme prints that rendering as HTML (the review's lede). A Summary
    is one plain sentence: its Markdown may still emphasise or link.
    """
    for fmt, reader_class in list(readers.reader_classes.items()):
        if (reader_class and issubclass(reader_class, MarkdownReader)
                and not getattr(reader_class, "summary_as_text", False)):
            readers.reader_classes[fmt] = _text_summary_reader(reader_class)


@functools.cache
def _text_summary_reader(reader_class):
    class TextSummaryReader(reader_class):
        summary_as_text = True

        def _parse_metadata(self, meta):
            # The body is converted by now, so from here on this Markdown
            # instance renders only front matter (Pelican unregisters its
            # "meta" preprocessor here the same way).
            for registry, name in ((self._md.preprocessors, "html_block"),
                                   (self._md.inlinePatterns, "html")):
                if name in registry:
                    registry.deregister(name)
            return super()._parse_metadata(meta)

    # Pelican derives the "reader" metadata from the class name.
    TextSummaryReader.__name__ = TextSummaryReader.__qualname__ = reader_class.__name__
    return TextSummaryReader
