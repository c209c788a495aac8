"""Images an import brings over: found in the old site's uploads, checked, or drawn.

`Uploads` finds the file behind an image address of the old blog
(`…/wp-content/uploads/2013/12/still.jpg`, the multisite `…/files/…`
forms, and resized copies such as `still-300x200.jpg` or `-scaled.jpg`
falling back to the original) in the `--uploads` folder, or, with
`--download`, fetches it through the project's SSRF-safe fetcher (public
addresses only, bounded size and time). `check_image` reads only the header
and refuses anything that is not a real image of an accepted format, or is
too large to decode; `placeholder_poster` draws the stand-in poster with the
sample-poster generator when there is no usable poster.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from PIL import Image, UnidentifiedImageError

from .site import JPEG_OPTIONS, SOURCE_FORMATS, Fetcher, FetchError, draw_poster

INLINE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF")
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "AVIF": "avif"}
MAX_PIXELS = 40_000_000  # as FILMREVIEWS_POSTER_MAX_PIXELS
MAX_BYTES = 30 * 1024 * 1024
_UPLOADS_MARKERS = ("/wp-content/uploads/", "/files/")
_BLOGS_DIR = re.compile(r"/wp-content/blogs\.dir/\d+/files/")
_RESIZED = re.compile(r"-(?:\d+x\d+|scaled|rotated)(?=\.[A-Za-z0-9]+$)")


class NotAnImage(ValueError):
    """The bytes are not an image we accept; the message says what they are."""


def check_image(data: bytes, formats=INLINE_FORMATS) -> str:
    """The image's format ("JPEG", ...) if `data` is an image in `formats`, else NotAnImage."""
    if not data:
        raise NotAnImage("is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format or "?"
                width, height = image.size
                if fmt not in formats:
                    raise NotAnImage(f"is a {fmt} image, expected " + ", ".join(formats))
                if width * height > MAX_PIXELS:
                    raise NotAnImage(f"is {width}×{height} pixels, more than {MAX_PIXELS // 1_000_000} megapixels")
                image.verify()
    except NotAnImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        start = data[:5].lstrip()
        what = "an HTML page" if start[:1] == b"<" else "a PDF" if start.startswith(b"%PDF") else "not an image"
        raise NotAnImage(f"is {what}, not a picture") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotAnImage(f"is a damaged image ({exc})") from None
    return fmt


def poster_bytes(data: bytes) -> tuple[bytes, str]:
    """A usable poster from an image: (bytes, extension). Formats the poster
    pipeline does not read (GIF) are converted to PNG."""
    fmt = check_image(data)
    if fmt in SOURCE_FORMATS:
        return data, EXTENSIONS[fmt]
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.convert("RGBA" if "transparency" in image.info else "RGB").save(out, "PNG", optimize=True)
    return out.getvalue(), "png"


def placeholder_poster(movie: str, year, director: str, seed: str) -> bytes:
    image = draw_poster(movie, year or "", director or "", seed=seed)
    out = io.BytesIO()
    image.save(out, "JPEG", **JPEG_OPTIONS)
    return out.getvalue()


def uploads_path(url: str) -> str | None:
    """The path under wp-content/uploads an image address points at, e.g. 2013/12/still.jpg."""
    path = unquote(urlsplit(url.strip()).path)
    path = _BLOGS_DIR.sub("/wp-content/uploads/", path)
    for marker in _UPLOADS_MARKERS:
        if marker in path:
            rel = path.split(marker, 1)[1].lstrip("/")
            parts = PurePosixPath(rel).parts
            if rel and ".." not in parts and not rel.endswith("/"):
                return rel
    return None


@dataclass
class Found:
    data: bytes
    rel: str  # path under uploads, e.g. 2013/12/still.jpg
    origin: str  # "uploads" or "downloaded"


class Uploads:
    """Image files of the old blog, by address (see the module docstring)."""

    def __init__(self, folder: Path | None, fetcher: Fetcher | None = None):
        self.folder = Path(folder) if folder else None
        self.fetcher = fetcher
        self._missing: dict[str, str] = {}  # only failures are remembered: never the bytes of every image

    def _local(self, rel: str) -> tuple[Path, str] | None:
        """The file for `rel` in the uploads folder, or the original a resized copy was made from."""
        if self.folder is None:
            return None
        for candidate in (rel, _RESIZED.sub("", rel)):
            path = self.folder / candidate
            try:
                if path.resolve().is_relative_to(self.folder.resolve()) and path.is_file():
                    return path, candidate
            except OSError:
                continue
        return None

    def find(self, url: str, rel: str | None = None) -> tuple[Found | None, str]:
        """(the file, "") or (None, why it is missing). `rel` overrides the path taken from `url`."""
        key = f"{url}|{rel}"
        if key in self._missing:
            return None, self._missing[key]
        found, why = self._find(url, rel)
        if found is None:
            self._missing[key] = why
        return found, why

    def _find(self, url: str, rel: str | None) -> tuple[Found | None, str]:
        rel = rel or uploads_path(url)
        if rel is None:
            return None, "is not in the old blog's uploads"
        local = self._local(rel)
        if local is not None:
            try:
                return Found(local[0].read_bytes(), local[1], "uploads"), ""
            except OSError as exc:
                return None, f"cannot be read from the uploads folder ({exc.strerror})"
        where = f"is not in {self.folder}" if self.folder else "was not looked for (no --uploads folder)"
        if self.fetcher is None or not url.startswith(("http://", "https://")):
            return None, where
        try:
            response = self.fetcher.get(url)
        except FetchError as exc:
            return None, f"{where}, and downloading it failed ({exc})"
        if response.status != 200:
            return None, f"{where}, and downloading it answered HTTP {response.status}"
        return Found(response.body, rel, "downloaded"), ""


def download_fetcher() -> Fetcher:
    """The fetcher --download uses: public addresses only, images up to 30 MB."""
    return Fetcher(timeout=20.0, max_bytes=MAX_BYTES)
