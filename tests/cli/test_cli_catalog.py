"""The CLI lists files through the catalog's discovery and still names them as the user typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfr_viewer import cli

from ..helpers import tile_record, write_tfrecord_py


def test_verify_and_index_name_files_as_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    write_tfrecord_py(tmp_path / "d" / "a.tfrecords", [tile_record(i) for i in range(3)])
    write_tfrecord_py(tmp_path / "d" / "sub" / "b.tfrecords", [tile_record(i) for i in range(2)])
    monkeypatch.chdir(tmp_path)

    assert cli.main(["verify", "./d/", "d/a.tfrecords", "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert [f["path"] for f in files] == ["d/a.tfrecords", "d/sub/b.tfrecords"]  # each file once

    assert cli.main(["index", "d", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [(r["path"], r["status"]) for r in results] == [("d/a.tfrecords", "built"), ("d/sub/b.tfrecords", "built")]


def test_an_empty_folder_and_a_missing_path_are_one_line_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert cli.main(["verify", str(tmp_path / "empty")]) == 2
    assert f"no .tfrecords files under {tmp_path / 'empty'}" in capsys.readouterr().err
    assert cli.main(["index", str(tmp_path / "nope")]) == 2
    assert f"no such file or folder: {tmp_path / 'nope'}" in capsys.readouterr().err
