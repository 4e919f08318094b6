"""Image bytes -> pixels: full decode for the viewer and API, draft-mode thumbnails for the grid."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import TFRecordError

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _reason(exc: BaseException) -> str:
    """Pillow's error in words a user can read (its messages can name an in-memory object)."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image format Pillow can read"
    return re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc)) or type(exc).__name__


def load_decoders() -> None:
    """Import Pillow's plugins for the usual formats now. Pillow imports them at its first
    `Image.open` (~10 ms of Python); a thread that does so while others are busy holds them up."""
    Image.preinit()


def sniff_format(data: bytes | bytearray | memoryview) -> str | None:
    """'jpeg' or 'png' from the leading bytes (what Slideflow's `img_format` reports), else None."""
    head = bytes(data[:8])
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if head.startswith(PNG_MAGIC):
        return "png"
    return None


def _open(data: bytes | bytearray | memoryview) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(bytes(data)))
    except (*_DECODE_ERRORS, Image.DecompressionBombWarning) as exc:
        raise TFRecordError(f"image bytes do not decode ({_reason(exc)})") from None


def _to_rgb_array(img: Image.Image) -> np.ndarray:
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
        arr = np.clip(np.asarray(img), 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def decode_image(data: bytes | bytearray | memoryview) -> np.ndarray:
    """JPEG/PNG (grey, RGBA, palette, 16-bit) bytes -> (H, W, 3) uint8 RGB array.

    Raises `TFRecordError` for bytes that are not a decodable image.
    """
    img = _open(data)
    try:
        img.load()
        return _to_rgb_array(img)
    except _DECODE_ERRORS as exc:
        raise TFRecordError(f"image bytes do not decode ({_reason(exc)})") from None


def decode_thumbnail(data: bytes | bytearray | memoryview, max_side: int) -> np.ndarray:
    """A small (h, w, 3) uint8 version, fast: JPEG draft mode decodes at 1/2..1/8 scale."""
    img = _open(data)
    try:
        if img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))
        img.load()
        if img.mode not in ("RGB", "L", "RGBA", "P", "LA"):
            img = Image.fromarray(_to_rgb_array(img))
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        return _to_rgb_array(img)
    except _DECODE_ERRORS as exc:
        raise TFRecordError(f"image bytes do not decode ({_reason(exc)})") from None


def image_info(data: bytes | bytearray | memoryview) -> dict:
    """Format, width, height and mode from the header only (no pixel decode)."""
    img = _open(data)
    return {
        "format": (img.format or "").lower().replace("jpg", "jpeg"),
        "width": img.width,
        "height": img.height,
        "mode": img.mode,
    }
