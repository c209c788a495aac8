"""What templates, feeds and structured data read about a review's poster.

`article.poster` is a `Poster` (or None when the source was refused): every
derivative's URL and size, grouped by format for `<picture>`, the social card,
and the `sizes` attribute for each layout a poster appears in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..social_card import CARD_SIZE

# How much room the poster takes on screen, for the browser to pick a width
# before layout. Each slot follows theme/static/css/site.css (tests/test_browser.py
# measures them): the page has gutters of clamp(1rem, 4vw, 2.5rem) and is at most
# 76rem. FILMREVIEWS_POSTER_WIDTHS should cover these slots at 1x and 2x.
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


@dataclass(frozen=True)
class Poster:
    """A review's poster, ready for `<picture>`, Open Graph and feeds."""

    alt: str
    width: int  # intrinsic size of the largest derivative
    height: int
    sources: tuple[PosterSource, ...]  # AVIF, then WebP
    fallback: PosterSource  # JPEG (FILMREVIEWS_POSTER_JPEG_WIDTHS), for <img> and anything that needs one file type
    fallback_url: str
    social_card_url: str
    social_card_alt: str = ""
    social_card_width: int = CARD_SIZE[0]
    social_card_height: int = CARD_SIZE[1]
    # (cache file, URL) pairs the build places in the output folder.
    files: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    @property
    def largest_jpeg_url(self) -> str:
        return self.fallback.images[-1].url

    @property
    def thumbnail_url(self) -> str:
        """The smallest WebP (every browser running the search shows WebP), else the smallest JPEG."""
        webp = [source for source in self.sources if source.mime_type == "image/webp" and source.images]
        return (webp[0] if webp else self.fallback).images[0].url

    def sizes_for(self, variant: str) -> str:
        """The `sizes` attribute for a layout: "small" (grid cards) or "large" (review header)."""
        try:
            return SIZES[variant]
        except KeyError:
            raise ValueError(f"poster variant {variant!r}: expected one of {', '.join(SIZES)}") from None
