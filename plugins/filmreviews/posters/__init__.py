"""Posters: responsive image derivatives, social cards and `article.poster`.

Owns everything between a review's `Poster` file and the `<picture>` a reader
downloads, one job per module:

* `model`: the `Poster` templates, feeds and structured data read, and the
  `sizes` each layout gives the browser;
* `decode`: checking a source from its header (a huge image or a decompression
  bomb is refused before a single pixel is decoded) and decoding it to sRGB;
* `encode`: AVIF and WebP derivatives at FILMREVIEWS_POSTER_WIDTHS, the JPEG
  fallback at FILMREVIEWS_POSTER_JPEG_WIDTHS and the 1200×630 social card, in
  a process pool that works while the build goes on;
* `cache`: the cache keyed by the source's content and the encode settings, so
  an unchanged poster is never encoded twice;
* `placement`: the Pelican handlers that start encoding as each review is
  read, attach a `Poster` (or None) to every review that will be written and
  place the files in the output at the end.

Settings (all optional): FILMREVIEWS_POSTER_WIDTHS, FILMREVIEWS_POSTER_JPEG_WIDTHS,
FILMREVIEWS_POSTER_CACHE,
FILMREVIEWS_POSTER_OUTPUT, FILMREVIEWS_POSTER_MAX_PIXELS.
"""

from .model import SIZES, Poster, PosterImage, PosterSource
from .placement import abandon, attach_posters, finish_posters, posters_attached, request_early, start

__all__ = ["SIZES", "Poster", "PosterImage", "PosterSource", "abandon", "attach_posters", "finish_posters",
           "posters_attached", "request_early", "start"]
