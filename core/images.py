"""What an uploaded file really is, and thumbnails made without trusting it.

Only the raster formats below are ever treated as images; everything else (SVG, HTML, PDF …)
is a plain file whatever the client declared. Two steps, so the web process never decodes:

- ``image_header`` (at upload, in the web process) reads only the header: the format and the
  dimensions. An image over ``IMAGE_MAX_PIXELS`` is refused before a single pixel is decoded.
- ``image_thumbnail`` (in a worker) decodes the image — which proves it is one — at the smallest
  scale the format allows (JPEG draft mode, ``reduce``) and returns a small PNG or JPEG.
"""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from core.errors import CoreError, FieldError

# Pillow format name -> the type an image of it is served with.
RASTER_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
INLINE_TYPES = frozenset(RASTER_TYPES.values())
THUMBNAIL_SIZE = (320, 320)

# What Pillow raises on files that only look like images (truncated, corrupt, crafted headers).
NOT_AN_IMAGE = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError)


class ImageTooLarge(FieldError):
    def __init__(self, field: str, width: int, height: int):
        super().__init__(
            {field: f"Images are limited to {max_pixels():,} pixels; this one is {width}×{height}."},
            code=CoreError.IMAGE_TOO_LARGE,
        )


@dataclass(frozen=True)
class ImageHeader:
    format: str
    content_type: str
    width: int
    height: int


def max_pixels() -> int:
    return int(settings.IMAGE_MAX_PIXELS)


def open_raster(fileobj) -> Image.Image:
    """Image.open limited to the raster formats (reads the header only)."""
    # Pillow's own bomb check only warns below twice its limit; ours is the pixel budget.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(fileobj, formats=list(RASTER_TYPES))


def image_header(fileobj, *, field: str) -> ImageHeader | None:
    """The format and size of a raster image from its header alone; None when ``fileobj`` is
    not a JPEG, PNG, GIF or WebP. Raises ``ImageTooLarge`` (a 400 naming ``field``) when it has
    more than ``IMAGE_MAX_PIXELS`` pixels. Never decodes pixel data.
    """
    fileobj.seek(0)
    try:
        with open_raster(fileobj) as image:
            width, height = image.size
            if width * height > max_pixels():
                raise ImageTooLarge(field, width, height)
            header = ImageHeader(image.format, RASTER_TYPES[image.format], width, height)
            image.verify()  # structure and checksums (PNG chunks' CRCs); still no decoding
    except Image.DecompressionBombError:
        raise FieldError({field: f"Images are limited to {max_pixels():,} pixels."}, code=CoreError.IMAGE_TOO_LARGE) from None
    except NOT_AN_IMAGE:
        return None
    finally:
        fileobj.seek(0)
    return header


def image_thumbnail(fileobj, *, size: tuple[int, int] = THUMBNAIL_SIZE) -> tuple[bytes, str] | None:
    """A PNG (with transparency) or JPEG of at most ``size``, as ``(bytes, extension)``; None
    when the file does not decode as a raster image within the pixel budget.

    Decodes the whole image, so call it in a worker, not in a web request.
    """
    fileobj.seek(0)
    try:
        with open_raster(fileobj) as image:
            width, height = image.size
            if width * height > max_pixels():
                return None
            image.draft("RGB", size)  # JPEG: decode at 1/2 … 1/8 scale straight away
            image.load()  # the proof: truncated or corrupt data raises here
            thumbnail = image.copy()
        thumbnail.thumbnail(size, reducing_gap=2.0)  # reduce() by whole factors first, then resample
        has_alpha = thumbnail.mode in ("RGBA", "LA", "PA") or (thumbnail.mode == "P" and "transparency" in thumbnail.info)
        thumbnail = thumbnail.convert("RGBA" if has_alpha else "RGB")
        out = io.BytesIO()
        thumbnail.save(out, format="PNG" if has_alpha else "JPEG", quality=85)
    except (Image.DecompressionBombError, *NOT_AN_IMAGE):
        return None
    finally:
        fileobj.seek(0)
    return out.getvalue(), "png" if has_alpha else "jpg"
