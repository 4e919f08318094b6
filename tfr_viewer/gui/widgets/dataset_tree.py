"""The tree of opened files, with a tile-count column sized cheaply."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QTreeView

TREE_SIZE_ROWS = 64  # rows measured to size the tree's tile-count column


class DatasetTreeView(QTreeView):
    """The tree of files. Its tile-count column is sized to contents over the rows around the
    view (Qt measures 1,000 rows on each relayout by default: ~20 ms for 500 files) and the
    sources' totals, which are the widest numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("datasetTree")
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformRowHeights(True)

    def setModel(self, model) -> None:  # noqa: N802
        """Columns: the name stretches, the tile count fits its contents (see the class doc)."""
        super().setModel(model)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, header.ResizeMode.Stretch)
        header.setSectionResizeMode(1, header.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(TREE_SIZE_ROWS)

    def sizeHintForColumn(self, column: int) -> int:  # noqa: N802
        width = super().sizeHintForColumn(column)
        model = self.model()
        if column > 0 and model is not None:
            for row in range(model.rowCount()):
                width = max(width, self.sizeHintForIndex(model.index(row, column)).width())
        return width
