"""Uploaded images (courier report photos, reward pictures) made safe to store and serve.

Every upload is decoded and re-encoded as a fresh JPEG: that bounds its size, applies the camera's
orientation, and drops all metadata, above all the GPS position a phone writes into EXIF.
Pure: bytes in, bytes out; every refusal is a DomainError, never a Pillow exception.
"""

import io
import math

from PIL import Image, ImageOps

from domain.core.errors import DomainError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# Pixels we are willing to decode (about 160 MB as RGBA). Larger phone photos still pass when they
# are JPEG, because JPEG decodes at 1/2, 1/4 or 1/8 scale; a PNG or WebP that big is refused.
MAX_DECODED_PIXELS = 40_000_000
JPEG_QUALITY = 82
# JPEG covers MPO too (phones' multi-picture JPEGs: Pillow's JPEG opener returns them as MPO).
_WANTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")  # HEIF only when a plugin (pillow-heif) registered it


def process_photo(data: bytes, *, max_side: int = 1600, max_bytes: int = MAX_UPLOAD_BYTES,
                  max_pixels: int = MAX_DECODED_PIXELS) -> bytes:
    """Return `data` as a metadata-free JPEG whose longer side is at most `max_side` pixels.

    CPU-bound for up to a second or more: callers in the API run it in a thread (asyncio.to_thread)."""
    if not data:
        raise DomainError("validation_failed", field="photo", details={"problem": "empty"})
    if len(data) > max_bytes:
        raise DomainError("too_large", field="photo", details={"max_bytes": max_bytes})
    try:
        with _open(data) as image:
            _limit_decoded_size(image, max_side, max_pixels)
            upright = ImageOps.exif_transpose(image)  # decodes; reads orientation before EXIF is dropped
            clean = _on_blank_rgb_canvas(upright)
        clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        return out.getvalue()
    except DomainError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (Image.MAX_IMAGE_PIXELS) fires inside Image.open, before our check.
        raise _too_many_pixels(max_pixels) from exc
    except Exception as exc:  # truncated, corrupt or hostile data: Pillow raises many types
        raise DomainError("unsupported_media", field="photo") from exc


def thumbnail(data: bytes, side: int = 400, max_pixels: int = MAX_DECODED_PIXELS) -> bytes:
    """A small JPEG for serving reward images in lists."""
    return process_photo(data, max_side=side, max_pixels=max_pixels)


def _open(data: bytes) -> Image.Image:
    Image.init()  # registers every installed opener, so a HEIF plugin is seen if present
    allowed = [name for name in _WANTED_FORMATS if name in Image.OPEN]
    # Restricting the openers also keeps rarely used, less hardened decoders away from uploads.
    return Image.open(io.BytesIO(data), formats=allowed)


def _limit_decoded_size(image: Image.Image, max_side: int, max_pixels: int) -> None:
    """Refuse, from the header alone, an image that would take too much memory to decode."""
    width, height = image.size
    if image.format in ("JPEG", "MPO"):
        # Let libjpeg decode straight at a reduced scale that is still at least the target size.
        ratio = min(1.0, max_side / max(width, height))
        image.draft("RGB", (math.ceil(width * ratio), math.ceil(height * ratio)))
        width, height = image.size  # draft updates the size that load() will produce
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)


def _on_blank_rgb_canvas(image: Image.Image) -> Image.Image:
    """Copy the pixels onto a new RGB image, so no metadata (EXIF, XMP, ICC, comment) comes along."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: scale down rather than clip to white
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    canvas = Image.new("RGB", image.size, "white")
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas.paste(rgba, mask=rgba.getchannel("A"))
    else:
        canvas.paste(image.convert("RGB"))  # CMYK, palette, grey and RGB all land here
    return canvas


def _too_many_pixels(max_pixels: int = MAX_DECODED_PIXELS) -> DomainError:
    return DomainError("too_large", field="photo",
                       details={"problem": "dimensions", "max_pixels": max_pixels})
