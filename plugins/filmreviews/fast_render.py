"""What the live preview's fast pass needs to know about a review.

`invoke livereload` re-reads one saved review and renders its page from the
last full build kept in memory, before a full build catches up. That is only
right when the edit leaves everything *between* reviews as it was: browse
pages, rewatch links, related reviews and the poster are worked out across
all reviews, so a change to what they depend on waits for the full build.
This module says which fields those are (`placement`) and redoes what belongs
to the review alone (`refresh`).
"""

from __future__ import annotations

from .linkbacks import site_root_url, trackback_rdf


def placement(content) -> tuple:
    """The review fields other pages are built from: genres, directors, year
    and decade (browse pages, related reviews), the film (rewatch links) and
    the poster file and its alt text (the poster and social card files).

    Rating, title, summary and text are not here: they show on the review's
    own page and in cards, which are rendered from the review itself. The
    social card drawn with the rating follows in the full build.
    """
    review = getattr(content, "review", None)
    if review is None:
        return ()
    return (review.film_key, review.genres, review.directors, review.year,
            review.poster, review.poster_alt)


def refresh(content, settings) -> None:
    """Redo what the plugin derives from one review alone, after it was re-read:
    the TrackBack block names the review's title."""
    if getattr(content, "review", None) is not None and hasattr(content, "trackback_url"):
        content.trackback_rdf = trackback_rdf(f"{site_root_url(settings)}/{content.url}", content.plain_title,
                                              content.trackback_url)
