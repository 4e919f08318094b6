"""Hostile index, manifest and annotations files: bounded memory and time, one file's problem.

Bomb cases run in a child process whose peak RSS is measured (`run_measured`): the unfixed
code loaded an index before checking it and took GBs; here the bound is a few hundred MB.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core.dataset import Dataset
from tfr_viewer.core.index import find_index, load_index
from tfr_viewer.core.index_files import index_bytes, read_index_file

from ..helpers import example_py, frame_py, tile_record, write_tfrecord_py

REPO = Path(__file__).resolve().parents[2]
PEAK_MB = 300  # the unfixed code took 650 MB to 6 GB on these files
SECONDS = 30


def run_measured(args: list[str], timeout: float = SECONDS, cwd: str | Path | None = None) -> dict:
    """Run `args` through a small wrapper that waits for it and reports its peak RSS (MB).

    The wrapper kills the child when it outlives `timeout` (a FIFO that blocks it must not hang
    the test run) and reports rc 124 then.
    """
    wrapper = textwrap.dedent(
        """
        import json, resource, subprocess, sys, time
        t = time.monotonic()
        try:
            p = subprocess.run(sys.argv[2:], capture_output=True, timeout=float(sys.argv[1]))
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out, err = 124, exc.stdout or b"", exc.stderr or b""
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps({"rc": rc, "out": out.decode("utf-8", "replace"), "err": err.decode("utf-8", "replace"),
                          "peak_mb": peak, "seconds": time.monotonic() - t}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, str(timeout), *args],
        capture_output=True, text=True, timeout=timeout + 30, cwd=cwd, env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def run_python(code: str, timeout: float = SECONDS) -> dict:
    """`code` run in a fresh interpreter (with tfr_viewer importable), measured."""
    return run_measured([sys.executable, "-c", textwrap.dedent(code)], timeout, cwd=REPO)


def assert_clean(result: dict, rc: int | None = 0) -> None:
    assert "Traceback" not in result["err"], result["err"]
    if rc is not None:
        assert result["rc"] == rc, result
    assert result["peak_mb"] < PEAK_MB, result
    assert result["seconds"] < SECONDS, result


# --- building hostile files ---------------------------------------------------------------------


