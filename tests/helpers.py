"""Test helpers with an independent TFRecord implementation (pure-Python CRC32C, struct framing).

Files written here cross-check the library's reader; files the library writes are checked here,
so one bug cannot hide on both sides.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
from PIL import Image

_POLY = 0x82F63B78
_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c_py(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc_py(data: bytes) -> int:
    crc = crc32c_py(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_py(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return (
        length
        + struct.pack("<I", masked_crc_py(length))
        + payload
        + struct.pack("<I", masked_crc_py(payload))
    )


def read_frames_py(path: str | Path) -> list[bytes]:
    """Every payload of a TFRecord, asserting both CRCs with the independent implementation."""
    data = Path(path).read_bytes()
    pos, out = 0, []
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        assert length_crc == masked_crc_py(data[pos : pos + 8]), f"length CRC at {pos}"
        payload = data[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        assert data_crc == masked_crc_py(payload), f"data CRC at {pos}"
        out.append(payload)
        pos += 16 + length
    assert pos == len(data)
    return out


def example_py(features: dict) -> bytes:
    """Serialize an Example with the protobuf runtime (not our hand-written serializer)."""
    from tfr_viewer.core.example_pb2 import Example

    ex = Example()
    for name, value in features.items():
        feat = ex.features.feature[name]
        values = value if isinstance(value, list) else [value]
        if values and isinstance(values[0], (bytes, str)):
            feat.bytes_list.value.extend(v.encode() if isinstance(v, str) else v for v in values)
        elif values and isinstance(values[0], float):
            feat.float_list.value.extend(values)
        else:
            feat.int64_list.value.extend(values)
    return ex.SerializeToString()


def make_jpeg(w: int = 64, h: int = 64, seed: int = 0, quality: int = 90) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def make_png(w: int = 32, h: int = 32, seed: int = 0, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        arr = rng.integers(0, 65535, size=(h, w), dtype=np.uint16)
        img = Image.fromarray(arr)
    else:
        channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
        arr = rng.integers(0, 255, size=(h, w, channels), dtype=np.uint8)
        img = Image.fromarray(arr[:, :, 0] if channels == 1 else arr, mode=mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def tile_record(i: int, slide: str = "slide_a", png: bool = False) -> dict:
    image = make_png(seed=i) if png else make_jpeg(seed=i)
    return {"image_raw": image, "slide": slide, "loc_x": 64 * (i % 10), "loc_y": 64 * (i // 10)}


def write_tfrecord_py(path: str | Path, records: list[dict]) -> list[bytes]:
    """Write records with the independent implementation; returns the payloads."""
    payloads = [example_py(r) for r in records]
    Path(path).write_bytes(b"".join(frame_py(p) for p in payloads))
    return payloads


def refuse_listing(monkeypatch, refused: Path) -> None:
    """Make one folder unlistable, as a folder the user may not read (tests may run as root,
    where permissions refuse nothing)."""
    real = os.scandir

    def scandir(path="."):
        if Path(path) == refused:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
