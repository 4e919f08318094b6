"""Where the tiles sit on their slides: one scatter item for every point, one for the highlight."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

# Categorical colours that stay apart on a white background (Okabe-Ito + a few).
# A perceptually ordered ramp (viridis, 12 steps) for numeric fields.
RAMP = ["#440154", "#482173", "#433e85", "#38588c", "#2d708e", "#25858e", "#1e9b8a", "#2ab07f",
        "#52c569", "#86d549", "#c2df23", "#fde725"]
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#7F3C8D", "#11A579", "#3969AC", "#F2B701", "#E73F74", "#80BA5A", "#E68310", "#008695"]


FILL_ROWS = 64  # rows per rectangle: Qt hands a fill of 96 rows or more to a thread pool and waits


class _GridAxis(pg.AxisItem):
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


class _SelectViewBox(pg.ViewBox):
    """Shift + left drag (or left drag in select mode) draws a rectangle that selects points."""

    rectSelected = Signal(QRectF)

    def __init__(self) -> None:
        super().__init__()
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

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt naming)
        selecting = ev.button() == Qt.MouseButton.LeftButton and (
            self.select_mode or ev.modifiers() & Qt.KeyboardModifier.ShiftModifier
        )
        if not selecting:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        rect = QRectF(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos())).normalized()
        if ev.isFinish():
            self._band.hide()
            self.rectSelected.emit(rect)
        else:
            self._band.setRect(rect)
            self._band.show()


@dataclass(frozen=True)
class PointLayers:
    """What `TilePointsItem` draws: one QPolygonF per colour, in drawing order, and the bounds."""

    polygons: tuple[tuple[QColor, QPolygonF], ...] = ()
    rect: QRectF = field(default_factory=QRectF)


def point_layers(xy: np.ndarray, groups: np.ndarray, colors: list[str]) -> PointLayers:
    """Polygons for `TilePointsItem`, a colour per group, drawn in group order.

    Only numpy and Qt value types: safe to call in a worker thread (which the window does for
    big selections). A point hidden under a later one at the same place is left out (the dots
    are opaque squares of one size, drawn without antialiasing: the later one covers exactly
    its pixels). Tiles of slides cut on the same grid share their coordinates, and every drawn
    point costs paint time on each zoom.
    """
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    groups = np.asarray(groups, np.int64)
    if not len(xy):
        return PointLayers()
    order = np.argsort(groups, kind="stable")
    # the last of the points at each place (in drawing order) is the one that shows
    place = np.ascontiguousarray(xy[order]).view(np.complex128).ravel()
    _, first_from_end = np.unique(place[::-1], return_index=True)
    if len(first_from_end) < len(order):
        order = order[np.sort(len(order) - 1 - first_from_end)]
    ordered, xs, ys = groups[order], xy[order, 0], xy[order, 1]
    cuts = np.flatnonzero(np.diff(ordered)) + 1
    polygons = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(ordered)]):
        polygon = pg.functions.arrayToQPolygonF(np.ascontiguousarray(xs[a:b]), np.ascontiguousarray(ys[a:b]))
        polygons.append((QColor(colors[int(ordered[a]) % len(colors)]), polygon))
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    return PointLayers(tuple(polygons), QRectF(float(x0), float(y0), float(x1 - x0) or 1.0, float(y1 - y0) or 1.0))


@dataclass(frozen=True)
class MapPoints:
    """Everything `LocationMap.show_points` needs, built ahead (in a worker for big selections)."""

    xy: np.ndarray  # (n, 2) float64 slide coordinates
    rows: np.ndarray  # (n,) int64: the caller's numbers for the points
    groups: np.ndarray  # (n,) int64: colour groups (slides)
    layers: PointLayers

    def __len__(self) -> int:
        return len(self.rows)


def map_points(xy: np.ndarray, rows: np.ndarray, groups: np.ndarray | None = None) -> MapPoints:
    """Points ready for `LocationMap.show_points`, coloured by group (thread-safe, see `point_layers`)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    rows = np.asarray(rows, dtype=np.int64)
    groups = np.zeros(len(rows), np.int64) if groups is None else np.asarray(groups, np.int64)
    return MapPoints(xy, rows, groups, point_layers(xy, groups, PALETTE))


