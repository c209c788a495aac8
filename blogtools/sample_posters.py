"""Generate placeholder film posters for the sample reviews.

Every ``content/reviews/*.md`` file names a ``Poster`` image in its front
matter (for example ``images/posters/her-2013.jpg``).  Real posters are
copyrighted, so this module draws a simple, deterministic stand-in for each
one: a 2:3 colour field with a gradient and a geometric motif, the film
title in large type, the year, and the director.

The type is set by the plugin's ``filmreviews.typesetting`` (Noto Sans, with
Noto Sans CJK for Chinese, Japanese and Korean; DejaVu Sans or Pillow's
built-in font when those are missing), the same as the social cards.  On one
machine the same input always produces the same image.

Usage, from the repository root::

    python -m blogtools.sample_posters              # write missing posters
    python -m blogtools.sample_posters --overwrite  # redraw all of them
"""

from __future__ import annotations

import argparse
import colorsys
import hashlib
import io
import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from filmreviews.typesetting import typeface
from reelnotes.files import atomic_write

DEFAULT_SIZE = (800, 1200)
JPEG_OPTIONS = {"quality": 82, "optimize": True, "progressive": True}

_REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTENT = _REPO_ROOT / "content"


# --------------------------------------------------------------------------
# Front matter
# --------------------------------------------------------------------------

def read_front_matter(path: Path) -> dict[str, str]:
    """Parse the ``Key: value`` header of a Markdown file.

    Parsing stops at the first blank line.  Keys are lower-cased; lines
    without a colon are ignored.
    """
    meta: dict[str, str] = {}
    text = Path(path).read_text(encoding="utf-8-sig")
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key and key not in meta:
            meta[key] = value.strip()
    return meta


def poster_jobs(content_dir) -> list[tuple[Path, str, str, str]]:
    """Return one ``(poster path, title, year, director)`` per distinct poster.

    The poster path is the review's ``Poster`` value resolved against
    *content_dir*.  The title is the film's ``Movie`` field (falling back to
    the post ``Title``).  Reviews without a ``Poster`` are skipped; when two
    reviews name the same poster, the first (in file-name order) wins.
    """
    content_dir = Path(content_dir)
    root = content_dir.resolve()
    jobs: list[tuple[Path, str, str, str]] = []
    seen: set[Path] = set()
    for md in sorted((content_dir / "reviews").glob("*.md")):
        meta = read_front_matter(md)
        poster = meta.get("poster", "").strip().lstrip("/")
        if not poster:
            continue
        target = content_dir / poster
        resolved = target.resolve()
        if root != resolved and root not in resolved.parents:
            raise ValueError(f"{md}: Poster path escapes the content folder: {poster}")
        if resolved in seen:
            continue
        seen.add(resolved)
        title = meta.get("movie") or meta.get("title") or md.stem
        jobs.append((target, title, meta.get("year", ""), meta.get("director", "")))
    return jobs


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------

