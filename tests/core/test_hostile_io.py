"""Hostile files through the library: gzip bombs and crafted resync input stay bounded, verify
numbers records right and tells file health from tile checks, folder walks stay in the folder,
the cache is private."""

from __future__ import annotations

import gzip
import os
import random
import stat
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer.core import framing, source
from tfr_viewer.core import verify as verify_mod
from tfr_viewer.core.local_storage import find_tfrecords, make_dirs, make_private_file
from tfr_viewer.core.paths import cache_path_for

from ..helpers import example_py, frame_py, make_jpeg, read_frames_py, write_tfrecord_py

MIB = 1 << 20


def _tiles(n: int) -> list[dict]:
    jpeg = make_jpeg()
    return [{"image_raw": jpeg, "slide": "s", "loc_x": i, "loc_y": 0} for i in range(n)]


def _bad_payloads(path: Path, n: int, bad: set[int]) -> None:
    """`n` tile records, those in `bad` with a flipped payload byte (their headers intact)."""
    framed = [bytearray(frame_py(example_py(r))) for r in _tiles(n)]
    for i in bad:
        framed[i][40] ^= 0xFF
    path.write_bytes(b"".join(framed))


# --- gzip ----------------------------------------------------------------------------------------


def _gzip_bomb(path: Path, mib: int) -> int:
    """`mib` gzip members of 1 MiB each (a little noise, then zeros: ~200x, under the ratio cap)."""
    block = random.Random(0).randbytes(4300) + bytes(MIB - 4300)
    member = gzip.compress(block, compresslevel=6, mtime=0)
    path.write_bytes(member * mib)
    return mib * MIB


def _peak_rss_mb(code: str) -> tuple[float, float, str]:
    """(peak RSS in MB after imports, peak RSS in MB at the end, stdout) of `code` in a fresh interpreter."""
    script = textwrap.dedent(
        """
        import resource, sys
        import tfr_viewer.core.source as source
        def peak():
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = peak()
        """
    ) + textwrap.dedent(code) + "\nprint(start, peak())\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    *out, last = result.stdout.strip().splitlines()
    start, end = map(float, last.split())
    return start, end, "\n".join(out)


def test_gzip_inflates_without_a_second_copy(tmp_path: Path) -> None:
    """The inflated bytes are held once: the final `bytes(out)` copy made the peak twice the size."""
    bomb = tmp_path / "bomb.tfrecords"
    inflated = _gzip_bomb(bomb, 160)
    start, end, out = _peak_rss_mb(
        f"""
        f = source.open_source({str(bomb)!r})
        print(len(f.getbuffer()), source.source_size(f), source.source_damage(f))
        """
    )
    assert out.split() == [str(inflated), str(inflated), "None"]
    assert end - start < 1.4 * inflated / MIB  # before: 2x (here ~330 MB over the start)


def test_gzip_cap_follows_the_cgroup_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "cgroup"
    (fake / "memory").mkdir(parents=True)
    (fake / "memory.max").write_text("max\n")  # v2, no limit
    (fake / "memory" / "memory.limit_in_bytes").write_text(f"{100 * MIB}\n")  # v1, 100 MiB
    assert source.cgroup_memory_limit(str(fake)) == 100 * MIB
    (fake / "memory.max").write_text(f"{80 * MIB}\n")
    assert source.cgroup_memory_limit(str(fake)) == 80 * MIB
    assert source.cgroup_memory_limit(str(tmp_path / "none")) is None

    bomb = tmp_path / "bomb.tfrecords"
    _gzip_bomb(bomb, 100)  # 100 MiB inflated: over half of an 80 MiB cgroup and the 64 MiB floor
    monkeypatch.setattr(source, "CGROUP_ROOT", str(fake))
    report = sf.verify(bomb)
    assert not report.ok and "bomb.tfrecords" in str(sf.TFRecordError(report.first_bad.reason, bomb))
    assert "inflates to more than" in report.first_bad.reason and "cgroup" in report.first_bad.reason
    monkeypatch.setattr(source, "CGROUP_ROOT", str(tmp_path / "none"))
    with source.open_source(bomb) as f:
        assert len(f.getbuffer()) == 100 * MIB


class _CountingInflater:
    """A zlib inflater that counts the input bytes handed to it (zlib copies the rest of every
    piece it is given when a member ends: that copy is what made many members quadratic)."""

    fed = 0

    def __init__(self, inner) -> None:
        self._inner = inner

    def decompress(self, data, max_length=0):
        _CountingInflater.fed += len(data)
        return self._inner.decompress(data, max_length)

    def copy(self):
        return _CountingInflater(self._inner.copy())

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_many_tiny_gzip_members_cost_linear_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tfr = tmp_path / "plain.tfrecords"
    payloads = write_tfrecord_py(tfr, _tiles(20))
    data = tfr.read_bytes()
    pieces = [data[i : i + 8] for i in range(0, len(data), 8)]
    many = tmp_path / "many.tfrecords"
    many.write_bytes(b"".join(gzip.compress(p, mtime=0) for p in pieces))
    assert len(pieces) > 4000

    class CountingZlib:
        error = zlib.error

        @staticmethod
        def decompressobj(*args, **kwargs):
            return _CountingInflater(zlib.decompressobj(*args, **kwargs))

    monkeypatch.setattr(source, "zlib", CountingZlib)
    _CountingInflater.fed = 0
    with sf.TFRecord(many, create_index=False) as records:
        assert [records.read_payload(i) for i in range(len(records))] == payloads
    compressed = many.stat().st_size
    assert _CountingInflater.fed < 10 * compressed  # before: the rest of the chunk per member, ~5000x


