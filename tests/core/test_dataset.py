"""Dataset: discovery, manifest cache (shape, refresh, no re-reads), filters, clip, summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer.core import local_storage as paths
from tfr_viewer.core import manifest, storage
from tfr_viewer.core.index import create_index

from ..helpers import refuse_listing, tile_record, write_tfrecord_py


def _make(folder: Path, counts: dict[str, int], index: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in counts.items():
        write_tfrecord_py(folder / f"{name}.tfrecords", [tile_record(i, name) for i in range(n)])
        if index:
            create_index(folder / f"{name}.tfrecords")


def test_manifest_shape_and_slideflow_layout(tmp_path: Path) -> None:
    _make(tmp_path / "a", {"s1": 3, "s10": 2, "s2": 5})
    _make(tmp_path / "a" / "nested", {"s3": 1}, index=False)
    ds = sf.Dataset(tmp_path / "a")
    names = [Path(p).name for p in ds.tfrecords()]
    assert names == ["s3.tfrecords", "s1.tfrecords", "s2.tfrecords", "s10.tfrecords"]  # natural path order
    manifest = ds.manifest()
    assert manifest[str(tmp_path / "a" / "s2.tfrecords")] == {"total": 5, "clipped": 5}
    assert ds.num_tiles == 11 and ds.slides() == ["s3", "s1", "s2", "s10"]
    stored = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert stored["nested/s3.tfrecords"]["total"] == 1  # Slideflow's relative keys and 'total'
    assert not (tmp_path / "a" / "nested" / "s3.index.npz").exists()  # counting writes no index


def test_second_manifest_opens_no_tfrecord(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = {f"slide_{i:03d}": 1 + i % 4 for i in range(100)}
    _make(tmp_path / "many", counts, index=False)
    sf.Dataset(tmp_path / "many").manifest()
    opened: list[str] = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        if str(file).endswith((".tfrecords", ".index.npz")):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    again = sf.Dataset(tmp_path / "many")
    assert again.num_tiles == sum(counts.values())
    assert opened == []
    # touching one file refreshes that entry only
    target = tmp_path / "many" / "slide_007.tfrecords"
    write_tfrecord_py(target, [tile_record(i, "slide_007") for i in range(9)])
    os.utime(target, ns=(1, 1_000_000_000))
    third = sf.Dataset(tmp_path / "many")
    assert third.manifest()[str(target)]["total"] == 9
    assert set(opened) == {str(target)}


def test_broken_and_empty_files_are_reported_and_left_alone(tmp_path: Path) -> None:
    _make(tmp_path / "d", {"good": 4})
    empty = tmp_path / "d" / "empty.tfrecords"
    empty.write_bytes(b"")
    broken = tmp_path / "d" / "broken.tfrecords"
    write_tfrecord_py(broken, [tile_record(i) for i in range(3)])
    data = broken.read_bytes()
    broken.write_bytes(data[:-10])
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (empty, broken)}
    ds = sf.Dataset(tmp_path / "d")
    manifest = ds.manifest()
    assert manifest[str(empty)]["total"] == 0 and manifest[str(broken)]["total"] == 2
    problems = dict(ds.problems())
    assert "holds no records" in problems[str(empty)]
    assert "record 2" in problems[str(broken)]
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (empty, broken)} == before
    assert "Problems (2)" in ds.summary(print_fn=None)


def test_filters_clip_and_annotations(tmp_path: Path) -> None:
    _make(tmp_path / "f", {"a": 2, "b": 6, "c": 10})
    csv = tmp_path / "ann.csv"
    csv.write_text("patient,slide,label\np1,a,tumor\np1,b,normal\np2,c,tumor\n")
    ds = sf.Dataset(tmp_path / "f", annotations=csv)
    assert [Path(p).stem for p in ds.filter(min_tiles=5).tfrecords()] == ["b", "c"]
    assert ds.filter(slides=["a", "c"]).slides() == ["a", "c"]
    assert ds.filter(filters={"label": ["tumor"]}).slides() == ["a", "c"]
    clipped = ds.clip(4)
    assert [e["clipped"] for e in clipped.manifest().values()] == [2, 4, 4]
    assert clipped.num_tiles == 10 and ds.num_tiles == 18
    text = ds.summary(print_fn=None)
    assert "Patients:" in text and "Annotation columns: ['label', 'patient', 'slide']" in text
    assert "Number of tiles in TFRecords: 18" in text
    assert any(line.startswith("│ Tile size (px):") and "│ 64 " in line for line in text.splitlines())


def test_read_only_folder_keeps_manifest_in_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _make(tmp_path / "ro", {"x": 3})
    real = storage.LOCAL.atomic_output

    def refuse(dest, overwrite=True):
        if Path(dest).parent == tmp_path / "ro":
            raise PermissionError(13, "Permission denied", str(dest))
        return real(dest, overwrite)

    monkeypatch.setattr(storage.LOCAL, "atomic_output", refuse)
    assert sf.Dataset(tmp_path / "ro").num_tiles == 3
    assert not (tmp_path / "ro" / "manifest.json").exists()
    cached = manifest._manifest_paths(str(tmp_path / "ro"))[1]
    assert json.loads(Path(cached).read_text())["x.tfrecords"]["total"] == 3


def test_rebuild_index_with_progress(tmp_path: Path) -> None:
    _make(tmp_path / "r", {"a": 2, "b": 3}, index=False)
    seen = []
    failures = sf.Dataset(tmp_path / "r").rebuild_index(lambda done, total, msg: seen.append((done, total)))
    assert failures == [] and seen[-1] == (2, 2)
    assert sorted(p.name for p in (tmp_path / "r").glob("*.index.npz")) == ["a.index.npz", "b.index.npz"]


def test_missing_source_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sf.Dataset(tmp_path / "nope")


def test_the_same_dataset_sees_a_file_that_grew(tmp_path: Path) -> None:
    _make(tmp_path / "g", {"s1": 3, "s2": 2})
    ds = sf.Dataset(tmp_path / "g")
    assert ds.num_tiles == 5
    path = tmp_path / "g" / "s1.tfrecords"
    write_tfrecord_py(path, [tile_record(i, "s1") for i in range(4)])  # rewritten by another tool
    assert ds.num_tiles == 6 and ds.manifest()[str(path)] == {"total": 4, "clipped": 4}
    stored = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert stored["s1.tfrecords"]["total"] == 4


def test_overlapping_sources_list_each_file_once(tmp_path: Path) -> None:
    _make(tmp_path / "o", {"s1": 3})
    _make(tmp_path / "o" / "sub", {"s2": 2})
    ds = sf.Dataset([tmp_path / "o", tmp_path / "o" / "sub", tmp_path / "o" / "s1.tfrecords"])
    assert sorted(Path(p).name for p in ds.tfrecords()) == ["s1.tfrecords", "s2.tfrecords"]
    assert ds.num_tiles == 5 and len(ds.manifest()) == 2
    (tmp_path / "link").symlink_to(tmp_path / "o")
    spelled = sf.Dataset([tmp_path / "o", tmp_path / "o" / ".." / "o", tmp_path / "link"])
    assert spelled.num_tiles == 5 and len(spelled.tfrecords()) == 2


def test_an_unreadable_folder_is_a_problem_not_an_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _make(tmp_path / "u", {"s1": 3})
    _make(tmp_path / "u" / "locked", {"s2": 2})
    refuse_listing(monkeypatch, tmp_path / "u" / "locked")
    files, unreadable = paths.find_tfrecords(tmp_path / "u")
    assert [Path(f).name for f in files] == ["s1.tfrecords"]
    assert unreadable == [(str(tmp_path / "u" / "locked"), "Permission denied")]
    ds = sf.Dataset(tmp_path / "u")
    assert ds.num_tiles == 3
    assert ds.problems() == [(str(tmp_path / "u" / "locked"), "cannot read folder (Permission denied): its TFRecords are left out")]
    with pytest.raises(OSError, match="cannot read folder .*locked: Permission denied"):
        sf.Dataset(tmp_path / "u" / "locked")


def test_annotations_that_are_not_utf8_name_the_file(tmp_path: Path) -> None:
    _make(tmp_path / "d", {"s1": 1})
    bad = tmp_path / "labels.csv"
    bad.write_bytes(b"patient,slide\n\xff\xfe,s1\n")
    with pytest.raises(ValueError, match="annotations file .*labels.csv is not a UTF-8 CSV file"):
        sf.Dataset(tmp_path / "d", annotations=bad)


def test_a_write_that_cannot_start_names_the_destination_not_the_temporary_file(tmp_path: Path) -> None:
    dest = tmp_path / "missing_folder" / "out.tfrecords"
    with pytest.raises(FileNotFoundError, match=r"cannot write .*missing_folder/out.tfrecords: No such file") as info:
        with paths.AtomicOutput(dest) as f:
            f.write(b"x")
    assert ".partial-" not in str(info.value)


def test_a_folder_that_lists_but_cannot_be_entered_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mode 644 on a folder (after `chmod -R 644`): its names list, its files cannot be looked at."""
    _make(tmp_path / "n", {"s1": 3})
    _make(tmp_path / "n" / "noexec", {"s2": 2})
    real = os.stat
    refused = str(tmp_path / "n" / "noexec" / "s2.tfrecords")

    def stat(path, *args, **kwargs):
        if os.fspath(path) == refused:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    files, unreadable = paths.find_tfrecords(tmp_path / "n")
    assert [Path(f).name for f in files] == ["s1.tfrecords"]
    assert unreadable == [(str(tmp_path / "n" / "noexec"), "Permission denied")]
