"""One image file -> the bytes of one framed tile record.

JPEG and PNG bytes are stored as they are (checked by their headers, never decoded); other
formats become PNG, or every image a JPEG when re-encoding is asked. `tile_record` writes the
Example of a tile (`image_raw`, `slide`, `loc_x`, `loc_y`) straight into its framing, with the
image copied once.
"""

from __future__ import annotations

import functools
import io
import os
import struct

import crc32c
from PIL import Image

from .errors import TFRecordError
from .images import SOURCE_FORMATS, open_image, readable_reason, to_rgb_array
from .records import encode_varint, len_field
from .storage import Storage, storage_for
from .tile_inputs import MAX_SOURCE_BYTES, NOT_REGULAR_REASON, size_skip_reason, too_big_reason
from .write_report import SkipImage

_PNG_MODES = {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}


def read_source(path: str | os.PathLike) -> bytes:
    """The bytes of one source image, refused before reading when the file is no regular file
    or larger than `MAX_SOURCE_BYTES` (a sparse file can claim terabytes)."""
    storage = storage_for(path)
    try:
        source = storage.open(os.fspath(path), MAX_SOURCE_BYTES)
    except ValueError:  # not a regular file, or too big: say which
        raise SkipImage(_refusal(storage, os.fspath(path))) from None
    except OSError as exc:
        raise SkipImage(f"unreadable ({exc.strerror or exc})") from None
    with source:
        try:
            data = source.read(MAX_SOURCE_BYTES + 1)
        except OSError as exc:
            raise SkipImage(f"unreadable ({exc.strerror or exc})") from None
    reason = size_skip_reason(len(data))  # empty, or grew while we read
    if reason is not None:
        raise SkipImage(reason)
    return data


def _refusal(storage: Storage, path: str) -> str:
    """Why `storage.open` refused `path` (only asked on that rare path, so reads cost no stat)."""
    try:
        info = storage.stat(path)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if not info.is_file:  # a pipe or device, maybe swapped in after the listing
        return NOT_REGULAR_REASON
    return too_big_reason(info.size)


def prepare_image(path: str | os.PathLike, reencode: int | None = None) -> bytes:
    """The bytes to store for one tile: JPEG/PNG bytes as they are (recognised by their bytes,
    not the extension), TIFF/BMP/GIF/WebP as PNG; with `reencode=q` every image becomes a JPEG
    of quality q. Keeping bytes costs a header parse, never a pixel decode. Only the formats of
    `images.SOURCE_FORMATS` are parsed, and the tile size cap of `images` applies.

    Raises `SkipImage` with the reason for zero-byte, too large, unreadable, truncated or
    non-image files (PostScript named `.png` included).
    """
    data = read_source(path)
    try:
        img = open_image(data, SOURCE_FORMATS)  # parses the header only
        fmt = img.format
        if reencode is None and fmt == "JPEG":
            if data.rfind(b"\xff\xd9") < 0:
                raise SkipImage("truncated JPEG (no end-of-image marker)")
            return data
        if reencode is None and fmt == "PNG":
            img.verify()  # chunk structure and CRCs up to IEND, no inflate
            return data
        img.load()
        if reencode is not None:
            return _encode(img, "JPEG", quality=int(reencode))
        return _encode(img, "PNG")
    except SkipImage:
        raise
    except TFRecordError as exc:
        raise SkipImage(exc.reason.replace("image bytes do not decode", "not a decodable image")) from None
    except Exception as exc:  # noqa: BLE001  (hostile files make Pillow raise anything)
        raise SkipImage(f"not a decodable image ({readable_reason(exc)})") from None


def _encode(img: Image.Image, fmt: str, **params) -> bytes:
    keep = {"L", "RGB"} if fmt == "JPEG" else _PNG_MODES
    if img.mode not in keep:  # 16-bit, float, CMYK, alpha for JPEG...: the viewer's RGB
        img = img.convert("RGBA") if fmt == "PNG" and img.mode in ("PA", "RGBa", "La") else Image.fromarray(to_rgb_array(img))
    out = io.BytesIO()
    img.save(out, format=fmt, **params)
    return out.getvalue()


# --- records ------------------------------------------------------------------------------------


def _int_entry(key: bytes, value: int) -> bytes:
    """Map entry `key -> Feature(int64_list=[value])`, as `records.make_example` writes it."""
    return len_field(1, len_field(1, key) + len_field(2, len_field(3, len_field(1, encode_varint(value)))))


def _bytes_entry_head(key: bytes, size: int) -> bytes:
    """Map entry `key -> Feature(bytes_list=[<size bytes>])` up to (not including) the bytes."""
    item_head = b"\x0a" + encode_varint(size)
    list_size = len(item_head) + size
    list_head = b"\x0a" + encode_varint(list_size)
    feature_size = len(list_head) + list_size
    key_field = len_field(1, key)
    feature_head = b"\x12" + encode_varint(feature_size)
    entry_size = len(key_field) + len(feature_head) + feature_size
    return b"\x0a" + encode_varint(entry_size) + key_field + feature_head + list_head + item_head


@functools.lru_cache(maxsize=256)
def _slide_entry(slide: bytes) -> bytes:
    return _bytes_entry_head(b"slide", len(slide)) + slide


@functools.lru_cache(maxsize=4096)
def _loc_entries(x: int, y: int) -> bytes:
    return _int_entry(b"loc_x", x) + _int_entry(b"loc_y", y)


_U64, _U32 = struct.Struct("<Q"), struct.Struct("<I")
_crc = crc32c.crc32c  # crc32c(data, crc) extends crc over data


def _masked(crc: int) -> bytes:
    return _U32.pack((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def tile_record(image: bytes, slide: str | bytes, x: int, y: int) -> bytes:
    """One framed tile record, byte for byte what `frame_record(make_example({'image_raw': image,
    'slide': slide, 'loc_x': x, 'loc_y': y}))` gives, with the image copied once instead of
    four times (the CRC is extended over the parts)."""
    slide_bytes = slide.encode("utf-8") if isinstance(slide, str) else slide
    head = _bytes_entry_head(b"image_raw", len(image))
    tail = _slide_entry(slide_bytes) + _loc_entries(x, y)
    size = len(head) + len(image) + len(tail)
    head = b"\x0a" + encode_varint(size) + head
    length = _U64.pack(len(head) + len(image) + len(tail))
    crc = _crc(tail, _crc(image, _crc(head)))
    return b"".join((length, _masked(_crc(length)), head, image, tail, _masked(crc)))
