"""Every field of the selected record: name, type, length and a readable value."""

from __future__ import annotations

import codecs
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..names import NAMES_RULE, name_mismatch
from ..plain import plain_tooltip

MAX_SHOWN_VALUES = 8
MAX_VALUE_CHARS = 300  # a cell shows this much of a value; Copy gives the same text


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + f"… ({len(text):,} characters)"


def describe_value(field: dict[str, Any]) -> str:
    """A one-line, human view of a field's values (bytes as size/format/dimensions or text)."""
    values = field.get("values", [])
    if not values:
        return "(empty)"
    if field.get("kind") == "bytes":
        parts = []
        for v in values[:MAX_SHOWN_VALUES]:
            image = field.get("image")
            if image and v is values[0]:
                parts.append(f"{image['format'].upper()} image {image['width']}×{image['height']} ({len(v):,} bytes)")
                continue
            try:
                # a prefix: enough to show, cheap for 400 KB; a character cut at its end is left out
                text = codecs.getincrementaldecoder("utf-8")().decode(v[: 4 * MAX_VALUE_CHARS], final=len(v) <= 4 * MAX_VALUE_CHARS)
                parts.append(_shorten(text) if text.isprintable() else f"{len(v):,} bytes")
            except UnicodeDecodeError:
                parts.append(f"{len(v):,} bytes")
        shown = ", ".join(parts)
    elif field.get("kind") == "float":
        shown = ", ".join(f"{v:.6g}" for v in values[:MAX_SHOWN_VALUES])
    else:
        shown = ", ".join(str(v) for v in values[:MAX_SHOWN_VALUES])
    if len(values) > MAX_SHOWN_VALUES:
        shown += f", … ({len(values):,} values)"
    return _shorten(shown)


def describe_steps(feature_list: dict[str, Any]) -> str:
    """A SequenceExample feature list on one line: each step's values in brackets."""
    steps = feature_list.get("steps", [])
    if not steps:
        return "(no steps)"
    parts = []
    for values in steps[:MAX_SHOWN_VALUES]:
        shown = describe_value({"kind": feature_list.get("kind"), "values": values})
        parts.append(f"[{'' if shown == '(empty)' else shown}]")
    text = ", ".join(parts)
    if len(steps) > MAX_SHOWN_VALUES:
        text += f", … ({len(steps):,} steps)"
    return _shorten(text)


class MetadataPanel(QWidget):
    """Shows one record's fields; `show_record(details)` with the dict the record reader emits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metadataPanel")
        self.shown_details: dict[str, Any] | None = None
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.PlainText)  # paths and errors come from the data
        self.header.setText("No tile selected")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(self.header.textInteractionFlags() | self.header.textInteractionFlags().TextSelectableByMouse)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Field", "Type", "Length", "Value"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for col in range(3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy all fields as tab-separated text (Ctrl+C)")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        copy = QShortcut(QKeySequence.StandardKey.Copy, self.table, self.copy_to_clipboard)
        copy.setContext(Qt.ShortcutContext.WidgetShortcut)  # Ctrl+C in the tree or grid is theirs
        top = QHBoxLayout()
        top.addWidget(self.header, 1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self._rows: list[tuple[str, str, str, str]] = []
        self._header_text = ""
        self.copy_button.setEnabled(False)

    def show_record(self, details: dict[str, Any]) -> None:
        self.shown_details = details  # what a panel built later (the slide view) catches up from
        if details.get("error"):
            self.show_error(details["error"])
            return
        self._header_text = (
            f"{details['path']}\nrecord {details['index']} · byte offset {details['offset']:,}"
            f" · record length {details['length']:,} bytes"
        )
        mismatch = name_mismatch(details)
        if mismatch:
            self._header_text += f"\nNames differ: {mismatch}"
        if details.get("image_error"):
            self._header_text += f"\n⚠ {details['image_error']}"
        self.header.setText(self._header_text)
        self.header.setToolTip(plain_tooltip(f"Names differ: {mismatch}. {NAMES_RULE}") if mismatch else "")
        self._rows = []
        for field in details.get("fields", []):
            values = field.get("values", [])
            length = str(len(values[0])) if field.get("kind") == "bytes" and len(values) == 1 else str(len(values))
            kind = {"bytes": "bytes", "int": "int64", "float": "float"}.get(field.get("kind", ""), "empty")
            self._rows.append((_shorten(field["name"]), kind, length, describe_value(field)))
        more = details.get("more_fields", 0)
        if more:
            self._rows.append((f"… and {more:,} more fields", "", "", ""))
        lists = details.get("feature_lists") or []
        if lists:
            context = len(details.get("fields", [])) + more
            self._header_text += f"\nSequenceExample: {context:,} context feature(s), {len(lists):,} feature list(s)"
            self.header.setText(self._header_text)
        for feature_list in lists:
            kind = {"bytes": "bytes", "int": "int64", "float": "float"}.get(feature_list.get("kind", ""), "empty")
            steps = len(feature_list.get("steps", []))
            self._rows.append((_shorten(feature_list["name"]), f"{kind} list", f"{steps:,} step{'' if steps == 1 else 's'}",
                               describe_steps(feature_list)))
        self.table.setRowCount(len(self._rows))
        for r, row in enumerate(self._rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tooltip(text))
                self.table.setItem(r, c, item)
        self.copy_button.setEnabled(True)

    def show_error(self, message: str) -> None:
        self.clear()
        self.header.setText(f"⚠ {message}")
        self._header_text = message

    def clear(self) -> None:
        self._rows = []
        self._header_text = ""
        self.table.setRowCount(0)
        self.header.setText("No tile selected")
        self.header.setToolTip("")
        self.copy_button.setEnabled(False)

    def text(self) -> str:
        lines = [self._header_text] if self._header_text else []
        lines += ["\t".join(row) for row in self._rows]
        return "\n".join(lines)

    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