def _palette(seed: str):
    """Derive colours from a hash of *seed*: (top, bottom, accent)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    hue = digest[0] / 255.0
    hue2 = (hue + 0.06 + digest[1] / 255.0 * 0.22) % 1.0
    sat = 0.45 + digest[2] / 255.0 * 0.35
    val = 0.62 + digest[3] / 255.0 * 0.25

    def rgb(h, s, v):
        return tuple(round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v))

    top = rgb(hue, sat, val)
    bottom = rgb(hue2, min(1.0, sat + 0.15), 0.12 + digest[4] / 255.0 * 0.10)
    accent = rgb((hue + 0.33 + digest[5] / 255.0 * 0.34) % 1.0,
                 0.55 + digest[11] / 255.0 * 0.3, 0.97)
    return top, bottom, accent, digest


def _motif(img: Image.Image, accent, digest: bytes, scale: float) -> Image.Image:
    """Overlay a translucent geometric motif chosen by the hash."""
    w, h = img.size
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    kind = digest[6] % 4
    cx = w * (0.25 + digest[7] / 255.0 * 0.5)
    cy = h * (0.22 + digest[8] / 255.0 * 0.16)
    r = w * (0.22 + digest[9] / 255.0 * 0.14)
    if kind == 0:  # a "sun" with a halo
        draw.ellipse((cx - r * 1.35, cy - r * 1.35, cx + r * 1.35, cy + r * 1.35),
                     fill=accent + (40,))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=accent + (185,))
    elif kind == 1:  # concentric rings
        width = max(2, round(10 * scale))
        for i in range(6):
            rr = r * (0.35 + i * 0.28)
            draw.ellipse((cx - rr, cy - rr, cx + rr, cy + rr),
                         outline=accent + (150 - i * 20,), width=width)
    elif kind == 2:  # diagonal bands
        band = w * 0.09
        start = -h + digest[10] / 255.0 * band * 2
        for i in range(12):
            x0 = start + i * band * 2.2
            draw.polygon([(x0, 0), (x0 + band, 0), (x0 + band + h * 0.7, h * 0.7),
                          (x0 + h * 0.7, h * 0.7)], fill=accent + (46,))
    else:  # a tilted square and a small circle
        angle = math.radians(10 + digest[10] / 255.0 * 50)
        pts = [(cx + r * 1.2 * math.cos(angle + k * math.pi / 2),
                cy + r * 1.2 * math.sin(angle + k * math.pi / 2)) for k in range(4)]
        draw.polygon(pts, fill=accent + (170,))
        sr = r * 0.35
        sx, sy = cx + r * 1.1, cy + r * 1.2
        draw.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=accent + (190,))
    return Image.alpha_composite(img.convert("RGBA"), overlay)


def draw_poster(title: str, year, director: str, size=DEFAULT_SIZE, *, seed: str | None = None):
    """Draw a poster-like image and return it as an RGB ``PIL.Image``.

    *seed* picks the colours and motif; it defaults to the title, year and
    director, so the output depends only on the arguments.
    """
    w, h = (int(size[0]), int(size[1]))
    scale = w / 800.0
    title = " ".join(str(title).split()) or "Untitled"
    year = str(year or "").strip()
    director = " ".join(str(director or "").split())
    if seed is None:
        seed = f"{title}|{year}|{director}"
    bold, regular = typeface("bold"), typeface("regular")
    title = bold.drawable(title) or "Untitled"
    year, director = bold.drawable(year), regular.drawable(director)

    top, bottom, accent, digest = _palette(seed)

    # Vertical gradient from the light top colour to the dark bottom one.
    mask = Image.linear_gradient("L").resize((w, h))
    img = Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), mask)
    img = _motif(img, accent, digest, scale).convert("RGB")

    # Draw in RGBA mode on the RGB image so translucent fills blend.
    draw = ImageDraw.Draw(img, "RGBA")
    margin = round(64 * scale)
    text_width = w - 2 * margin
    white = (255, 255, 255, 255)
    shadow = (0, 0, 0, 110)

    # Thin frame.
    inset = round(22 * scale)
    draw.rectangle((inset, inset, w - inset - 1, h - inset - 1),
                   outline=(255, 255, 255, 90), width=max(1, round(2 * scale)))

    # Credits, bottom up: director, rule, year, title.
    y = h - margin
    if director:
        dsize, dlines = regular.fit(f"directed by {director}".upper(), text_width, 2,
                                    round(32 * scale), round(18 * scale))
        line_h = round(dsize * 1.25)
        y -= line_h * len(dlines)
        for i, line in enumerate(dlines):
            regular.draw(draw, (margin, y + i * line_h), line, dsize, (255, 255, 255, 215))
        y -= round(28 * scale)
    draw.rectangle((margin, y, margin + round(120 * scale), y + max(2, round(5 * scale))),
                   fill=accent + (255,))
    y -= round(26 * scale)
    if year:
        ysize = round(52 * scale)
        y -= round(bold.bbox(year, ysize)[3])
        bold.draw(draw, (margin, y), year, ysize, accent + (255,))
        y -= round(30 * scale)

    tsize, tlines = bold.fit(title.upper(), text_width, 5, round(124 * scale), round(44 * scale))
    line_h = round(tsize * 1.06)
    y -= line_h * len(tlines)
    offset = max(2, round(4 * scale))
    for i, line in enumerate(tlines):
        ly = y + i * line_h
        bold.draw(draw, (margin + offset, ly + offset), line, tsize, shadow)
        bold.draw(draw, (margin, ly), line, tsize, white)

    return img


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def generate(content_dir=DEFAULT_CONTENT, overwrite: bool = False) -> list[Path]:
    """Write a poster for every job; return the paths actually written.

    Existing files are left alone unless *overwrite* is true.
    """
    written: list[Path] = []
    for target, title, year, director in poster_jobs(content_dir):
        if target.exists() and not overwrite:
            continue
        image = draw_poster(title, year, director, seed=target.stem)
        encoded = io.BytesIO()
        image.save(encoded, "JPEG", **JPEG_OPTIONS)
        atomic_write(target, encoded.getvalue())
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Draw placeholder posters for the sample reviews.")
    parser.add_argument("--content", default=str(DEFAULT_CONTENT),
                        help="Pelican content folder (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="redraw posters that already exist")
    args = parser.parse_args(argv)
    written = generate(args.content, overwrite=args.overwrite)
    for path in written:
        print(path)
    print(f"{len(written)} poster(s) written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
