"""Runtime resources shipped inside the package (icons, desktop entry); no Qt import here."""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable


def resource(name: str) -> Traversable:
    return resources.files(__name__) / name


def icon_path(size: int | None = None) -> Traversable:
    """The SVG icon, or the PNG of `size` px (32, 64 or 256)."""
    return resource("icons/tfr-viewer.svg" if size is None else f"icons/tfr-viewer-{size}.png")