class TilePointsItem(pg.GraphicsObject):
    """Every tile as a small square dot: one item, one QPolygonF per colour, drawn with drawPoints.

    Measured here: 100,000 points set and rendered in ~50 ms, against ~300 ms for a
    ScatterPlotItem with per-point brushes (which builds Python objects per point).
    """

    def __init__(self, size: float = 5.0) -> None:
        super().__init__()
        self.size = size
        # Rendered once per zoom/pan into a device pixmap: moving the highlight or repainting
        # the window then blits it instead of drawing every point again.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._layers = PointLayers()

    def set_points(self, xy: np.ndarray, groups: np.ndarray, colors: list[str]) -> None:
        self.set_layers(point_layers(xy, groups, colors))

    def set_layers(self, layers: PointLayers) -> None:
        """Show polygons built ahead (see `point_layers`): no per-point work here."""
        self.prepareGeometryChange()
        self._layers = layers
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._layers.rect

    def paint(self, painter, *_args) -> None:
        for color, polygon in self._layers.polygons:
            pen = QPen(color)
            pen.setWidthF(self.size)
            pen.setCosmetic(True)
            pen.setCapStyle(Qt.PenCapStyle.SquareCap)  # square like the tiles, and 4x faster than round
            painter.setPen(pen)
            painter.drawPoints(polygon)


