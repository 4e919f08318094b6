"""The grid of thumbnails: a QListView in icon mode with uniform item sizes (virtualised)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView


class TileGridView(QListView):
    """Enter (or double-click) asks the window to show the tile in the viewer."""

    activatedRow = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("tileGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setUniformItemSizes(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSpacing(2)
        self.setWordWrap(True)
        self.set_thumb_size(96, captions=False)
        self.activated.connect(lambda index: self.activatedRow.emit(index.row()))

    def set_thumb_size(self, size: int, captions: bool) -> None:
        self.setIconSize(QSize(size, size))
        caption_height = 2 * self.fontMetrics().height() + 4 if captions else 0
        self.setGridSize(QSize(size + 8, size + 8 + caption_height))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activatedRow.emit(self.currentIndex().row())
            event.accept()
            return
        super().keyPressEvent(event)
