"""The Problems list: the latest word on each file that could not be read whole."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ..errors import problem_color
from ..plain import plain_label, plain_tooltip


class ProblemsPanel(QWidget):
    """A heading with the count and one line per problem; activating a line names its file."""

    pathActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("problemsList")
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.itemActivated.connect(self._on_item_activated)
        self.label = plain_label("Problems")
        self._items: dict[str, list[QListWidgetItem]] = {}  # per file: its lines
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.list)

    def has_problems(self, path: str) -> bool:
        return path in self._items

    def set_problems(self, path: str, lines: list[str]) -> None:
        """The file's lines are replaced, not added to; no lines clears the file's problems."""
        for item in self._items.pop(path, []):
            self.list.takeItem(self.list.row(item))
        items = []
        for text in lines:
            item = QListWidgetItem(text)
            item.setToolTip(plain_tooltip(text))
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setForeground(problem_color())
            self.list.addItem(item)
            items.append(item)
        if items:
            self._items[path] = items
        self._update_label()

    def clear(self) -> None:
        self.list.clear()
        self._items.clear()
        self._update_label()

    def recolor(self) -> None:
        """Problem red that reads on the current theme's background."""
        for row in range(self.list.count()):
            self.list.item(row).setForeground(problem_color())

    def _update_label(self) -> None:
        n = self.list.count()
        self.label.setText(f"Problems ({n})" if n else "Problems: none")

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        self.pathActivated.emit(item.data(Qt.ItemDataRole.UserRole))
