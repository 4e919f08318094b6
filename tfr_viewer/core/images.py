"""Image bytes -> pixels: full decode for the viewer and API, draft-mode thumbnails for the grid.

The bytes come from files nobody has vetted, so they meet a fixed list of decoders:

- record images (`image_raw`; `decode_image`, `decode_thumbnail`, `image_info`): `RECORD_FORMATS`,
  JPEG, PNG, GIF and BMP, what TensorFlow's `tf.io.decode_image` reads;
- source images of `convert`: `SOURCE_FORMATS`, those plus TIFF and WebP (stored as PNG).

The format is told from the leading bytes and only that format's Pillow class parses them:
`Image.open`, which tries every plugin Pillow has, is never given data. So EPS/PS/PDF (which
Pillow hands to Ghostscript) and exotic formats (DDS, SPIDER, IM, ...) are never parsed.

Size: a tile is at most `MAX_TILE_SIDE` pixels a side and `MAX_TILE_PIXELS` pixels (at most
4 bytes a pixel in any mode Pillow decodes to, so ~128 MiB decoded), checked from the header
before any pixel is decoded. The check is ours and runs on every call: it does not depend on
Pillow's DecompressionBombWarning, which is off unless a process-wide warnings filter (shared
by every thread) turns it into an error.

Every failure, whatever Pillow raises on hostile bytes, is a `TFRecordError` with a reason.
"""

from __future__ import annotations

import functools
import importlib
import io
import re
import struct

import numpy as np
from PIL import Image

from .errors import TFRecordError

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RECORD_FORMATS = ("JPEG", "PNG", "GIF", "BMP")
SOURCE_FORMATS = (*RECORD_FORMATS, "TIFF", "WEBP")
MAX_TILE_SIDE = 16384
MAX_TILE_PIXELS = 2**25  # 32 Mpx, e.g. 8192 x 4096; tiles are usually 256-1024 px a side

_SIGNATURES = (
    (JPEG_MAGIC, "JPEG"),
    (PNG_MAGIC, "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
)
# format -> (Pillow module, class); imported on first use
_CLASSES = {
    "JPEG": ("JpegImagePlugin", "JpegImageFile"),
    "PNG": ("PngImagePlugin", "PngImageFile"),
    "GIF": ("GifImagePlugin", "GifImageFile"),
    "BMP": ("BmpImagePlugin", "BmpImageFile"),
    "TIFF": ("TiffImagePlugin", "TiffImageFile"),
    "WEBP": ("WebPImagePlugin", "WebPImageFile"),
}


def readable_reason(exc: BaseException) -> str:
    """Pillow's error in words a user can read (its messages can name an in-memory object)."""
    if isinstance(exc, MemoryError):
        return "not enough memory to decode it"
    text = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc))
    text = " ".join(text.split())[:200]  # one line, whatever the bytes made Pillow say
    return text or type(exc).__name__


def load_decoders() -> None:
    """Import Pillow's plugins for the usual formats now. Pillow imports them at its first
    `Image.open` (~10 ms of Python); a thread that does so while others are busy holds them up."""
    for name in RECORD_FORMATS:
        _image_class(name)


def sniff_format(data: bytes | bytearray | memoryview) -> str | None:
    """'jpeg' or 'png' from the leading bytes (what Slideflow's `img_format` reports), else None."""
    head = bytes(data[:8])
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if head.startswith(PNG_MAGIC):
        return "png"
    return None


def detect_format(data: bytes | bytearray | memoryview) -> str | None:
    """The Pillow format name ('JPEG', 'PNG', ..., one of `SOURCE_FORMATS`) from the leading
    bytes, or None for anything else (PostScript, PDF, other image formats, junk)."""
    head = bytes(data[:16])
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


@functools.lru_cache(maxsize=None)
def _image_class(name: str) -> type:
    module, cls = _CLASSES[name]
    return getattr(importlib.import_module(f"PIL.{module}"), cls)


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return bytes(memoryview(data))  # type: ignore[arg-type]  # bytearray, memoryview, uint8 array
    except TypeError:
        raise TFRecordError(f"image is not bytes but {type(data).__name__}") from None


def _names(formats: tuple[str, ...]) -> str:
    shown = [name.replace("WEBP", "WebP") for name in formats]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def check_tile_size(width: int, height: int) -> None:
    """Raise `TFRecordError` for dimensions no tile has (checked before decoding the pixels)."""
    if width <= 0 or height <= 0:
        raise TFRecordError(f"image is {width} x {height} pixels (empty)")
    if width > MAX_TILE_SIDE or height > MAX_TILE_SIDE or width * height > MAX_TILE_PIXELS:
        raise TFRecordError(
            f"image is {width} x {height} pixels, larger than a tile may be "
            f"(at most {MAX_TILE_SIDE} a side and {MAX_TILE_PIXELS:,} pixels)"
        )


