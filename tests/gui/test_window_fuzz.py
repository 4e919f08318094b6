"""Fuzz the window: a folder of mutated TFRecords, indexes and a manifest, opened offscreen.

Seeded and small in CI (TFR_FUZZ_SEED, TFR_FUZZ_FILES to explore further). Whatever the bytes,
the window must stay alive and responsive, every worker thread must keep serving, and every
tile must end as a thumbnail or a broken tile with a reason.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer

from tfr_viewer.core.example_pb2 import Example
from tfr_viewer.core.framing import frame_record, masked_crc32c
from tfr_viewer.core.index import create_index
from tfr_viewer.core.records import make_example

from ..helpers import make_jpeg, make_png
from .conftest import write_tiles

SEED = int(os.environ.get("TFR_FUZZ_SEED", "20261203"))
FILES = int(os.environ.get("TFR_FUZZ_FILES", "14"))


def _image_bytes(rng: np.random.Generator, i: int) -> bytes:
    """Valid tiles, and headers of other formats Pillow knows followed by garbage."""
    kinds = [
        lambda: make_jpeg(16, 16, seed=i),
        lambda: make_png(16, 16, seed=i),
        lambda: b"DDS " + struct.pack("<7I", 124, 0x1007, 4096, 4096, 0, 0, 1) + rng.bytes(64),
        lambda: b"Image type: RGB image\r\nName: x\r\n\x1a" + rng.bytes(200),  # IM
        lambda: b"GIF89a" + struct.pack("<HH", 30000, 30000) + rng.bytes(40),
        lambda: b"BM" + rng.bytes(60),
        lambda: b"II*\x00" + rng.bytes(80),  # TIFF
        lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 " + rng.bytes(30),
        lambda: _other_format(rng, i),
        lambda: rng.bytes(int(rng.integers(0, 300))),
    ]
    return kinds[int(rng.integers(0, len(kinds)))]()


def _other_format(rng: np.random.Generator, i: int) -> bytes:
    """A real image of a format a tile should not be (then perhaps damaged)."""
    fmt = ["BMP", "GIF", "TIFF", "ICO", "PPM", "TGA"][i % 6]
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(buf, format=fmt)
    data = bytearray(buf.getvalue())
    if rng.random() < 0.5:
        data[int(rng.integers(0, len(data)))] ^= 0xFF
    return bytes(data)


def _weird_example(rng: np.random.Generator, i: int) -> bytes:
    """Records whose fields are of the wrong kind, empty, huge or odd."""
    ex = Example()
    feature = ex.features.feature
    choice = i % 7
    if choice == 0:
        feature["image_raw"].bytes_list.SetInParent()  # an empty list
    elif choice == 1:
        feature["image_raw"].float_list.value.extend([float("nan"), 1e308])
    elif choice == 2:
        feature["image_raw"].int64_list.value.append(-1)
    elif choice == 3:
        feature["image_raw"].bytes_list.value.extend([rng.bytes(20), make_jpeg(8, 8)])
    elif choice == 4:
        feature["image_raw"].bytes_list.value.append(_image_bytes(rng, i))
        feature["slide"].bytes_list.value.append(b"\xff\xfe<b>\x1b[31m" + b"x" * 100_000)
    elif choice == 5:
        feature["image_raw"].bytes_list.value.append(make_jpeg(8, 8, seed=i))
        feature["loc_x"].float_list.value.append(float("nan"))
        feature["loc_y"].bytes_list.value.append(b"-1")
    if choice == 6:  # no features at all
        return b""
    return ex.SerializeToString()


def _tile_file(rng: np.random.Generator, n: int) -> bytes:
    records = []
    for i in range(n):
        if rng.random() < 0.3:
            payload = _weird_example(rng, int(rng.integers(0, 1000)))
        else:
            payload = make_example({"image_raw": _image_bytes(rng, i), "slide": "fuzz", "loc_x": 16 * i, "loc_y": 0})
        records.append(frame_record(payload))
    return b"".join(records)


def _mutate(rng: np.random.Generator, data: bytes) -> bytes:
    """One of: bit flips, truncation, a length field bumped (its CRC made valid), CRC-valid garbage."""
    data = bytearray(data)
    kind = int(rng.integers(0, 5))
    if kind == 0 and data:
        for _ in range(int(rng.integers(1, 8))):
            data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1 and data:
        del data[int(rng.integers(0, len(data))):]
    elif kind == 2 and len(data) >= 12:
        length = struct.unpack_from("<Q", data, 0)[0]
        bumped = [length + int(rng.integers(1, 64)), 2**62, 2**64 - 1, len(data) * 4][int(rng.integers(0, 4))]
        struct.pack_into("<Q", data, 0, bumped)
        struct.pack_into("<I", data, 8, masked_crc32c(bytes(data[:8])))
    elif kind == 3:
        data += frame_record(rng.bytes(int(rng.integers(0, 500))))
    return bytes(data)


def _npy(shape: tuple, dtype: str = "<i8", data: bytes = b"") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode("latin1")
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _bad_index(rng: np.random.Generator, kind: int) -> tuple[str, bytes]:
    """(suffix, bytes) of a broken index of Slideflow's forms."""
    if kind == 0:  # npz with the wrong shape and dtype
        buf = io.BytesIO()
        np.savez(buf, arr_0=rng.random((3, 3)).astype(np.float32), locations=np.zeros((1,), np.int8))
        return ".index.npz", buf.getvalue()
    if kind == 1:  # npz whose header claims a huge array with no data
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("arr_0.npy", _npy((10**15, 2)))
        return ".index.npz", buf.getvalue()
    if kind == 2:
        return ".index.npz", rng.bytes(200)
    if kind == 3:
        lines = ["0 100", "-5 7", "abc def", "99999999999999999999 1", "\x00\x01"]
        return ".index", "\n".join(lines[int(rng.integers(0, 5))] for _ in range(20)).encode()
    return ".index.npy", _npy((4,), "<f8", rng.bytes(32)) if kind == 4 else rng.bytes(64)


