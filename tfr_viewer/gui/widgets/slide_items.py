"""The mosaic of one slide as one graphics item: its overview image when zoomed out, the
thumbnails of the visible tiles when zoomed in. One item per slide, never one per tile: a
hundred thousand items would make every frame slow.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem

from .slide_layout import SlideFrame

DETAIL_PX = 24.0  # a tile cell at least this big on screen shows the tile's own thumbnail
MAX_DETAIL_TILES = 2500  # thumbnails asked for (and drawn) at once; more means zoomed out
MAX_CACHED_TILE_BYTES = 128 * 2**20  # thumbnails the map keeps in memory
PLACEHOLDER = QColor(128, 128, 128, 60)
BROKEN_FILL = QColor(205, 35, 35)
BROKEN_CROSS = QColor(90, 0, 0)


class TileImageCache:
    """Thumbnails of tiles by overall row, least recently used dropped beyond a byte budget."""

    def __init__(self, max_bytes: int = MAX_CACHED_TILE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._bytes = 0

    def get(self, row: int) -> QPixmap | None:
        pixmap = self._pixmaps.get(row)
        if pixmap is not None:
            self._pixmaps.move_to_end(row)
        return pixmap

    def put(self, row: int, pixmap: QPixmap) -> None:
        old = self._pixmaps.pop(row, None)
        if old is not None:
            self._bytes -= _bytes_of(old)
        self._pixmaps[row] = pixmap
        self._bytes += _bytes_of(pixmap)
        while self._bytes > self.max_bytes and len(self._pixmaps) > 1:
            _, dropped = self._pixmaps.popitem(last=False)
            self._bytes -= _bytes_of(dropped)

    def clear(self) -> None:
        self._pixmaps.clear()
        self._bytes = 0

    def held_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._pixmaps)


def _bytes_of(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4


class SlideMosaicItem(QGraphicsObject):
    """Paints one slide: the overview pixmap at the slide's geometry, and over it, when a cell is
    at least DETAIL_PX on screen, the cached thumbnail of each visible tile (a faint placeholder
    while it comes). Broken tiles are red with a dark cross."""

    def __init__(self, frame: SlideFrame, xy: np.ndarray, rows: np.ndarray, cache: TileImageCache) -> None:
        super().__init__()
        self.frame = frame
        self.xy, self.rows, self.cache = xy, rows, cache  # this slide's placed points and overall rows
        self.broken: set[int] = set()  # overall rows
        self.shown: np.ndarray | None = None  # bool per point when only a subset is shown
        self._overview: tuple[QPixmap, ...] = ()  # the overview, then copies each half the size
        self._overview_rect = QRectF()
        x0, y0, x1, y1 = frame.placed_bounds
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_overview(self, levels: tuple[QPixmap, ...], x0: float, y0: float, scale: float) -> None:
        """The slide's overview, whose top-left pixel covers slide point (x0, y0), `scale` slide
        pixels a pixel, then smaller copies of it (each half the size of the one before)."""
        dx, dy = self.frame.offset
        self._overview = levels
        self._overview_rect = QRectF(x0 + dx, y0 + dy, levels[0].width() * scale, levels[0].height() * scale)
        self.update()

    def has_overview(self) -> bool:
        return bool(self._overview)

    def _overview_level(self, painter: QPainter) -> QPixmap:
        """The copy with about as many pixels as the screen shows (never fewer)."""
        on_screen = self._overview_rect.width() * abs(painter.worldTransform().m11())
        level = 0
        while level + 1 < len(self._overview) and self._overview[level + 1].width() >= on_screen:
            level += 1
        return self._overview[level]

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect

    def cell_pixels(self, painter: QPainter) -> float:
        """A tile cell's side on screen, in pixels, under the painter's transform."""
        return self.frame.step * abs(painter.worldTransform().m11())

    def visible_points(self, area: QRectF) -> np.ndarray:
        """Indexes (into this slide's points) of the tiles whose cell meets `area`."""
        half = self.frame.step / 2
        x, y = self.xy[:, 0], self.xy[:, 1]
        inside = (x + half >= area.left()) & (x - half <= area.right()) & (y + half >= area.top()) & (y - half <= area.bottom())
        if self.shown is not None:
            inside &= self.shown
        return np.flatnonzero(inside)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, *_args) -> None:
        cell = self.cell_pixels(painter)
        if self._overview:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, cell < DETAIL_PX)
            if self.shown is not None:
                painter.setOpacity(0.35)  # tiles outside the subset are dimmed
            pixmap = self._overview_level(painter)
            target = self._overview_rect.intersected(option.exposedRect)  # only what shows: zoomed
            if not target.isEmpty():  # in, a few of its pixels cover the whole view
                rect, per_pixel = self._overview_rect, self._overview_rect.width() / pixmap.width()
                source = QRectF((target.left() - rect.left()) / per_pixel, (target.top() - rect.top()) / per_pixel,
                                target.width() / per_pixel, target.height() / per_pixel).toAlignedRect()
                source = source.intersected(pixmap.rect())  # whole pixels: no copy of the pixmap per frame
                target = QRectF(rect.left() + source.left() * per_pixel, rect.top() + source.top() * per_pixel,
                                source.width() * per_pixel, source.height() * per_pixel)
                painter.drawPixmap(target, pixmap, QRectF(source))
            painter.setOpacity(1.0)
        if cell >= DETAIL_PX:  # zoomed out, the overview marks the broken tiles itself
            self._paint_tiles(painter, self.visible_points(option.exposedRect))

    def _paint_tiles(self, painter: QPainter, points: np.ndarray) -> None:
        step, half = self.frame.step, self.frame.step / 2
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        broken = []
        for i in points[:MAX_DETAIL_TILES].tolist():
            row = int(self.rows[i])
            target = QRectF(self.xy[i, 0] - half, self.xy[i, 1] - half, step, step)
            if row in self.broken:
                broken.append(i)
                continue
            pixmap = self.cache.get(row)
            if pixmap is not None:
                painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
            elif not self._overview:
                painter.fillRect(target, PLACEHOLDER)
        self._paint_broken(painter, broken)

    def _paint_broken(self, painter: QPainter, points: list[int]) -> None:
        step, half = self.frame.step, self.frame.step / 2
        pen = QPen(BROKEN_CROSS)
        pen.setCosmetic(True)
        pen.setWidth(2)
        for i in points:
            target = QRectF(self.xy[i, 0] - half, self.xy[i, 1] - half, step, step)
            painter.fillRect(target, BROKEN_FILL)
            painter.setPen(pen)
            painter.drawLine(target.topLeft(), target.bottomRight())
            painter.drawLine(target.topRight(), target.bottomLeft())


