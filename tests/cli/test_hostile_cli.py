"""Hostile files through the `tfr-viewer` command: data cannot drive the terminal, odd names and
unforeseen errors give one line, verify numbers records right, folder walks stay in the folder."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ..helpers import example_py, frame_py, make_jpeg, read_frames_py, write_tfrecord_py
from ..core.test_hostile_io import _bad_payloads, _crafted_headers, _tiles

HOSTILE = "\x1b]0;owned\x07\x1b[31mred\u202e\x9b2J\x7f"
RAW = ("\x1b", "\x07", "\u202e", "\x9b", "\x7f")


def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tfr_viewer", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}, cwd=cwd,
        errors="surrogateescape",
    )


def _clean(result: subprocess.CompletedProcess) -> None:
    for stream in (result.stdout, result.stderr):
        assert not any(c in stream for c in RAW), stream
    assert "Traceback" not in result.stderr


def test_record_values_and_names_reach_the_terminal_escaped(tmp_path: Path) -> None:
    root = tmp_path / f"set{HOSTILE}"
    root.mkdir()
    tfr = root / f"s{HOSTILE}.tfrecords"
    records = [{"image_raw": make_jpeg(), "slide": f"slide{HOSTILE}\nProblem:     none", f"f{HOSTILE}": 1,
                "loc_x": 0, "loc_y": 0}]
    write_tfrecord_py(tfr, records)
    broken = root / f"b{HOSTILE}.tfrecords"
    broken.write_bytes(frame_py(example_py(_tiles(1)[0]))[:-3])

    info = run("info", str(tfr))
    _clean(info)
    assert info.returncode == 0 and "slide\\x1b]0;owned\\x07" in info.stdout and "\\u202e" in info.stdout
    assert "\\x0aProblem:     none" in info.stdout  # a newline in a value cannot forge a line
    summary = run("summary", str(root))
    _clean(summary)
    assert summary.returncode == 1 and "\\x1b" in summary.stdout
    verify = run("verify", str(root))
    _clean(verify)
    assert verify.returncode == 1 and "b\\x1b]0;owned" in verify.stdout
    missing = run("info", str(root / f"gone{HOSTILE}.tfrecords"))
    _clean(missing)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "\\x1b" in missing.stderr
    as_json = json.loads(run("info", "--json", str(tfr)).stdout)
    assert as_json["slide"] == records[0]["slide"]  # json keeps the value itself, escaped by json


@pytest.mark.skipif(sys.platform != "linux", reason="byte file names")
def test_a_non_utf8_name_with_a_strict_utf8_stdout(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    name = os.fsdecode(b"bad\xff.tfrecords")
    write_tfrecord_py(root / name, _tiles(3))
    result = run("verify", str(root), env={"PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"})
    assert result.returncode == 0, result.stderr
    assert "bad\\udcff.tfrecords: OK, 3 records" in result.stdout and "1 of 1 file(s) OK" in result.stdout
    assert result.stderr == ""


def _patched_run(tmp_path: Path, patch: str, *args: str) -> subprocess.CompletedProcess:
    """The command with one library function raising what nobody foresaw (an error of a kind
    no code expects, as odd data meeting a bug would raise)."""
    script = tmp_path / "patched.py"
    script.write_text(textwrap.dedent(
        f"""
        import sys
        import tfr_viewer.core.images as images
        import tfr_viewer.core.verify as verify
        def boom(*args, **kwargs):
            raise RuntimeError("unforeseen")
        {patch}
        from tfr_viewer.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    ))
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=60)


def test_an_unforeseen_error_is_one_line_naming_the_file(tmp_path: Path) -> None:
    tfr = tmp_path / "a.tfrecords"
    other = tmp_path / "b.tfrecords"
    write_tfrecord_py(tfr, _tiles(2))
    write_tfrecord_py(other, _tiles(2))

    info = _patched_run(tmp_path, "images.image_info = boom", "info", str(tfr))
    assert info.returncode == 2 and "Traceback" not in info.stderr
    assert info.stderr.count("\n") == 1 and str(tfr) in info.stderr and "RuntimeError: unforeseen" in info.stderr

    verify = _patched_run(tmp_path, "verify.parse_example = boom", "verify", str(tfr), str(other))
    assert verify.returncode == 1 and "Traceback" not in verify.stderr
    assert verify.stdout.count("RuntimeError: unforeseen") == 2 and "0 of 2 file(s) OK" in verify.stdout


