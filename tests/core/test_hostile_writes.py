"""Writes on a full disk, after a killed run, and under names the file system refuses."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer.core import local_storage as paths
from tfr_viewer.core.export import iter_export_tiles
from tfr_viewer.core.naming import parse_location
from tfr_viewer.core.progress import run_job

from ..helpers import make_jpeg, write_tfrecord_py


class FullDisk(io.FileIO):
    """A file on a disk that fills up after `room` bytes: writes then fail with ENOSPC, as
    the buffered writer above it sees on a real full disk (its close flushes and fails again)."""

    room = 10_000

    def write(self, data) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


def _full_disk_open(path, mode="r", *args, **kwargs):
    """`open` as the module under test sees it (AtomicOutput opens its temporary file's descriptor)."""
    if "w" in mode and (isinstance(path, int) or ".partial-" in os.fspath(path)):
        return io.BufferedWriter(FullDisk(path, "w"))
    return open(path, mode, *args, **kwargs)


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".chunk-" in p.name)


@pytest.mark.parametrize("size", [5_000, 50_000], ids=["fails-on-close", "fails-on-write"])
def test_full_disk_removes_the_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(paths, "open", _full_disk_open, raising=False)
    monkeypatch.setattr(FullDisk, "room", 1_000)
    dest = tmp_path / "x.index.npz"
    with pytest.raises(OSError) as error:
        paths.atomic_write_bytes(dest, b"\0" * size)
    assert list(tmp_path.iterdir()) == []  # the unfixed close() raised again and kept the file
    assert error.value.errno == errno.ENOSPC
    assert str(error.value) == f"[Errno 28] cannot write {dest}: No space left on device"


def test_full_disk_during_convert_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(20):
        (src / f"t_{i}-0.jpg").write_bytes(make_jpeg(64, 64, seed=i))
    monkeypatch.setattr(paths, "open", _full_disk_open, raising=False)
    out = tmp_path / "out"
    with pytest.raises(OSError, match=r"cannot write .*f\.tfrecords: No space left on device") as error:
        sf.io.write_tfrecords_single(src, out, "f", "f")
    assert error.value.errno == errno.ENOSPC
    assert list(out.iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_dead_writers_are_swept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "_swept", set())
    dead = _dead_pid()
    old = time.time() - 2 * paths.STALE_AFTER_SECONDS
    names = {
        f".a.tfrecords.partial-{dead}-0a1b2c3d": False,  # a killed run's: removed
        f".a.tfrecords.chunk-{dead}-0a1b2c3d-7": False,
        f".b.index.npz.partial-{dead}-ffffffff": False,
        f".c.tfrecords.partial-{os.getppid()}-0a1b2c3d": True,  # a live writer's
        f".d.tfrecords.partial-{os.getpid()}-0a1b2c3d": True,  # ours
        f"e.tfrecords.partial-{dead}-0a1b2c3d": True,  # a user's: no leading dot
        f".f.tfrecords.partial-{dead}-0a1b2c3d.bak": True,
        f".g.tfrecords.partial-{dead}-XYZ": True,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (old, old))
    fresh = tmp_path / f".h.tfrecords.partial-{dead}-0a1b2c3d"  # written a moment ago: maybe another host's
    fresh.write_bytes(b"x")
    paths.atomic_write_bytes(tmp_path / "new.bin", b"data")
    kept = {p.name for p in tmp_path.iterdir()}
    assert kept == {name for name, keep in names.items() if keep} | {fresh.name, "new.bin"}


def test_long_slide_names_are_shortened_unique_and_keep_locations(tmp_path: Path) -> None:
    slides = ["é" * 200, "é" * 199 + "x", "s" * 300, "../..", ".hidden"]
    tfr = tmp_path / "t.tfrecords"
    write_tfrecord_py(tfr, [{"image_raw": make_jpeg(seed=i), "slide": s, "loc_x": i, "loc_y": -i}
                            for i, s in enumerate(slides)])
    report = run_job(iter_export_tiles(tfr, tmp_path / "out"))
    assert report.skipped == []
    names = sorted(os.path.basename(p) for p in report.written)
    assert len(set(names)) == len(slides)
    assert all(len(n.encode()) <= 255 and not n.startswith(".") and "/" not in n for n in names)
    assert sorted(parse_location(n, "*_X-Y.ext") for n in names) == sorted((i, -i) for i in range(len(slides)))


def test_records_without_image_bytes_are_skipped_in_export(tmp_path: Path) -> None:
    tfr = tmp_path / "t.tfrecords"
    write_tfrecord_py(tfr, [{"image_raw": make_jpeg(), "slide": "s", "loc_x": 0, "loc_y": 0},
                            {"image_raw": 1.5, "slide": "s", "loc_x": 1, "loc_y": 0},
                            {"slide": "s", "loc_x": 2, "loc_y": 0}])
    report = run_job(iter_export_tiles(tfr, tmp_path / "out"))
    assert len(report.written) == 1 and [i for i, _ in report.skipped] == [1, 2]
