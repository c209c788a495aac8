"""The social card: the 1200×630 image link previews show for a review.

Owns the card's design: the poster on the left over a gradient taken from the
poster's own colours, and beside it the film's title, year and rating, the
rating drawn as star polygons. Text is set in Noto Sans, with Noto Sans CJK for
Chinese, Japanese and Korean (`typesetting`), so "Cléo" keeps its accent and a
Japanese title is drawn. Pure drawing: no files, no settings; the `posters`
package decides when a card is drawn and where it is kept.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

from .typesetting import typeface

CARD_SIZE = (1200, 630)
# Bump when the drawing changes, so cached cards are redrawn. The fonts found
# on the machine are part of the cache key too (`design`).
CARD_DESIGN_VERSION = 3

MARGIN = 56
GAP = 56
TEXT = (255, 255, 255)
SOFT_TEXT = (226, 222, 214)
STAR_FILL = (246, 196, 72)
STAR_EMPTY = (255, 255, 255, 70)
STAR_SIZE = 46  # outer diameter, px
STAR_SPACING = 10
SUPERSAMPLE = 4  # stars are drawn large and scaled down, for smooth edges


@dataclass(frozen=True)
class CardText:
    """What the card says about the film."""

    title: str
    year: int | None = None
    rating: float | None = None  # 0.5 to 5 in steps of 0.5
    rating_label: str = ""  # e.g. "3.5 out of 5"
    site: str = ""


TITLE_SIZES = (72, 34)  # largest, smallest
TITLE_LINES = 3
YEAR_SIZE = 40
LABEL_SIZE = 30
SITE_SIZE = 26


def design() -> dict:
    """What decides how a card looks besides its text: the drawing and the fonts."""
    return {"version": CARD_DESIGN_VERSION,
            "fonts": [typeface(weight).names for weight in ("bold", "regular")]}


def _shade(rgb, value: float, saturation_cap: float = 0.75) -> tuple[int, int, int]:
    """The colour's hue at a fixed brightness, dark enough for white text."""
    h, s, _ = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    r, g, b = colorsys.hsv_to_rgb(h, min(s, saturation_cap), value)
    return (round(r * 255), round(g * 255), round(b * 255))


def background_colours(poster: Image.Image) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two colours from the poster: its most common and its most colourful."""
    thumb = poster.convert("RGB").resize((48, 72), Image.Resampling.BILINEAR)
    palette_image = thumb.quantize(colors=6, method=Image.Quantize.MEDIANCUT)
    palette = palette_image.getpalette() or []
    counts = sorted(palette_image.getcolors() or [], reverse=True)
    colours = [tuple(palette[i * 3:i * 3 + 3]) for _, i in counts] or [(40, 40, 40)]
    common = colours[0]

    def saturation(rgb):
        return colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[1]

    vivid = max(colours, key=saturation)
    # Dark shades keep white text readable whatever the poster looks like.
    return _shade(common, 0.22), _shade(vivid, 0.38)


def _gradient(size, start, end) -> Image.Image:
    """A diagonal blend from `start` (top left) to `end` (bottom right)."""
    w, h = size
    ramp = Image.linear_gradient("L").rotate(45, resample=Image.Resampling.BICUBIC, expand=True)
    side = ramp.size[0]
    ramp = ramp.crop((side // 4, side // 4, side - side // 4, side - side // 4)).resize((w, h))
    return Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), ramp)


def star_points(cx: float, cy: float, outer: float, inner_ratio: float = 0.48):
    """The ten corners of a five-pointed star, first point straight up."""
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else outer * inner_ratio
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def draw_stars(rating: float, out_of: int = 5, size: int = STAR_SIZE) -> Image.Image:
    """A transparent strip of `out_of` stars, filled up to `rating` (halves allowed)."""
    s = SUPERSAMPLE
    step = (size + STAR_SPACING) * s
    strip = Image.new("RGBA", (step * out_of, size * s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(strip)
    for i in range(out_of):
        points = star_points(i * step + size * s / 2, size * s / 2 + s, size * s / 2)
        draw.polygon(points, fill=STAR_EMPTY)
        filled = min(max(rating - i, 0.0), 1.0)
        if filled:
            mask = Image.new("L", strip.size, 0)
            ImageDraw.Draw(mask).polygon(points, fill=255)
            # A half star is the same polygon with its right half cut away.
            cut = i * step + size * s * filled
            ImageDraw.Draw(mask).rectangle((cut, 0, strip.size[0], strip.size[1]), fill=0)
            strip.paste(Image.new("RGBA", strip.size, STAR_FILL + (255,)), (0, 0), mask)
    return strip.resize((strip.size[0] // s, strip.size[1] // s), Image.Resampling.LANCZOS)


def draw_card(poster: Image.Image, text: CardText) -> Image.Image:
    """Draw the social card for one review and return it as an RGB image."""
    width, height = CARD_SIZE
    poster = poster.convert("RGB")
    card = _gradient(CARD_SIZE, *background_colours(poster))

    # The poster, as tall as the card allows; a wide image is capped in width.
    box_h = height - 2 * MARGIN
    box_w = min(round(box_h * poster.width / poster.height), 460)
    box_h = min(box_h, round(box_w * poster.height / poster.width))
    thumb = poster.resize((box_w, box_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    x0, y0 = MARGIN, (height - box_h) // 2

    shadow = Image.new("L", CARD_SIZE, 0)
    ImageDraw.Draw(shadow).rectangle((x0 + 8, y0 + 12, x0 + box_w + 8, y0 + box_h + 12), fill=150)
    shadow = shadow.filter(ImageFilter.GaussianBlur(14))
    card.paste(Image.new("RGB", CARD_SIZE, (0, 0, 0)), (0, 0), shadow)
    card.paste(thumb, (x0, y0))

    # The text column, vertically centred beside the poster.
    left = x0 + box_w + GAP
    column = width - MARGIN - left
    bold, regular = typeface("bold"), typeface("regular")
    # Letters no installed font has are spelled plainly or left out, never drawn as boxes.
    title = bold.drawable(text.title)
    title_size, title_lines = bold.fit(title, column, TITLE_LINES, *TITLE_SIZES) if title \
        else (TITLE_SIZES[0], [])
    line_h = round(title_size * 1.12)
    blocks_h = line_h * len(title_lines)
    if text.year:
        blocks_h += 18 + 44
    stars = draw_stars(text.rating) if text.rating is not None else None
    if stars is not None:
        blocks_h += 34 + stars.height + 12 + 34
    y = max(MARGIN, (height - blocks_h) // 2 - 10)

    draw = ImageDraw.Draw(card)
    for line in title_lines:
        bold.draw(draw, (left, y), line, title_size, TEXT)
        y += line_h
    if text.year:
        y += 18
        regular.draw(draw, (left, y), str(text.year), YEAR_SIZE, SOFT_TEXT)
        y += 44
    if stars is not None:
        y += 34
        card.paste(stars, (left, y), stars)
        y += stars.height + 12
        if text.rating_label:
            regular.draw(draw, (left, y), regular.drawable(text.rating_label), LABEL_SIZE, SOFT_TEXT)
    if text.site:
        site = regular.shorten(regular.drawable(text.site), SITE_SIZE, column)
        regular.draw(draw, (left, height - MARGIN - SITE_SIZE), site, SITE_SIZE, SOFT_TEXT)
    return card
