"""Fewer requests when a bucket's folder opens: an index beside an object is checked against the
object's records once, then remembered in the per-user cache under the object's size and ETag;
an object replaced under the same key (a new ETag) has its index checked again. Sampled ranges
that overlap or lie close together go as one request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfr_viewer.core import remote_storage
from tfr_viewer.core.index import create_index, find_index
from tfr_viewer.core.remote_storage import MERGE_GAP, merged_spans
from tfr_viewer.core.storage import storage_for

from ..helpers import tile_record, write_tfrecord_py
from .conftest import BUCKET, URL
from .s3_server import MotoServer, SlowProxy

pytestmark = pytest.mark.usefixtures("fresh_storage")


def _find_counting(url: str, proxy: SlowProxy):
    remote_storage._STORAGES.clear()  # as a new process would start: nothing listed or read yet
    before = proxy.requests
    found = find_index(url)
    return found, proxy.requests - before


def test_a_checked_index_is_remembered_and_a_replaced_object_checked_again(
    dataset: Path, moto: MotoServer, proxy: SlowProxy, tmp_path: Path, private_cache: Path
) -> None:  # dataset: the bucket
    records = [tile_record(i, slide="x") for i in range(60)]
    sizes = {len(r["image_raw"]) for r in records}
    assert len(sizes) > 1  # the reversed file below has its record boundaries elsewhere
    original = tmp_path / "x.tfrecords"
    write_tfrecord_py(original, records)
    local_index = create_index(original)
    client = moto.client()
    key = "replaced/x.tfrecords"
    client.put_object(Bucket=BUCKET, Key=key, Body=original.read_bytes())
    client.put_object(Bucket=BUCKET, Key="replaced/x.index.npz", Body=(tmp_path / "x.index.npz").read_bytes())
    url = f"s3://{BUCKET}/{key}"

    first, first_requests = _find_counting(url, proxy)
    assert first is not None and first.path == f"s3://{BUCKET}/replaced/x.index.npz"  # the one beside, checked
    np.testing.assert_array_equal(first.offsets, local_index.offsets)
    np.testing.assert_array_equal(first.locations, local_index.locations)
    second, second_requests = _find_counting(url, proxy)
    assert second is not None and Path(second.path).is_relative_to(private_cache)  # remembered, not asked again
    np.testing.assert_array_equal(second.offsets, local_index.offsets)
    np.testing.assert_array_equal(second.locations, local_index.locations)
    assert second_requests < first_requests
    assert second_requests == 1  # the stat; no index, no sampled records, no gzip sniff

    # the same key, the same size and count, other bytes: a new ETag, so the old index is not trusted
    replaced = tmp_path / "replaced.tfrecords"
    write_tfrecord_py(replaced, records[::-1])
    assert replaced.stat().st_size == original.stat().st_size
    client.put_object(Bucket=BUCKET, Key=key, Body=replaced.read_bytes())
    third, third_requests = _find_counting(url, proxy)
    assert third is None  # the beside index was checked against the new records, and failed
    assert third_requests > second_requests


def test_close_and_overlapping_ranges_are_one_request(dataset: Path, proxy: SlowProxy) -> None:
    url = f"{URL}/a.tfrecords"
    data = (dataset / "a.tfrecords").read_bytes()
    ranges = [(70_000 + 1000 * i, 100) for i in range(12)] + [(70_050, 20), (70_500, 2000)]  # beyond the first bytes
    storage = storage_for(url)
    storage.stat(url)
    before = proxy.requests
    assert storage.read_ranges(url, ranges) == [data[o : o + n] for o, n in ranges]
    assert proxy.requests - before == 1


def test_merged_spans_join_only_what_lies_close() -> None:
    assert merged_spans([(500, 600), (0, 100), (50, 80), (100 + MERGE_GAP, 200 + MERGE_GAP)]) == [
        (0, 200 + MERGE_GAP)
    ]
    far = 700 + MERGE_GAP + 1
    assert merged_spans([(0, 100), (600, 700), (far, far + 10)]) == [(0, 700), (far, far + 10)]
    assert merged_spans([]) == []


def test_locations_are_checked_at_records_whose_headers_are_read() -> None:
    from tfr_viewer.core.index_checks import SAMPLED_LOCATIONS, header_picks, location_picks

    for n in (1, 2, 3, 9, 200, 10_000):
        headers = set(header_picks(n).tolist())
        picks = location_picks(header_picks(n))
        assert set(picks) <= headers and {0, n - 1} <= set(picks)
        assert len(picks) == min(n, SAMPLED_LOCATIONS, len(headers))
        assert picks == location_picks(header_picks(n))  # the same records every run



def test_a_remembered_index_of_a_gzip_object_covers_its_inflated_bytes(
    dataset: Path, moto: MotoServer, proxy: SlowProxy, tmp_path: Path, private_cache: Path
) -> None:  # dataset: the bucket
    import gzip

    plain = tmp_path / "z.tfrecords"
    write_tfrecord_py(plain, [tile_record(i, slide="z") for i in range(12)])
    local_index = create_index(plain)
    client = moto.client()
    client.put_object(Bucket=BUCKET, Key="zipped/z.tfrecords", Body=gzip.compress(plain.read_bytes()))
    client.put_object(Bucket=BUCKET, Key="zipped/z.index.npz", Body=(tmp_path / "z.index.npz").read_bytes())
    url = f"s3://{BUCKET}/zipped/z.tfrecords"

    first, _ = _find_counting(url, proxy)  # the one beside (gzip files are not sampled), then remembered
    second, _ = _find_counting(url, proxy)  # the cached copy: it does not cover the object as stored
    assert first is not None and second is not None and Path(second.path).is_relative_to(private_cache)
    for found in (first, second):
        np.testing.assert_array_equal(found.offsets, local_index.offsets)
