"""Hostile image bytes: never a plugin outside the allow-list, only TFRecordError, bounded memory.

`TFR_FUZZ_CASES` sets the number of mutated cases of the fuzz target (default small for CI).
"""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tfr_viewer as sf
from tfr_viewer.core.images import (
    MAX_TILE_PIXELS,
    RECORD_FORMATS,
    decode_image,
    decode_thumbnail,
    detect_format,
    image_info,
)

from ..helpers import make_jpeg

ROOT = Path(__file__).resolve().parents[2]
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"
DECODERS = (decode_image, lambda data: decode_thumbnail(data, 64), image_info)


def fake_gs(folder: Path) -> tuple[Path, str]:
    """A `gs` that leaves a marker when anything runs it; returns (marker, PATH with it first)."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "gs-ran"
    gs = folder / "gs"
    gs.write_text(f"#!/bin/sh\necho \"$@\" >> '{marker}'\nexit 1\n")
    gs.chmod(0o755)
    return marker, f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


def png_of_zeros(width: int, height: int, colour_type: int = 0) -> bytes:
    """A valid PNG of black pixels: a few hundred KB that decode to width*height*bands bytes.

    Fast: one block of rows is deflated once after a full flush (which resets the compressor,
    so every such block deflates to the same bytes) and repeated; the checksum is computed
    over the whole."""
    bands = {0: 1, 2: 3}[colour_type]
    rows = next(r for r in (100, 50, 20, 10, 5, 4, 2, 1) if height % r == 0)
    block = b"\0" * ((1 + width * bands) * rows)
    packer = zlib.compressobj(9)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    unit = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH) if height > rows else b""
    end = packer.flush()[:-4]  # the last (empty) block without the checksum of two blocks
    checksum = 1
    for _ in range(height // rows):
        checksum = zlib.adler32(block, checksum)
    idat = first + unit * (height // rows - 1) + end + struct.pack(">I", checksum)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for Ghostscript")
def test_postscript_never_reaches_ghostscript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker, path = fake_gs(tmp_path / "bin")
    monkeypatch.setenv("PATH", path)
    for data in (EPS, b"%!PS-Adobe-3.0\n" + EPS[24:], b"\xc5\xd0\xd3\xc6" + b"\0" * 28 + EPS, b"%PDF-1.4\n%%EOF\n"):
        for decode in DECODERS:
            with pytest.raises(sf.TFRecordError, match="do not decode"):
                decode(data)
    assert not marker.exists()


@pytest.mark.parametrize(
    "data",
    [b"", bytearray(b"\xff\xd8\xff"), memoryview(b"\x89PNG\r\n\x1a\n"), b"GIF89a", b"BM" + b"\xff" * 60,
     1.5, None, [b"x"], "text", EPS, b"DDS " + b"\0" * 124, b"II*\0" + b"\0" * 20],
    ids=["empty", "bytearray", "memoryview", "gif-head", "bmp-head", "float", "none", "list", "str", "eps",
         "dds", "tiff-in-record"],
)
def test_decoders_raise_only_tfrecord_error(data: object) -> None:
    for decode in DECODERS:
        with pytest.raises(sf.TFRecordError) as error:
            decode(data)  # type: ignore[arg-type]
        assert "0x" not in str(error.value) and "\n" not in str(error.value)


def test_bytes_views_decode_like_bytes() -> None:
    data = make_jpeg(24, 16)
    expected = decode_image(data)
    for view in (bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        np.testing.assert_array_equal(decode_image(view), expected)
        assert image_info(view)["width"] == 24


def test_gif_and_bmp_records_decode_as_tensorflow_does() -> None:
    pixels = np.random.default_rng(3).integers(0, 255, (12, 10, 3), dtype=np.uint8)
    for fmt in ("BMP", "GIF"):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format=fmt)
        arr = decode_image(buf.getvalue())
        assert arr.shape == (12, 10, 3) and arr.dtype == np.uint8
        if fmt == "BMP":
            np.testing.assert_array_equal(arr, pixels)


def test_tile_size_is_checked_from_the_header_without_warnings() -> None:
    """A PNG above Pillow's own warning threshold (89 Mpx): refused by our check, before any
    decode, with no DecompressionBombWarning and no change to the process's warnings filters."""
    big_png = png_of_zeros(10_000, 10_000)
    frame = b"," + struct.pack("<HHHHB", 0, 0, 10_000, 10_000, 0) + b"\x02\x02\x44\x01\x00;"
    big_gif = b"GIF89a" + struct.pack("<HHBBB", 8, 8, 0, 0, 0) + b"!\xf9\x04\x00\x00\x00\x00\x00" + frame
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for decode in DECODERS:
            for big in (big_png, big_gif):  # a GIF's first frame may reach past its screen
                started = time.perf_counter()
                with pytest.raises(sf.TFRecordError, match="10000 x 10000 pixels, larger than a tile"):
                    decode(big)
                assert time.perf_counter() - started < 0.5
    assert caught == []
    assert warnings.filters == filters
    side = int(MAX_TILE_PIXELS**0.5)
    assert image_info(png_of_zeros(side, side // 64))["width"] == side  # within the cap: fine


_RSS_SCRIPT = """
import resource, sys, zlib
sys.path.insert(0, {root!r})
from tests.core.test_hostile_images import png_of_zeros
from tfr_viewer.core.errors import TFRecordError
from tfr_viewer.core.images import decode_image, decode_thumbnail
data = png_of_zeros(9400, 9400, 2)  # 89 Mpx RGB, just under Pillow's own cap: 884 MB decoded before
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for decode in (decode_image, lambda d: decode_thumbnail(d, 128)):
    try:
        decode(data)
        print("decoded")
    except TFRecordError as exc:
        print("refused:", exc)
print("grew_mb", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""


def test_bomb_png_peak_memory_is_bounded(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", _RSS_SCRIPT.format(root=str(ROOT))], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "decoded" not in result.stdout
    assert result.stdout.count("refused: image is 9400 x 9400 pixels") == 2
    grew = float(result.stdout.split("grew_mb")[1])
    assert grew < 50, result.stdout  # the unfixed decode grew by ~840 MB


# --- fuzz -----------------------------------------------------------------------------------------


def _saved_formats() -> list[str]:
    """Every format this Pillow can write."""
    Image.init()
    return sorted(Image.SAVE)


def _sample(fmt: str, rng: random.Random) -> bytes | None:
    """A small image in `fmt`, in the first mode the format accepts; None when it saves none."""
    size = (rng.randint(1, 40), rng.randint(1, 40))
    for mode in ("RGB", "L", "1", "RGBA", "P", "I", "F"):
        img = Image.new(mode, size)
        img.putdata([rng.randint(0, 255) for _ in range(size[0] * size[1])]) if mode in ("L", "P") else None
        buf = io.BytesIO()
        try:
            img.save(buf, format=fmt)
        except Exception:  # noqa: BLE001  (mode not writable in this format, codec missing...)
            continue
        if buf.getvalue():
            return buf.getvalue()
    return None


def _open_only_headers() -> list[bytes]:
    """Hand-made starts of formats Pillow opens but does not write (and PostScript)."""
    dds = b"DDS " + struct.pack("<7I", 124, 0x1007, 64, 64, 0, 0, 0) + b"\0" * 44 + struct.pack("<2I", 32, 4) + b"DXT1" + b"\0" * 40
    spider = struct.pack(">27f", *([1.0, 64.0, 0, 0, 0] + [0.0] * 6 + [64.0, 0, 1.0] + [0.0] * 13)) + b"\0" * 1024
    im = b"Image type: RGB image\r\nName: x\r\nImage size (x*y): 64*64\r\n\x1a" + b"\0" * 600
    eps_binary = b"\xc5\xd0\xd3\xc6" + struct.pack("<6I", 32, len(EPS), 0, 0, 0, 0) + b"\xff\xff" + EPS
    return [dds, spider, im, EPS, eps_binary, b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n",
            b"\x00\x00\x01\x00\x01\x00" + b"\x10" * 40, b"qoif" + b"\0" * 40, b"8BPS\0\1" + b"\0" * 60]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0 and buf:  # bit flips
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncation
        del buf[rng.randint(0, len(buf)):]
    elif kind == 2 and len(buf) > 4:  # a header field bumped to a large or odd value
        pos = rng.randrange(min(len(buf) - 4, 64))
        buf[pos:pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\0\0\0\0", b"\0\0\x80\0"])
    elif kind == 3:  # random bytes spliced in
        pos = rng.randint(0, len(buf))
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    elif buf:  # a chunk repeated
        pos = rng.randrange(len(buf))
        buf[pos:pos] = buf[pos:pos + rng.randint(1, 64)] * rng.randint(2, 8)
    return bytes(buf)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Pillow deprecates writing some formats
def test_fuzz_every_pillow_format() -> None:
    """Each mutated image either decodes to (h, w, 3) uint8 (only for allow-listed formats) or
    raises TFRecordError; never another exception, never a slow case."""
    cases = int(os.environ.get("TFR_FUZZ_CASES", "2000"))
    rng = random.Random(int(os.environ.get("TFR_FUZZ_SEED", "15")))
    seeds = [data for fmt in _saved_formats() if (data := _sample(fmt, rng)) is not None]
    seeds += _open_only_headers()
    assert len(seeds) > 20
    outcomes = {"decoded": 0, "refused": 0}
    slowest = 0.0
    for n in range(cases):
        original = seeds[n % len(seeds)]
        data = original if n < len(seeds) else _mutate(original, rng)
        for decode in DECODERS:
            started = time.perf_counter()
            try:
                result = decode(data)
            except sf.TFRecordError:
                outcomes["refused"] += 1
            else:
                outcomes["decoded"] += 1
                assert detect_format(data) in RECORD_FORMATS, (n, data[:16])
                if isinstance(result, dict):
                    assert result["width"] > 0 and result["height"] > 0
                else:
                    assert result.ndim == 3 and result.shape[2] == 3 and result.dtype == np.uint8, (n, result.shape)
            slowest = max(slowest, time.perf_counter() - started)
    assert outcomes["decoded"] and outcomes["refused"]
    assert slowest < 2.0, f"slowest case took {slowest:.2f} s"
