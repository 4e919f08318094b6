"""The tfr-viewer window (PySide6 + pyqtgraph). The library itself lives in `tfr_viewer.core`."""

from .main_window import MainWindow

__all__ = ["MainWindow"]
