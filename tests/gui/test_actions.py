"""The command table: the window's menus and shortcuts all come from it, once each."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMenu

from tfr_viewer.gui.actions import COMMANDS, Command, Separator, Submenu, build_commands, fill_path_menu, shortcut_table


def menu_actions(menu) -> list[QAction]:
    """Every action in the menu and its submenus, except those a submenu makes when it opens."""
    found = []
    for action in menu.actions():
        if action.isSeparator():
            continue
        found.append(action)
        if action.menu() is not None and action.text() != "&Recent":
            found += menu_actions(action.menu())
    return found


def test_every_menu_action_and_shortcut_of_the_window_comes_from_the_table(window) -> None:
    commands = [c for c in COMMANDS if isinstance(c, Command)]
    submenus = {c.menu.rpartition("/")[2] for c in COMMANDS if not isinstance(c, Separator) and c.menu and "/" in c.menu}
    items = menu_actions(window.menuBar())
    commands_shown = [a for a in items if a.menu() is None]
    assert {a.text() for a in items if a.menu() is not None} == submenus | {"&File", "&View", "&Tools", "&Help"}
    assert set(commands_shown) == set(window.commands.actions.values())
    assert [a.text() for a in commands_shown] == [c.text for c in commands if c.menu]  # table order
    for command in commands:
        key = QKeySequence(command.shortcut) if command.shortcut is not None else QKeySequence()
        if command.menu:
            action = window.commands.actions[command.id]
            assert (action.text(), action.shortcut(), action.isCheckable()) == (command.text, key, command.checkable)
        else:
            assert window.commands.shortcuts[command.id].key() == key
    window_keys = {s.key().toString() for s in window.findChildren(QShortcut) if s.parent() is window}
    window_keys |= {a.shortcut().toString() for a in commands_shown if not a.shortcut().isEmpty()}
    table_keys = {QKeySequence(c.shortcut).toString() for c in commands if c.shortcut is not None} - {""}
    assert window_keys == table_keys  # (panels keep their own keys, e.g. the viewer's + and -)


def test_the_table_has_no_duplicate_id_or_shortcut(qapp) -> None:
    ids = [c.id for c in COMMANDS if not isinstance(c, Separator)]
    assert len(ids) == len(set(ids))
    keys = [text for _, text in shortcut_table()]
    assert len(keys) == len(set(keys))
    native = QKeySequence.SequenceFormat.NativeText
    table = shortcut_table()
    assert ("Open File…", QKeySequence(QKeySequence.StandardKey.Open).toString(native)) in table
    assert ("Open Folder…", QKeySequence("Ctrl+Shift+O").toString(native)) in table
    assert QKeySequence("Esc").toString(native) in [key for _, key in table]


def test_build_commands_makes_menus_in_table_order_and_calls_the_handlers(qtbot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    calls = []
    table = (
        Command("a", "&Alpha", "&One", "Ctrl+1"),
        Separator("&One"),
        Command("b", "Beta", "&One/&Sub", checkable=True, group="g"),
        Command("c", "Gamma", "&One/&Sub", checkable=True, group="g"),
        Submenu("d", "&Two"),
        Command("e", "Escape", None, "Esc"),
    )
    handlers = {"a": lambda: calls.append("a"), "b": lambda on: calls.append(("b", on)),
                "c": lambda on: calls.append(("c", on)), "d": lambda menu: fill_path_menu(menu, ["/x"], calls.append),
                "e": lambda: calls.append("e")}
    built = build_commands(window, handlers, table)
    assert [a.text() for a in window.menuBar().actions()] == ["&One", "&Two"]
    assert [a.text() or "-" for a in built.menus["&One"].actions()] == ["&Alpha", "-", "&Sub"]
    built.actions["a"].trigger()
    built.actions["b"].trigger()
    built.actions["c"].trigger()
    assert not built.actions["b"].isChecked()  # one choice of the group at a time
    built.menus["&Two"].aboutToShow.emit()
    built.menus["&Two"].actions()[0].trigger()
    built.shortcuts["e"].activated.emit()
    assert calls == ["a", ("b", True), ("c", True), "/x", "e"]
    with pytest.raises(KeyError, match="without a handler"):
        build_commands(QMainWindow(), {k: v for k, v in handlers.items() if k != "a"}, table)


def test_an_empty_path_menu_says_none(qtbot) -> None:
    menu = QMenu()
    fill_path_menu(menu, [], lambda path: None)
    assert [(a.text(), a.isEnabled()) for a in menu.actions()] == [("(none)", False)]
    fill_path_menu(menu, ["/a", "/b"], lambda path: None)
    assert [a.text() for a in menu.actions()] == ["/a", "/b"]