# --- verify ----------------------------------------------------------------------------------------


def _crafted_headers(size: int) -> bytes:
    """A valid length header every 12 bytes, each claiming a record that ends on another one."""
    n = size // 12
    head = struct.pack("<Q", 12 * (n // 2) - 16)
    return (head + struct.pack("<I", framing.masked_crc32c(head))) * n


def test_resync_on_crafted_headers_is_linear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "crafted.tfrecords"
    path.write_bytes(_crafted_headers(256 << 10))
    checked = []
    real = framing.masked_crc32c
    count = lambda data: checked.append(len(data)) or real(data)  # noqa: E731
    monkeypatch.setattr(framing, "masked_crc32c", count)
    monkeypatch.setattr(verify_mod, "masked_crc32c", count)
    report = sf.verify(path)
    assert not report.ok and report.records_ok == 0
    assert sum(checked) < 4 * path.stat().st_size  # before: every candidate's payload, ~5 GB here


@pytest.mark.parametrize("bad", [{200, 201, 300}, {200, 201}, {0}, {399}])
def test_bad_payloads_are_one_problem_each(tmp_path: Path, bad: set[int]) -> None:
    path = tmp_path / "d.tfrecords"
    _bad_payloads(path, 400, bad)
    report = sf.verify(path)
    assert [p.index for p in report.problems] == sorted(bad)
    assert all("data CRC mismatch" in p.reason for p in report.problems)
    assert report.records_ok == 400 - len(bad) and report.records_total == 400
    assert report.records_ok + report.records_bad == report.records_total

    saved = tmp_path / "saved.tfrecords"
    salvaged = sf.salvage(path, saved)
    assert salvaged.records_bad == len(bad) and len(read_frames_py(saved)) == 400 - len(bad)


def test_ordinary_examples_are_a_sound_file_not_bad_tiles(tmp_path: Path) -> None:
    path = tmp_path / "plain.tfrecords"
    write_tfrecord_py(path, [{"label": i, "text": f"row {i}"} for i in range(30)])
    report = sf.verify(path)
    assert report.ok and report.file_ok and report.records_ok == 30 == report.records_total
    assert report.notes == ["30 record(s) are not image tiles (no 'image_raw' field)"]
    assert report.to_dict()["notes"] == report.notes and report.to_dict()["ok"] is True

    tiles = tmp_path / "tiles.tfrecords"
    write_tfrecord_py(tiles, _tiles(3) + [{"image_raw": b"not an image", "slide": "s"}])
    checked = sf.verify(tiles, check_images=True)
    assert not checked.ok and checked.file_ok and [(p.index, p.level) for p in checked.problems] == [(3, "tile")]
    assert sf.verify(tiles).ok  # the images are only decoded when asked


# --- folders and cache ------------------------------------------------------------------------------


def test_links_out_of_the_folder_are_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    write_tfrecord_py(root / "sub" / "a.tfrecords", _tiles(2))
    write_tfrecord_py(outside / "x.tfrecords", _tiles(2))
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "x.tfrecords").symlink_to(outside / "x.tfrecords")
    (root / "again").symlink_to(root / "sub", target_is_directory=True)  # inside: fine, once
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)

    files, problems = find_tfrecords(root)
    assert [os.path.realpath(f) for f in files] == [str((root / "sub" / "a.tfrecords").resolve())]
    assert sorted(Path(p).name for p, _ in problems) == ["out", "x.tfrecords"]
    assert all(why.startswith("link leaves the folder") for _, why in problems)

    files, problems = find_tfrecords(root, follow_links=True)
    assert sorted(os.path.realpath(f) for f in files) == sorted(
        str(p.resolve()) for p in (root / "sub" / "a.tfrecords", outside / "x.tfrecords"))
    assert problems == []


def test_cache_folders_and_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "new-cache"
    monkeypatch.setenv("TFR_VIEWER_CACHE_DIR", str(cache))
    target = cache_path_for(tmp_path / "a.tfrecords", "index", "a.index.npz")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700 == stat.S_IMODE((cache / "index").stat().st_mode)
    make_dirs(target.parent)
    target.write_bytes(b"x")
    make_private_file(target)
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700 and stat.S_IMODE(target.stat().st_mode) == 0o600
    mine = tmp_path / "user-folder" / "deep"
    make_dirs(mine)
    assert stat.S_IMODE(mine.stat().st_mode) == 0o777 & ~_umask()  # outside the cache: as usual


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
