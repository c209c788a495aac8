"""The social card: the 1200×630 image link previews show for a review.

Owns the card's design: the poster on the left over a gradient taken from the
poster's own colours, and beside it the film's title, year and rating, the
rating drawn as star polygons. Text uses Pillow's built-in scalable font, so
the card looks the same on every machine whatever fonts it has. Pure drawing:
no files, no settings; `posters.py` decides when a card is drawn and where it
is kept.
"""

from __future__ import annotations

import colorsys
import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CARD_SIZE = (1200, 630)
# Bump when the drawing changes, so cached cards are redrawn.
CARD_DESIGN_VERSION = 2

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


@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


# Stand-ins for punctuation the built-in font lacks (it covers little beyond ASCII).
PLAIN_PUNCTUATION = {"—": "-", "–": "-", "„": '"', "‚": "'", "×": "x", "ß": "ss",
                     "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ł": "L", "ł": "l",
                     "Ø": "O", "ø": "o"}


def _glyph(char: str):
    mask = _font(32).getmask(char)
    return mask.size, tuple(mask.histogram()), mask.getprojection()


@lru_cache(maxsize=None)
def _has_glyph(char: str) -> bool:
    if char.isascii():
        return True
    # The font draws the same "missing" box for every character it lacks.
    return _glyph(char) != _glyph("\ue000")


def drawable(text: str) -> str:
    """`text` with letters the font lacks spelled without accents (É -> E), others left out."""
    out = []
    for char in text:
        if _has_glyph(char):
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        if base and all(_has_glyph(c) for c in base):
            out.append(base)
        elif char in PLAIN_PUNCTUATION:
            out.append(PLAIN_PUNCTUATION[char])
    return "".join(out)


def _text_width(font, text: str) -> float:
    return font.getlength(text)


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


def _wrap(text: str, font, width: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(font, f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _fit_title(title: str, width: float, max_lines: int = 3):
    """The largest font (72 down to 34 px) that fits the title in `max_lines` lines."""
    for size in range(72, 33, -4):
        font = _font(size)
        lines = _wrap(title, font, width)
        if len(lines) <= max_lines and all(_text_width(font, line) <= width for line in lines):
            return font, lines
    font = _font(34)
    lines = _wrap(title, font, width)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".,;:") + "…"
    # A single word longer than the column is cut rather than drawn off the card.
    fitted = []
    for line in lines:
        while _text_width(font, line) > width and len(line) > 1:
            line = line[:-2] + "…"
        fitted.append(line)
    return font, fitted


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
    # A title in a script the font lacks is left off rather than drawn as boxes.
    title = " ".join(drawable(text.title).split())
    title_font, title_lines = _fit_title(title, column) if title else (_font(72), [])
    year_font = _font(40)
    label_font = _font(30)
    site_font = _font(26)
    line_h = round(title_font.size * 1.12)
    blocks_h = line_h * len(title_lines)
    if text.year:
        blocks_h += 18 + 44
    stars = draw_stars(text.rating) if text.rating is not None else None
    if stars is not None:
        blocks_h += 34 + stars.height + 12 + 34
    y = max(MARGIN, (height - blocks_h) // 2 - 10)

    draw = ImageDraw.Draw(card)
    for line in title_lines:
        draw.text((left, y), line, font=title_font, fill=TEXT)
        y += line_h
    if text.year:
        y += 18
        draw.text((left, y), str(text.year), font=year_font, fill=SOFT_TEXT)
        y += 44
    if stars is not None:
        y += 34
        card.paste(stars, (left, y), stars)
        y += stars.height + 12
        if text.rating_label:
            draw.text((left, y), drawable(text.rating_label), font=label_font, fill=SOFT_TEXT)
    if text.site:
        site = drawable(text.site)
        while _text_width(site_font, site) > column and len(site) > 1:
            site = site[:-2] + "…"
        draw.text((left, height - MARGIN - 26), site, font=site_font, fill=SOFT_TEXT)
    return card
