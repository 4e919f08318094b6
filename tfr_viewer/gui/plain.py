"""Text from data (record values, file and folder names) shown as text, never as markup.

Qt guesses rich text for labels, tooltips and message boxes whose text starts like HTML:
a slide value `<img src="/dev/zero">` would then be loaded on hover, and a file named
`<h1>ALL TILES VERIFIED OK` would print as a heading. Every widget that shows such text goes
through these helpers.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

MAX_TOOLTIP_CHARS = 2000  # a tooltip is a glance: a 400 KB value would freeze the layout


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A QLabel that always shows its text literally."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def plain_tooltip(text: str) -> str:
    """A tooltip string Qt shows literally: escaped, inside a paragraph that keeps line breaks
    (a tooltip has no text-format setting; escaped rich text is the only sure way)."""
    if not text:
        return ""
    if len(text) > MAX_TOOLTIP_CHARS:
        text = text[:MAX_TOOLTIP_CHARS] + "…"
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


def plain_title(text: str) -> str:
    """A window title shown literally: '[*]' is Qt's modified-marker, doubled to stay text."""
    return text.replace("[*]", "[*][*]")


def plain_menu_text(text: str) -> str:
    """A menu entry shown literally: '&' would make the next letter a shortcut."""
    return text.replace("&", "&&")


def plain_message_box(icon: QMessageBox.Icon, title: str, text: str, parent: QWidget | None = None) -> QMessageBox:
    """A non-modal message box whose text is plain."""
    box = QMessageBox(icon, title, "", parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    box.setModal(False)
    return box
