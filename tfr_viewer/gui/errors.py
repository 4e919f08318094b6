"""The one bridge for errors: status bar line + a dialog with details; also sys.excepthook."""

from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QStatusBar, QWidget


def problem_color() -> QColor:
    """The red of problem text, readable on the current theme's background."""
    dark = QApplication.palette().color(QPalette.ColorRole.Base).lightness() < 128
    return QColor("#ff7b7b" if dark else "#b00020")


class ErrorBridge(QObject):
    """Shows worker and unexpected errors as readable messages, never a bare traceback."""

    reported = Signal(str)

    def __init__(self, status_bar: QStatusBar, parent_widget: QWidget, dialogs: bool = True) -> None:
        super().__init__(parent_widget)
        self.status_bar = status_bar
        self.parent_widget = parent_widget
        self.dialogs = dialogs
        self.history: list[str] = []

    def report(self, message: str, details: str = "", dialog: bool = True) -> None:
        self.history.append(message)
        self.status_bar.showMessage(f"⚠ {message}", 15000)
        self.reported.emit(message)
        if dialog and self.dialogs:
            box = QMessageBox(QMessageBox.Icon.Warning, "tfr-viewer", message, parent=self.parent_widget)
            if details:
                box.setDetailedText(details)
            box.setModal(False)
            box.show()

    def install_excepthook(self) -> None:
        def hook(kind, value, tb) -> None:
            self.report(f"Unexpected error: {value}", "".join(traceback.format_exception(kind, value, tb)))

        sys.excepthook = hook
