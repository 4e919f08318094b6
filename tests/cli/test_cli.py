"""The real `tfr-viewer` entry point, run as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf

from ..helpers import make_jpeg, tile_record, write_tfrecord_py


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "tfr_viewer", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


@pytest.fixture
def folder(tmp_path: Path, data_dir: Path) -> Path:
    target = tmp_path / "tfrs"
    shutil.copytree(data_dir / "tf_jpeg", target)
    return target


def test_help_and_version_without_a_display() -> None:
    result = run("--help")
    assert result.returncode == 0 and "info" in result.stdout
    result = run("--version")
    assert result.returncode == 0 and sf.__version__ in result.stdout
    for command in ("info", "summary", "index", "verify", "convert", "export", "salvage", "mosaic"):
        assert run(command, "--help").returncode == 0


def test_info_json(folder: Path) -> None:
    result = run("info", str(folder / "slide_000.tfrecords"), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["records"] == 24 and data["img_format"] == "jpeg"
    assert sorted(data["fields"]) == ["image_raw", "loc_x", "loc_y", "slide"]
    locations = sf.TFRecord(folder / "slide_000.tfrecords").locations
    assert data["locations"]["max_x"] == max(x for x, _ in locations)
    text = run("info", str(folder / "slide_000.tfrecords"))
    assert "Records:     24" in text.stdout


def test_summary_text_and_json(folder: Path) -> None:
    result = run("summary", str(folder))
    assert result.returncode == 0 and "Number of tiles in TFRecords: 48" in result.stdout
    data = json.loads(run("summary", str(folder), "--json").stdout)
    assert data["num_tiles"] == 48 and len(data["tfrecords"]) == 2 and data["problems"] == []


def test_index_builds_and_rebuilds(tmp_path: Path) -> None:
    write_tfrecord_py(tmp_path / "a.tfrecords", [tile_record(i) for i in range(5)])
    data = json.loads(run("index", str(tmp_path), "--json").stdout)
    assert [d["status"] for d in data] == ["built"] and (tmp_path / "a.index.npz").exists()
    data = json.loads(run("index", str(tmp_path / "a.tfrecords"), "--json").stdout)
    assert data[0]["status"] == "valid"
    data = json.loads(run("index", str(tmp_path), "--rebuild", "--json").stdout)
    assert data[0]["status"] == "valid"  # read through again: the index written was already right
    np.savez(tmp_path / "a.index.npz", arr_0=np.array([[0, 10]], dtype=np.int64))
    data = json.loads(run("index", str(tmp_path), "--rebuild", "--json").stdout)
    assert data[0]["status"] == "built" and len(np.load(tmp_path / "a.index.npz")["arr_0"]) == 5


def test_verify_exit_codes(folder: Path, tmp_path: Path) -> None:
    assert run("verify", str(folder)).returncode == 0
    bad = tmp_path / "bad.tfrecords"
    shutil.copy(folder / "slide_001.tfrecords", bad)
    data = bytearray(bad.read_bytes())
    data[5000] ^= 0xFF
    bad.write_bytes(bytes(data))
    result = run("verify", str(bad), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)["files"][0]
    assert report["ok"] is False and report["records_ok"] == 23 and report["problems"][0]["index"] >= 0


def test_convert_single_and_multi(tmp_path: Path) -> None:
    src = tmp_path / "images" / "slide_X"
    src.mkdir(parents=True)
    for i in range(3):
        (src / f"t_{i * 10}-5.jpg").write_bytes(make_jpeg(seed=i))
    result = run("convert", str(src), str(tmp_path / "out"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tiles"] == 3
    tfr = sf.TFRecord(tmp_path / "out" / "slide_X.tfrecords")
    assert tfr.locations == [(0, 5), (10, 5), (20, 5)] and tfr[2]["image_raw"] == make_jpeg(seed=2)
    again = run("convert", str(src), str(tmp_path / "out"))
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    multi = run("convert", str(tmp_path / "images"), str(tmp_path / "multi"), "--multi", "--json")
    assert [w["slide"] for w in json.loads(multi.stdout)["written"]] == ["slide_X"]


def test_export_names_and_formats(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiles"
    result = run("export", str(folder / "slide_000.tfrecords"), str(out), "--indices", "0", "1", "--json")
    assert result.returncode == 0, result.stderr
    tfr = sf.TFRecord(folder / "slide_000.tfrecords")
    x, y = tfr.locations[0]
    assert (out / f"slide_000_{x}-{y}.jpg").read_bytes() == tfr[0]["image_raw"]
    png = run("export", str(folder / "slide_000.tfrecords"), str(out), "--indices", "0", "--format", "png")
    assert png.returncode == 0 and (out / f"slide_000_{x}-{y}.png").read_bytes().startswith(b"\x89PNG")


def test_salvage(folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tfrecords"
    shutil.copy(folder / "slide_000.tfrecords", bad)
    data = bytearray(bad.read_bytes())
    data[20000] ^= 0xFF
    bad.write_bytes(bytes(data))
    result = run("salvage", str(bad), str(tmp_path / "good.tfrecords"), "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["records_written"] == 23
    assert run("verify", str(tmp_path / "good.tfrecords")).returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ("info", "/definitely/not/here.tfrecords"),
        ("summary", "/definitely/not/here"),
        ("verify", "/definitely/not/here"),
        ("convert", "/definitely/not/here", "/tmp/x"),
        ("info",),
        ("export", "/nope.tfrecords", "/tmp/x"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") <= 2


def test_corrupt_file_info_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.tfrecords"
    bad.write_bytes(b"\x01" * 100)
    result = run("info", str(bad))
    assert result.returncode == 2 and "garbage.tfrecords" in result.stderr and "Traceback" not in result.stderr


def test_a_folder_named_like_a_subcommand_does_not_open_the_window(folder: Path, tmp_path: Path) -> None:
    """`tfr-viewer export F export/` beside an `export/` folder exports (headless), as typed."""
    work = tmp_path / "work"
    (work / "export").mkdir(parents=True)
    (work / "verify").write_text("a file named like a subcommand")
    result = run("export", str(folder / "slide_000.tfrecords"), "export", "--indices", "0", cwd=work)
    assert result.returncode == 0, result.stderr
    assert len(list((work / "export").iterdir())) == 1
    assert run("verify", str(folder / "slide_000.tfrecords"), cwd=work).returncode == 0


def test_export_never_replaces_a_tile_it_wrote(tmp_path: Path) -> None:
    """Every location (0, 0), as Slideflow's writer stores them, and an index asked twice."""
    path = tmp_path / "zeros.tfrecords"
    images = [make_jpeg(seed=i) for i in range(3)]
    write_tfrecord_py(path, [{"image_raw": im, "slide": "S", "loc_x": 0, "loc_y": 0} for im in images])
    out = tmp_path / "out"
    first = json.loads(run("export", str(path), str(out), "--indices", "0", "0", "1", "2", "--json").stdout)
    second = json.loads(run("export", str(path), str(out), "--json").stdout)
    written = first["written"] + second["written"]
    assert len(set(written)) == len(written) == 7
    assert [Path(p).read_bytes() for p in first["written"]] == [images[0], images[0], images[1], images[2]]
    assert [Path(p).read_bytes() for p in second["written"]] == images


