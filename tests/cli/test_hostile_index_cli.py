"""Hostile index and manifest files through the CLI, each command in a measured child process.

Exit codes: `info` 0 (the TFRecord itself is sound; the bad index is not used), `index` 0 (the
index is built afresh; the other files too), `summary` 1 (the bad index or manifest is listed
under Problems, every file is still counted).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ..core.test_hostile_index import assert_clean, dataset, make_bomb, run_measured, wrap_dataset

CLI = [sys.executable, "-m", "tfr_viewer"]


def _cli(*args: str) -> dict:
    """The CLI in a child process (its cache is the test's private one: see conftest)."""
    return run_measured([*CLI, *args], cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("kind", ["npz", "header", "text"])
def test_cli_index_bombs(tmp_path: Path, kind: str) -> None:
    path = make_bomb(tmp_path / kind, kind)
    folder = path.parent
    before = {p.name: p.read_bytes() for p in folder.iterdir() if ".index" in p.name}

    info = _cli("info", "--json", str(path))
    assert_clean(info, rc=0)
    assert json.loads(info["out"])["records"] == 3

    summary = _cli("summary", "--json", str(folder))
    assert_clean(summary, rc=1)
    data = json.loads(summary["out"])
    assert {Path(t["path"]).name: t["total"] for t in data["tfrecords"]} == {"a.tfrecords": 3, "b.tfrecords": 5}
    [problem] = data["problems"]
    assert Path(problem["path"]).name == "a.tfrecords" and "ignored unreadable index" in problem["message"]

    index = _cli("index", "--json", str(folder))
    assert_clean(index, rc=0)
    results = {Path(r["path"]).name: r for r in json.loads(index["out"])}
    assert results["a.tfrecords"]["status"] == "built" and results["a.tfrecords"]["records"] == 3
    assert results["b.tfrecords"]["records"] == 5
    assert Path(results["a.tfrecords"]["index"]) == folder / "a.index.npz"
    # the hostile file itself is left as it was, unless it was the .index.npz we write
    for name, content in before.items():
        if name != "a.index.npz":
            assert (folder / name).read_bytes() == content

    again = _cli("index", "--json", str(folder))
    assert_clean(again, rc=0)
    assert [r["status"] for r in json.loads(again["out"])] == ["valid", "valid"]


def test_cli_wrapping_index_is_not_called_valid(tmp_path: Path) -> None:
    path = wrap_dataset(tmp_path)
    result = _cli("index", "--json", str(path))
    assert_clean(result, rc=0)
    [entry] = json.loads(result["out"])
    assert entry["status"] == "built" and entry["records"] == 1096
    summary = _cli("summary", "--json", str(path))
    assert json.loads(summary["out"])["num_tiles"] == 1096


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_cli_summary_with_manifest_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    folder = dataset(tmp_path / "d")
    manifest = folder / "manifest.json"
    os.mkfifo(manifest) if kind == "fifo" else os.symlink("/dev/zero", manifest)
    for args in (["summary", "--json", str(folder)], ["summary", str(folder)]):
        result = _cli(*args)
        assert_clean(result, rc=1)
        assert "manifest ignored (not a regular file)" in result["out"]
    data = json.loads(_cli("summary", "--json", str(folder))["out"])
    assert data["num_tiles"] == 8
    assert manifest.is_fifo() if kind == "fifo" else manifest.is_symlink()


def test_cli_summary_does_not_trust_a_shipped_manifest(tmp_path: Path) -> None:
    folder = dataset(tmp_path / "d")
    st = (folder / "a.tfrecords").stat()
    (folder / "manifest.json").write_text(
        json.dumps({"a.tfrecords": {"total": 999_999, "size": st.st_size, "mtime_ns": st.st_mtime_ns}})
    )
    result = _cli("summary", "--json", str(folder))
    assert_clean(result, rc=0)
    assert json.loads(result["out"])["num_tiles"] == 8
