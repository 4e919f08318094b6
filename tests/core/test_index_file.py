"""The per-file index job: one function for `tfr-viewer index`, the window's indexing process and
a cluster worker. Each outcome on real files: a valid index kept or read anew, a file indexed,
damaged, empty, missing, gzip-compressed, an index that cannot be written, notes on ignored
index files; and both callers seen going through it."""

from __future__ import annotations

import gzip
import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tfr_viewer import cli
from tfr_viewer.core import index, index_pool
from tfr_viewer.core.catalog import FileEntry
from tfr_viewer.core.index import create_index, index_file, iter_index_file
from tfr_viewer.core.progress import CancelToken, Progress, run_job

from ..helpers import tile_record, write_tfrecord_py


def _write(path: Path, n: int) -> tuple[Path, list[bytes]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path, write_tfrecord_py(path, [tile_record(i) for i in range(n)])


def _run(path: Path, rebuild: bool = False) -> tuple[index.IndexResult, list[Progress]]:
    progress: list[Progress] = []
    return run_job(iter_index_file(path, rebuild), progress.append), progress


def test_a_valid_index_is_kept_without_reading_the_file_and_read_anew_on_rebuild(tmp_path: Path) -> None:
    path, _ = _write(tmp_path / "a.tfrecords", 5)
    create_index(path)
    written = (tmp_path / "a.index.npz").stat()

    kept, progress = _run(path)
    assert (kept.state, kept.action, kept.records) == ("indexed", "kept", 5)
    assert kept.index_path == str(tmp_path / "a.index.npz") and progress == []  # the CLI draws no bar
    assert (kept.size, kept.mtime_ns) == (path.stat().st_size, path.stat().st_mtime_ns)

    rebuilt, progress = _run(path, rebuild=True)
    # read through again; the index on disk already held these arrays: kept, not rewritten
    assert (rebuilt.state, rebuilt.action, rebuilt.records) == ("indexed", "kept", 5)
    assert (tmp_path / "a.index.npz").stat().st_mtime_ns == written.st_mtime_ns
    assert progress[-1] == Progress(path.stat().st_size, path.stat().st_size, str(path))
    np.testing.assert_array_equal(rebuilt.offsets, kept.offsets)
    np.testing.assert_array_equal(rebuilt.locations, kept.locations)
    assert (tmp_path / "a.index.npz").stat().st_mtime_ns == written.st_mtime_ns  # a valid index is never rewritten


def test_an_unindexed_file_is_read_and_its_index_written(tmp_path: Path) -> None:
    path, payloads = _write(tmp_path / "b.tfrecords", 3)
    result, progress = _run(path)
    assert (result.state, result.action, result.records, result.error) == ("indexed", "built", 3, None)
    assert result.index_path == str(tmp_path / "b.index.npz") and result.write_error is None
    assert result.offsets[:, 1].tolist() == [len(p) + 16 for p in payloads]
    assert result.locations.tolist() == [[0, 0], [64, 0], [128, 0]]
    assert progress[0] == Progress(0, path.stat().st_size, str(path))
    assert result.info().path == tmp_path / "b.index.npz"


def test_an_offsets_only_index_is_kept_but_a_rebuild_adds_the_locations(tmp_path: Path) -> None:
    """Why the window asks for `rebuild=True`: it indexes such files again for their map."""
    path, _ = _write(tmp_path / "c.tfrecords", 4)
    offsets = run_job(iter_index_file(path, rebuild=True)).offsets
    (tmp_path / "c.index.npz").unlink()
    np.save(tmp_path / "c.index.npy", offsets)
    kept = index_file(path)
    assert kept.action == "kept" and kept.locations is None and kept.index_path.endswith("c.index.npy")
    rebuilt = index_file(path, rebuild=True)
    assert rebuilt.action == "built" and rebuilt.locations is not None and rebuilt.index_path.endswith("c.index.npz")


def test_a_damaged_file_keeps_the_records_before_the_damage_and_gets_no_index(tmp_path: Path) -> None:
    path, payloads = _write(tmp_path / "d.tfrecords", 4)
    offset = sum(len(p) + 16 for p in payloads[:2])
    data = bytearray(path.read_bytes())
    data[offset + 8] ^= 0xFF  # the length CRC of record 2: the framing breaks there
    path.write_bytes(bytes(data))
    result, _ = _run(path)
    assert (result.state, result.action, result.records) == ("damaged", "none", 2)
    assert result.error.startswith(f"{path}, record 2, byte offset {offset}: ")
    assert result.index_path is None and not (tmp_path / "d.index.npz").exists()


@pytest.mark.parametrize("content", [None, b""])
def test_a_missing_or_empty_file_is_an_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "e.tfrecords"
    if content is not None:
        path.write_bytes(content)
    result, progress = _run(path)
    assert (result.state, result.action, result.records, progress) == ("error", "none", 0, [])
    reason = "empty file: holds no records" if content is not None else "No such file or directory"
    assert result.error == f"{path}: {reason}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if content is None else ["e.tfrecords"])


def test_a_gzip_file_is_indexed_in_memory_only(tmp_path: Path) -> None:
    plain, _ = _write(tmp_path / "plain", 3)
    path = tmp_path / "g.tfrecords"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    result, _ = _run(path)
    assert (result.state, result.action, result.records) == ("indexed", "built", 3)
    assert result.index_path is None and result.write_error is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.tfrecords"]


def test_an_index_that_cannot_be_written_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    path, _ = _write(tmp_path / "w.tfrecords", 3)
    (tmp_path / "w.index.npz").mkdir()  # the user's, not ours to replace
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("TFR_VIEWER_CACHE_DIR", str(tmp_path / "not-a-folder" / "cache"))
    result, _ = _run(path)
    assert (result.state, result.action, result.records, result.index_path) == ("indexed", "built", 3, None)
    assert result.write_error  # what the OS said of the cache folder that cannot be made
    assert cli.main(["index", str(path), "--json"]) == 1
    [report] = json.loads(capsys.readouterr().out)
    assert report == {"path": str(path), "status": "error", "error": f"{path}: no index written ({result.write_error})"}


def test_index_files_that_cannot_be_read_are_noted(tmp_path: Path) -> None:
    path, _ = _write(tmp_path / "n.tfrecords", 3)
    (tmp_path / "n.index").write_text("garbage\n")
    result = index_file(path)
    assert result.action == "built" and result.notes == ["ignored unreadable index n.index (line 1 is not two integers)"]
    kept = index_file(path)  # the unreadable one is noted again, then the index just written is found
    assert kept.action == "kept" and kept.notes == result.notes


def test_index_file_and_its_result_cross_a_process_boundary(tmp_path: Path) -> None:
    path, _ = _write(tmp_path / "p.tfrecords", 2)
    assert pickle.loads(pickle.dumps(index_file)) is index_file
    result = pickle.loads(pickle.dumps(index_file(path)))
    assert (result.path, result.action, result.records) == (str(path), "built", 2)


def test_the_window_job_and_the_cli_run_the_same_per_file_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The window's job hands files to the indexing process; a thread pool stands in for that
    process here, so the patched function is seen in this one."""
    window_file, _ = _write(tmp_path / "window" / "w.tfrecords", 2)
    cli_file, _ = _write(tmp_path / "cli" / "c.tfrecords", 3)
    calls: list[tuple[str, bool]] = []
    real = index.iter_index_file

    def spy(path, rebuild=False, cancel=None):
        calls.append((str(path), rebuild))
        return (yield from real(path, rebuild, cancel))

    monkeypatch.setattr(index, "iter_index_file", spy)
    with ThreadPoolExecutor(max_workers=1) as pool:
        monkeypatch.setattr(index_pool, "index_pool", lambda: pool)
        results = {}
        entries = [FileEntry(str(window_file), str(window_file.parent))]
        run_job(index_pool.iter_index_files(entries, lambda e, r: results.update({e.path: r}), CancelToken()))
    assert calls == [(str(window_file), True)]  # the window reads a file through: see index_pool
    assert results[str(window_file)].records == 2

    assert cli.main(["index", str(cli_file.parent), "--json"]) == 0
    assert calls[1:] == [(str(cli_file), False)]
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["built"]
