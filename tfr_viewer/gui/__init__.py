"""The tfr-viewer window (PySide6 + pyqtgraph). The library itself lives in `tfr_viewer.core`."""

__all__ = ["MainWindow"]


def __getattr__(name: str):
    """`MainWindow` on first use: `tfr_viewer.gui.app` starts without importing the window."""
    if name == "MainWindow":
        from .main_window import MainWindow

        return MainWindow
    raise AttributeError(f"module 'tfr_viewer.gui' has no attribute {name!r}")