def npy_header(shape: tuple, descr: str = "<i8") -> bytes:
    """A version 1.0 .npy header claiming `shape`, as numpy lays it out."""
    text = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    text += " " * ((-(10 + len(text) + 1)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def npz_bomb(path: Path, rows: int) -> None:
    """An npz whose `arr_0` really inflates to (rows, 2) int64 zeros: a few hundred KB on disk."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("arr_0.npy", "w", force_zip64=True) as member:
            member.write(npy_header((rows, 2)))
            zeros = bytes(1 << 22)
            left = rows * 16
            while left:
                member.write(zeros[: min(left, len(zeros))])
                left -= min(left, len(zeros))


def dataset(folder: Path) -> Path:
    """a.tfrecords (3 tiles) and b.tfrecords (5 tiles) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_tfrecord_py(folder / "a.tfrecords", [tile_record(i) for i in range(3)])
    write_tfrecord_py(folder / "b.tfrecords", [tile_record(i) for i in range(5)])
    return folder


BOMB_ROWS = 20_000_000  # 320 MB once inflated (the unfixed code held it twice)
TEXT_BOMB_LINES = 10_000_000  # 50 MB of "0 16" lines: 330 MB in the unfixed loadtxt


def make_bomb(folder: Path, kind: str) -> Path:
    """A dataset whose a.tfrecords has a hostile index of `kind` (or whose manifest.json is a
    FIFO or a link to /dev/zero); returns a.tfrecords."""
    dataset(folder)
    if kind == "npz":
        npz_bomb(folder / "a.index.npz", BOMB_ROWS)
    elif kind == "header":
        (folder / "a.index.npy").write_bytes(npy_header((10**15, 2)))
    elif kind == "text":
        with open(folder / "a.index", "wb") as f:
            chunk = b"0 16\n" * 1_000_000
            for _ in range(TEXT_BOMB_LINES // 1_000_000):
                f.write(chunk)
    elif kind == "fifo":
        os.mkfifo(folder / "manifest.json")
    elif kind == "zero":
        os.symlink("/dev/zero", folder / "manifest.json")
    return folder / "a.tfrecords"


# --- index bombs through the library ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["npz", "header", "text"])
def test_index_bomb_is_ignored_in_bounded_memory(tmp_path: Path, kind: str) -> None:
    path = make_bomb(tmp_path / kind, kind)
    result = run_python(
        f"""
        import tfr_viewer as sf
        from tfr_viewer.core.index import find_index
        tfr = sf.TFRecord({str(path)!r}, create_index=False)
        ds = sf.Dataset({str(path.parent)!r})
        print(len(tfr), ds.num_tiles, len(ds.problems()))
        notes = []
        assert find_index({str(path)!r}, notes) is None
        print(len(notes), notes[0] if notes else "")
        """
    )
    assert_clean(result)
    second, first = result["out"].splitlines()
    assert first.startswith("1 ignored unreadable index a.index")
    assert "more than" in first  # refused for its size, before loading
    assert second.split() == ["3", "8", "1"]  # this file counted from its records, b still 5


def test_bad_index_is_one_files_problem_and_rebuilt_beside_it(tmp_path: Path) -> None:
    folder = dataset(tmp_path / "d")
    header_only = npy_header((10**15, 2))
    (folder / "a.index.npy").write_bytes(header_only)
    ds = Dataset(folder)
    assert ds.manifest()[str(folder / "a.tfrecords")]["total"] == 3
    assert ds.manifest()[str(folder / "b.tfrecords")]["total"] == 5
    [(where, message)] = ds.problems()
    assert where == str(folder / "a.tfrecords") and "a.index.npy" in message
    assert ds.rebuild_index() == []
    info = find_index(folder / "a.tfrecords")
    assert info is not None and info.path == folder / "a.index.npz" and len(info) == 3
    assert (folder / "a.index.npy").read_bytes() == header_only  # the user's file is left as it was
    assert len(sf.TFRecord(folder / "a.tfrecords")) == 3


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04 not really a zip",
        b"\x93NUMPY\x01\x00\xff\xff{'descr': '<i8'",  # header cut short
        npy_header((3, 2)) + b"\x00" * 10,  # data cut short
        npy_header((3, 2), "<c16") + b"\x00" * 96,  # complex numbers
        npy_header((3, 2), "|V16") + b"\x00" * 96,  # raw bytes
        b"\x93NUMPY\x09\x00" + b"\x00" * 60,  # unknown version
    ],
)
def test_broken_index_files_are_refused_not_raised(tmp_path: Path, content: bytes) -> None:
    folder = dataset(tmp_path)
    for name in ("a.index.npy", "a.index.npz"):
        (folder / name).write_bytes(content)
    assert len(sf.TFRecord(folder / "a.tfrecords", create_index=False)) == 3
    assert Dataset(folder).num_tiles == 8
    notes: list[str] = []
    assert find_index(folder / "a.tfrecords", notes) is None
    assert len(notes) == 2


def test_pickled_index_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    folder = dataset(tmp_path / "d")
    objects = np.empty((3, 2), dtype=object)
    objects[0, 0] = Payload()
    np.save(folder / "a.index.npy", objects, allow_pickle=True)
    assert pickle.dumps(Payload())  # (the payload would run if loaded)
    with zipfile.ZipFile(folder / "a.index.npz", "w") as archive:
        archive.write(folder / "a.index.npy", "arr_0.npy")
    assert Dataset(folder).num_tiles == 8
    assert not marker.exists()
    notes: list[str] = []
    assert find_index(folder / "a.tfrecords", notes) is None
    assert len(notes) == 2 and all("not a plain number" in n for n in notes)
    assert not marker.exists()


def test_npz_member_larger_than_its_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.index.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("arr_0.npy", npy_header((1, 2)) + b"\x00" * 16 + b"\x00" * 4096)
    with pytest.raises(ValueError, match="needs 16 data bytes"):
        read_index_file(path, 1000)


def test_npz_member_inflating_too_far_is_refused_before_inflating(tmp_path: Path) -> None:
    path = tmp_path / "x.index.npz"
    npz_bomb(path, 2_000_000)  # 32 MB of zeros, 140 KB deflated
    start = time.monotonic()
    with pytest.raises(ValueError, match="decompression bomb"):
        read_index_file(path, 10**8)  # even where the TFRecord could hold that many records
    assert time.monotonic() - start < 1


def test_text_index_line_that_is_not_two_integers_is_refused(tmp_path: Path) -> None:
    folder = dataset(tmp_path)
    good = load_index(folder / "a.tfrecords")
    assert good is None
    info = sf.TFRecord(folder / "a.tfrecords", create_index=False).index_info
    lines = [f"{o} {n}" for o, n in info.offsets.tolist()]
    (folder / "a.index").write_text("\n".join(lines) + "\n")
    assert find_index(folder / "a.tfrecords").path == folder / "a.index"  # the good form is read
    for bad in (lines[:1] + ["1 2 3"] + lines[2:], lines[:1] + ["x" * 5000], ["9" * 30 + " 16"]):
        (folder / "a.index").write_text("\n".join(bad) + "\n")
        assert len(sf.TFRecord(folder / "a.tfrecords", create_index=False)) == 3
        notes: list[str] = []
        assert find_index(folder / "a.tfrecords", notes) is None
        assert len(notes) == 1


# --- an index that lies ----------------------------------------------------------------------------


def _small_records(path: Path, n: int) -> np.ndarray:
    """n small records with locations; returns their true offsets."""
    frames = [frame_py(example_py({"slide": "s", "loc_x": i, "loc_y": 2 * i})) for i in range(n)]
    path.write_bytes(b"".join(frames))
    lengths = np.array([len(f) for f in frames], dtype=np.int64)
    return np.stack([np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths], axis=1)


def wrap_dataset(folder: Path) -> Path:
    """wrap.tfrecords (1096 records) beside an index whose lengths wrap around 2**64: in int64
    arithmetic its offsets chain up to the file size, and it lists 100 records fewer."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "wrap.tfrecords"
    true = _small_records(path, 1096)
    # records 500..602 are replaced by three entries whose lengths sum to their span + 2**64,
    # away from the records whose headers the old check sampled
    first, last = 500, 603
    span = int(true[last, 0] - true[first, 0])
    third = (span + 2**64) // 3
    lengths = [third, third, span + 2**64 - 2 * third]
    fake = [[int(true[first, 0]), lengths[0]]]
    for length in lengths[1:]:
        fake.append([(fake[-1][0] + fake[-1][1] + 2**63) % 2**64 - 2**63, length])
    forged = np.concatenate([true[:first], np.array(fake, dtype=np.int64), true[last:]])
    assert len(true) - len(forged) == 100
    with np.errstate(over="ignore"):
        assert np.array_equal(forged[1:, 0], forged[:-1, 0] + forged[:-1, 1])  # (wrapping) contiguous
    locations = np.array([[i, 2 * i] for i in range(len(forged))], dtype=np.int64)
    (folder / "wrap.index.npz").write_bytes(index_bytes(forged, locations))
    return path


def test_lengths_that_wrap_around_2_64_do_not_hide_records(tmp_path: Path) -> None:
    path = wrap_dataset(tmp_path)
    assert find_index(path) is None
    assert len(sf.TFRecord(path)) == 1096
    assert Dataset(path).num_tiles == 1096


def test_index_whose_locations_do_not_match_the_records_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "loc.tfrecords"
    offsets = _small_records(path, 50)
    index = tmp_path / "loc.index.npz"
    good = np.array([[i, 2 * i] for i in range(50)], dtype=np.int64)
    index.write_bytes(index_bytes(offsets, good))
    before = index.stat().st_mtime_ns, index.read_bytes()
    assert find_index(path) is not None
    sf.TFRecord(path)  # a valid index is used and never rewritten
    assert (index.stat().st_mtime_ns, index.read_bytes()) == before
    for wrong in (good + 1, np.concatenate([good[:1] + [5, 5], good[1:]])):  # all, or only the first
        index.write_bytes(index_bytes(offsets, wrong))
        assert find_index(path) is None
        tfr = sf.TFRecord(path)
        assert tfr.locations[0] == (0, 0) and tfr.locations[49] == (49, 98)


# --- manifest and annotations ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_manifest_that_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    folder = dataset(tmp_path / "d")
    manifest = folder / "manifest.json"
    if kind == "fifo":
        os.mkfifo(manifest)
    else:
        os.symlink("/dev/zero", manifest)
    result = run_python(
        f"""
        import tfr_viewer as sf
        ds = sf.Dataset({str(folder)!r})
        print(ds.num_tiles, ds.problems())
        """
    )
    assert_clean(result)
    assert result["out"].startswith("8 [(")
    assert "manifest ignored (not a regular file)" in result["out"]
    assert manifest.is_symlink() if kind == "zero" else manifest.is_fifo()  # never written over


def test_manifest_too_big_or_too_deep_is_ignored(tmp_path: Path) -> None:
    folder = dataset(tmp_path / "d")
    manifest = folder / "manifest.json"
    manifest.write_text("[" * 100_000 + "]" * 100_000)
    ds = Dataset(folder)
    assert ds.num_tiles == 8 and "nested too deeply" in dict(ds.problems())[str(manifest)]
    with open(manifest, "wb") as f:
        f.truncate(17 << 20)  # sparse
    ds = Dataset(folder)
    assert ds.num_tiles == 8 and "more than" in dict(ds.problems())[str(manifest)]


def test_shipped_manifest_counts_are_checked(tmp_path: Path) -> None:
    folder = dataset(tmp_path / "d")
    st = (folder / "a.tfrecords").stat()
    forged = {
        "a.tfrecords": {"total": 999_999, "size": st.st_size, "mtime_ns": st.st_mtime_ns},
        "b.tfrecords": {"total": 999_999},  # Slideflow's shape, nothing to check it by
    }
    (folder / "manifest.json").write_text(json.dumps(forged))
    ds = Dataset(folder)
    assert ds.num_tiles == 8 and ds.problems() == []
    written = json.loads((folder / "manifest.json").read_text())
    assert written["a.tfrecords"]["total"] == 3 and written["b.tfrecords"]["total"] == 5  # Slideflow's shape
    for total in (0, True, -1):  # no tiles in a file with bytes and no error, a bool, a negative
        forged["a.tfrecords"]["total"] = total
        (folder / "manifest.json").write_text(json.dumps(forged))
        assert Dataset(folder).manifest()[str(folder / "a.tfrecords")]["total"] == 3


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_annotations_that_are_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    folder = dataset(tmp_path / "d")
    annotations = tmp_path / "annotations.csv"
    if kind == "fifo":
        os.mkfifo(annotations)
    else:
        os.symlink("/dev/zero", annotations)
    result = run_python(
        f"""
        import tfr_viewer as sf
        try:
            sf.Dataset({str(folder)!r}, annotations={str(annotations)!r})
        except ValueError as exc:
            print(exc)
        """
    )
    assert_clean(result)
    assert "cannot be used (not a regular file)" in result["out"]


# --- loaders -----------------------------------------------------------------------------------


def test_multi_loader_clip_by_path_in_any_spelling(tmp_path: Path) -> None:
    folder = dataset(tmp_path / "d")
    a, b = str(folder / "a.tfrecords"), str(folder / "b.tfrecords")
    for paths, key in [
        ([a.encode(), b.encode()], a.encode()),  # as Slideflow passes them
        ([a.encode(), b.encode()], a),
        ([a, b], a.encode()),
        ([Path(a), Path(b)], Path(a)),
    ]:
        loader = sf.multi_tfrecord_loader(paths, None, clip={key: 1}, infinite=False, seed=0)
        slides = [int(r["loc_x"][0]) for r in loader]
        assert len(slides) == 1 + 5, (paths, key)


def test_ignored_index_is_reported_until_it_is_gone(tmp_path: Path) -> None:
    folder = dataset(tmp_path / "d")
    bad = folder / "a.index.npy"
    bad.write_bytes(npy_header((10**15, 2)))
    assert [p for p, _ in Dataset(folder).problems()] == [str(folder / "a.tfrecords")]
    assert [p for p, _ in Dataset(folder).problems()] == [str(folder / "a.tfrecords")]  # count cached
    bad.unlink()
    assert Dataset(folder).problems() == []



WINDOW_SCRIPT = """
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["TFR_VIEWER_CONFIG_DIR"] = sys.argv[2]
from PySide6.QtWidgets import QApplication
from tfr_viewer.gui.main_window import MainWindow
from tfr_viewer.gui.settings import Settings
from tfr_viewer.gui.workers import active_threads

app = QApplication([])
window = MainWindow(Settings(fresh=True), dialogs=False)
window.show()
window.open_path(sys.argv[1])
deadline = time.monotonic() + 20
def done():
    return (len(window.datasets.entries) == 2 and all(e.state == "indexed" for e in window.datasets.entries)
            and not window.jobs.busy())
while not done() and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.01)
print(sorted((os.path.basename(e.path), e.state, e.count) for e in window.datasets.entries))
window.close()
while active_threads() and time.monotonic() < deadline + 10:
    app.processEvents()
    time.sleep(0.01)
