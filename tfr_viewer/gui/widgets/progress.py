"""A status-bar progress bar that repaints asynchronously.

QProgressBar.setValue() repaints synchronously whenever its text changes, which flushes every
other pending repaint of the window with it (the grid, the map) in the middle of a progress
signal; this one only schedules an update.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QWidget


class StatusProgress(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusProgress")
        self._done, self._total, self._label = 0, 0, ""
        self.setMinimumWidth(160)

    def set_progress(self, done: int, total: int, label: str = "") -> None:
        """total <= 0 means 'busy, amount unknown'."""
        if (done, total, label) != (self._done, self._total, self._label):
            self._done, self._total, self._label = done, total, label
            self.update()

    def fraction(self) -> float | None:
        return None if self._total <= 0 else min(max(self._done / self._total, 0.0), 1.0)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(220, self.fontMetrics().height() + 6)

    def paintEvent(self, _event) -> None:  # noqa: N802
        painter = QPainter(self)
        palette = self.palette()
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(palette.mid().color())
        painter.setBrush(palette.base())
        painter.drawRect(rect)
        fraction = self.fraction()
        if fraction is not None:
            filled = QRectF(rect)
            filled.setWidth(rect.width() * fraction)
            painter.fillRect(filled, palette.highlight())
        text = self._label + (f" {fraction:.0%}" if fraction is not None else " …")
        painter.setPen(palette.text().color())
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, text.strip())
        painter.end()