class SlideTitlesItem(QGraphicsObject):
    """Every slide's name above its cell, in one item: plain text (a name from a file is never
    markup) at a fixed size on screen, whatever the zoom."""

    MARGIN_PX = 40.0  # room above a cell for its title, on screen
    WIDTH_PX = 600.0  # room right of a cell's left edge for a long title

    def __init__(self, frames: tuple[SlideFrame, ...], dark: bool) -> None:
        super().__init__()
        self.frames = frames
        self.ink = QColor("#e0e0e4" if dark else "#202024")
        self._pixel = 1.0  # slide pixels per screen pixel, from the last paint
        boxes = [f.placed_bounds for f in frames]
        self._cells = QRectF(min(b[0] for b in boxes), min(b[1] for b in boxes), 0, 0)
        self._cells.setRight(max(b[2] for b in boxes))
        self._cells.setBottom(max(b[3] for b in boxes))

    def titles(self) -> list[str]:
        return [frame.title for frame in self.frames]

    def set_dark(self, dark: bool) -> None:
        self.ink = QColor("#e0e0e4" if dark else "#202024")
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._cells.adjusted(0, -self.MARGIN_PX * self._pixel, self.WIDTH_PX * self._pixel, 0)

    def paint(self, painter: QPainter, *_args) -> None:
        transform = painter.worldTransform()
        pixel = 1.0 / max(abs(transform.m11()), 1e-12)
        if pixel != self._pixel:  # zoomed: the room the titles take changes with it
            self.prepareGeometryChange()
            self._pixel = pixel
        painter.save()
        painter.resetTransform()
        painter.setPen(self.ink)
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom) | int(Qt.TextFlag.TextSingleLine)
        for frame in self.frames:
            x0, y0, _, _ = frame.placed_bounds
            corner = transform.map(QPointF(x0, y0))
            painter.drawText(QRectF(corner.x(), corner.y() - self.MARGIN_PX, self.WIDTH_PX, self.MARGIN_PX - 2),
                             flags, " ".join(frame.title.split()))
        painter.restore()