print("threads left:", len(active_threads()))
"""


@pytest.mark.parametrize("kind", ["npz", "header", "text", "fifo", "zero"])
def test_window_opens_a_folder_with_an_index_bomb(tmp_path: Path, kind: str) -> None:
    pytest.importorskip("PySide6")
    path = make_bomb(tmp_path / kind, kind)
    result = run_measured(
        [sys.executable, "-c", WINDOW_SCRIPT, str(path.parent), str(tmp_path / "config")], cwd=REPO
    )
    assert_clean(result)
    listed, threads = result["out"].splitlines()[-2:]
    assert listed == "[('a.tfrecords', 'indexed', 3), ('b.tfrecords', 'indexed', 5)]"
    assert threads == "threads left: 0"


def test_scanning_many_empty_records_takes_memory_near_the_file_size(tmp_path: Path) -> None:
    import tracemalloc

    from tfr_viewer.core.index import iter_scan
    from tfr_viewer.core.progress import run_job

    path = tmp_path / "empty.tfrecords"
    n = 30_000
    path.write_bytes(frame_py(b"") * n)  # 16 bytes a record: the most records a size can hold
    tracemalloc.start()
    try:
        info = run_job(iter_scan(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(info) == n and info.locations is None
    assert peak < 3 * path.stat().st_size, peak  # (with the read buffer); a list of tuples took ~7x
