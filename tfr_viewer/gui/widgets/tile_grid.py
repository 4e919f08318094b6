"""The grid of thumbnails: a QListView in icon mode with uniform item sizes (virtualised)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QAbstractItemView, QListView

RING_WIDTH = 3


class TileGridView(QListView):
    """Enter (or double-click) asks the window to show the tile in the viewer.

    Tiles are painted by Qt's own delegate (the model's icons look the same when selected, so
    colours stay true); the view rings the selected ones in one pass after them. A delegate
    written in Python cost a call into Python per painted tile, each of which may wait for the
    GIL while thumbnails decode: tens of ms per scroll step."""

    activatedRow = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("tileGrid")
        # Icon mode, laid out in batches: a 100,000-tile selection never blocks the window for
        # long. (Wrapping list mode lays out faster once, but relayouts every row on each
        # dataChanged, i.e. on every batch of thumbnails: measured 130 ms per batch at 100k rows.)
        # Batches of 500 rows: a batch of 2,000 took 4-20 ms while worker threads held the GIL,
        # 500 take ~1 ms, and all the batches of a grid together take less time than big ones.
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setUniformItemSizes(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSpacing(2)
        self.setWordWrap(True)
        self.set_thumb_size(96, captions=False)
        self.activated.connect(lambda index: self.activatedRow.emit(index.row()))
        self._visible_timer = QTimer(self)
        self._visible_timer.setSingleShot(True)
        self._visible_timer.setInterval(0)
        self._visible_timer.timeout.connect(self.report_visible_rows)
        self.verticalScrollBar().valueChanged.connect(self._visible_timer.start)

    def setModel(self, model) -> None:  # noqa: N802
        super().setModel(model)
        model.modelReset.connect(self._visible_timer.start)
        model.layoutChanged.connect(self._visible_timer.start)

    def visible_rows(self) -> tuple[int, int]:
        """(first, last) rows in the viewport, or (0, -1) when nothing is laid out. Looks at the
        middle of the cells (a tile is centred in its cell: a corner of the viewport is often
        in the spacing between tiles, where there is no index)."""
        rect = self.viewport().rect()
        cell = self.gridSize() if self.gridSize().isValid() else QSize(self._cell)
        columns = max(1, rect.width() // max(1, cell.width()))
        first = self._first_valid([QPoint(cell.width() // 2, y) for y in (4, 4 + cell.height() // 2)])
        if first is None:
            return 0, -1
        last = self._first_valid([QPoint(c * cell.width() + cell.width() // 2, y)
                                  for y in (rect.height() - 4, rect.height() - 4 - cell.height() // 2)
                                  for c in range(columns - 1, -1, -1)])
        if last is None:
            return first, min(self.model().rowCount() - 1, first + 4000)
        return first, max(first, last)

    def _first_valid(self, points: list[QPoint]) -> int | None:
        for point in points:
            index = self.indexAt(point)
            if index.isValid():
                return index.row()
        return None

    def report_visible_rows(self) -> tuple[int, int]:
        """Tell the model (its thumbnail loader) which rows are shown; returns them."""
        first, last = self.visible_rows()
        model = self.model()
        if model is not None and hasattr(model, "set_visible_rows"):
            model.set_visible_rows(first, last)
        return first, last

    def paintEvent(self, event) -> None:  # noqa: N802
        shown = self.report_visible_rows()  # cheap: a few indexAt calls; keeps the loader's view current
        super().paintEvent(event)
        self._ring_selected(event.rect(), *shown)

    def _ring_selected(self, area, first: int, last: int) -> None:
        """A ring around each selected tile of rows `first`..`last` in `area`, from the
        selection's row ranges (one range for a select-all of 100,000 tiles: nothing here grows
        with the selection's size)."""
        selection = self.selectionModel()
        if selection is None or last < first or not selection.hasSelection():
            return
        painter = QPainter(self.viewport())
        pen = QPen(self.palette().highlight().color())
        pen.setWidth(RING_WIDTH)
        painter.setPen(pen)
        for span in selection.selection():
            for row in range(max(span.top(), first), min(span.bottom(), last) + 1):
                rect = self.visualRect(self.model().index(row, 0))
                if rect.intersects(area):
                    painter.drawRect(rect.adjusted(1, 1, -2, -2))
        painter.end()

    def set_thumb_size(self, size: int, captions: bool) -> None:
        self.setIconSize(QSize(size, size))
        caption_height = 2 * self.fontMetrics().height() + 4 if captions else 0
        self._cell = QSize(size + 8, size + 8 + caption_height)
        self.fit_columns()

    def fit_columns(self) -> None:
        """As many columns as cells of the thumbnail's size fit, widened to fill the width: no
        empty gutter on the right, whatever the window's width."""
        width = self.viewport().width()
        columns = max(1, width // self._cell.width())
        grid = QSize(max(self._cell.width(), width // columns), self._cell.height())
        if grid != self.gridSize():
            self.setGridSize(grid)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.fit_columns()

    def set_current_row_quietly(self, row: int) -> None:
        """Make `row` current without scrolling to it (scrolling forces the whole layout now)."""
        auto = self.hasAutoScroll()
        self.setAutoScroll(False)
        try:
            self.setCurrentIndex(self.model().index(row, 0))
        finally:
            self.setAutoScroll(auto)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activatedRow.emit(self.currentIndex().row())
            event.accept()
            return
        super().keyPressEvent(event)
