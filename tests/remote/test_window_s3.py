"""The window opens a bucket: File -> Open URL..., the tree lists the remote files as local ones,
thumbnails arrive through the same workers, the GUI thread never waits on the network, and
nothing is written into the bucket."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

from ..gui.conftest import isolated_settings, pixmap_is_placeholder, window  # noqa: F401 - fixtures
from .conftest import BUCKET, URL
from .s3_server import MotoServer

pytestmark = pytest.mark.usefixtures("fresh_storage", "fresh_index_process")


@pytest.fixture
def fresh_index_process():
    """The indexing process started by an earlier test has the environment of before the S3
    variables were set (a real session sets them before starting): start one that has them."""
    from tfr_viewer.core.index_pool import _reset_index_pool

    _reset_index_pool()
    yield
    _reset_index_pool()


def _type_into_the_url_dialog(text: str) -> None:
    """Answer the modal Open URL dialog as a user does: type the URL, press Enter."""
    dialog = QApplication.activeModalWidget()
    if not isinstance(dialog, QInputDialog):
        QTimer.singleShot(20, lambda: _type_into_the_url_dialog(text))
        return
    line = dialog.findChild(QLineEdit)
    QTest.keyClicks(line, text)
    QTest.keyClick(line, Qt.Key.Key_Return)


def test_open_url_lists_the_bucket_and_shows_thumbnails(qtbot, window, dataset: Path, moto: MotoServer) -> None:  # noqa: F811
    before = moto.objects(BUCKET)
    QTimer.singleShot(0, lambda: _type_into_the_url_dialog(URL))
    with qtbot.waitSignal(window.loaded, timeout=30_000):
        window.commands.actions["file.open_url"].trigger()
    tree = window.datasets.tree_model
    files = [tree.item(0).child(i).text() for i in range(tree.item(0).rowCount())]
    assert [name.split()[0] for name in files] == ["a.tfrecords", "b.tfrecords", "c.tfrecords", "d.tfrecords",
                                                   "e.tfrecords"]
    model = window.browser.tile_model
    assert model.rowCount() == 40  # a.tfrecords, indexed beside it in the bucket, is shown first
    qtbot.waitUntil(lambda: all(model.has_thumbnail(i) for i in range(12)), timeout=30_000)
    icon = model.data(model.index(5), Qt.ItemDataRole.DecorationRole)
    assert not icon.isNull() and not pixmap_is_placeholder(icon)
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=30_000)  # c, d, e indexed in the background
    assert [window.datasets.entries[i].state for i in range(5)] == ["indexed"] * 4 + ["damaged"]
    assert window.settings.get("recent/paths")[0] == URL
    assert moto.objects(BUCKET) == before  # the window wrote nothing into the bucket
