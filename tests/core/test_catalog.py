"""The dataset model: open a folder of every kind of file, index the missing, notice changes on
disk, verify several files; all as jobs, without Qt."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer.core import catalog
from tfr_viewer.core.catalog import (
    FileEntry,
    disk_changes,
    iter_verify_files,
    open_catalog,
    stat_files,
)
from tfr_viewer.core.index import create_index
from tfr_viewer.core.index_pool import iter_index_files
from tfr_viewer.core.progress import CancelToken, Cancelled, run_job

from ..helpers import refuse_listing, tile_record, write_tfrecord_py


def _write(path: Path, n: int, index: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_tfrecord_py(path, [tile_record(i, path.stem) for i in range(n)])
    if index:
        create_index(path)
    return path


def _by_name(opened: catalog.OpenedDataset) -> dict[str, FileEntry]:
    return {Path(e.path).name: e for e in opened.files}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """indexed (3), listed in a current manifest (4), listed in a stale one (5 then 6),
    unlisted (2), empty, damaged (3 good records and then garbage)."""
    root = tmp_path / "mixed"
    _write(root / "listed.tfrecords", 4)
    stale = _write(root / "stale.tfrecords", 5)
    sf.Dataset(root).manifest()  # manifest.json counts both; no index is written
    _write(stale, 6)
    os.utime(stale, ns=(1, 1_000_000_000))  # another size and time: the entry is stale
    _write(root / "indexed.tfrecords", 3, index=True)
    _write(root / "unlisted.tfrecords", 2)
    (root / "empty.tfrecords").write_bytes(b"")
    damaged = _write(root / "damaged.tfrecords", 3)
    with open(damaged, "ab") as f:
        f.write(b"\x07" * 40)
    return root


def test_open_lists_every_kind_of_file_with_its_state_and_count(mixed: Path) -> None:
    opened = run_job(open_catalog([str(mixed)]))
    files = _by_name(opened)
    assert sorted(files) == ["damaged.tfrecords", "empty.tfrecords", "indexed.tfrecords", "listed.tfrecords",
                             "stale.tfrecords", "unlisted.tfrecords"]
    assert files["indexed.tfrecords"].state == "indexed" and files["indexed.tfrecords"].count == 3
    assert files["listed.tfrecords"].state == "pending" and files["listed.tfrecords"].listed_count == 4
    assert files["stale.tfrecords"].state == "pending" and files["stale.tfrecords"].listed_count is None
    assert files["unlisted.tfrecords"].listed_count is None
    empty = files["empty.tfrecords"]
    assert empty.state == "error" and empty.error == f"{mixed / 'empty.tfrecords'}: empty file: holds no records"
    assert files["damaged.tfrecords"].state == "pending"  # found out when it is indexed
    listed = files["listed.tfrecords"]
    st = (mixed / "listed.tfrecords").stat()
    assert (listed.size, listed.mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert opened.folders == [str(mixed)] and opened.unreadable_folders == []


def test_open_without_indexes_only_lists_and_stats(mixed: Path) -> None:
    files = _by_name(run_job(open_catalog([str(mixed)], load_indexes=False)))
    assert files["indexed.tfrecords"].state == "pending" and files["indexed.tfrecords"].index is None
    assert files["listed.tfrecords"].listed_count is None
    assert files["empty.tfrecords"].state == "error"


def test_an_unreadable_sub_folder_is_listed_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "u" / "s1.tfrecords", 2)
    _write(tmp_path / "u" / "locked" / "s2.tfrecords", 2)
    refuse_listing(monkeypatch, tmp_path / "u" / "locked")
    opened = run_job(open_catalog([str(tmp_path / "u")]))
    assert [Path(e.path).name for e in opened.files] == ["s1.tfrecords"]
    assert opened.unreadable_folders == [(str(tmp_path / "u" / "locked"), "Permission denied")]


def test_a_file_reached_twice_is_listed_once_and_a_missing_path_raises(tmp_path: Path) -> None:
    one = _write(tmp_path / "d" / "one.tfrecords", 1)
    opened = catalog.discover([tmp_path / "d", one, tmp_path / "d" / ".." / "d"])
    assert [e.path for e in opened.files] == [str(one)]
    assert opened.folders == [str(tmp_path / "d")]  # the second spelling added no file of its own
    with pytest.raises(FileNotFoundError, match="No such file or folder"):
        catalog.discover([tmp_path / "nope"])


def test_index_the_missing_reports_each_file_and_leaves_entries_alone(mixed: Path) -> None:
    opened = run_job(open_catalog([str(mixed)]))
    pending = [e for e in opened.files if e.state == "pending"]
    results = {}
    done = run_job(iter_index_files(pending, lambda entry, result: results.update({entry.path: result}),
                                    CancelToken()))
    assert done == len(pending) == 4
    assert all(e.state == "pending" for e in pending)  # the window applies results on its own thread
    damaged = results[str(mixed / "damaged.tfrecords")]
    assert damaged.state == "damaged" and len(damaged.offsets) == 3
    listed = results[str(mixed / "listed.tfrecords")]
    assert listed.state == "indexed" and len(listed.offsets) == 4
    entry = _by_name(opened)["listed.tfrecords"]
    entry.apply(listed)
    assert entry.state == "indexed" and entry.count == 4 and entry.version == 1


def test_a_cancel_in_the_middle_of_indexing_stops_between_files(tmp_path: Path) -> None:
    entries = [FileEntry(str(_write(tmp_path / f"s{i}.tfrecords", 2)), str(tmp_path)) for i in range(5)]
    token = CancelToken()
    seen: list[str] = []

    def on_file(entry: FileEntry, _result) -> None:
        seen.append(entry.path)
        token.cancel()

    with pytest.raises(Cancelled):
        run_job(iter_index_files(entries, on_file, token))
    assert seen == [entries[0].path]
    assert not (tmp_path / "s4.index.npz").exists()  # never handed to the indexing process


def _statuses(entries: list[FileEntry]):
    return run_job(stat_files([e.path for e in entries]))


def test_stat_finds_files_that_grew_were_deleted_or_rewritten(tmp_path: Path) -> None:
    paths = [_write(tmp_path / f"{name}.tfrecords", 3, index=True) for name in ("grows", "goes", "rewritten", "same")]
    opened = run_job(open_catalog([str(tmp_path)]))
    entries = opened.files
    assert [Path(e.path).stem for e in entries] == ["goes", "grows", "rewritten", "same"]
    assert disk_changes(entries, _statuses(entries)).changed == []

    with open(paths[0], "ab") as f:  # grows
        f.write(b"\0" * 16)
    paths[1].unlink()  # goes
    _write(paths[2], 3)  # rewritten: same size, another time
    os.utime(paths[2], ns=(1, 1_000_000_000))
    statuses = _statuses(entries)
    changes = disk_changes(entries, statuses)
    assert [entries[s.file_id].slide for s in changes.deleted] == ["goes"]
    assert [entries[s.file_id].slide for s in changes.changed] == ["grows", "rewritten"]
    assert all(e.state == "indexed" for e in entries)  # deciding changes nothing

    for status in changes.deleted:
        entries[status.file_id].mark_missing()
    for status in changes.changed:
        entries[status.file_id].mark_changed(status)
    assert entries[0].state == "missing" and entries[0].index is None and "deleted or moved" in entries[0].error
    assert entries[1].state == "pending" and entries[1].size == paths[0].stat().st_size
    # once marked, the same statuses mean nothing new: a missing file stays missing, a pending
    # file waits for its index
    assert disk_changes(entries, statuses) == catalog.DiskChanges()


def test_verify_several_files_an_unforeseen_error_is_that_files_report(tmp_path: Path, monkeypatch) -> None:
    good = str(_write(tmp_path / "good.tfrecords", 2))
    odd = str(_write(tmp_path / "odd.tfrecords", 2))
    real = catalog.iter_verify

    def iter_verify(path, *args, **kwargs):
        if path == odd:
            raise KeyError("surprise")
        return (yield from real(path, *args, **kwargs))

    monkeypatch.setattr(catalog, "iter_verify", iter_verify)
    reports = run_job(iter_verify_files([odd, good]))
    assert [r.path for r in reports] == [odd, good]
    assert reports[1].ok and not reports[0].ok
    assert reports[0].problems[0].reason == "verify stopped: KeyError: 'surprise'"

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_job(iter_verify_files([good], token))
