"""The slide view's view box: a drawn rectangle selects tiles and stays drawn until cleared."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem


class SelectViewBox(pg.ViewBox):
    """Shift + left drag (or left drag in select mode) draws a rectangle that selects points;
    the rectangle stays drawn until `clear_band` (Esc, Reset view, a click on empty space)."""

    rectSelected = Signal(QRectF)

    def __init__(self) -> None:
        super().__init__()
        self.setMenuEnabled(False)  # the map has its own menu (pyqtgraph's breaks the view)
        self.select_mode = False
        self._band = QGraphicsRectItem()
        pen = QPen(QColor("#d62728"))
        pen.setCosmetic(True)
        pen.setWidth(2)
        self._band.setPen(pen)
        self._band.setBrush(QBrush(QColor(214, 39, 40, 40)))
        self._band.setZValue(1e9)
        self._band.hide()
        self.addItem(self._band, ignoreBounds=True)

    def band_rect(self) -> QRectF | None:
        """The selection rectangle drawn now (slide view coordinates), or None."""
        return self._band.rect() if self._band.isVisible() else None

    def clear_band(self) -> None:
        self._band.hide()

    def show_band(self, rect: QRectF) -> None:
        self._band.setRect(rect)
        self._band.show()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt naming)
        selecting = ev.button() == Qt.MouseButton.LeftButton and (
            self.select_mode or ev.modifiers() & Qt.KeyboardModifier.ShiftModifier
        )
        if not selecting:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        rect = QRectF(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos())).normalized()
        self._band.setRect(rect)
        self._band.show()
        if ev.isFinish():
            self.rectSelected.emit(rect)
