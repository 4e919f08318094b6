"""The lines under the slide view: notes that appear when there is something to say, and the
row that shows the overviews being drawn with a Stop button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ..plain import plain_label


def note_label(name: str) -> QLabel:
    """A hidden, wrapping plain-text note (file names in it never render as markup)."""
    label = plain_label("")
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setVisible(False)
    return label


class OverviewRow(QWidget):
    """"Drawing the slide overview of …" and Stop; hidden, it keeps its room, so showing it
    never re-lays out the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = plain_label("")
        self.note.setObjectName("overviewNote")
        self.stop = QPushButton("Stop")
        self.stop.setObjectName("stopOverviews")
        self.stop.setToolTip("Stop drawing the slide overviews (the tiles stay shown as dots)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.note, 1)
        row.addWidget(self.stop)
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.setVisible(False)
