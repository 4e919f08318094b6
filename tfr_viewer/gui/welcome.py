"""The page shown before anything is opened: what the app does, ways in, and Recent."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ..demo import path_title
from .plain import plain_label


class WelcomePage(QWidget):
    """Buttons and the Recent list; each only emits what the user asked for."""

    openFolderRequested = Signal()
    openFileRequested = Signal()
    demoRequested = Signal()
    convertRequested = Signal()
    recentActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomeView")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        title = QLabel("<h1>tfr-viewer</h1><p>Browse the tiles of Slideflow / TensorFlow TFRecords: "
                       "where they sit on the slide, every field of every record, and whether the files are sound.</p>")
        title.setWordWrap(True)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for text, signal in [
            ("Open Folder…", self.openFolderRequested),
            ("Open File…", self.openFileRequested),
            ("Open demo dataset", self.demoRequested),
            ("Convert images…", self.convertRequested),
        ]:
            button = QPushButton(text)
            button.setMinimumHeight(36)
            button.clicked.connect(signal)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.recent = QListWidget()
        self.recent.setObjectName("recentList")
        self.recent.setMaximumWidth(700)
        self.recent.setToolTip("Click to open")
        self.recent.itemClicked.connect(self._on_recent_activated)  # one click, as a link
        self.recent.itemActivated.connect(self._on_recent_activated)  # Enter
        self.recent_title = plain_label("Recent:")
        self.no_recent = plain_label("Nothing opened yet. Open a folder of TFRecords, drop one on this window, "
                                     "or look around in the demo dataset first.")
        self.no_recent.setObjectName("noRecent")
        self.no_recent.setWordWrap(True)
        self.no_recent.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_recent.setMinimumWidth(520)  # one or two lines, not a narrow column
        recent_box = QHBoxLayout()
        recent_box.addStretch(1)
        column = QVBoxLayout()
        column.addWidget(self.recent_title)
        column.addWidget(self.recent)
        column.addWidget(self.no_recent)
        recent_box.addLayout(column)
        recent_box.addStretch(1)
        layout.addLayout(recent_box)
        layout.addStretch(2)

    def show_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(path_title(path))
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent.addItem(item)
        self.recent_title.setVisible(bool(paths))
        self.recent.setVisible(bool(paths))
        self.no_recent.setVisible(not paths)

    def _on_recent_activated(self, item: QListWidgetItem) -> None:
        if self.isVisible():  # a double click's second activation reaches a page already left
            self.recentActivated.emit(item.data(Qt.ItemDataRole.UserRole))


class EmptyFolderPage(QWidget):
    """Shown in place of empty panes when an opened folder holds no TFRecord: what it holds
    instead (counted in a worker) and a way to convert it."""

    convertRequested = Signal(str)  # the folder to convert
    openFolderRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyFolderView")
        self.folder = ""
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.message = plain_label("")
        self.message.setObjectName("emptyFolderMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.convert_button = QPushButton("&Convert them…")
        self.convert_button.setMinimumHeight(36)
        self.convert_button.clicked.connect(lambda: self.convertRequested.emit(self.folder))
        other = QPushButton("Open another folder…")
        other.setMinimumHeight(36)
        other.clicked.connect(self.openFolderRequested)
        buttons.addWidget(self.convert_button)
        buttons.addWidget(other)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(2)

    def show_counting(self, folder: str) -> None:
        self.folder = folder
        self.message.setText(f"No TFRecords here.\n{folder}\nCounting the images in this folder…")
        self.convert_button.setVisible(False)

    def show_scan(self, folder: str, images: int, slide_folders: int) -> None:
        """`slide_folders` is 0 when the images lie in the folder itself."""
        if folder != self.folder:
            return  # the count of a folder no longer shown
        if not images:
            self.message.setText(f"No TFRecords here.\n{folder}\nThis folder holds no images to convert either.")
            self.convert_button.setVisible(False)
            return
        where = f" in {slide_folders:,} slide folder{'s' if slide_folders != 1 else ''}" if slide_folders else ""
        self.message.setText(f"No TFRecords here.\n{folder}\n"
                             f"This folder holds {images:,} image{'s' if images != 1 else ''}{where}: convert them to TFRecords?")
        self.convert_button.setVisible(True)
