"""A first open of a bucket asks few requests, all of them needed: one listing of the folder (it
says which objects and which indexes exist, with their sizes and ETags), then for each file with
an index beside it one batch of concurrent requests (the index and both ends of the file, what
its check reads); nothing for files without one (they are indexed in the background). A second
open (a new process) asks fewer: the indexes checked the first time come from the per-user cache.
A refresh forgets the listing and sees an object replaced since."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfr_viewer.core import catalog, remote_storage
from tfr_viewer.core.progress import CancelToken, run_job
from tfr_viewer.core.storage import storage_for

from ..helpers import tile_record, write_tfrecord_py
from .conftest import BUCKET, URL
from .s3_server import MotoServer, SlowProxy

pytestmark = pytest.mark.usefixtures("fresh_storage")


def _open_as_the_window_does(proxy: SlowProxy) -> tuple[catalog.OpenedDataset, list[str]]:
    """The window's open job in a new process (nothing listed or read yet), and its requests."""
    remote_storage._STORAGES.clear()
    before = len(proxy.log)
    opened = run_job(catalog.open_dataset_job([URL])(CancelToken()))
    return opened, proxy.log[before:]


def test_a_first_open_lists_once_and_fetches_each_index_with_its_records_in_one_batch(
    dataset: Path, proxy: SlowProxy, private_cache: Path
) -> None:
    opened, first = _open_as_the_window_does(proxy)
    names = [Path(e.path).name for e in opened.files]
    assert names == ["a.tfrecords", "b.tfrecords", "c.tfrecords", "d.tfrecords", "e.tfrecords"]
    assert [e.state for e in opened.files] == ["indexed", "indexed", "pending", "pending", "pending"]
    assert [e.count for e in opened.files[:2]] == [40, 30]
    indexed_beside = 2  # a and b
    listings = [r for r in first if "list-type=2" in r]
    assert len(listings) == 1, first  # one listing: no HEAD per file, none per index name
    assert not [r for r in first if r.startswith("HEAD")], first
    # per indexed file at most the index and the two ends of the file (they merge on a small file)
    assert len(first) <= 1 + 3 * indexed_beside, first
    for name in ("a", "b"):
        assert [r for r in first if f"/{name}.index.npz" in r], first
    assert not [r for r in first if "/c." in r or "/d." in r or "/e." in r], first  # no index: nothing to check

    again, second = _open_as_the_window_does(proxy)
    assert [(e.path, e.state, e.count) for e in again.files] == [(e.path, e.state, e.count) for e in opened.files]
    assert len(second) < len(first), (first, second)
    # the listing and the first file's first bytes (its first screen): the checked indexes come
    # from the cache, and an index that covers the object as stored needs no gzip sniff
    assert len(second) == 2 and "list-type=2" in second[0] and "/a.tfrecords bytes=0-" in second[1], second


def test_a_refresh_forgets_the_listing_and_sees_a_replaced_object(
    dataset: Path, moto: MotoServer, proxy: SlowProxy, tmp_path: Path
) -> None:
    small, big = tmp_path / "small.tfrecords", tmp_path / "big.tfrecords"
    write_tfrecord_py(small, [tile_record(i, slide="r") for i in range(3)])
    write_tfrecord_py(big, [tile_record(i, slide="r") for i in range(9)])
    client = moto.client()
    client.put_object(Bucket=BUCKET, Key="refresh/r.tfrecords", Body=small.read_bytes())
    url = f"s3://{BUCKET}/refresh/r.tfrecords"
    opened = run_job(catalog.open_catalog([f"s3://{BUCKET}/refresh"]))
    assert [e.size for e in opened.files] == [small.stat().st_size]

    client.put_object(Bucket=BUCKET, Key="refresh/r.tfrecords", Body=big.read_bytes())
    before = proxy.requests
    assert storage_for(url).stat(url).size == small.stat().st_size  # remembered from the listing: no request
    assert proxy.requests == before
    statuses = run_job(catalog.stat_files([url]))
    assert [(s.exists, s.size) for s in statuses] == [(True, big.stat().st_size)]
    assert proxy.requests > before


def test_a_file_named_directly_is_found_with_its_index_names_in_one_listing(dataset: Path, proxy: SlowProxy) -> None:
    import tfr_viewer as sf

    before = len(proxy.log)
    remote = sf.TFRecord(f"{URL}/a.tfrecords")
    requests = proxy.log[before:]
    assert len(remote) == 40 and remote[39] == sf.TFRecord(dataset / "a.tfrecords")[39]
    # one listing of the names `a.*` (the object's size and ETag, and which index names exist),
    # the first bytes (the reader checks for gzip before it looks for an index), then the index
    # and the file's ends in one batch: no HEAD of the object or of each index name
    assert not [r for r in requests if r.startswith("HEAD")], requests
    assert len([r for r in requests if "list-type=2" in r and "prefix=set%2Fa." in r]) == 1, requests
    assert len(requests) <= 4, requests
