"""The one bridge for errors: status bar line + a dialog with details; also the excepthooks.

Errors may be raised in any thread; widgets may only be made in the GUI thread. The hooks
therefore only emit a signal, which Qt queues to the GUI thread, where the bridge shows it.
"""

from __future__ import annotations

import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QStatusBar, QWidget

from .plain import plain_message_box


def problem_color() -> QColor:
    """The red of problem text, readable on the current theme's background."""
    dark = QApplication.palette().color(QPalette.ColorRole.Base).lightness() < 128
    return QColor("#ff7b7b" if dark else "#b00020")


def unexpected_message(value: BaseException) -> str:
    """One readable line for an error nobody expected (the traceback goes to the details)."""
    text = str(value).strip().splitlines()[0] if str(value).strip() else ""
    return f"Unexpected error: {type(value).__name__}" + (f": {text}" if text else "")


class ErrorBridge(QObject):
    """Shows worker and unexpected errors as readable messages, never a bare traceback."""

    reported = Signal(str)
    _raised = Signal(str, str)  # from any thread: (message, details), shown on the GUI thread

    def __init__(self, status_bar: QStatusBar, parent_widget: QWidget, dialogs: bool = True) -> None:
        super().__init__(parent_widget)
        self.status_bar = status_bar
        self.parent_widget = parent_widget
        self.dialogs = dialogs
        self.history: list[str] = []
        self._raised.connect(self._on_raised, Qt.ConnectionType.QueuedConnection)

    def report(self, message: str, details: str = "", dialog: bool = True) -> None:
        """Show a message (GUI thread only; other threads call `report_from_any_thread`)."""
        self.history.append(message)
        self.status_bar.showMessage(f"⚠ {message}", 15000)
        self.reported.emit(message)
        if dialog and self.dialogs:
            box = plain_message_box(QMessageBox.Icon.Warning, "tfr-viewer", message, self.parent_widget)
            if details:
                box.setDetailedText(details)
            box.show()

    def report_from_any_thread(self, message: str, details: str = "") -> None:
        """Queue a message for the GUI thread (safe from worker and Python threads)."""
        self._raised.emit(message, details)

    @Slot(str, str)
    def _on_raised(self, message: str, details: str) -> None:
        self.report(message, details)

    def install_excepthook(self) -> None:
        """Unhandled errors of the GUI thread and of any other thread reach the user here."""
        def hook(kind, value, tb) -> None:
            try:
                self.report_from_any_thread(unexpected_message(value), "".join(traceback.format_exception(kind, value, tb)))
            except RuntimeError:  # the bridge is gone (window closed): stderr, as Python would
                sys.__excepthook__(kind, value, tb)

        def thread_hook(args: threading.ExceptHookArgs) -> None:
            if args.exc_type is SystemExit:
                return
            hook(args.exc_type, args.exc_value, args.exc_traceback)

        sys.excepthook = hook
        threading.excepthook = thread_hook
