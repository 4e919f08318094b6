"""The export of chosen tiles as the window runs it: the CSV's columns and values, the estimate
from the indexes, the policy for files already there, and names that keep the location last."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core.catalog import FileEntry
from tfr_viewer.core.export import export_name, iter_export_tiles
from tfr_viewer.core.export_selection import estimate_export, export_selection_job
from tfr_viewer.core.index import find_index
from tfr_viewer.core.naming import parse_location
from tfr_viewer.core.progress import CancelToken, run_job

from ..helpers import make_jpeg, write_tfrecord_py


def _file(tmp_path: Path, name: str = "t") -> FileEntry:
    path = tmp_path / f"{name}.tfrecords"
    write_tfrecord_py(path, [
        {"image_raw": make_jpeg(seed=i), "slide": "S", "loc_x": 10 * i, "loc_y": 5,
         "label": i % 2, "score": 0.25 * i, "site": "left" if i else "right", "vector": [1, 2, 3]}
        for i in range(4)
    ])
    sf.TFRecord(path)  # writes the index
    return FileEntry(str(path), str(tmp_path), index=find_index(path))


def test_csv_lists_the_location_record_and_every_single_valued_field(tmp_path: Path) -> None:
    entry = _file(tmp_path)
    out = tmp_path / "out"
    report = run_job(export_selection_job([entry], [(0, 3), (0, 1)], str(out), write_csv=True)(CancelToken()))
    assert [Path(p).name for p in report.written] == ["S_30-5.jpg", "S_10-5.jpg"]
    header = next(csv.reader(open(out / "tiles.csv", encoding="utf-8")))
    assert header[:6] == ["file", "slide", "x", "y", "tfrecord", "record"]
    assert sorted(header[6:]) == ["label", "score", "site"]  # in the record's order; no list column
    rows = list(csv.DictReader(open(out / "tiles.csv", encoding="utf-8")))
    assert rows[0] == {"file": "S_30-5.jpg", "slide": "S", "x": "30", "y": "5", "tfrecord": entry.path, "record": "3",
                       "label": "1", "score": "0.75", "site": "left"}
    assert rows[1]["file"] == "S_10-5.jpg" and rows[1]["record"] == "1" and rows[1]["score"] == "0.25"


def test_a_second_csv_does_not_replace_the_first_unless_overwriting(tmp_path: Path) -> None:
    entry = _file(tmp_path)
    out = tmp_path / "out"
    for _ in range(2):
        run_job(export_selection_job([entry], [(0, 0)], str(out), write_csv=True)(CancelToken()))
    assert sorted(p.name for p in out.glob("*.csv")) == ["tiles.csv", "tiles_2.csv"]
    run_job(export_selection_job([entry], [(0, 1)], str(out), existing="overwrite", write_csv=True)(CancelToken()))
    assert list(csv.reader(open(out / "tiles.csv")))[1][0] == "S_10-5.jpg"


def test_estimate_counts_stored_bytes_and_tiles_of_unindexed_files(tmp_path: Path) -> None:
    indexed = _file(tmp_path, "a")
    pending = FileEntry(str(tmp_path / "b.tfrecords"), str(tmp_path))
    estimate = estimate_export([indexed, pending], np.array([[0, 0], [0, 2], [1, 0], [1, 5]]))
    lengths = indexed.index.offsets[[0, 2], 1]
    assert (estimate.tiles, estimate.files, estimate.unknown) == (4, 2, 2)
    assert estimate.stored_bytes == int(lengths.sum()) - 32
    assert estimate.approximate_bytes("png") == int(estimate.stored_bytes * 3.0)


def test_skip_leaves_existing_files_and_overwrite_replaces_them(tmp_path: Path) -> None:
    entry = _file(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "S_0-5.jpg").write_bytes(b"mine")
    skipped = run_job(iter_export_tiles(entry.path, out, [0, 1], existing="skip"))
    assert (out / "S_0-5.jpg").read_bytes() == b"mine" and [Path(p).name for p in skipped.existing] == ["S_0-5.jpg"]
    run_job(iter_export_tiles(entry.path, out, [0], existing="overwrite"))
    assert (out / "S_0-5.jpg").read_bytes() == sf.TFRecord(entry.path)[0]["image_raw"]
    assert sorted(p.name for p in out.iterdir()) == ["S_0-5.jpg", "S_10-5.jpg"]
    with pytest.raises(ValueError, match="existing must be one of"):
        run_job(iter_export_tiles(entry.path, out, [0], existing="replace"))


def test_clash_names_keep_the_location_last() -> None:
    used: set[str] = set()
    names = [export_name("S", {"loc_x": 7, "loc_y": -3}, i, "png", used) for i in (4, 9, 9)]
    assert names == ["S_7--3.png", "S-r9_7--3.png", "S-r9-2_7--3.png"]
    assert {parse_location(n, "*_X-Y.ext") for n in names} == {(7, -3)}