def build_fuzz_folder(root: Path, seed: int, files: int) -> None:
    rng = np.random.default_rng(seed)
    root.mkdir()
    for n in range(files):
        path = root / f"fuzz_{n:03d}.tfrecords"
        data = _tile_file(rng, int(rng.integers(1, 12)))
        path.write_bytes(_mutate(rng, data) if n % 3 else data)
        if n % 4 == 1:
            suffix, blob = _bad_index(rng, n // 4 % 6)
            (root / f"fuzz_{n:03d}{suffix}").write_bytes(blob)
        elif n % 4 == 2:
            try:
                create_index(path)
            except ValueError:
                pass
    (root / "empty.tfrecords").write_bytes(b"")
    manifest = [rng.bytes(100), b'{"fuzz_000.tfrecords": {"total": "many", "size": [], "mtime_ns": null}}',
                json.dumps({"fuzz_001.tfrecords": {"total": 10**12}}).encode()][seed % 3]
    (root / "manifest.json").write_bytes(manifest)


def _responsive(qtbot) -> None:
    """The GUI thread's event loop turns: a timer fires."""
    timer = QTimer()
    timer.setSingleShot(True)
    with qtbot.waitSignal(timer.timeout, timeout=2000):
        timer.start(1)


@pytest.mark.parametrize("seed", [SEED, SEED + 1])
def test_window_survives_a_folder_of_mutated_files(qtbot, window, tmp_path: Path, seed: int) -> None:
    root = tmp_path / "fuzz"
    build_fuzz_folder(root, seed, FILES)
    with qtbot.waitSignal(window.loaded, timeout=20_000):
        window.open_path(str(root))
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=30_000)  # opening and indexing finished
    _responsive(qtbot)
    assert len(window.datasets.entries) == FILES + 1
    assert all(e.state != "pending" for e in window.datasets.entries)

    window.browser.select_files(list(range(len(window.datasets.entries))))
    model = window.browser.tile_model
    rows = model.rowCount()
    window.browser.thumbs.MARGIN = 10**9  # every tile wanted: the grid reports only the rows it shows
    for row in range(rows):  # every tile, as scrolling through the grid would ask
        model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: all(model.thumbnail_settled(r) for r in range(rows)), timeout=30_000)
    for row in range(rows):
        if not model.has_thumbnail(row):
            tip = model.data(model.index(row), Qt.ItemDataRole.ToolTipRole)
            assert "⚠" in tip and "record" in tip, tip

    for row in range(rows - 1, 0, -max(1, rows // 25)):  # click through the tiles (row 0 is current)
        with qtbot.waitSignal(window.recordShown, timeout=10_000):
            window.grid.setCurrentIndex(model.index(row))
        assert window.viewer.has_image() or window.viewer.title.text()
    _responsive(qtbot)
    for worker in (window.browser.thumbs, window.browser.reader, window.map_panel.builder):
        assert worker.thread.isRunning(), worker

    good = tmp_path / "good"
    good.mkdir()
    write_tiles(good / "ok.tfrecords", 5)
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(good))
    qtbot.waitUntil(lambda: model.rowCount() == 5, timeout=10_000)
    for row in range(5):
        model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: all(model.has_thumbnail(r) for r in range(5)), timeout=10_000)
    qtbot.waitUntil(window.viewer.has_image, timeout=10_000)
