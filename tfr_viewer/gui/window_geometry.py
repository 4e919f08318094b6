"""The window's size and place on its screen: a few Qt calls, imported before the first paint
(the window takes its size before it is shown, so it does not jump when its parts arrive)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

PREFERRED_SIZE = QSize(1440, 900)  # the window's size on a screen large enough for it
SCREEN_SHARE = 0.92  # else this share of the screen's free area, room left for the title bar


def available_area(window: QWidget) -> QRect:
    """The free area (no task bars) of the screen the window is on, in logical pixels."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fit_to_screen(window: QWidget) -> None:
    """The preferred size, or what the screen has room for, centred on it (a 1440x900 window on
    a 1280x800 screen, or at scale factor 2, hid the map and the status bar)."""
    area = available_area(window)
    size = PREFERRED_SIZE.boundedTo(QSize(int(area.width() * SCREEN_SHARE), int(area.height() * SCREEN_SHARE)))
    window.resize(size)
    window.move(area.center() - QRect(0, 0, size.width(), size.height()).center())


def clamp_to_screen(window: QWidget) -> None:
    """A window restored from a larger (or another) screen is shrunk and moved onto this one."""
    area = available_area(window)
    if area.contains(window.geometry()):
        return
    size = window.size().boundedTo(area.size())
    window.resize(size)
    x = min(max(window.x(), area.left()), area.right() + 1 - size.width())
    y = min(max(window.y(), area.top()), area.bottom() + 1 - size.height())
    window.move(x, y)


def restore_window_geometry(window: QWidget, saved: QByteArray | None) -> None:
    """The size the screen has room for, then the saved geometry kept on this screen."""
    fit_to_screen(window)
    if saved:
        window.restoreGeometry(saved)
        clamp_to_screen(window)
