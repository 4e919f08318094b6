"""A real S3 endpoint for the remote tests: one `moto_server` process for the session, a proxy in
front adding 50 ms per request and counting them, and a dataset uploaded once (files with their
indexes beside them, one without, one gzip, one damaged)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from tfr_viewer.core.index import create_index  # noqa: E402

from ..helpers import tile_record, write_tfrecord_py  # noqa: E402
from .s3_server import MotoServer, SlowProxy, s3_environment, upload_folder  # noqa: E402

BUCKET = "slides"
PREFIX = "set"
URL = f"s3://{BUCKET}/{PREFIX}"


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def proxy(moto: MotoServer) -> Iterator[SlowProxy]:
    """The proxy every S3 request of the tests goes through (and of their CLI subprocesses)."""
    slow = SlowProxy(moto.url, delay_s=0.05)
    saved = {key: os.environ.get(key) for key in s3_environment(slow.url)}
    os.environ.update(s3_environment(slow.url))
    yield slow
    slow.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def s3_environment_set(proxy: SlowProxy) -> None:
    """Every remote test runs with the AWS variables pointing at the proxy."""


def make_local_dataset(folder: Path) -> Path:
    """a, b: indexed (index beside); c: no index; d: gzip; e: one flipped byte mid-file."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("a", 40), ("b", 30), ("c", 36), ("d", 20), ("e", 32)):  # 80-160 KB: beyond the first block
        write_tfrecord_py(folder / f"{name}.tfrecords", [tile_record(i, slide=name) for i in range(n)])
    create_index(folder / "a.tfrecords")
    create_index(folder / "b.tfrecords")
    gz = folder / "d.tfrecords"
    gz.write_bytes(gzip.compress(gz.read_bytes()))
    damaged = folder / "e.tfrecords"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    return folder


@pytest.fixture(scope="session")
def dataset(moto: MotoServer, proxy: SlowProxy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local folder whose copy is `URL` in the bucket."""
    local = make_local_dataset(tmp_path_factory.mktemp("remote") / PREFIX)
    upload_folder(moto, local, BUCKET, PREFIX)
    return local


@pytest.fixture
def fresh_storage() -> Iterator[None]:
    """Forget what earlier tests listed or read (each test counts its own requests)."""
    from tfr_viewer.core import remote_storage

    remote_storage._STORAGES.clear()
    yield
    remote_storage._STORAGES.clear()
