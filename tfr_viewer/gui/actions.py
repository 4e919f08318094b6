"""Every command of the window, declared once: its text, shortcut and place in the menus.

The menus and the window's shortcuts are built from `COMMANDS`; handlers are given by id when
the window wires itself, so the table holds no code. `shortcut_table()` lists the keys for a
Help -> Keyboard shortcuts page or a command palette.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMenu

from .plain import plain_menu_text
from .settings import THUMB_SIZES

Shortcut = str | QKeySequence.StandardKey | None


@dataclass(frozen=True)
class Command:
    """A command: in the menu at `menu` ("&View/&Thumbnail size"), or, with no menu, a shortcut only."""

    id: str
    text: str
    menu: str | None
    shortcut: Shortcut = None
    checkable: bool = False
    group: str | None = None  # commands of one group are exclusive choices


@dataclass(frozen=True)
class Separator:
    menu: str


@dataclass(frozen=True)
class Submenu:
    """A menu whose items are made each time it opens; its handler gets the menu to fill."""

    id: str
    menu: str


COMMANDS: tuple[Command | Separator | Submenu, ...] = (
    Command("file.open_file", "Open &File…", "&File", QKeySequence.StandardKey.Open),
    Command("file.open_folder", "Open F&older…", "&File", "Ctrl+Shift+O"),
    Submenu("file.recent", "&File/&Recent"),
    Command("file.load_annotations", "Load &annotations…", "&File"),
    Separator("&File"),
    Command("file.export_tiles", "&Export selected tiles…", "&File"),
    Command("file.export_map", "Export &map as PNG…", "&File"),
    Separator("&File"),
    Command("file.quit", "&Quit", "&File", QKeySequence.StandardKey.Quit),
    *(Command(f"view.thumb_size.{size}", f"{size} px", "&View/&Thumbnail size", checkable=True, group="thumb_size")
      for size in THUMB_SIZES),
    Command("view.captions", "Show &captions", "&View", checkable=True),
    Command("view.dark_theme", "&Dark theme", "&View", checkable=True),
    Command("view.filter_slides", "&Filter slides", "&View", QKeySequence.StandardKey.Find),
    Command("view.refresh", "&Refresh (re-read changed files)", "&View", QKeySequence.StandardKey.Refresh),
    Command("view.select_area", "Select area on map", "&View", checkable=True),
    Command("view.go_to", "&Go to…", "&View", "Ctrl+G"),
    Command("view.broken_only", "Show only &broken tiles", "&View", checkable=True),
    Command("tools.convert", "&Convert images to TFRecords…", "&Tools"),
    Command("tools.verify", "&Verify selected files", "&Tools"),
    Command("tools.rebuild_indexes", "&Rebuild indexes", "&Tools"),
    Command("help.about", "&About tfr-viewer", "&Help"),
    Command("window.escape", "Back to the grid, else cancel background work, else show all tiles", None, "Esc"),
)


@dataclass
class BuiltCommands:
    """What `build_commands` made, by command id (menus by path)."""

    actions: dict[str, QAction] = field(default_factory=dict)
    shortcuts: dict[str, QShortcut] = field(default_factory=dict)
    menus: dict[str, QMenu] = field(default_factory=dict)


def build_commands(window: QMainWindow, handlers: Mapping[str, Callable], commands=COMMANDS) -> BuiltCommands:
    """Build the menu bar and the shortcuts of `window` from `commands`, in their order."""
    ids = {c.id for c in commands if not isinstance(c, Separator)}
    if ids != set(handlers):
        raise KeyError(f"commands without a handler: {sorted(ids - set(handlers))}; "
                       f"handlers without a command: {sorted(set(handlers) - ids)}")
    built = BuiltCommands()
    groups: dict[str, QActionGroup] = {}

    def menu_at(path: str) -> QMenu:
        if path not in built.menus:
            parent, _, title = path.rpartition("/")
            built.menus[path] = menu_at(parent).addMenu(title) if parent else window.menuBar().addMenu(title)
        return built.menus[path]

    for command in commands:
        if isinstance(command, Separator):
            menu_at(command.menu).addSeparator()
        elif isinstance(command, Submenu):
            menu = menu_at(command.menu)
            menu.aboutToShow.connect(lambda m=menu, fill=handlers[command.id]: fill(m))
        elif command.menu is None:
            built.shortcuts[command.id] = QShortcut(QKeySequence(command.shortcut), window, handlers[command.id])
        else:
            action = QAction(command.text, window)
            if command.shortcut is not None:
                action.setShortcut(QKeySequence(command.shortcut))
            action.setCheckable(command.checkable)
            action.triggered.connect(handlers[command.id])
            if command.group is not None:
                groups.setdefault(command.group, QActionGroup(window)).addAction(action)
            menu_at(command.menu).addAction(action)
            built.actions[command.id] = action
    return built


def fill_path_menu(menu: QMenu, paths: list[str], open_path: Callable[[str], None]) -> None:
    """A menu of paths (Recent) that opens the one chosen; "(none)" when there is none."""
    menu.clear()
    for path in paths:
        menu.addAction(plain_menu_text(path)).triggered.connect(lambda checked=False, p=path: open_path(p))
    if menu.isEmpty():
        menu.addAction("(none)").setEnabled(False)


def shortcut_table(commands=COMMANDS) -> list[tuple[str, str]]:
    """(text without mnemonics, shortcut as the platform writes it) of every command with a
    key, in table order. Standard keys resolve through the platform (a QGuiApplication must
    exist); one the platform leaves unbound (Quit on some desktops) is not listed."""
    table = []
    for command in commands:
        if isinstance(command, Command) and command.shortcut is not None:
            key = QKeySequence(command.shortcut).toString(QKeySequence.SequenceFormat.NativeText)
            if key:
                table.append((command.text.replace("&", ""), key))
    return table
