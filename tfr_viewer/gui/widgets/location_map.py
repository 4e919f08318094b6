"""The slide view: the tiles of the selected slides, side by side, as a zoomable mosaic with a
dot overlay (one item per slide and one for all dots, never one per tile), its own context
menu, a legend to explain the colours and a selection rectangle that stays until cleared."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCursor, QImage, QPixmap

from .legend import LegendContent
from .slide_axis import GridAxis as _GridAxis
from .slide_colours import DARK_BACKGROUND, MISSING, PALETTE, RAMP, palette_colour
from .slide_items import DETAIL_PX, MAX_DETAIL_TILES, SlideMosaicItem, SlideTitlesItem, TileImageCache
from .slide_layout import SlideLayout
from .slide_menu import OVERLAY_PRESETS, build_map_menu, run_map_action
from .select_viewbox import SelectViewBox
from .slide_points import MapPoints, PointLayers, TilePointsItem, map_points, point_layers

__all__ = ["PALETTE", "RAMP", "LocationMap", "MapPoints", "PointLayers", "TilePointsItem", "_GridAxis",
           "map_points", "point_layers"]

COLOURED_OPACITY = 0.45  # the dots' opacity when colouring by a field turns them on
WAITING_OPACITY = 0.6  # until every slide's overview is shown, the dots stand in for it
DETAIL_DELAY_MS = 60  # the thumbnails in view are asked for this often while the view moves

TITLE_ROOM = 0.1  # framing: room above the slides for their titles, as a share of their height


class LocationMap(pg.PlotWidget):
    """All tiles of the selected slides in slide coordinates (y down, 1:1), each slide in its cell.

    Signals: `pointClicked(row)`, `regionSelected(rows ndarray)`, `selectionCleared()`,
    `tilesWanted(rows ndarray, size)` (thumbnails to hand to `add_tile_images`),
    `exportRequested()`, `legendChanged()`. Rows are the caller's numbers for the points.
    """

    pointClicked = Signal(int)
    regionSelected = Signal(object)
    selectionCleared = Signal()
    tilesWanted = Signal(object, int)
    exportRequested = Signal()
    legendChanged = Signal()
    themeChanged = Signal(bool)
    mosaicChanged = Signal(bool)
    overlayChanged = Signal(float)

    def __init__(self, parent=None) -> None:
        self._viewbox = SelectViewBox()
        axes = {"left": _GridAxis("left"), "bottom": _GridAxis("bottom")}
        super().__init__(parent, viewBox=self._viewbox, background="w", axisItems=axes)
        self.setObjectName("locationMap")
        self.setToolTip("Click a tile to select it · Shift+drag to select an area · Esc clears · right-click for more")
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.setMenuEnabled(False)
        self.setAspectLocked(True)
        self.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", "loc_x")
        plot.setLabel("left", "loc_y")
        plot.hideButtons()
        self.dark = False
        self.mosaic = True
        self.overlay_opacity = 0.0  # the mosaic alone; colouring by a field turns the dots on
        self.show_outliers = False
        self.tile_images = TileImageCache()
        self._slides: list[SlideMosaicItem] = []
        self._titles: SlideTitlesItem | None = None  # for two slides or more
        self._layout: SlideLayout | None = None
        self._points = TilePointsItem()
        self._points.setZValue(5)
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
        self._values_name = "Colour"
        self._categories: tuple[np.ndarray, list[str], np.ndarray] | None = None
        self._shown: np.ndarray | None = None  # bool per point, None: all
        self._legend = LegendContent()
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._ask_for_tiles)
        self._viewbox.sigRangeChanged.connect(self._on_range_changed)
        self.scene().sigMouseClicked.connect(self._on_scene_click)
        self._viewbox.rectSelected.connect(self._on_rect)
        self.menu, self.menu_actions = build_map_menu(self, OVERLAY_PRESETS)
        self.menu.triggered.connect(self._on_menu_action)
        self._apply_mode()

    def set_dark(self, dark: bool) -> None:
        """Background, axes, grid and titles for a dark or a light window."""
        self.dark = dark
        self.setBackground(DARK_BACKGROUND if dark else "w")
        ink = "#c8c8cc" if dark else "#505050"
        for name in ("left", "bottom"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(ink)  # the grid lines take this colour too, translucent
            axis.setTextPen(ink)
        if self._titles is not None:
            self._titles.set_dark(dark)
        self.themeChanged.emit(dark)

    # --- data ----------------------------------------------------------------------------------
    def set_points(self, xy: np.ndarray, rows: np.ndarray, groups: np.ndarray | None = None) -> None:
        """Replace every point at once (on this thread: big selections use `show_points`)."""
        self.show_points(map_points(xy, rows, groups))

    def show_points(self, points: MapPoints) -> None:
        """Replace every point with ones built ahead by `map_points` (possibly in a worker)."""
        self._xy, self._rows, self._groups = points.xy, points.rows, points.groups
        self._draw_groups = points.groups  # the colour layer of each point, in drawing order
        self._points.size = 5.0 if len(self._rows) < 20_000 else 3.0
        self._values, self._categories, self._shown = None, None, None
        self._group_layers = points.layers
        self._points.set_layers(points.layers)
        self._highlight.setData([], [])
        self._viewbox.clear_band()
        self.tile_images.clear()
        self._set_layout(points.layout)
        self._apply_mode()
        self._legend = self._slide_legend()
        self.legendChanged.emit()
        if len(self._rows):
            self.reset_view()

    def _set_layout(self, layout: SlideLayout | None) -> None:
        for item in self._slides + ([self._titles] if self._titles is not None else []):
            self._viewbox.removeItem(item)
        self._slides, self._titles = [], None
        self._layout = layout
        self._points.set_footprint(layout.step if layout is not None else None)
        if layout is None:
            return
        for frame in layout.frames:
            part = slice(frame.first, frame.first + frame.count)
            item = SlideMosaicItem(frame, self._xy[part], self._rows[part], self.tile_images)
            item.setVisible(self.mosaic)
            self._slides.append(item)
            self._viewbox.addItem(item, ignoreBounds=True)  # the view frames the layout itself
        if len(layout.frames) > 1:
            self._titles = SlideTitlesItem(layout.frames, self.dark)
            self._titles.setZValue(8)
            self._viewbox.addItem(self._titles, ignoreBounds=True)

    def slide_items(self) -> list[SlideMosaicItem]:
        return list(self._slides)

    def slide_titles(self) -> list[str]:
        return self._titles.titles() if self._titles is not None else []

    def set_color_values(self, values: np.ndarray | None, name: str = "Colour") -> tuple[float, float] | None:
        """Colour points by a number per point (the ramp, min..max), or by group when None;
        `name` titles the colour bar. Returns the (min, max) the ramp spans.
        """
        self._values = None if values is None else np.asarray(values, dtype=np.float64)
        self._values_name = name
        self._categories = None
        return self._draw()

    def set_categories(self, codes: np.ndarray | None, names: list[str], counts: np.ndarray) -> None:
        """Colour points by class: `codes` per overall row (-1: no value), `names` and tile
        `counts` per class; None goes back to colouring by slide."""
        self._values = None
        self._categories = None if codes is None else (np.asarray(codes, np.int64), list(names), np.asarray(counts))
        self._draw()

    def set_shown(self, rows: np.ndarray | None) -> None:
        """Show only the points of these overall rows (others hidden, their tiles dimmed); None: all."""
        self._shown = None if rows is None else _members(self._rows, np.asarray(rows, np.int64))
        for item in self._slides:
            part = slice(item.frame.first, item.frame.first + item.frame.count)
            item.shown = None if self._shown is None else self._shown[part]
            item.update()
        self._draw()

    def legend_content(self) -> LegendContent:
        return self._legend

    def _slide_legend(self) -> LegendContent:
        if self._layout is None or len(self._layout.frames) < 2:
            return LegendContent()
        return LegendContent("Slides", tuple((palette_colour(f.group), f.title, f.count) for f in self._layout.frames))

    def _draw(self) -> tuple[float, float] | None:
        span = None
        values = self._values
        if self._categories is not None and len(self._rows):
            codes, names, counts = self._categories
            inside = self._rows < len(codes)
            groups = np.where(inside, codes[np.minimum(self._rows, max(len(codes) - 1, 0))], -1)
            groups = np.where(groups < 0, len(names), groups)
            colours = [PALETTE[k % len(PALETTE)] for k in range(len(names))] + [MISSING]
            self._legend = LegendContent("Classes", tuple(
                (colours[k], name, int(counts[k]) if k < len(counts) else None) for k, name in enumerate(names)))
        elif values is not None and len(values) == len(self._rows) and len(values):
            finite = np.isfinite(values)
            lo, hi = (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0.0, 0.0)
            scaled = np.zeros(len(values)) if hi <= lo else (np.where(finite, values, lo) - lo) / (hi - lo)
            groups = np.minimum((scaled * len(RAMP)).astype(np.int64), len(RAMP) - 1)
            colours, span = RAMP, (lo, hi)
            self._legend = LegendContent(self._values_name, ramp=tuple(RAMP), low=lo, high=hi)
        else:
            groups, colours = self._groups, None
            self._legend = self._slide_legend()
        self._draw_groups = groups
        if (colours is not None or self._shown is not None) and self.overlay_opacity == 0:
            self.set_overlay_opacity(COLOURED_OPACITY)  # colours and subsets are told by the dots
        if colours is None and self._shown is None:
            self._points.set_layers(self._group_layers)
        else:
            keep = slice(None) if self._shown is None else self._shown
            self._points.set_points(self._xy[keep], groups[keep], colours or PALETTE)
        self.legendChanged.emit()
        return span

    def clear_points(self) -> None:
        self.set_points(np.zeros((0, 2)), np.zeros(0, np.int64))
        self.setRange(xRange=(0, 1000), yRange=(0, 1000), padding=0)

    def point_xy(self) -> np.ndarray:
        return self._xy

    def point_count(self) -> int:
        return len(self._rows)

    # --- mosaic --------------------------------------------------------------------------------
    def set_overview(self, group: int, images: tuple[QImage, ...], x0: float, y0: float, scale: float) -> bool:
        """Show a slide's overview (see `core.overview.Overview`), given with smaller copies, each
        half the size of the one before; False for no such slide."""
        for item in self._slides:
            if item.frame.group == group:
                item.set_overview(tuple(QPixmap.fromImage(image) for image in images), x0, y0, scale)
                self._apply_mode()
                return True
        return False

    def add_tile_images(self, images: list[tuple[int, QImage | None, bool]]) -> None:
        """Thumbnails that arrived: (row, image or None, broken)."""
        changed = set()
        for row, image, broken in images:
            if image is not None:
                self.tile_images.put(row, QPixmap.fromImage(image))
            item = self._slide_of_row(row)
            if item is not None:
                if broken:
                    item.broken.add(row)
                changed.add(item)
        for item in changed:
            item.update()

    def _slide_of_row(self, row: int) -> SlideMosaicItem | None:
        """The slide drawing this overall row (each slide's rows are one run of numbers)."""
        for item in self._slides:
            if len(item.rows) and item.rows[0] <= row <= item.rows[-1]:
                return item
        return None

    def mark_broken(self, rows: np.ndarray) -> None:
        """Tiles known not to decode (from an overview): drawn red with a cross when zoomed in."""
        for item in self._slides:
            item.broken.update(int(r) for r in np.intersect1d(item.rows, rows).tolist())
            item.update()

    def visible_tiles(self) -> tuple[np.ndarray, int]:
        """Overall rows of the tiles on screen whose cell is big enough to show its thumbnail, and
        the thumbnail side (pixels) they need; none when zoomed out."""
        if not self.mosaic or not self._slides:
            return np.zeros(0, np.int64), 0
        area = self._viewbox.viewRect()
        cell = self._slides[0].frame.step / max(self._viewbox.viewPixelSize()[0], 1e-12)
        if cell < DETAIL_PX:
            return np.zeros(0, np.int64), 0
        found = [item.rows[item.visible_points(area)] for item in self._slides]
        rows = np.concatenate(found)[:MAX_DETAIL_TILES] if found else np.zeros(0, np.int64)
        size = 64 if cell <= 64 else 128 if cell <= 128 else 256
        return rows, size

    def _ask_for_tiles(self) -> None:
        rows, size = self.visible_tiles()
        broken = set().union(*(item.broken for item in self._slides)) if self._slides else set()
        missing = [r for r in rows.tolist() if r not in broken
                   and (self.tile_images.get(r) is None or self.tile_images.get(r).width() < size // 2)]
        self.tilesWanted.emit(np.asarray(missing, np.int64), size)

    @Slot()
    def _on_range_changed(self) -> None:
        """Ask for the thumbnails in view at most every DETAIL_DELAY_MS while panning (a timer
        restarted on every move would wait for the pan to end)."""
        if not self._detail_timer.isActive():
            self._detail_timer.start()

    def set_mosaic(self, on: bool) -> None:
        """Tiles as images (the mosaic, with the dots as a translucent overlay) or as dots."""
        self.mosaic = on
        self._apply_mode()
        self.mosaicChanged.emit(on)
        if on:
            self._detail_timer.start()

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay_opacity = float(min(max(opacity, 0.0), 1.0))
        self._apply_mode()
        self.overlayChanged.emit(self.overlay_opacity)

    def _apply_mode(self) -> None:
        """Slides as images (with the dots at the chosen opacity; opaque enough to see while an
        overview is still coming), or dots alone. No grid over the tissue: it costs a third of
        a frame and shows nothing the slide does not."""
        images = self.mosaic and bool(self._slides)
        for item in self._slides:
            item.setVisible(self.mosaic)
        waiting = images and not all(item.has_overview() for item in self._slides)
        opacity = max(self.overlay_opacity, WAITING_OPACITY) if waiting else self.overlay_opacity
        self._points.setOpacity(opacity if self.mosaic else 1.0)
        self._points.setVisible(opacity > 0 or not self.mosaic)
        self._points.set_footprint(self._layout.step if self.mosaic and self._layout is not None else None)
        self.showGrid(x=not images, y=not images, alpha=0.15)
        if hasattr(self, "menu_actions"):
            self.menu_actions["mosaic" if self.mosaic else "dots"].setChecked(True)

    # --- view ----------------------------------------------------------------------------------
    def reset_view(self) -> None:
        """Frame the slides (strays left out unless "Show outliers" is on); clears the rectangle."""
        self._viewbox.clear_band()
        if self._layout is not None and self._layout.frames:
            x0, y0, x1, y1 = self._layout.framing(with_outliers=self.show_outliers)
            y0 -= TITLE_ROOM * (y1 - y0)  # the top row's titles sit above their slides
            self.getPlotItem().disableAutoRange()
            self.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.05)
        elif len(self._rows):
            self.getPlotItem().enableAutoRange()
            self.autoRange(padding=0.05)

    def set_show_outliers(self, on: bool) -> None:
        self.show_outliers = on
        self.reset_view()

    def outlier_count(self) -> int:
        return int(self._layout.outliers.sum()) if self._layout is not None else 0

    def band_rect(self) -> QRectF | None:
        return self._viewbox.band_rect()

    def clear_band(self) -> None:
        self._viewbox.clear_band()

    def show_band(self, rect: QRectF) -> None:
        self._viewbox.show_band(rect)

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

    def set_highlight_visible(self, visible: bool) -> None:
        self._highlight.setVisible(visible)

    def set_select_mode(self, on: bool) -> None:
        self._viewbox.select_mode = on
        self.menu_actions["select"].setChecked(on)

    # --- context menu --------------------------------------------------------------------------
    @Slot(QAction)
    def _on_menu_action(self, action: QAction) -> None:
        run_map_action(self, action.data(), action.isChecked())

    def show_tiles_in_view(self) -> None:
        """Narrow the grid to the tiles in view (the context menu's Show these tiles)."""
        rows = self.rows_in_rect(self._viewbox.viewRect())
        if len(rows):
            self.regionSelected.emit(rows)

    # --- interaction ---------------------------------------------------------------------------
    def rows_in_rect(self, rect: QRectF) -> np.ndarray:
        x, y = self._xy[:, 0], self._xy[:, 1]
        inside = (x >= rect.left()) & (x <= rect.right()) & (y >= rect.top()) & (y <= rect.bottom())
        if self._shown is not None:
            inside &= self._shown
        return self._rows[inside]

    def view_point_to_widget(self, x: float, y: float) -> QPointF:
        """Where a slide coordinate appears in this widget (for tests and tooltips)."""
        scene = self._viewbox.mapViewToScene(QPointF(x, y))
        return self.mapFromScene(scene)

    def nearest_row(self, x: float, y: float, max_pixels: float = 8.0) -> int | None:
        """The row of the point nearest to (x, y) on screen, if within `max_pixels` or, in the
        mosaic, inside its tile's cell."""
        if not len(self._rows):
            return None
        px, py = self._viewbox.viewPixelSize()
        d2 = ((self._xy[:, 0] - x) / px) ** 2 + ((self._xy[:, 1] - y) / py) ** 2
        if self._shown is not None:
            d2 = np.where(self._shown, d2, np.inf)
        nearest = np.flatnonzero(d2 == d2.min())
        reach = max_pixels
        if self.mosaic and self._layout is not None:
            reach = max(reach, self._layout.step / 2 / max(px, 1e-12))
            dx, dy = abs(self._xy[nearest[0], 0] - x) / px, abs(self._xy[nearest[0], 1] - y) / py
            if max(dx, dy) <= reach:
                reach = np.inf
        if not np.isfinite(d2[nearest[0]]) or d2[nearest[0]] > reach**2:
            return None
        # of points on one spot, the one that shows: last in drawing order (colour layer, then row)
        i = nearest[np.lexsort((nearest, self._draw_groups[nearest]))[-1]]
        return int(self._rows[i])

    def _on_scene_click(self, event) -> None:
        if not self._viewbox.sceneBoundingRect().contains(event.scenePos()):
            return
        if event.button() == Qt.MouseButton.RightButton:
            event.accept()
            self.menu.popup(QCursor.pos())
            return
        if event.button() != Qt.MouseButton.LeftButton or event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return
        point = self._viewbox.mapSceneToView(event.scenePos())
        row = self.nearest_row(point.x(), point.y())
        if row is not None:
            event.accept()
            self.pointClicked.emit(row)
        elif self.band_rect() is not None:  # a click on empty space clears the rectangle
            event.accept()
            self.clear_band()
            self.selectionCleared.emit()

    def _on_rect(self, rect: QRectF) -> None:
        rows = self.rows_in_rect(rect)
        if len(rows):
            self.regionSelected.emit(rows)
        else:
            self.clear_band()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.clear_band()
            self.selectionCleared.emit()
            event.accept()
            return
        super().keyPressEvent(event)


def _members(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`np.isin(values, rows)` by binary search in the (usually already sorted) rows: a filter
    over 100,000 tiles costs the GUI thread about a millisecond instead of a dozen."""
    if len(rows) > 1 and not bool(np.all(rows[1:] >= rows[:-1])):
        rows = np.sort(rows)
    if not len(rows):
        return np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(rows, values), len(rows) - 1)
    return rows[at] == values

