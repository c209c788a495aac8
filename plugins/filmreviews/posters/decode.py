"""Reading a poster file safely: refused from its header when unusable, then
decoded into an upright, colour-managed, metadata-free RGB image.

A huge image or a decompression bomb is refused before a single pixel is
decoded: Pillow reads only the header to learn the size.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

# Formats a poster may arrive in. Limiting Pillow to these keeps exotic
# decoders (and their bugs) away from files that merely end in .jpg.
SOURCE_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF")


class PosterError(Exception):
    """A source that cannot be used; the message says what was expected instead."""


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".rstrip("0").rstrip(".")


def _too_big(max_pixels: int, detail: str) -> PosterError:
    return PosterError(f"an image of at most {_megapixels(max_pixels)} megapixels ({detail})")


def open_checked(path: str | Path, max_pixels: int) -> Image.Image:
    """Open a poster lazily, refusing it from its header if it is not one we can use.

    Nothing is decoded here: Pillow reads the header, so the pixel count of a
    decompression bomb is known before any memory is spent on it.
    """
    try:
        with warnings.catch_warnings():
            # The pixel limit below is stricter than Pillow's warning threshold.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=SOURCE_FORMATS)
    except FileNotFoundError:
        raise PosterError("an existing file (it was not found when the build read it)") from None
    except Image.DecompressionBombError as exc:
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        detail = f"this one claims {_megapixels(int(claimed.group(1)))} megapixels" if claimed \
            else "this one is larger than Pillow's own safety limit"
        raise _too_big(max_pixels, detail) from None
    except UnidentifiedImageError:
        raise PosterError("a JPEG, PNG, WebP or AVIF image (Pillow does not recognise "
                          "this file as any of them)") from None
    except Exception as exc:  # a malformed header can fail in many ways; all mean the same
        raise PosterError(f"a readable image (its header is damaged: {exc})") from None
    width, height = image.size
    if width < 1 or height < 1:
        image.close()
        raise PosterError(f"an image with a size (this one is {width}×{height})")
    if width * height > max_pixels:
        image.close()
        raise _too_big(max_pixels, f"this one is {width}×{height}, "
                                   f"{_megapixels(width * height)} megapixels")
    return image


def scaled_height(width: int, source_size: tuple[int, int]) -> int:
    source_width, source_height = source_size
    return max(1, round(width * source_height / source_width))


def _to_srgb(image: Image.Image) -> Image.Image:
    """Colour-managed conversion to plain sRGB, so dropping the profile keeps the colours."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            from PIL import ImageCms  # a Pillow built without LittleCMS lacks it

            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            mode = "RGBA" if image.mode == "RGBA" else "RGB"
            image = ImageCms.profileToProfile(image, source_profile, srgb, outputMode=mode)
        except Exception:  # a broken or unsupported profile: use the pixels as they are
            pass
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Posters are shown on a page: flatten transparency onto white.
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(flat, rgba)
    return image.convert("RGB")


def _reduce_while_decoding(image: Image.Image, largest_width: int) -> None:
    """JPEG can decode straight at a reduced scale: far less work for big sources.
    Only the header is read: the image's size is the reduced one from here on."""
    image.draft("RGB", (largest_width, scaled_height(largest_width, image.size)))


# EXIF orientations that turn the picture a quarter: width and height swap.
QUARTER_TURNS = {5, 6, 7, 8}


def upright_size(image: Image.Image, largest_width: int) -> tuple[int, int]:
    """The size `decode` will return for this opened source, worked out from its header.

    Pages name every derivative with its width and height before the encoder
    has decoded the source; `decode` makes the same reduction and turn.
    """
    _reduce_while_decoding(image, largest_width)
    width, height = image.size
    if image.getexif().get(ExifTags.Base.Orientation, 1) in QUARTER_TURNS:
        return height, width
    return width, height


def decode(path: str | Path, max_pixels: int, largest_width: int) -> Image.Image:
    """Decode a checked source into an upright, metadata-free RGB image."""
    with open_checked(path, max_pixels) as image:
        _reduce_while_decoding(image, largest_width)
        try:
            image.load()
        except Exception as exc:  # truncated or corrupt data surfaces only here
            raise PosterError(f"a complete, readable image (decoding failed: {exc})") from None
        upright = ImageOps.exif_transpose(image)
        rgb = _to_srgb(upright)
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)  # a fresh image carries no EXIF, XMP or ICC data
    return clean
