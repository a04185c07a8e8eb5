"""Making one thumbnail: a picture file in, a small WebP out, within a pixel and memory budget.

Contract: `render(path, max_pixels)` returns the WebP bytes (quality QUALITY) of the picture at path, turned
upright by its EXIF orientation and scaled to at most SIDE pixels on its long side (never enlarged; the first
frame of an animation or the first page of a TIFF), or raises `NoThumbnail` with the reason when the file is
not a picture Pillow (with pillow-heif's HEIC/HEIF opener) can read, or would be larger than max_pixels once
decoded. The size is known from the header before anything is decoded, and a JPEG is decoded at a reduced
scale (`Image.draft`: 1/2 to 1/8, in the decoder), so a 50-megapixel photo costs about 1/64 of its full
size in memory and time. `limit_memory(max_bytes)` caps the calling process's data segment (RLIMIT_DATA):
the thumbnail pool's processes call it at start, so a decoder that asks for more fails with MemoryError
there instead of pushing the machine into swap. Nothing here touches the database or the cache.
"""
import io
import logging
import resource
import warnings

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from . import NoThumbnail

log = logging.getLogger("filedock.thumbs")

SIDE = 320
QUALITY = 80

pillow_heif.register_heif_opener()   # HEIC/HEIF (Pillow 13 reads AVIF and WebP itself)


def limit_memory(max_bytes):
    """Cap this process's data segment at max_bytes (0: no cap); where the system refuses (systemd's system
    call filter), the pixel limit is the only cap, and that is logged."""
    if not max_bytes:
        return
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, max_bytes))
    except (OSError, ValueError) as exc:
        log.warning("thumbnails: cannot cap memory at %d bytes (%s); relying on the pixel limit", max_bytes, exc)


def _opened(path, max_pixels):
    """The picture at path, opened (header only) and, for a JPEG, set to decode at a reduced scale."""
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise NoThumbnail(f"too large: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NoThumbnail(f"not a picture filedock can read ({exc})") from None
    image.draft("RGB", (SIDE, SIDE))   # JPEG: the smallest scale still at least SIDE wide; others ignore it
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise NoThumbnail(f"too large: {width}x{height} pixels, more than {max_pixels}")
    return image


def _upright_small(image):
    """The first frame, turned by its EXIF orientation, in an RGB(A) mode, at most SIDE on its long side."""
    image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "RGBA"):
        has_alpha = image.mode in ("LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return image


def render(path, max_pixels):
    """The WebP thumbnail of the picture at path (see the contract), or NoThumbnail."""
    with warnings.catch_warnings():   # Pillow's own bomb warning: our limit is checked after draft()
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _opened(path, max_pixels)
        try:
            small = _upright_small(image)
            out = io.BytesIO()
            small.save(out, "WEBP", quality=QUALITY, method=4)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise NoThumbnail(f"the picture cannot be decoded ({exc})") from None
        finally:
            image.close()
    return out.getvalue()
