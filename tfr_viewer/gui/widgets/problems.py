"""The Problems list: the latest word on each file that could not be read whole, and the tiles
that could not be shown. Each line carries its file and record (-1 for the file as a whole), so
activating it goes to that tile, never parsing its text back."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ..errors import problem_color
from ..plain import plain_label, plain_tooltip


PATH_ROLE = Qt.ItemDataRole.UserRole
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1


class ProblemsPanel(QWidget):
    """A heading with the count and one line per problem; activating a line names its file and
    record (-1: the file as a whole)."""

    problemActivated = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("problemsList")
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.itemActivated.connect(self._on_item_activated)
        self.label = plain_label("Problems")
        self._items: dict[str, list[QListWidgetItem]] = {}  # per file: its lines
        self._tiles: set[tuple[str, int]] = set()  # (path, record) of the lines about one tile
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.list)

    def has_problems(self, path: str) -> bool:
        return path in self._items

    def set_problems(self, path: str, lines: list[str], records: list[int] | None = None) -> None:
        """The file's lines are replaced, not added to; no lines clears the file's problems.
        `records`: the record each line is about (-1 or absent: the file)."""
        for item in self._items.pop(path, []):
            self._tiles.discard((path, item.data(RECORD_ROLE)))
            self.list.takeItem(self.list.row(item))
        for i, text in enumerate(lines):
            self._add(path, text, records[i] if records is not None else -1)
        self._update_label()

    def add_tile_problem(self, path: str, record: int, text: str) -> None:
        """One more line about one tile of the file (kept until the file's lines are replaced)."""
        if (path, record) not in self._tiles:
            self._add(path, text, record)
            self._update_label()

    def tile_problems(self) -> list[tuple[str, int]]:
        """(path, record) of every line about one tile."""
        return sorted(self._tiles)

    def _add(self, path: str, text: str, record: int) -> None:
        item = QListWidgetItem(text)
        item.setToolTip(plain_tooltip(text))
        item.setData(PATH_ROLE, path)
        item.setData(RECORD_ROLE, int(record))
        item.setForeground(problem_color())
        self.list.addItem(item)
        self._items.setdefault(path, []).append(item)
        if record >= 0:
            self._tiles.add((path, int(record)))

    def clear(self) -> None:
        self.list.clear()
        self._items.clear()
        self._tiles.clear()
        self._update_label()

    def recolor(self) -> None:
        """Problem red that reads on the current theme's background."""
        for row in range(self.list.count()):
            self.list.item(row).setForeground(problem_color())

    def _update_label(self) -> None:
        n = self.list.count()
        self.label.setText(f"Problems ({n})" if n else "Problems: none")

    def _on_item_activated(self, item: QListWidgetItem) -> None:
        self.problemActivated.emit(item.data(PATH_ROLE), item.data(RECORD_ROLE))
