"""Typesetting for images: which font draws each letter, and how a title is set.

Owns what the social cards and the sample posters share: finding the fonts
(Noto Sans for Latin, Cyrillic and Greek, Noto Sans CJK for Chinese, Japanese
and Korean), drawing a line with a font fallback per character, telling a
letter a font really has from its missing-glyph box, and fitting a title into
a column (word wrap that may also break between CJK characters, balanced
lines, no stray one-letter line, an ellipsis when nothing fits).

Needs Pillow only: no Pelican, so `blogtools` can use it outside a build.
Without the Noto fonts it falls back to DejaVu Sans, then to Pillow's built-in
font, and logs once which letters will be left out.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

# Where Debian (fonts-noto-core, fonts-noto-cjk, fonts-dejavu-core) and Fedora
# put the fonts; the first folder holding a file wins.
FONT_ROOTS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_FOLDERS = ("truetype/noto", "opentype/noto", "google-noto", "google-noto-vf", "google-noto-cjk",
                "noto", "noto-cjk", "truetype/dejavu", "dejavu")
# In the order they are tried for each character: the first with the letter draws it.
NOTO = {
    "regular": ("NotoSans-Regular.ttf", "NotoSansCJK-Regular.ttc"),
    "bold": ("NotoSans-Bold.ttf", "NotoSansCJK-Bold.ttc"),
}
DEJAVU = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}
# The .ttc holds one face per region; the Japanese one (index 0) has kana, Hangul and Han.
CJK_FACE_INDEX = 0

# A code point no font draws (the last private-use one): its image is the font's "missing" box.
MISSING = "\U0010fffd"
PROBE_SIZE = 32

# Stand-ins for letters and punctuation a fallback font may lack.
PLAIN = {"—": "-", "–": "-", "„": '"', "‚": "'", "«": '"', "»": '"', "×": "x", "ß": "ss",
         "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ø": "O", "ø": "o", "Ł": "L", "ł": "l",
         "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th"}
ELLIPSIS = "…"

# CJK punctuation and small kana that must not begin a line.
NO_LINE_START = set("、。，．・：；？！ー々〜」』）】〕〉》…‥ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ"
                    ",.;:!?)]}")


@dataclass(frozen=True)
class Face:
    """One font file (and face within a collection); `path=None` is Pillow's built-in font."""

    path: str | None
    index: int = 0

    @property
    def name(self) -> str:
        """What identifies the design, e.g. "NotoSans-Bold.ttf" (the folder does not matter)."""
        if self.path is None:
            return "pillow-default"
        return Path(self.path).name + (f"#{self.index}" if self.index else "")

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        return _font(self, size)

    def has(self, char: str) -> bool:
        """Whether the font draws `char` as itself, not as its missing-glyph box or nothing."""
        return _has(self, char)


@cache
def _font(face: Face, size: int) -> ImageFont.FreeTypeFont:
    if face.path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(face.path, size, index=face.index)


def glyph_image(font, char: str) -> bytes:
    """`char` drawn alone, as bytes to compare: equal images mean the same glyph."""
    side = PROBE_SIZE * 3
    image = Image.new("L", (side, side))
    ImageDraw.Draw(image).text((PROBE_SIZE, PROBE_SIZE), char, font=font, fill=255)
    return image.tobytes()


@cache
def _has(face: Face, char: str) -> bool:
    if char.isspace():
        return True
    font = face.font(PROBE_SIZE)
    drawn = glyph_image(font, char)
    return any(drawn) and drawn != _missing(face)


@cache
def _missing(face: Face) -> bytes:
    return glyph_image(face.font(PROBE_SIZE), MISSING)


# --- Finding the fonts -------------------------------------------------------------

def _find(file_name: str) -> Path | None:
    for root in FONT_ROOTS:
        for folder in FONT_FOLDERS:
            if (root / folder / file_name).is_file():
                return root / folder / file_name
    return None


def typeface(weight: str = "regular") -> Typeface:
    """The fonts this machine has for `weight` ("regular" or "bold"), best first."""
    return _system_typefaces()[weight]