class LocationMap(pg.PlotWidget):
    """All tiles of the selected files in slide coordinates (y down, 1:1), coloured by slide.

    Signals: `pointClicked(row)`, `regionSelected(rows ndarray)`, `selectionCleared()`.
    Rows are the caller's numbers for the points given to `set_points`.
    """

    pointClicked = Signal(int)
    regionSelected = Signal(object)
    selectionCleared = Signal()

    def __init__(self, parent=None) -> None:
        self._viewbox = _SelectViewBox()
        axes = {"left": _GridAxis("left"), "bottom": _GridAxis("bottom")}
        super().__init__(parent, viewBox=self._viewbox, background="w", axisItems=axes)
        self.setObjectName("locationMap")
        self.setToolTip("Click a point to select its tile · Shift+drag to select an area · Esc clears")
        self.getPlotItem().invertY(True)
        self.setAspectLocked(True)
        self.showGrid(x=True, y=True, alpha=0.15)
        self.getPlotItem().setLabel("bottom", "loc_x")
        self.getPlotItem().setLabel("left", "loc_y")
        self.getPlotItem().hideButtons()
        self._points = TilePointsItem()
        self._highlight = pg.ScatterPlotItem(
            pxMode=True, size=16, pen=pg.mkPen("#d62728", width=3), brush=pg.mkBrush(255, 255, 255, 0)
        )
        self._highlight.setZValue(10)
        self.addItem(self._points)
        self.addItem(self._highlight)
        self._xy = np.zeros((0, 2), np.float64)
        self._rows = np.zeros(0, np.int64)
        self._groups = np.zeros(0, np.int64)
        self._draw_groups = self._groups
        self._group_layers = PointLayers()  # the points coloured by group, kept for recolouring
        self._values: np.ndarray | None = None
        self.scene().sigMouseClicked.connect(self._on_scene_click)
        self._viewbox.rectSelected.connect(self._on_rect)

    def set_dark(self, dark: bool) -> None:
        """Background, axes and grid for a dark or a light window."""
        self.setBackground("#1f1f22" if dark else "w")
        ink = "#c8c8cc" if dark else "#505050"
        for name in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(ink)  # the grid lines take this colour too, translucent
            axis.setTextPen(ink)

    # --- data ----------------------------------------------------------------------------------
    def set_points(self, xy: np.ndarray, rows: np.ndarray, groups: np.ndarray | None = None) -> None:
        """Replace every point at once (on this thread: big selections use `show_points`)."""
        self.show_points(map_points(xy, rows, groups))

    def show_points(self, points: MapPoints) -> None:
        """Replace every point with ones built ahead by `map_points` (possibly in a worker)."""
        self._xy, self._rows, self._groups = points.xy, points.rows, points.groups
        self._draw_groups = points.groups  # the colour layer of each point, in drawing order
        self._points.size = 5.0 if len(self._rows) < 20_000 else 3.0
        self._values = None
        self._group_layers = points.layers
        self._points.set_layers(points.layers)
        self._highlight.setData([], [])
        if len(self._rows):
            self.getPlotItem().enableAutoRange()
            self.autoRange(padding=0.05)

    def set_color_values(self, values: np.ndarray | None) -> tuple[float, float] | None:
        """Colour points by a number per point (viridis ramp, min..max), or by group when None.

        Returns the (min, max) the ramp spans, for a legend.
        """
        self._values = None if values is None else np.asarray(values, dtype=np.float64)
        return self._draw()

    def _draw(self) -> tuple[float, float] | None:
        values = self._values
        if values is None or len(values) != len(self._rows) or not len(values):
            self._points.set_layers(self._group_layers)
            self._draw_groups = self._groups
            return None
        finite = np.isfinite(values)
        lo, hi = (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0.0, 0.0)
        scaled = np.zeros(len(values)) if hi <= lo else (np.where(finite, values, lo) - lo) / (hi - lo)
        bins = np.minimum((scaled * len(RAMP)).astype(np.int64), len(RAMP) - 1)
        self._points.set_points(self._xy, bins, RAMP)
        self._draw_groups = bins
        return lo, hi

    def clear_points(self) -> None:
        self.set_points(np.zeros((0, 2)), np.zeros(0, np.int64))
        self.setRange(xRange=(0, 1000), yRange=(0, 1000), padding=0)

    def point_xy(self) -> np.ndarray:
        return self._xy

    def point_count(self) -> int:
        return len(self._rows)

    def set_current(self, row: int | None) -> None:
        """Ring the point of `row` (or nothing); leaves the big scatter untouched."""
        if row is None or not len(self._rows):
            self._highlight.setData([], [])
            return
        hits = np.nonzero(self._rows == row)[0]
        if not len(hits):
            self._highlight.setData([], [])
            return
        x, y = self._xy[hits[0]]
        self._highlight.setData([x], [y])

    def highlighted_xy(self) -> tuple[float, float] | None:
        xs, ys = self._highlight.getData()
        return (float(xs[0]), float(ys[0])) if len(xs) else None

    def set_select_mode(self, on: bool) -> None:
        self._viewbox.select_mode = on

    # --- interaction ---------------------------------------------------------------------------
    def rows_in_rect(self, rect: QRectF) -> np.ndarray:
        x, y = self._xy[:, 0], self._xy[:, 1]
        inside = (x >= rect.left()) & (x <= rect.right()) & (y >= rect.top()) & (y <= rect.bottom())
        return self._rows[inside]

    def view_point_to_widget(self, x: float, y: float) -> QPointF:
        """Where a slide coordinate appears in this widget (for tests and tooltips)."""
        scene = self._viewbox.mapViewToScene(QPointF(x, y))
        return self.mapFromScene(scene)

    def nearest_row(self, x: float, y: float, max_pixels: float = 8.0) -> int | None:
        """The row of the point nearest to (x, y) on screen, if within `max_pixels`."""
        if not len(self._rows):
            return None
        px, py = self._viewbox.viewPixelSize()
        d2 = ((self._xy[:, 0] - x) / px) ** 2 + ((self._xy[:, 1] - y) / py) ** 2
        nearest = np.flatnonzero(d2 == d2.min())
        if d2[nearest[0]] > max_pixels**2:
            return None
        # of points on one spot, the one that shows: last in drawing order (colour layer, then row)
        i = nearest[np.lexsort((nearest, self._draw_groups[nearest]))[-1]]
        return int(self._rows[i])

    def _on_scene_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return
        if not self._viewbox.sceneBoundingRect().contains(event.scenePos()):
            return
        point = self._viewbox.mapSceneToView(event.scenePos())
        row = self.nearest_row(point.x(), point.y())
        if row is not None:
            event.accept()
            self.pointClicked.emit(row)

    def _on_rect(self, rect: QRectF) -> None:
        rows = self.rows_in_rect(rect)
        if len(rows):
            self.regionSelected.emit(rows)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.selectionCleared.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def export_png(self, path: str) -> bool:
        return self.grab().save(path, "PNG")