def test_export_skips_records_whose_image_does_not_decode(tmp_path: Path) -> None:
    path = tmp_path / "mixed.tfrecords"
    good = make_jpeg(seed=1)
    write_tfrecord_py(path, [
        {"image_raw": b"not an image", "slide": "S", "loc_x": 1, "loc_y": 2},
        {"image_raw": good, "slide": "S", "loc_x": 3, "loc_y": 4},
        {"image_raw": b"\xff\xd8\xff\xe0truncated", "slide": "S", "loc_x": 5, "loc_y": 6},
    ])
    out = tmp_path / "out"
    result = run("export", str(path), str(out), "--format", "png", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert [s["index"] for s in data["skipped"]] == [0, 2]
    assert all("0x" not in s["reason"] for s in data["skipped"])
    assert [p.name for p in out.iterdir()] == ["S_3-4.png"]
    as_is = json.loads(run("export", str(path), str(tmp_path / "raw"), "--json").stdout)
    assert [Path(p).read_bytes() for p in as_is["written"]] == [good]


def test_summary_refuses_a_file_that_is_not_a_tfrecord(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    result = run("summary", str(other))
    assert result.returncode == 2 and "not a .tfrecords file" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_summary_and_index_exit_1_on_an_empty_file(folder: Path) -> None:
    (folder / "empty.tfrecords").write_bytes(b"")
    summary = run("summary", str(folder), "--json")
    assert summary.returncode == 1 and len(json.loads(summary.stdout)["problems"]) == 1
    index = run("index", str(folder / "empty.tfrecords"))
    assert index.returncode == 1 and "empty file" in index.stdout
    assert not (folder / "empty.index.npz").exists()
    assert (folder / "empty.tfrecords").read_bytes() == b""


def test_index_of_a_gzip_file_says_none_is_written(tmp_path: Path, data_dir: Path) -> None:
    shutil.copy(data_dir / "tf_extra" / "gzip.tfrecords", tmp_path / "gzip.tfrecords")
    result = run("index", str(tmp_path / "gzip.tfrecords"))
    assert result.returncode == 0 and "no index" in result.stdout and "gzip" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gzip.tfrecords"]


def test_salvage_with_no_good_record_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.tfrecords"
    bad.write_bytes(b"\x00" * 100)
    result = run("salvage", str(bad), str(tmp_path / "copy.tfrecords"))
    assert result.returncode != 0 and "no good record" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.tfrecords"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_closes_the_window_cleanly(tmp_path: Path) -> None:
    """SIGTERM (or Ctrl+C in the terminal) closes the window like its close button: exit 0,
    worker processes stopped, nothing leaked."""
    import signal

    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TFR_VIEWER_CONFIG_DIR": str(tmp_path / "config")}
    proc = subprocess.Popen([sys.executable, "-m", "tfr_viewer", "--demo", "--fresh-settings", "--screenshot", str(shot)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()  # the window is up and loaded once it says so
        assert line.startswith("screenshot saved:") and proc.poll() is None, line
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "leaked" not in stderr and "Traceback" not in stderr


def _flip_inside_record(folder: Path, record: int) -> Path:
    """One flipped payload byte: the record's CRC fails, its framing (and all others) are sound."""
    path = folder / "slide_000.tfrecords"
    offsets = sf.io.tfrecord2idx.load_index(path)
    data = bytearray(path.read_bytes())
    data[int(offsets[record, 0]) + 200] ^= 0xFF
    path.write_bytes(bytes(data))
    for index in folder.glob("slide_000.index*"):
        index.unlink()
    return path


def test_one_damaged_record_does_not_hide_the_records_after_it(folder: Path, tmp_path: Path) -> None:
    path = _flip_inside_record(folder, 5)
    damaged = path.read_bytes()
    count = len(sf.TFRecord(folder / "slide_001.tfrecords"))  # (the other file, for the summary)
    out = tmp_path / "out"
    exported = run("export", str(path), str(out), "--json")
    assert exported.returncode == 1, exported.stderr
    data = json.loads(exported.stdout)
    assert [s["index"] for s in data["skipped"]] == [5] and "data CRC mismatch" in data["skipped"][0]["reason"]
    assert len(data["written"]) == 23
    info = run("info", str(path), "--json")
    assert info.returncode == 1
    details = json.loads(info.stdout)
    assert details["records"] == 24 and details["img_format"] == "jpeg" and details["locations"] is not None
    assert any("record 5" in p and "data CRC mismatch" in p for p in details["problems"])
    summary = json.loads(run("summary", str(folder), "--json").stdout)
    totals = {Path(t["path"]).name: t["total"] for t in summary["tfrecords"]}
    assert totals == {"slide_000.tfrecords": 24, "slide_001.tfrecords": count}
    assert path.read_bytes() == damaged  # read, never written


def test_export_names_use_whole_number_locations_only(tmp_path: Path) -> None:
    path = tmp_path / "odd.tfrecords"
    images = [make_jpeg(seed=i) for i in range(3)]
    write_tfrecord_py(path, [
        {"image_raw": images[0], "slide": "S", "loc_x": b"a/b", "loc_y": b"1"},
        {"image_raw": images[1], "slide": "S", "loc_x": [1, 2], "loc_y": [3, 4]},
        {"image_raw": images[2], "slide": "S", "loc_x": 7, "loc_y": 8},
    ])
    out = tmp_path / "out"
    result = run("export", str(path), str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["S_0.jpg", "S_1.jpg", "S_7-8.jpg"]


def test_screenshot_does_not_wait_for_a_tile_that_cannot_decode(tmp_path: Path) -> None:
    """A broken tile is as final as a decoded one: the screenshot is taken once all visible
    thumbnails settled, not after the 20 s fallback (which says so on stderr)."""
    folder = tmp_path / "badimg"
    folder.mkdir()
    write_tfrecord_py(folder / "s.tfrecords", [
        {"image_raw": b"not an image", "slide": "s", "loc_x": 0, "loc_y": 0},
        {"image_raw": make_jpeg(seed=1), "slide": "s", "loc_x": 64, "loc_y": 0},
    ])
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TFR_VIEWER_CONFIG_DIR": str(tmp_path / "config")}
    result = subprocess.run(
        [sys.executable, "-m", "tfr_viewer", str(folder), "--fresh-settings", "--screenshot", str(shot), "--quit-after-load"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert shot.is_file() and "did not settle" not in result.stderr


def test_sigterm_stops_a_conversion_like_ctrl_c_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in this process (the signal arrives while the third image is read): exit 130, no
    partial file, and the previous SIGTERM handler is back afterwards."""
    import signal

    from tfr_viewer import cli
    from tfr_viewer.core import write_pool

    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"t_{i}-0.jpg").write_bytes(make_jpeg(seed=i))
    out = tmp_path / "out"
    real = write_pool.prepare_image
    calls = []

    def killed_while_reading(path, reencode=None):
        calls.append(path)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(path, reencode)

    monkeypatch.setattr(write_pool, "prepare_image", killed_while_reading)

    def outside_handler(_signum, _frame) -> None:  # what runs if the command does not take the signal
        calls.append("not handled by the command")

    before = signal.signal(signal.SIGTERM, outside_handler)
    try:
        assert cli.main(["convert", str(src), str(out)]) == 130
        assert signal.getsignal(signal.SIGTERM) is outside_handler  # put back afterwards
    finally:
        signal.signal(signal.SIGTERM, before)
    assert len(calls) == 3 and (not out.exists() or list(out.iterdir()) == [])


def test_an_unreadable_sub_folder_is_named_and_fails_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """In this process, with listing refused (tests may run as root, where permissions do not refuse)."""
    from tfr_viewer import cli

    root = tmp_path / "r"
    (root / "locked").mkdir(parents=True)
    write_tfrecord_py(root / "a.tfrecords", [tile_record(i) for i in range(2)])
    write_tfrecord_py(root / "locked" / "b.tfrecords", [tile_record(i) for i in range(2)])
    real = os.scandir
    refused = {root / "locked"}

    def scandir(path="."):
        if Path(path) in refused:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert cli.main(["verify", str(root)]) == 1  # a.tfrecords is fine, but not everything was checked
    captured = capsys.readouterr()
    assert "1 of 1 file(s) OK" in captured.out
    assert f"warning: cannot read folder {root / 'locked'}: Permission denied" in captured.err
    refused.add(root)
    assert cli.main(["verify", str(root)]) == 2
    assert f"cannot read folder {root}: Permission denied" in capsys.readouterr().err


def test_one_line_errors_drop_errno_prefixes_and_line_breaks() -> None:
    from tfr_viewer.core.messages import one_line

    assert one_line(OSError(30, "cannot create folder /ro/x: Read-only file system")) == (
        "cannot create folder /ro/x: Read-only file system"
    )
    assert one_line(FileNotFoundError(2, "No such file or directory", "/a\nb.tfrecords")) == (
        "/a b.tfrecords: No such file or directory"
    )


def test_info_on_a_file_with_a_record_that_is_not_an_example(tmp_path: Path) -> None:
    from ..helpers import example_py, frame_py

    path = tmp_path / "mid.tfrecords"
    good = [example_py(tile_record(i)) for i in range(3)]
    path.write_bytes(frame_py(good[0]) + frame_py(b"\xff\xff") + frame_py(good[2]))
    result = run("info", str(path), "--json")
    assert result.returncode == 1, result.stderr
    details = json.loads(result.stdout)
    assert details["records"] == 3 and details["locations"] is None
    assert any("record 1" in p and "not a tf.train.Example" in p for p in details["problems"])


def test_a_folder_named_twice_is_verified_once(folder: Path) -> None:
    result = run("verify", str(folder), str(folder / ".." / folder.name), str(folder / "slide_000.tfrecords"))
    assert result.returncode == 0 and "2 of 2 file(s) OK" in result.stdout
