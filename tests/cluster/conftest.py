"""A Dask scheduler and two workers (processes) for the session's cluster tests."""

from __future__ import annotations

from typing import Iterator

import pytest

pytest.importorskip("distributed")

from .dask_cluster import DaskCluster  # noqa: E402


@pytest.fixture(scope="session")
def cluster() -> Iterator[DaskCluster]:
    running = DaskCluster(workers=2)
    yield running
    running.stop()