@cache
def _system_typefaces() -> dict[str, Typeface]:
    typefaces = {}
    missing = []
    for weight, file_names in NOTO.items():
        faces = []
        for file_name in file_names:
            found = _find(file_name)
            if found is None:
                missing.append(file_name)
            else:
                faces.append(Face(str(found), CJK_FACE_INDEX if found.suffix == ".ttc" else 0))
        if len(faces) < len(file_names) and (dejavu := _find(DEJAVU[weight])):
            faces.append(Face(str(dejavu)))
        faces.append(Face(None))  # the last resort, always there
        typefaces[weight] = Typeface(tuple(faces))
    if missing:
        fallback = "DejaVu Sans" if _find(DEJAVU["regular"]) else "Pillow's built-in font"
        logger.warning("Fonts: %s not found under %s: social cards and sample posters fall back to %s "
                       "and leave out the letters it lacks (accents with Pillow's font; Chinese, Japanese "
                       "and Korean without Noto Sans CJK); install Debian's fonts-noto-core and "
                       "fonts-noto-cjk", ", ".join(missing), " or ".join(map(str, FONT_ROOTS)), fallback)
    return typefaces


# --- Setting text ------------------------------------------------------------------

@dataclass(frozen=True)
class Typeface:
    """Fonts tried in order for each character, used as one."""

    faces: tuple[Face, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(face.name for face in self.faces)

    def face_for(self, char: str) -> Face | None:
        """The first font that has `char`, or None when none has."""
        return next((face for face in self.faces if face.has(char)), None)

    def drawable(self, text: str) -> str:
        """`text` with letters no font has spelled plainly (a base letter without its
        accent, "ss" for "ß", "-" for a dash) or, when there is no plain spelling,
        left out, so a reader sees no missing-glyph boxes; spaces are collapsed."""
        return _drawable(self, text)

    def runs(self, text: str) -> list[tuple[Face, str]]:
        """`text` cut where the font drawing it changes."""
        runs: list[tuple[Face, str]] = []
        for char in text:
            face = self.face_for(char) or self.faces[-1]
            if runs and (char.isspace() or unicodedata.combining(char) or runs[-1][0] == face):
                runs[-1] = (runs[-1][0], runs[-1][1] + char)
            else:
                runs.append((face, char))
        return runs

    def width(self, text: str, size: int) -> float:
        return _width(self, text, size)

    def ascent(self, size: int) -> int:
        return self.faces[0].font(size).getmetrics()[0]

    def draw(self, draw: ImageDraw.ImageDraw, xy, text: str, size: int, fill) -> None:
        """Draw one line with its top-left corner at `xy` (like `ImageDraw.text`)."""
        x, y = xy
        baseline = y + self.ascent(size)
        for face, run in self.runs(text):
            font = face.font(size)
            draw.text((x, baseline), run, font=font, fill=fill, anchor="ls")
            x += font.getlength(run)

    def bbox(self, text: str, size: int) -> tuple[float, float, float, float]:
        """The ink box of a line drawn at (0, 0) with `draw`."""
        x, baseline = 0.0, self.ascent(size)
        boxes = []
        for face, run in self.runs(text):
            font = face.font(size)
            left, top, right, bottom = font.getbbox(run, anchor="ls")
            boxes.append((x + left, baseline + top, x + right, baseline + bottom))
            x += font.getlength(run)
        if not boxes:
            return (0, 0, 0, 0)
        return (min(b[0] for b in boxes), min(b[1] for b in boxes),
                max(b[2] for b in boxes), max(b[3] for b in boxes))

    def shorten(self, text: str, size: int, width: float) -> str:
        """`text`, cut and ended with an ellipsis if it is wider than `width`."""
        return text if self.width(text, size) <= width else self._ellipsis(text, size, width)

    def _ellipsis(self, text: str, size: int, width: float) -> str:
        text = text.rstrip(" .,;:")
        while text and self.width(text + ELLIPSIS, size) > width:
            text = text[:-1].rstrip(" .,;:")
        return text + ELLIPSIS

    def wrap(self, text: str, size: int, width: float) -> list[str] | None:
        """Greedy wrap into lines no wider than `width`; None if one piece cannot fit."""
        pieces = _pieces(text)
        if any(self.width(piece, size) > width for _, piece in pieces):
            return None
        return self._lay(pieces, size, width)

    def _lay(self, pieces: list[tuple[str, str]], size: int, width: float) -> list[str]:
        lines: list[str] = []
        for joiner, piece in pieces:
            if lines and self.width(lines[-1] + joiner + piece, size) <= width:
                lines[-1] += joiner + piece
            else:
                lines.append(piece)
        return lines

    def fit(self, text: str, width: float, max_lines: int, largest: int, smallest: int) -> tuple[int, list[str]]:
        """The font size and lines for a title: the largest size (down to `smallest`)
        at which it wraps into `max_lines`, with lines of similar length, unless a
        slightly smaller size (down to 70% of the largest) avoids a line holding a
        lone short token such as "2". When it fits at no size, long words are
        broken and the last line ends with an ellipsis."""
        first = None
        size = largest
        while True:
            lines = self.wrap(text, size, width)
            if lines is not None and len(lines) <= max_lines:
                lines = self._balance(text, size, width, len(lines))
                if first is None:
                    first = (size, lines)
                if not _has_orphan(lines):
                    return size, lines
                if size < largest * 0.7:
                    return first
            if size <= smallest:
                return first or (size, self._overflow(text, size, width, max_lines))
            size = max(smallest, min(size - 1, int(size * 0.94)))

    def _balance(self, text: str, size: int, width: float, count: int) -> list[str]:
        """Narrow the column as far as possible without adding a line."""
        low, high = 0.0, float(width)
        for _ in range(16):
            middle = (low + high) / 2
            lines = self.wrap(text, size, middle)
            if lines is not None and len(lines) <= count:
                high = middle
            else:
                low = middle
        return self.wrap(text, size, high) or self.wrap(text, size, width) or []

    def _overflow(self, text: str, size: int, width: float, max_lines: int) -> list[str]:
        pieces = []
        for joiner, piece in _pieces(text):
            # A word wider than the column is cut between its letters; each cut
            # is as long as a line, so the wrap puts the next one on a new line.
            while self.width(piece, size) > width and len(piece) > 1:
                cut = len(piece) - 1
                while cut > 1 and self.width(piece[:cut], size) > width:
                    cut -= 1
                pieces.append((joiner, piece[:cut]))
                joiner, piece = "", piece[cut:]
            pieces.append((joiner, piece))
        lines = self._lay(pieces, size, width)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            lines[-1] = self._ellipsis(lines[-1], size, width)
        return lines


@lru_cache(maxsize=65536)  # fitting a title measures the same pieces many times
def _width(typeface: Typeface, text: str, size: int) -> float:
    return sum(face.font(size).getlength(run) for face, run in typeface.runs(text))


@lru_cache(maxsize=4096)
def _drawable(typeface: Typeface, text: str) -> str:
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char.isspace():
            out.append(" ")
        elif typeface.face_for(char) is not None:
            out.append(char)
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            plain = base if base and all(typeface.face_for(c) for c in base) else PLAIN.get(char, "")
            out.append(plain if all(typeface.face_for(c) for c in plain) else "")
    return " ".join("".join(out).split())


def _breaks_anywhere(char: str) -> bool:
    """Chinese and Japanese break between characters; Korean breaks at spaces like Latin."""
    code = ord(char)
    hangul = 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F or 0xAC00 <= code <= 0xD7AF
    return unicodedata.east_asian_width(char) in ("W", "F") and not hangul


def _pieces(text: str) -> list[tuple[str, str]]:
    """The units a line may break between, each with what joins it to the one
    before on the same line: a space between words, nothing between CJK characters."""
    pieces: list[tuple[str, str]] = []
    for word in text.split():
        joiner = " "
        current = ""
        for char in word:
            starts_piece = current and (_breaks_anywhere(char) or _breaks_anywhere(current[-1]))
            if starts_piece and char not in NO_LINE_START:
                pieces.append((joiner, current))
                joiner, current = "", char
            else:
                current += char
        pieces.append((joiner, current))
    return pieces


def _has_orphan(lines: list[str]) -> bool:
    """A wrapped line that is a lone token of one or two characters."""
    return len(lines) > 1 and any(len(line) <= 2 for line in lines)
