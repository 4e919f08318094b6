"""The map's axes: pyqtgraph's, with translucent grid lines filled as rectangles (fast)."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPen, QTransform

FILL_ROWS = 64  # rows per rectangle: Qt hands a fill of 96 rows or more to a thread pool and waits


class GridAxis(pg.AxisItem):
    """pyqtgraph's axis, filling its translucent grid lines as one-pixel-wide rectangles.

    Qt draws a translucent line pixel by pixel, and waits for a thread pool for every 96 or
    more pixels: the grid took ~5 ms of every repaint of the map, most of it. Rectangles of up
    to FILL_ROWS rows are blended row by row on the GUI thread (~20 times faster), and they
    cover exactly the pixels of the line (a thin cosmetic line lights the pixels under its
    floored device coordinates), so the map looks the same. Lines are drawn as before when the
    axis is painted scaled, rotated or on a high-density screen.
    """

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self._offset: tuple[float, float] | None = None  # device offset the rectangles fit

    def paint(self, p, opt, widget) -> None:
        transform, device = p.transform(), p.device()
        offset = None
        moved_only = transform.type() in (QTransform.TransformationType.TxNone, QTransform.TransformationType.TxTranslate)
        if moved_only and device is not None and device.devicePixelRatioF() == 1:
            offset = (transform.dx(), transform.dy())
        if offset != self._offset:
            self._offset = offset
            self.picture = None  # rectangles fit to pixels at another offset: build them again
        super().paint(p, opt, widget)

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs) -> None:  # noqa: N802
        """As `pg.AxisItem.drawPicture`, with grid lines filled as rectangles."""
        p.setRenderHint(p.RenderHint.Antialiasing, False)
        p.setRenderHint(p.RenderHint.TextAntialiasing, True)
        pen, p1, p2 = axisSpec
        p.setPen(pen)
        p.drawLine(p1, p2)
        for pen, p1, p2 in tickSpecs:
            rects = self._pixel_rects(pen, p1, p2)
            if rects is None:
                p.setPen(pen)
                p.drawLine(p1, p2)
            else:
                for rect in rects:
                    p.fillRect(rect, pen.color())
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        p.setPen(self.textPen())
        p.setClipRect(self.boundingRect().toAlignedRect())
        for rect, flags, text in textSpecs:
            p.drawText(rect, int(flags), text)

    def _pixel_rects(self, pen: QPen, p1: QPointF, p2: QPointF) -> list[QRectF] | None:
        """Rectangles (item coordinates) of the pixels this line would light, if it is a thin,
        translucent, horizontal or vertical line; None to draw it as a line."""
        if (
            self._offset is None
            or not pen.isCosmetic()
            or pen.widthF() > 1.0
            or pen.style() != Qt.PenStyle.SolidLine
            or pen.brush().style() != Qt.BrushStyle.SolidPattern
            or pen.color().alpha() == 255
        ):
            return None
        dx, dy = self._offset
        x1, y1, x2, y2 = p1.x() + dx, p1.y() + dy, p2.x() + dx, p2.y() + dy
        if y1 == y2 and abs(x2 - x1) >= 1:
            left, right = math.floor(min(x1, x2)), math.floor(max(x1, x2))
            return [QRectF(left - dx, math.floor(y1) - dy, right - left + 1, 1)]
        if x1 == x2 and abs(y2 - y1) >= 1:
            top, bottom = math.floor(min(y1, y2)), math.floor(max(y1, y2))
            return [
                QRectF(math.floor(x1) - dx, y - dy, 1, min(FILL_ROWS, bottom + 1 - y))
                for y in range(top, bottom + 1, FILL_ROWS)
            ]
        return None
