"""`tfr-viewer index` output, text and `--json`, pinned byte for byte on a folder that holds
every outcome: a valid index, an unindexed file, a gzip file, an empty file, a damaged file and
a stale index beside an unreadable one (which gives a note). Expectations come from the files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tfr_viewer import cli
from tfr_viewer.core.index import create_index

from ..helpers import tile_record, write_tfrecord_py

DAMAGED_RECORD = 2
GZIP_NOTE = "gzip-compressed: read sequentially, no index written"
UNREADABLE_NOTE = "ignored unreadable index f_stale.index (line 1 is not two integers)"


def _folder(root: Path) -> tuple[Path, int]:
    """The folder, and the byte offset of the damaged record."""
    root.mkdir()
    write_tfrecord_py(root / "a_valid.tfrecords", [tile_record(i) for i in range(5)])
    create_index(root / "a_valid.tfrecords")
    write_tfrecord_py(root / "b_unindexed.tfrecords", [tile_record(i) for i in range(3)])
    plain = root / "plain.tmp"
    write_tfrecord_py(plain, [tile_record(i) for i in range(4)])
    (root / "c_gzip.tfrecords").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    (root / "d_empty.tfrecords").write_bytes(b"")
    payloads = write_tfrecord_py(root / "e_damaged.tfrecords", [tile_record(i) for i in range(4)])
    offset = sum(len(p) + 16 for p in payloads[:DAMAGED_RECORD])
    data = bytearray((root / "e_damaged.tfrecords").read_bytes())
    data[offset + 12 + 20] ^= 0xFF  # a byte inside the payload: its data CRC fails
    (root / "e_damaged.tfrecords").write_bytes(bytes(data))
    write_tfrecord_py(root / "f_stale.tfrecords", [tile_record(i) for i in range(3)])
    np.savez(root / "f_stale.index.npz", arr_0=np.array([[0, 10]], dtype=np.int64))  # of another file
    (root / "f_stale.index").write_text("garbage here\n")  # Slideflow's text form, unreadable
    return root, offset


def _expected(root: Path, offset: int, first: str) -> list[dict]:
    """What `index` reports; `first` is the status of the files that had no valid index before."""
    def p(name: str) -> str:
        return str(root / name)

    damaged = f"{p('e_damaged.tfrecords')}, record {DAMAGED_RECORD}, byte offset {offset}: data CRC mismatch (corrupt payload)"
    stale = {"path": p("f_stale.tfrecords"), "status": first, "index": p("f_stale.index.npz"), "records": 3}
    if first == "built":
        stale["note"] = UNREADABLE_NOTE
    return [
        {"path": p("a_valid.tfrecords"), "status": "valid", "index": p("a_valid.index.npz"), "records": 5},
        {"path": p("b_unindexed.tfrecords"), "status": first, "index": p("b_unindexed.index.npz"), "records": 3},
        {"path": p("c_gzip.tfrecords"), "status": "no index", "records": 4, "note": GZIP_NOTE},
        {"path": p("d_empty.tfrecords"), "status": "error", "error": f"{p('d_empty.tfrecords')}: empty file: holds no records"},
        {"path": p("e_damaged.tfrecords"), "status": "error", "error": damaged},
        stale,
    ]


def _text(results: list[dict]) -> str:
    lines = []
    for r in results:
        detail = f"({r['records']} records)" if "records" in r else r["error"]
        lines.append(f"{r['status']:>8}  {r['path']}  {detail}" + (f"  {r['note']}" if "note" in r else ""))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("as_json", [False, True])
def test_index_output_is_pinned(tmp_path: Path, capsys: pytest.CaptureFixture, as_json: bool) -> None:
    root, offset = _folder(tmp_path / "d")
    flags = ["--json"] if as_json else []

    def run(*extra: str) -> str:
        assert cli.main(["index", str(root), *extra, *flags]) == 1  # the empty and the damaged file
        return capsys.readouterr().out

    def expect(results: list[dict]) -> str:
        return json.dumps(results, indent=1) + "\n" if as_json else _text(results)

    assert run() == expect(_expected(root, offset, "built"))
    assert run() == expect(_expected(root, offset, "valid"))  # the note goes with the built index
    # a rebuild reads every file through; an index it finds already right is "valid", not "built"
    (root / "b_unindexed.index.npz").unlink()
    rebuilt = _expected(root, offset, "valid")
    rebuilt[1]["status"] = "built"
    assert run("--rebuild") == expect(rebuilt)
    assert sorted(p.name for p in root.iterdir()) == [
        "a_valid.index.npz", "a_valid.tfrecords", "b_unindexed.index.npz", "b_unindexed.tfrecords",
        "c_gzip.tfrecords", "d_empty.tfrecords", "e_damaged.tfrecords",
        "f_stale.index", "f_stale.index.npz", "f_stale.tfrecords",
    ]
    assert (root / "d_empty.tfrecords").read_bytes() == b""
