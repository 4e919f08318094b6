"""Datasets in an S3 bucket (a real S3 API: moto_server behind a proxy adding 50 ms per request):
the same records, the same CLI answers as the local copy, nothing written to the bucket by a
reading command, indexes cached locally, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tfr_viewer as sf
from tfr_viewer import cli
from tfr_viewer.core import catalog
from tfr_viewer.core.progress import run_job
from tfr_viewer.core.remote_storage import MERGE_GAP, STORAGE_OPTIONS_ENV, set_storage_options
from tfr_viewer.core.storage import storage_for

from .conftest import BUCKET, URL, make_local_dataset
from .s3_server import MotoServer, SlowProxy

pytestmark = pytest.mark.usefixtures("fresh_storage")
NAMES = ["a", "b", "c", "d", "e"]


def test_records_of_a_url_equal_the_local_file(dataset: Path, proxy: SlowProxy) -> None:
    for name in "abcd":  # e is damaged: its reads raise, as locally (below)
        local, remote = sf.TFRecord(dataset / f"{name}.tfrecords"), sf.TFRecord(f"{URL}/{name}.tfrecords")
        assert len(remote) == len(local) > 0
        assert list(remote) == list(local)  # a sequential pass: big blocks
        assert [remote[i] for i in (0, len(remote) // 2, len(remote) - 1)] == [local[i] for i in (0, len(local) // 2, -1)]
        assert remote.locations == local.locations
    indexed = sf.TFRecord(f"{URL}/a.tfrecords")
    storage_for(URL).blocks.forget(f"{URL}/a.tfrecords")  # what the reads above fetched is kept: drop it
    before = proxy.requests
    assert indexed[33] == sf.TFRecord(dataset / "a.tfrecords")[33]
    # the first bytes (the field order is read from record 0) and one ranged request for record
    # 33: never the whole file
    assert len(proxy.log[before:]) == 2 and proxy.log[before].endswith("bytes=0-65535"), proxy.log[before:]
    with pytest.raises(sf.TFRecordError) as remote_error:
        [r for r in sf.TFRecord(f"{URL}/e.tfrecords")]
    with pytest.raises(sf.TFRecordError) as local_error:
        [r for r in sf.TFRecord(dataset / "e.tfrecords")]
    assert str(remote_error.value).replace(URL, "X") == str(local_error.value).replace(str(dataset), "X")


def test_read_ranges_are_one_batch_of_concurrent_requests(dataset: Path, proxy: SlowProxy) -> None:
    url = f"{URL}/a.tfrecords"
    data = (dataset / "a.tfrecords").read_bytes()
    start, step = 66_000, MERGE_GAP + 200  # beyond the kept first bytes, too far apart to be joined
    ranges = [(offset, 100) for offset in range(start, len(data) - 100, step)]
    assert len(ranges) >= 2
    storage = storage_for(url)
    storage.stat(url)
    before = proxy.requests
    assert storage.read_ranges(url, ranges) == [data[o : o + n] for o, n in ranges]
    assert proxy.requests - before == len(ranges)


def _cli_json(argv: list[str], capsys) -> tuple[int, object]:
    code = cli.main(argv + ["--json"])
    return code, json.loads(capsys.readouterr().out)


def _without(text: str, *prefixes: str) -> str:
    for prefix in prefixes:
        text = text.replace(prefix, "<dataset>")
    return text


def test_cli_json_answers_equal_the_local_ones(dataset: Path, moto: MotoServer, tmp_path: Path, capsys) -> None:
    before = moto.objects(BUCKET)
    for argv in (["summary"], ["verify"], ["verify", "--images"], ["index"]):
        copy = make_local_dataset(tmp_path / argv[-1])  # what was uploaded, without indexes tests added
        local_code, local = _cli_json(argv + [str(copy)], capsys)
        remote_code, remote = _cli_json(argv + [URL], capsys)
        for answer in (local, remote) if argv == ["index"] else ():
            for report in answer:
                report.pop("index", None)  # beside the local file; in the cache for the bucket's
        assert remote_code == local_code
        assert _without(json.dumps(remote, sort_keys=True), URL) == _without(json.dumps(local, sort_keys=True), str(copy))
    for name in NAMES:
        local_code, local = _cli_json(["info", str(dataset / f"{name}.tfrecords")], capsys)
        remote_code, remote = _cli_json(["info", f"{URL}/{name}.tfrecords"], capsys)
        local.pop("index"), remote.pop("index")  # beside the local file; in the cache for the bucket's
        assert remote_code == local_code
        assert _without(json.dumps(remote), URL) == _without(json.dumps(local), str(dataset))
    assert moto.objects(BUCKET) == before  # reading commands (index too) wrote nothing into the bucket


def test_a_second_open_asks_less_thanks_to_cached_indexes(dataset: Path, proxy: SlowProxy, private_cache: Path) -> None:
    from tfr_viewer.core import remote_storage

    def open_and_index() -> tuple[int, list[tuple[str, str, int]]]:
        remote_storage._STORAGES.clear()  # as a new process would start
        before = proxy.requests
        opened = run_job(catalog.open_catalog([URL]))
        for entry in opened.files:
            if entry.state == "pending":
                from tfr_viewer.core.index import index_file

                entry.apply(index_file(entry.path))
        states = [(os.path.basename(e.path), e.state, e.count) for e in opened.files]
        return proxy.requests - before, states

    first, first_states = open_and_index()
    second, second_states = open_and_index()
    assert second_states == first_states
    assert [s[1] for s in second_states] == ["indexed", "indexed", "indexed", "indexed", "damaged"]
    assert second < first
    assert list(private_cache.rglob("c.index.npz"))  # kept in the per-user cache, not the bucket


def test_convert_writes_one_object_and_nothing_on_failure(dataset: Path, tmp_path: Path, moto: MotoServer, capsys) -> None:
    from ..helpers import make_jpeg

    tiles = tmp_path / "tiles" / "slide7"
    tiles.mkdir(parents=True)
    for i in range(5):
        (tiles / f"slide7_{i * 256}-0.jpg").write_bytes(make_jpeg(seed=i))
    out = f"s3://{BUCKET}/converted"
    assert cli.main(["convert", str(tiles), out, "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["convert", str(tiles), str(tmp_path / "local"), "--json"]) == 0
    capsys.readouterr()
    local = sf.TFRecord(tmp_path / "local" / "slide7.tfrecords")
    remote = sf.TFRecord(f"{out}/slide7.tfrecords")
    assert [remote[i] for i in range(len(remote))] == [local[i] for i in range(len(local))]
    assert set(moto.objects(BUCKET)) >= {"converted/slide7.tfrecords"}

    storage = storage_for(out)
    with pytest.raises(RuntimeError):
        with storage.atomic_output(f"{out}/failed.tfrecords") as f:
            f.write(b"half of a file")
            raise RuntimeError("cancelled")
    assert "converted/failed.tfrecords" not in moto.objects(BUCKET)


def test_salvage_from_a_url_to_a_url_equals_the_local_salvage(dataset: Path, moto: MotoServer, tmp_path: Path, capsys) -> None:
    local_out, remote_out = tmp_path / "e.tfrecords", f"s3://{BUCKET}/salvaged/e.tfrecords"
    assert cli.main(["salvage", str(dataset / "e.tfrecords"), str(local_out)]) == 0
    assert cli.main(["salvage", f"{URL}/e.tfrecords", remote_out]) == 0
    capsys.readouterr()
    body = moto.client().get_object(Bucket=BUCKET, Key="salvaged/e.tfrecords")["Body"].read()
    assert body == local_out.read_bytes() and len(sf.TFRecord(local_out)) > 0


def test_a_dropped_connection_is_retried_then_the_files_problem(dataset: Path, proxy: SlowProxy) -> None:
    url = f"{URL}/b.tfrecords"
    expected = sf.TFRecord(dataset / "b.tfrecords")[3]
    tfr = sf.TFRecord(url)
    proxy.drop_next = 1
    assert tfr[3] == expected  # one dropped connection: retried
    set_storage_options({"retries": 1})  # s3fs's own retries (5 by default) would only add time here
    proxy.drop_next = 1000
    try:
        report = run_job(catalog.iter_verify_files([url]))[0]
    finally:
        proxy.drop_next = 0
        os.environ.pop(STORAGE_OPTIONS_ENV)
    assert not report.ok and url in str(report)


def _run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tfr_viewer", *argv],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "argv, env, says",
    [
        (["info", f"s3://no-such-bucket/x.tfrecords"], {}, "no such file"),
        (["info", f"{URL}/missing.tfrecords"], {}, "no such file"),
        (["summary", "s3://no-such-bucket/set"], {}, "no such file or folder"),
        (["verify", f"{URL}/a.tfrecords"], {"AWS_ACCESS_KEY_ID": "refused-key"}, "access refused"),
        (["summary", URL], {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                            "AWS_CONFIG_FILE": "/nonexistent"}, "no credentials"),
    ],
)
def test_errors_are_one_line_and_exit_2(dataset: Path, argv, env, says) -> None:
    done = _run_cli(*argv, env=env)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("tfr-viewer: error: ") and "Traceback" not in done.stderr
    assert says in lines[0]


def test_without_the_extra_a_url_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "fsspec.py"
    blocker.write_text("raise ImportError('not installed')\n")  # as if fsspec were not installed
    done = _run_cli("info", "s3://b/k.tfrecords", env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip() == "tfr-viewer: error: s3://b/k.tfrecords: install 'tfr-viewer[remote]' to read s3:// URLs"
