"""The plugin side of linkbacks: approved responses attached to their reviews.

Reads the data files under content/<FILMREVIEWS_LINKBACKS_PATH>/ (written by
`invoke linkbacks.export` or by hand) and gives each review what its page shows:
the approved linkbacks, their count, and the endpoints it advertises.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .records import DEFAULT_SUBDIR, LinkbackDataError, endpoint_urls, load_file, trackback_rdf

logger = logging.getLogger(__name__)

PROBLEM_PREFIX = "Linkback problem"


def site_root_url(settings) -> str:
    """Absolute base for permalinks: SITEURL in production, FEED_DOMAIN in the preview."""
    return (settings.get("SITEURL") or settings.get("FEED_DOMAIN") or "").rstrip("/")


def attach_linkbacks(generator) -> None:
    """article_generator_finalized: give every published review its responses."""
    settings = generator.settings
    content_dir = Path(os.path.relpath(settings["PATH"]))
    folder = content_dir / settings.get("FILMREVIEWS_LINKBACKS_PATH", DEFAULT_SUBDIR)
    # A draft may already have responses (imported ones, or a review taken
    # offline): its file is valid and waits, unlisted, until it is published.
    known = {article.slug for article in
             (*generator.articles, *getattr(generator, "drafts", ()), *getattr(generator, "hidden_articles", ()))}
    by_slug = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            slug, linkbacks = load_file(path, known)
        except LinkbackDataError as exc:
            logger.warning("%s: %s", PROBLEM_PREFIX, exc)
            continue
        by_slug[slug] = linkbacks
    endpoint = settings.get("FILMREVIEWS_LINKBACKS_ENDPOINT", "")
    base = site_root_url(settings)
    for article in generator.articles:
        article.linkbacks = by_slug.get(article.slug, [])
        article.linkback_count = len(article.linkbacks)
        urls = endpoint_urls(endpoint, article.slug)
        article.trackback_url = urls["trackback_url"]
        article.pingback_url = urls["pingback_url"]
        article.webmention_url = urls["webmention_url"]
        article.trackback_rdf = trackback_rdf(f"{base}/{article.url}", article.plain_title,
                                              article.trackback_url)
