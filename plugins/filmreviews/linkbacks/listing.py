"""The plugin side of linkbacks: approved responses attached to their reviews.

Reads the data files under content/<FILMREVIEWS_LINKBACKS_PATH>/ (written by
`invoke linkbacks.export` or by hand) and gives each review what its page shows:
the approved linkbacks, their count, and the endpoints it advertises.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..problems import Problem, report
from .records import DEFAULT_SUBDIR, LinkbackDataError, endpoint_urls, load_file, trackback_rdf

logger = logging.getLogger(__name__)



def site_root_url(settings) -> str:
    """Absolute base for permalinks: SITEURL in production, FEED_DOMAIN in the preview."""
    return (settings.get("SITEURL") or settings.get("FEED_DOMAIN") or "").rstrip("/")


def attach_linkbacks(generator) -> None:
    """article_generator_finalized: give every published review its responses."""
    settings = generator.settings
    content_dir = Path(os.path.relpath(settings["PATH"]))
    folder = content_dir / settings.get("FILMREVIEWS_LINKBACKS_PATH", DEFAULT_SUBDIR)
    known = {article.slug for article in generator.articles}
    by_slug = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            slug, linkbacks = load_file(path, known)
        except LinkbackDataError as exc:
            report(Problem(str(exc), kind="Linkback"))
            continue
        by_slug[slug] = linkbacks
    for article in generator.articles:
        article.linkbacks = by_slug.get(article.slug, [])
        article.linkback_count = len(article.linkbacks)
        advertise_endpoints(article, settings)


def advertise_endpoints(article, settings) -> None:
    """The endpoint URLs a review page advertises, and its TrackBack block (which
    names the review's title, so the live preview redoes it when a title changes)."""
    urls = endpoint_urls(settings.get("FILMREVIEWS_LINKBACKS_ENDPOINT", ""), article.slug)
    article.trackback_url = urls["trackback_url"]
    article.pingback_url = urls["pingback_url"]
    article.webmention_url = urls["webmention_url"]
    article.trackback_rdf = trackback_rdf(f"{site_root_url(settings)}/{article.url}", article.plain_title,
                                          article.trackback_url)
