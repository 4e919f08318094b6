"""Random reads of a remote file: blocks that grow while reads go forward (a grid of thumbnails
reads records in order), kept for every reader of the process (the grid, the record viewer and
the slide overview read the same records), and a block being fetched is waited for, not asked
for again."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from tfr_viewer.core.index import create_index
from tfr_viewer.core.storage import storage_for

from ..helpers import write_tfrecord_py
from .conftest import BUCKET
from .s3_server import MotoServer, SlowProxy

pytestmark = pytest.mark.usefixtures("fresh_storage")
RECORDS = 200
URL = f"s3://{BUCKET}/big/x.tfrecords"


@pytest.fixture(scope="module")
def big_file(
    dataset: Path, moto: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[bytes, np.ndarray]:  # dataset: the bucket
    """A 4 MB TFRecord of 20 KB records in the bucket; its bytes and its (offset, length) index."""
    local = tmp_path_factory.mktemp("big") / "x.tfrecords"
    rng = np.random.default_rng(7)
    write_tfrecord_py(local, [{"image_raw": rng.bytes(20_000), "slide": "x", "loc_x": i, "loc_y": 0}
                              for i in range(RECORDS)])
    offsets = create_index(local).offsets
    moto.client().put_object(Bucket=BUCKET, Key="big/x.tfrecords", Body=local.read_bytes())
    return local.read_bytes(), offsets


def _read_in_order(offsets: np.ndarray) -> list[bytes]:
    storage = storage_for(URL)
    with storage.open(URL) as f:
        return [storage.read_at(f, int(offset), int(length)) for offset, length in offsets]


def test_reads_in_order_fetch_growing_blocks_kept_for_the_next_reader(big_file, proxy: SlowProxy) -> None:
    data, offsets = big_file
    assert len(data) > 4_000_000
    storage_for(URL).stat(URL)
    before = proxy.requests
    assert _read_in_order(offsets) == [data[o : o + n] for o, n in offsets.tolist()]
    # the first bytes, then blocks of 256 KB doubling to 2 MB: 6 requests (one per 256 KB: 16)
    assert proxy.requests - before <= 7, proxy.log[before:]
    before = proxy.requests
    assert _read_in_order(offsets[::-1]) == [data[o : o + n] for o, n in offsets[::-1].tolist()]  # another reader
    assert proxy.requests == before


def test_a_block_being_fetched_is_waited_for_not_asked_again(big_file, proxy: SlowProxy) -> None:
    data, offsets = big_file
    storage = storage_for(URL)
    storage.stat(URL)
    offset, length = (int(v) for v in offsets[RECORDS // 2])
    start = threading.Barrier(4)
    got: list[bytes] = []

    def read() -> None:
        with storage.open(URL) as f:
            start.wait()
            got.append(storage.read_at(f, offset, length))

    before = proxy.requests
    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == [data[offset : offset + length]] * 4
    assert proxy.requests - before == 1, proxy.log[before:]