def _gif_extent(data: bytes) -> tuple[int, int] | None:
    """The size Pillow will give a GIF (its first frame may reach past the logical screen), read
    before Pillow does: Pillow checks that size against its own limit while it parses the header,
    through the process-wide warnings filter. None when the header is cut short."""
    try:
        width, height, flags = struct.unpack_from("<HHB", data, 6)
        pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # after the global colour table
        while data[pos] == 0x21:  # extension blocks: '!', label, then sub-blocks up to a zero length
            pos += 2
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        if data[pos] == 0x2C:  # the first image descriptor: left, top, width, height
            left, top, w, h = struct.unpack_from("<HHHH", data, pos + 1)
            width, height = max(width, left + w), max(height, top + h)
        return width, height
    except (IndexError, struct.error):
        return None


def open_image(data: object, formats: tuple[str, ...] = RECORD_FORMATS) -> Image.Image:
    """The image with its header parsed by the one allowed Pillow class for these bytes and its
    size checked; no pixel decoded yet. Raises `TFRecordError` (format not allowed, bad header,
    too large)."""
    raw = _as_bytes(data)
    if not raw:
        raise TFRecordError("image is empty (zero bytes)")
    name = detect_format(raw)
    if name not in formats:
        raise TFRecordError(f"image bytes do not decode (not a {_names(formats)} image)")
    extent = _gif_extent(raw) if name == "GIF" else None
    if extent is not None:
        check_tile_size(*extent)
    try:
        img = _image_class(name)(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001  (hostile headers make Pillow raise anything)
        raise TFRecordError(f"image bytes do not decode ({readable_reason(exc)})") from None
    check_tile_size(*img.size)
    return img


def to_rgb_array(img: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 for any mode: 16-bit scaled down, alpha dropped like tf.image (channels=3)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img)
        if mode == "I" and arr.size and arr.max() <= 255:
            grey = arr.astype(np.uint8)
        elif mode == "I":
            grey = (np.clip(arr, 0, 65535) >> 8).astype(np.uint8)
        else:
            grey = (arr.astype(np.uint16) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.clip(np.nan_to_num(np.asarray(img)), 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def _decoding(data: object, work) -> np.ndarray:
    """`work(image)` on the opened image; any exception of the decode becomes `TFRecordError`."""
    img = open_image(data)
    try:
        pixels = work(img)
    except TFRecordError:
        raise
    except Exception as exc:  # noqa: BLE001  (struct.error, IndexError, ZeroDivisionError, MemoryError...)
        raise TFRecordError(f"image bytes do not decode ({readable_reason(exc)})") from None
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8 or not pixels.size:
        raise TFRecordError(f"image bytes do not decode (pixels of shape {pixels.shape})")
    return pixels


def decode_image(data: bytes | bytearray | memoryview) -> np.ndarray:
    """JPEG/PNG (grey, RGBA, palette, 16-bit), GIF or BMP bytes -> (H, W, 3) uint8 RGB array.

    JPEG pixels equal TensorFlow's `tf.io.decode_jpeg(..., dct_method='INTEGER_ACCURATE')`; its
    default (INTEGER_FAST) differs from both by up to 6 grey levels. Pillow has no switch for the
    fast IDCT (see the README), so none is offered.
    Raises `TFRecordError`, and nothing else, for bytes that are not a decodable tile image.
    """

    def full(img: Image.Image) -> np.ndarray:
        img.load()
        return to_rgb_array(img)

    return _decoding(data, full)


def decode_thumbnail(data: bytes | bytearray | memoryview, max_side: int) -> np.ndarray:
    """A small (h, w, 3) uint8 version, fast: JPEG draft mode decodes at 1/2..1/8 scale."""

    def small(img: Image.Image) -> np.ndarray:
        if img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))
        img.load()
        if img.mode not in ("RGB", "L", "RGBA", "P", "LA"):
            img = Image.fromarray(to_rgb_array(img))
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        return to_rgb_array(img)

    return _decoding(data, small)


def decode_draft(data: bytes | bytearray | memoryview, max_side: int) -> np.ndarray:
    """The cheapest (h, w, 3) uint8 version with at least `max_side` pixels on its larger side
    and fewer than twice that (or the whole image, if smaller): JPEG DCT scaling (1/2..1/8)
    while decoding, then a whole-number box reduction. The caller fits it to `max_side`
    (the window does so with Qt, which scales faster than Pillow and without the GIL): for
    256 px tiles and 96 px thumbnails a resize in Pillow costs more than DCT scaling saves."""

    def draft(img: Image.Image) -> np.ndarray:
        if img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))
        img.load()
        if img.mode not in ("RGB", "L", "RGBA", "P", "LA"):
            img = Image.fromarray(to_rgb_array(img))
        factor = max(img.size) // max(1, max_side)
        if factor >= 2:
            img = img.reduce(factor)
        return to_rgb_array(img)

    return _decoding(data, draft)


def image_info(data: bytes | bytearray | memoryview) -> dict:
    """Format, width, height and mode from the header only (no pixel decode)."""
    img = open_image(data)
    return {
        "format": (img.format or "").lower().replace("jpg", "jpeg"),
        "width": img.width,
        "height": img.height,
        "mode": img.mode,
    }
