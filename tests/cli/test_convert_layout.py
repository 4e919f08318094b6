"""`convert` decides the layout as the wizard does, never exits 0 after writing nothing, stops
on a --locations pattern that matches no name, and names its real flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer import cli

from ..helpers import make_jpeg


def _slides(root: Path, counts: dict[str, int]) -> Path:
    for slide, n in counts.items():
        (root / slide).mkdir(parents=True)
        for i in range(n):
            (root / slide / f"tile_{i * 64}-{i}.jpg").write_bytes(make_jpeg(8, 8, seed=i))
    return root


def test_a_folder_of_slide_folders_without_multi_converts_each(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = _slides(tmp_path / "src", {"s1": 2, "s2": 3})
    assert cli.main(["convert", str(src), str(tmp_path / "out"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "converting one TFRecord per folder, as with --multi" in err
    assert [w["slide"] for w in json.loads(out)["written"]] == ["s1", "s2"]
    assert len(sf.TFRecord(str(tmp_path / "out/s2.tfrecords"))) == 3


def test_slide_folders_with_slide_flag_stop_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = _slides(tmp_path / "src", {"s1": 1})
    assert cli.main(["convert", str(src), str(tmp_path / "out"), "--slide", "x"]) == 2
    assert "use --multi" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_nothing_to_convert_is_an_error_and_leaves_no_destination(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "src"
    (src / "empty_slide").mkdir(parents=True)
    (src / "notes.txt").write_text("no images here")
    assert cli.main(["convert", str(src), str(tmp_path / "out")]) == 2
    assert "no images to convert" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_only_broken_images_exit_1_and_the_new_destination_goes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a_0-0.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    assert cli.main(["convert", str(src), str(tmp_path / "out")]) == 1
    out, err = capsys.readouterr()
    assert "a_0-0.jpg" in out and "nothing was written" in err
    assert not (tmp_path / "out").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    assert cli.main(["convert", str(src), str(kept)]) == 1
    assert kept.is_dir()  # a destination that was there before stays


def test_multi_on_a_folder_of_loose_images_stops_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "t_1-2.jpg").write_bytes(make_jpeg(8, 8))
    assert cli.main(["convert", str(src), str(tmp_path / "out"), "--multi"]) == 2
    assert "leave out --multi" in capsys.readouterr().err


def test_a_locations_pattern_matching_no_name_stops_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"tile{i}.jpg").write_bytes(make_jpeg(8, 8, seed=i))
    for pattern in ("*_X-Y.ext", r"r(?P<x>\d+)c(?P<y>\d+)"):
        assert cli.main(["convert", str(src), str(tmp_path / "out"), "--locations", pattern]) == 2
        err = capsys.readouterr().err
        assert "matches none of the 3 image names (e.g. tile0.jpg)" in err
    assert not (tmp_path / "out").exists()
    assert cli.main(["convert", str(src), str(tmp_path / "out"), "--locations", "none"]) == 0  # (0, 0) asked for
    capsys.readouterr()
    (src / "tile_64-128.jpg").write_bytes(make_jpeg(8, 8, seed=7))  # one name matches: converted, with a warning
    assert cli.main(["convert", str(src), str(tmp_path / "out2"), "--locations", "*_X-Y.ext"]) == 0
    assert "3 file name(s) did not match the location pattern" in capsys.readouterr().out


def test_existing_outputs_name_the_real_flags(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = _slides(tmp_path / "src", {"s1": 1, "s2": 1})
    out = tmp_path / "out"
    assert cli.main(["convert", str(src), str(out), "--multi"]) == 0
    capsys.readouterr()
    assert cli.main(["convert", str(src), str(out), "--multi"]) == 2
    err = capsys.readouterr().err
    assert "2 TFRecords, e.g." in err and "use --overwrite to replace them or --skip-existing to leave them" in err
    assert cli.main(["convert", str(src), str(out), "--multi", "--skip-existing"]) == 0  # all there: nothing to do
    capsys.readouterr()
    assert cli.main(["convert", str(src / "s1"), str(out)]) == 2
    assert "s1.tfrecords already exists: use --overwrite to replace it" in capsys.readouterr().err
