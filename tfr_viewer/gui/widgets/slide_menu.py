"""The slide view's own context menu (pyqtgraph's offered log axes and FFT, and broke the view).
Each action carries its key in `data()`; the map handles `QMenu.triggered` in one slot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

if TYPE_CHECKING:
    from .location_map import LocationMap

OVERLAY_PRESETS = {"Off": 0.0, "Light (30%)": 0.3, "Strong (60%)": 0.6, "Opaque": 1.0}


def build_map_menu(parent: QWidget, overlay_presets: dict[str, float]) -> tuple[QMenu, dict[str, QAction]]:
    """The menu and its actions by key: reset, select, show_these, outliers, mosaic, dots,
    overlay:<preset>, export."""
    menu = QMenu(parent)
    menu.setObjectName("mapMenu")
    actions: dict[str, QAction] = {}

    def add(target: QMenu, key: str, text: str, checkable: bool = False) -> QAction:
        action = target.addAction(text)
        action.setData(key)
        action.setCheckable(checkable)
        actions[key] = action
        return action

    add(menu, "reset", "Reset view")
    add(menu, "select", "Select area", checkable=True)
    add(menu, "show_these", "Show these tiles")
    add(menu, "outliers", "Show outliers (fit all)", checkable=True)
    menu.addSeparator()
    modes = QActionGroup(menu)
    modes.addAction(add(menu, "mosaic", "Mosaic", checkable=True))
    modes.addAction(add(menu, "dots", "Show tiles as dots", checkable=True))
    overlay = menu.addMenu("Dot overlay on the mosaic")
    for text in overlay_presets:
        add(overlay, f"overlay:{text}", text)
    menu.addSeparator()
    add(menu, "export", "Export…")
    return menu, actions


def run_map_action(view: LocationMap, key: str, checked: bool) -> None:
    """Do what the menu entry `key` says on the map."""
    if key == "reset":
        view.reset_view()
        view.selectionCleared.emit()
    elif key == "select":
        view.set_select_mode(checked)
    elif key == "show_these":
        view.show_tiles_in_view()
    elif key == "outliers":
        view.set_show_outliers(checked)
    elif key in ("mosaic", "dots"):
        view.set_mosaic(key == "mosaic")
    elif key == "export":
        view.exportRequested.emit()
    elif key.startswith("overlay:"):
        view.set_overlay_opacity(OVERLAY_PRESETS[key.split(":", 1)[1]])
