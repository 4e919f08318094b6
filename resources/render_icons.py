"""Render the SVG icon to PNGs (16-512 px) and copy the runtime set into the package.

Run: QT_QPA_PLATFORM=offscreen python resources/render_icons.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent
SIZES = (16, 32, 48, 64, 128, 256, 512)
RUNTIME = HERE.parent / "tfr_viewer" / "resources" / "icons"


def main() -> None:
    app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(HERE / "icons" / "tfr-viewer.svg"))
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(HERE / "icons" / f"tfr-viewer-{size}.png"))
    RUNTIME.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "icons" / "tfr-viewer.svg", RUNTIME / "tfr-viewer.svg")
    for size in (32, 64, 256):
        shutil.copy(HERE / "icons" / f"tfr-viewer-{size}.png", RUNTIME / f"tfr-viewer-{size}.png")
    del app


if __name__ == "__main__":
    main()
