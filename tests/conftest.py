"""Shared test setup: offscreen Qt, a private cache folder per test, paths to the fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATA_DIR = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Indexes, manifests and settings a test writes to the cache never reach the user's."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("TFR_VIEWER_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture
def ground_truth() -> dict:
    return json.loads((DATA_DIR / "ground_truth.json").read_text())