def test_verify_and_salvage_count_bad_records_right(tmp_path: Path) -> None:
    path = tmp_path / "d.tfrecords"
    _bad_payloads(path, 400, {200, 201, 300})
    result = run("verify", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "3 problem(s), 3 bad and 397 good of 400 records; first at record 200" in result.stdout
    assert "record 201," in result.stdout and "record 300," in result.stdout and "record 299" not in result.stdout

    _bad_payloads(path, 400, {200, 201})
    saved = tmp_path / "saved.tfrecords"
    result = run("salvage", str(path), str(saved))
    assert result.returncode == 0 and "wrote 398 good record(s)" in result.stdout and "left out 2 bad record(s) of 400" in result.stdout
    assert len(read_frames_py(saved)) == 398


def test_verify_of_a_crafted_resync_file_is_quick(tmp_path: Path) -> None:
    path = tmp_path / "crafted.tfrecords"
    path.write_bytes(_crafted_headers(3 << 20))
    started = time.monotonic()
    result = run("verify", "--json", str(path))
    assert time.monotonic() - started < 6  # about 0.5 s; before: ~20 s here (9 s at 2 MiB, 4x per doubling)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)["files"][0]
    assert report["records_ok"] == 0 and report["problems"]


def test_verify_levels_on_the_command_line(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tfrecords"
    write_tfrecord_py(plain, [{"label": i} for i in range(5)])
    result = run("verify", str(plain))
    assert result.returncode == 0 and "OK, 5 records; 5 record(s) are not image tiles" in result.stdout
    data = json.loads(run("verify", "--json", str(plain)).stdout)["files"][0]
    assert data["ok"] and data["file_ok"] and data["records_ok"] == 5 and data["notes"] and data["problems"] == []

    tiles = tmp_path / "tiles.tfrecords"
    write_tfrecord_py(tiles, _tiles(2) + [{"image_raw": b"junk", "slide": "s"}])
    assert run("verify", str(tiles)).returncode == 0
    result = run("verify", "--images", "--json", str(tiles))
    data = json.loads(result.stdout)["files"][0]
    assert result.returncode == 1 and data["file_ok"] and [(p["index"], p["level"]) for p in data["problems"]] == [(2, "tile")]


def test_summary_and_index_stay_in_the_chosen_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    write_tfrecord_py(root / "a.tfrecords", _tiles(2))
    write_tfrecord_py(outside / "x.tfrecords", _tiles(3))
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "same").symlink_to(root, target_is_directory=True)

    index = run("index", str(root))
    assert index.returncode == 1 and "Traceback" not in index.stderr
    assert "skipped" in index.stderr and "link leaves the folder" in index.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["x.tfrecords"]  # nothing written out there
    summary = json.loads(run("summary", "--json", str(root)).stdout)
    assert [Path(t["path"]).name for t in summary["tfrecords"]] == ["a.tfrecords"] and summary["num_tiles"] == 2
    assert any("link leaves the folder" in p["message"] for p in summary["problems"])


def test_the_cache_is_private(tmp_path: Path) -> None:
    """A folder whose manifest cannot be written beside the files (here a folder is in its
    place) gets it in the cache: no other user can reach it."""
    root = tmp_path / "data"
    root.mkdir()
    write_tfrecord_py(root / "a.tfrecords", _tiles(2))
    (root / "manifest.json").mkdir()
    cache = tmp_path / "cache"
    result = run("summary", str(root), env={"TFR_VIEWER_CACHE_DIR": str(cache)})
    # the folder in the manifest's place is reported (exit 1); the tiles are still counted
    assert result.returncode == 1, result.stderr
    assert "manifest.json" in result.stdout + result.stderr and "Traceback" not in result.stderr
    written = [p for p in cache.rglob("*") if p.is_file()]
    assert [p.name for p in written] == ["manifest.json"]
    for path in cache.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
