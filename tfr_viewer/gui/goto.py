"""Go to… (Ctrl+G): a record number of the current file, or an x/y place (the nearest tile).

What happened (the tile found, "nearest to", or why none) is said in the status bar.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QStatusBar, QVBoxLayout, QWidget

from .browser import Browser
from .plain import plain_label

MAX_COORDINATE = 2_000_000_000


class GoToDialog(QDialog):
    """Record number, or x and y; whichever was typed last is where to go."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("goToDialog")
        self.setWindowTitle("Go to tile")
        self.record, self.x, self.y = QLineEdit(), QLineEdit(), QLineEdit()
        for box, name, low in ((self.record, "goToRecord", 0), (self.x, "goToX", -MAX_COORDINATE), (self.y, "goToY", -MAX_COORDINATE)):
            box.setObjectName(name)
            box.setValidator(QIntValidator(low, MAX_COORDINATE, box))
        self.record.setPlaceholderText("record number in the current file")
        self.x.setPlaceholderText("loc_x")
        self.y.setPlaceholderText("loc_y: the nearest tile is taken")
        self.setMinimumWidth(380)
        self.record.textEdited.connect(self._by_record)
        self.x.textEdited.connect(self._by_xy)
        self.y.textEdited.connect(self._by_xy)
        self.note = plain_label("")
        self.note.setObjectName("goToNote")
        self.note.setWordWrap(True)
        self.by_xy = False
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(plain_label("Record"), self.record)
        form.addRow(plain_label("or x"), self.x)
        form.addRow(plain_label("and y"), self.y)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)

    def start(self, hint: str) -> None:
        """Show the dialog (not blocking) with a word on the current file."""
        self.note.setText(hint)
        self.record.clear()
        self.x.clear()
        self.y.clear()
        self.by_xy = False
        self.open()
        self.record.setFocus()

    @Slot()
    def _by_record(self) -> None:
        self.by_xy = False

    @Slot()
    def _by_xy(self) -> None:
        self.by_xy = True


class GoTo(QObject):
    """Runs the dialog against the browser; says the outcome in the status bar."""

    def __init__(self, browser: Browser, status_bar: QStatusBar, parent: QWidget) -> None:
        super().__init__(parent)
        self.browser, self.status_bar = browser, status_bar
        self.dialog = GoToDialog(parent)
        self.dialog.accepted.connect(self._go)

    def open(self) -> None:
        file_id = self.browser.current_file()
        if file_id is None:
            self.status_bar.showMessage("Go to: no file is shown", 5000)
            return
        entry = self.browser.datasets.entries[file_id]
        self.dialog.start(f"In {entry.slide}: records 0 to {max(entry.count - 1, 0):,}")

    @Slot()
    def _go(self) -> None:
        d = self.dialog
        if d.by_xy and d.x.hasAcceptableInput() and d.y.hasAcceptableInput():
            said = self.browser.go_to_xy(int(d.x.text()), int(d.y.text()))
        elif not d.by_xy and d.record.hasAcceptableInput():
            said = self.browser.go_to_record(int(d.record.text()))
        else:
            said = "Go to: type a record number, or both x and y"
        self.status_bar.showMessage(said, 8000)
