"""The welcome page: its buttons and Recent only say what the user asked for."""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton

from tfr_viewer.gui.welcome import WelcomePage


def test_buttons_and_recent_emit_their_requests(qtbot) -> None:
    page = WelcomePage()
    qtbot.addWidget(page)
    page.show()
    asked = []
    page.openFolderRequested.connect(lambda: asked.append("folder"))
    page.openFileRequested.connect(lambda: asked.append("file"))
    page.demoRequested.connect(lambda: asked.append("demo"))
    page.convertRequested.connect(lambda: asked.append("convert"))
    page.recentActivated.connect(asked.append)
    for button in page.findChildren(QPushButton):
        button.click()
    page.show_recent(["/data/one", "/data/two"])
    page.show_recent(["/data/three"])  # replaces, not adds
    assert page.recent.count() == 1
    page.recent.itemActivated.emit(page.recent.item(0))
    assert asked == ["folder", "file", "demo", "convert", "/data/three"]
