"""Checking and cleaning an uploaded photo, pure (bytes in, bytes out).

The format is decided by the content (Pillow's sniffing), never by the file name or the declared type.
Pixels are counted from the header before anything is decoded, so a decompression bomb (a small file
that expands to gigabytes) is refused cheaply. The picture is then re-encoded from its pixels alone: EXIF
(GPS position, device serials), XMP, IPTC and ICC data do not survive. Orientation is applied to the
pixels first so the photo still shows the right way up without its EXIF tag.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import Invalid, PayloadTooLarge, UnsupportedMediaType

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_EDGE = 4096  # stored photos are scaled down to this; a commander's screen needs no more
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


@dataclass(frozen=True)
class CleanPhoto:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    original_sha256: str
    sha256: str


def clean_photo(raw: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> CleanPhoto:
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The photo is larger than {max_bytes // (1024 * 1024)} MB.")
    if not raw:
        raise Invalid("The file is empty.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw), formats=list(FORMATS))
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
            OSError,
            SyntaxError,
            ValueError,
        ) as exc:
            if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
                raise PayloadTooLarge(f"The photo has more than {max_pixels:,} pixels.") from exc
            raise UnsupportedMediaType("The file is not a JPEG, PNG or WebP picture.") from exc
        with image:
            width, height = image.size
            if width * height > max_pixels:  # counted from the header, before decoding a pixel
                raise PayloadTooLarge(f"The photo has more than {max_pixels:,} pixels.")
            source_format = image.format
            try:
                image.load()
                pixels = _pixels_only(image)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
                raise Invalid("The picture is damaged or incomplete.") from exc
    content_type, extension = FORMATS[source_format]
    pixels.thumbnail((MAX_EDGE, MAX_EDGE))
    output = io.BytesIO()
    if source_format == "JPEG":
        pixels.convert("RGB").save(output, "JPEG", quality=85, optimize=True)
    elif source_format == "PNG":
        pixels.save(output, "PNG", optimize=True)
    else:
        pixels.save(output, "WEBP", quality=85)
    data = output.getvalue()
    return CleanPhoto(
        data=data,
        content_type=content_type,
        extension=extension,
        width=pixels.width,
        height=pixels.height,
        original_sha256=hashlib.sha256(raw).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding nothing but the (upright) pixels of the first frame."""
    upright = ImageOps.exif_transpose(image) or image
    mode = "RGBA" if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info else "RGB"
    converted = upright.convert(mode)
    clean = Image.new(mode, converted.size)
    clean.paste(converted)
    return clean
