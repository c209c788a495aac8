"""The catalog: attaches a Review to every article and ties reviews together.

Owns the per-article record (`article.review`), the report of review problems,
rewatch links between reviews of the same film, and `reviews.json`, the list of
review URLs other tools (the linkbacks receiver) accept as targets.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

from pelican.contents import Article

from .review import parse_review, plain_text

logger = logging.getLogger(__name__)

PROBLEM_PREFIX = "Review problem"


def display_path(content, settings) -> str:
    """The review's path as the writer knows it, e.g. content/reviews/her-2013.md."""
    root = Path(settings["PATH"])
    return str(Path(root.name) / content.relative_source_path)


def attach_review(content) -> None:
    """content_object_init: parse the front matter of each review once."""
    if not isinstance(content, Article):
        return
    settings = content.settings
    content.review = parse_review(
        content.metadata,
        display_path(content, settings),
        content_root=Path(settings["PATH"]),
    )
    content.plain_title = plain_text(content.title)
    content.plain_summary = plain_text(getattr(content, "summary", ""))
    if content.status == "published":
        for problem in content.review.problems:
            logger.warning("%s: %s", PROBLEM_PREFIX, problem)


def link_rewatches(generator) -> None:
    """article_generator_finalized: reviews of the same film point at each other."""
    by_film = defaultdict(list)
    for article in generator.articles:
        by_film[article.review.film_key].append(article)
    for article in generator.articles:
        article.other_reviews = [a for a in by_film[article.review.film_key] if a is not article]


def write_reviews_index(generator, writer) -> None:
    """article_writer_finalized: write reviews.json listing every published review."""
    siteurl = generator.settings.get("SITEURL", "")
    index = {
        "site_url": siteurl,
        "reviews": [
            {"slug": a.slug, "url": f"{siteurl}/{a.url}", "title": a.plain_title}
            for a in generator.articles
        ],
    }
    path = Path(generator.output_path) / "reviews.json"
    path.write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
