"""Version in one place, resources inside the package, the command's --version."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import tfr_viewer
from tfr_viewer.resources import icon_path, resource

ROOT = Path(__file__).resolve().parents[1]


def test_version_comes_from_package_metadata() -> None:
    assert tfr_viewer.__version__ == metadata.version("tfr-viewer")
    result = subprocess.run([sys.executable, "-m", "tfr_viewer", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"tfr-viewer {tfr_viewer.__version__}"


def test_runtime_resources_load() -> None:
    assert icon_path().read_text().lstrip().startswith("<svg")
    for size in (32, 64, 256):
        assert icon_path(size).read_bytes().startswith(b"\x89PNG")
    assert "Exec=tfr-viewer" in resource("tfr-viewer.desktop").read_text()


def test_wheel_contains_resources(tmp_path: Path) -> None:
    try:
        import setuptools  # noqa: F401
    except ImportError:
        pytest.skip("setuptools is not installed in this environment")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        if os.environ.get("CI"):  # CI installs the [test] extra (setuptools>=77): it must build
            pytest.fail(f"cannot build the wheel: {result.stderr.strip()[-400:]}")
        pytest.skip(f"cannot build a wheel offline here: {result.stderr.strip()[-200:]}")
    wheel = next(tmp_path.glob("tfr_viewer-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "tfr_viewer/resources/icons/tfr-viewer.svg",
        "tfr_viewer/resources/icons/tfr-viewer-256.png",
        "tfr_viewer/resources/tfr-viewer.desktop",
        "tfr_viewer/core/example.proto",
        "tfr_viewer/py.typed",
    ):
        assert expected in names
    assert not any(n.startswith("tests/") for n in names)


def test_app_icon_has_sizes(qapp) -> None:
    from tfr_viewer.gui.app import app_icon

    assert len(app_icon().availableSizes()) == 3
