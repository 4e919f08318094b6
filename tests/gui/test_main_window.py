"""The inspector window driven like a user: open, click, select on the map, index, cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QItemSelectionModel, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QListView, QTreeView

from tfr_viewer.core.index import find_index

from .conftest import pixmap_is_placeholder, write_tiles


def open_and_wait(qtbot, window, path) -> None:
    """Open and wait until the tree is filled and the map shows the first file (built in a worker)."""
    with qtbot.waitSignals([window.loaded, window.mapFilled], timeout=15_000):
        window.open_path(str(path))


def test_parts_carry_the_contract_names(window) -> None:
    for name in ("datasetTree", "tileGrid", "locationMap", "metadataPanel", "tileViewer"):
        assert window.findChild(object, name) is not None, name
    assert isinstance(window.findChild(QTreeView, "datasetTree"), QTreeView)
    assert isinstance(window.findChild(QListView, "tileGrid"), QListView)
    assert window.stack.currentWidget() is window.welcome  # first run: the welcome view


def test_open_folder_fills_grid_with_real_thumbnails(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    model = window.browser.tile_model
    assert model.rowCount() == 60  # the first file is selected
    assert window.datasets.tree_model.rowCount() == 1 and window.datasets.tree_model.item(0).rowCount() == 2
    qtbot.waitUntil(lambda: model.has_thumbnail(0) and model.has_thumbnail(10), timeout=10_000)
    icon = model.data(model.index(0), Qt.ItemDataRole.DecorationRole)
    assert not icon.isNull() and not pixmap_is_placeholder(icon)
    assert icon.availableSizes()[0].width() == 32  # the 32 px tiles, decoded (thumbnails never upscale)


def test_click_tile_shows_metadata_and_moves_map_highlight(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    grid = window.grid
    index = window.browser.tile_model.index(23)
    qtbot.waitUntil(lambda: grid.visualRect(index).isValid(), timeout=5000)
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.visualRect(index).center())
    assert grid.currentIndex().row() == 23
    x, y = 64 * (23 % 20) + 32, 64 * (23 // 20) + 32
    qtbot.waitUntil(lambda: "slide_a" in window.metadata.text() and f"\t{x}" in window.metadata.text(), timeout=5000)
    assert "loc_y\tint64\t1\t" + str(y) in window.metadata.text()
    assert window.map_panel.map.highlighted_xy() == (x, y)
    qtbot.waitUntil(window.viewer.has_image, timeout=5000)
    assert window.viewer.image_size() == (32, 32)


def _send_mouse(widget, kind, pos: QPointF, buttons, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def test_click_map_point_selects_the_tile(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    x, y = 64 * 7 + 32, 64 * 2 + 32  # record 47
    pos = window.map_panel.map.view_point_to_widget(x, y)
    viewport = window.map_panel.map.viewport()
    _send_mouse(viewport, QEvent.Type.MouseButtonPress, QPointF(pos), Qt.MouseButton.LeftButton)
    _send_mouse(viewport, QEvent.Type.MouseButtonRelease, QPointF(pos), Qt.MouseButton.NoButton)
    qtbot.waitUntil(lambda: window.grid.currentIndex().row() == 47, timeout=5000)
    assert window.map_panel.map.highlighted_xy() == (x, y)


def test_shift_drag_rectangle_on_map_filters_the_grid(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    viewport = window.map_panel.map.viewport()
    start = QPointF(window.map_panel.map.view_point_to_widget(0, 0))
    end = QPointF(window.map_panel.map.view_point_to_widget(64 * 3 + 40, 64 * 1 + 40))  # columns 0-3, rows 0-1
    shift = Qt.KeyboardModifier.ShiftModifier
    _send_mouse(viewport, QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton, shift)
    for t in np.linspace(0.1, 1.0, 8):
        _send_mouse(viewport, QEvent.Type.MouseMove, start + (end - start) * float(t), Qt.MouseButton.LeftButton, shift)
    _send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton, shift)
    qtbot.waitUntil(lambda: window.browser.tile_model.is_filtered(), timeout=5000)
    shown = sorted(window.browser.tile_model.key(r)[1] for r in range(window.browser.tile_model.rowCount()))
    assert shown == [0, 1, 2, 3, 20, 21, 22, 23]
    window.browser.clear_region()
    assert window.browser.tile_model.rowCount() == 60


def test_selecting_second_file_and_both(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    with qtbot.waitSignal(window.mapFilled, timeout=5000):
        window.browser.select_files([1])
    assert window.browser.tile_model.rowCount() == 25 and window.map_panel.map.point_count() == 25
    with qtbot.waitSignal(window.mapFilled, timeout=5000):
        window.browser.select_files([0, 1])
    assert window.browser.tile_model.rowCount() == 85 and window.map_panel.map.point_count() == 85


def test_enter_opens_the_tile_in_the_viewer_and_next_moves(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.browser.tile_model.index(4))
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "record 4" in window.viewer.title.text(), timeout=5000)
    window.viewer.nextRequested.emit()
    qtbot.waitUntil(lambda: "record 5" in window.viewer.title.text(), timeout=5000)
    assert window.grid.currentIndex().row() == 5


def test_file_without_index_is_indexed_while_window_responds(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "noindex"
    root.mkdir()
    for i in range(3):
        write_tiles(root / f"s{i}.tfrecords", 1500, index=False, px=16)
    ticks = []
    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(lambda: ticks.append(window.datasets.index_job is not None))
    probe.start()
    with qtbot.waitSignal(window.indexingFinished, timeout=60_000):
        window.open_path(str(root))
    probe.stop()
    assert any(ticks), "the GUI thread never ran while indexing"
    for i in range(3):
        assert find_index(root / f"s{i}.tfrecords") is not None
    assert [e.state for e in window.datasets.entries] == ["indexed"] * 3
    # the tree shows the indexed counts (it takes files indexed in the background in batches)
    assert window.datasets.tree_model.item(0, 1).text() == "4,500"
    assert [window.datasets.tree_model.item(0).child(r, 1).text() for r in range(3)] == ["1,500"] * 3
    with qtbot.waitSignal(window.mapFilled, timeout=5000):
        window.browser.select_files([2])
    assert window.browser.tile_model.rowCount() == 1500 and window.map_panel.map.point_count() == 1500


def test_slideflow_offsets_only_index_still_puts_tiles_on_the_map(qtbot, window, tmp_path: Path) -> None:
    """Slideflow writes `.index.npy` (offsets, no locations) when SF_ALLOW_ZIP=0."""
    root = tmp_path / "npy"
    root.mkdir()
    path = root / "s.tfrecords"
    write_tiles(path, 40, index=False, px=16)
    np.save(root / "s.index.npy", find_index_or_build(path).offsets)
    npy_bytes = (root / "s.index.npy").read_bytes()
    with qtbot.waitSignal(window.indexingFinished, timeout=20_000):
        window.open_path(str(root))
    assert window.datasets.entries[0].index.locations is not None  # read from the records in the background
    qtbot.waitUntil(lambda: window.map_panel.map.point_count() == 40, timeout=5000)  # the file is already selected
    assert (root / "s.index.npy").read_bytes() == npy_bytes  # Slideflow's own index is left as it is


def find_index_or_build(path: Path):
    from tfr_viewer.core.index import iter_scan
    from tfr_viewer.core.progress import run_job

    return run_job(iter_scan(path))


def test_corrupt_file_in_problems_and_good_tiles_still_show(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "damaged"
    root.mkdir()
    write_tiles(root / "good.tfrecords", 10)
    bad = root / "bad.tfrecords"
    write_tiles(bad, 10, index=False)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with qtbot.waitSignal(window.indexingFinished, timeout=20_000):
        window.open_path(str(root))
    assert window.problems.list.count() >= 1
    assert "bad.tfrecords" in window.problems.list.item(0).text() and "record" in window.problems.list.item(0).text()
    bad_id = [Path(e.path).name for e in window.datasets.entries].index("bad.tfrecords")
    entry = window.datasets.entries[bad_id]
    assert entry.state == "damaged" and 0 < entry.count < 10
    window.browser.select_files([bad_id])
    assert window.browser.tile_model.rowCount() == entry.count
    assert window.grid_label.text().endswith("1 file(s) with a problem (see Problems)")
    qtbot.waitUntil(lambda: window.browser.tile_model.has_thumbnail(0), timeout=5000)
    assert bad.read_bytes() == bytes(data)  # never modified


def test_a_bad_payload_shows_as_one_broken_tile_among_the_good_ones(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "onebad"
    root.mkdir()
    path = root / "s.tfrecords"
    write_tiles(path, 12, index=False)
    offsets = find_index_or_build(path).offsets
    data = bytearray(path.read_bytes())
    data[int(offsets[4, 0]) + 100] ^= 0xFF  # record 4's payload: its CRC fails, its framing holds
    path.write_bytes(bytes(data))
    with qtbot.waitSignal(window.indexingFinished, timeout=20_000):
        window.open_path(str(root))
    entry = window.datasets.entries[0]
    assert entry.state == "damaged" and entry.count == 12  # the 7 records after it still show
    assert "record 4" in window.problems.list.item(0).text()
    window.browser.select_files([0])
    assert window.browser.tile_model.rowCount() == 12
    qtbot.waitUntil(lambda: window.browser.tile_model.has_thumbnail(11), timeout=10_000)


def test_cancel_index_building(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    for i in range(6):
        write_tiles(root / f"s{i}.tfrecords", 3000, index=False, px=8)
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(root))
    assert window.datasets.index_job is not None
    job = window.datasets.index_job
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not job.thread.isRunning(), timeout=30_000)  # waitSignal would run in the worker thread
    built = [find_index(root / f"s{i}.tfrecords") is not None for i in range(6)]
    assert not all(built), "cancel came too late to stop anything"
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary files left
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=5000)


def test_opening_a_new_folder_while_workers_run(qtbot, window, tmp_path: Path, folder: Path) -> None:
    slow = tmp_path / "slow"
    slow.mkdir()
    for i in range(4):
        write_tiles(slow / f"x{i}.tfrecords", 3000, index=False, px=8)
    window.open_path(str(slow))
    qtbot.waitUntil(lambda: window.datasets.index_job is not None, timeout=10_000)
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(folder))
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=30_000)
    assert [Path(e.path).name for e in window.datasets.entries] == ["slide_a.tfrecords", "slide_b.tfrecords"]
    assert window.browser.tile_model.rowCount() == 60
    names = {window.datasets.tree_model.item(0).child(r).text() for r in range(window.datasets.tree_model.item(0).rowCount())}
    assert names == {"slide_a.tfrecords", "slide_b.tfrecords"}


def test_missing_path_is_a_readable_error(qtbot, window, tmp_path: Path) -> None:
    with qtbot.waitSignal(window.loaded, timeout=10_000):
        window.open_path(str(tmp_path / "nope"))
    assert "nope" in window.errors.history[-1]
    assert "Traceback" not in window.errors.history[-1]


def test_export_selected_tiles(qtbot, window, folder: Path, tmp_path: Path) -> None:
    open_and_wait(qtbot, window, folder)
    job = window.tools.export_tiles([(0, 0), (0, 5), (1, 2)], str(tmp_path / "out"))
    qtbot.waitUntil(lambda: not job.thread.isRunning() and not window.jobs.busy(), timeout=10_000)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["slide_a_32-32.jpg", "slide_a_352-32.jpg", "slide_b_160-32.jpg"]


def test_settings_persist_recent_and_thumb_size(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    window.appearance.set_thumb_size(128)
    window.close()
    from tfr_viewer.gui.settings import Settings

    settings = Settings()
    assert settings.get("view/thumb_size") == 128
    assert settings.get("recent/paths")[0] == str(folder)


def test_colour_map_by_a_numeric_field(qtbot, window, tmp_path: Path) -> None:
    from tfr_viewer.core.framing import frame_record
    from tfr_viewer.core.records import make_example

    from ..helpers import make_jpeg

    root = tmp_path / "scored"
    root.mkdir()
    with open(root / "s.tfrecords", "wb") as f:
        for i in range(20):
            f.write(frame_record(make_example(
                {"image_raw": make_jpeg(16, 16, seed=i), "slide": "s", "loc_x": i * 64, "loc_y": 0, "score": i / 4}
            )))
    with qtbot.waitSignal(window.indexingFinished, timeout=20_000):
        window.open_path(str(root))
    window.browser.select_files([0])
    qtbot.waitUntil(lambda: window.map_panel.color_by.findData("score") >= 0, timeout=5000)
    window.map_panel.color_by.setCurrentIndex(window.map_panel.color_by.findData("score"))
    qtbot.waitUntil(lambda: "score: 0 " in window.map_panel.color_legend.text(), timeout=10_000)
    assert "4.75" in window.map_panel.color_legend.text()
    window.map_panel.color_by.setCurrentIndex(window.map_panel.color_by.findData("#order"))
    assert window.map_panel.color_legend.text().startswith("record: 0")
    window.map_panel.color_by.setCurrentIndex(window.map_panel.color_by.findData("slide"))
    assert window.map_panel.color_legend.text() == ""


def test_dark_theme_keeps_file_names_and_problems_readable(qtbot, window, tmp_path: Path) -> None:
    """Healthy names follow the palette's text colour (an explicit empty colour painted black);
    problem red is lighter on a dark background, for items made before and after the switch."""
    from tfr_viewer.gui.models import FILE_ID_ROLE

    root = tmp_path / "mixed"
    root.mkdir()
    write_tiles(root / "good.tfrecords", 4)
    (root / "bad.tfrecords").write_bytes(b"not a tfrecord at all, just text")
    with qtbot.waitSignal(window.indexingFinished, timeout=20_000):
        window.open_path(str(root))

    def name_items() -> dict[str, object]:
        items = {}
        model = window.datasets.tree_model
        for r in range(model.rowCount()):
            source = model.item(r, 0)
            for c in range(source.rowCount()):
                child = source.child(c, 0)
                if child.data(FILE_ID_ROLE) is not None:
                    items[Path(window.datasets.entries[child.data(FILE_ID_ROLE)].path).name] = child
        return items

    try:
        window.appearance.set_theme("dark")
        items = name_items()
        assert items["good.tfrecords"].data(Qt.ItemDataRole.ForegroundRole) is None
        dark_red = items["bad.tfrecords"].foreground().color()
        assert dark_red.lightness() > 128
        assert window.problems.list.item(0).foreground().color() == dark_red
        assert window.map_panel.map.backgroundBrush().color().lightness() < 64
        window.appearance.set_theme("light")
        assert window.map_panel.map.backgroundBrush().color().lightness() > 240
        assert name_items()["bad.tfrecords"].foreground().color().lightness() < 128
    finally:
        window.appearance.set_theme("light")


def test_export_reports_tiles_whose_image_does_not_decode(qtbot, window, tmp_path: Path) -> None:
    from tfr_viewer.core.framing import frame_record
    from tfr_viewer.core.records import make_example

    from ..helpers import make_jpeg

    root = tmp_path / "exp"
    root.mkdir()
    with open(root / "x.tfrecords", "wb") as f:
        for i, image in enumerate([b"not an image", make_jpeg(32, 32, seed=1)]):
            f.write(frame_record(make_example({"image_raw": image, "slide": "x", "loc_x": i, "loc_y": 0})))
    open_and_wait(qtbot, window, root)
    job = window.tools.export_tiles([(0, 0), (0, 1)], str(tmp_path / "out"))
    qtbot.waitUntil(lambda: not job.thread.isRunning() and not window.jobs.busy(), timeout=10_000)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["x_1-0.jpg"]
    assert "1 tile(s) not exported" in window.errors.history[-1]
    assert window.statusBar().currentMessage().endswith("; 1 skipped")


def test_the_map_says_when_tiles_have_no_locations(qtbot, window, tmp_path: Path, data_dir: Path) -> None:
    import shutil

    root = tmp_path / "noloc"
    root.mkdir()
    shutil.copy(data_dir / "tf_extra" / "noloc.tfrecords", root / "noloc.tfrecords")
    write_tiles(root / "with.tfrecords", 5)
    with qtbot.waitSignal(window.indexingFinished, timeout=20_000):
        window.open_path(str(root))
    ids = {Path(e.path).name: i for i, e in enumerate(window.datasets.entries)}
    with qtbot.waitSignal(window.mapFilled, timeout=10_000):
        window.browser.select_files([ids["noloc.tfrecords"]])
    assert window.map_panel.map_note.isVisibleTo(window) and "No tile locations" in window.map_panel.map_note.text()
    with qtbot.waitSignal(window.mapFilled, timeout=10_000):
        window.browser.select_files(sorted(ids.values()))
    n = window.datasets.entries[ids["noloc.tfrecords"]].count
    assert f"The map shows 5 of {5 + n} tiles: 1 file(s) have no loc_x/loc_y fields." == window.map_panel.map_note.text()
    with qtbot.waitSignal(window.mapFilled, timeout=10_000):
        window.browser.select_files([ids["with.tfrecords"]])
    assert not window.map_panel.map_note.isVisibleTo(window)


def test_viewer_keys_act_only_in_the_viewer(qtbot, window, folder: Path) -> None:
    """PgDown in the grid pages the grid, '+' there does not zoom the viewer, Ctrl+C there does
    not copy the metadata; in the viewer PgDown steps to the next tile."""
    open_and_wait(qtbot, window, folder)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.browser.tile_model.index(0))
    zoom = window.viewer.zoom_factor()
    qtbot.keyClick(window.grid, Qt.Key.Key_Plus)
    assert window.viewer.zoom_factor() == zoom
    QApplication.clipboard().setText("untouched")
    qtbot.keyClick(window.grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "untouched"
    qtbot.keyClick(window.grid, Qt.Key.Key_PageDown)
    assert window.grid.currentIndex().row() > 1  # a page of tiles, not one step
    window.grid.setCurrentIndex(window.browser.tile_model.index(3))
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "record 3" in window.viewer.title.text(), timeout=5000)
    window.viewer.view.setFocus()
    qtbot.keyClick(window.viewer.view, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.grid.currentIndex().row() == 4, timeout=5000)
    qtbot.keyClick(window.viewer.view, Qt.Key.Key_Escape)  # back to the grid: arrows step again
    assert window.grid.hasFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 5


def test_viewer_wheel_zoom_keeps_the_point_under_the_mouse(qtbot) -> None:
    """Zooming scales from the present view: the image point under the mouse stays under it (a
    reset to 1:1 before each zoom threw the scroll position away)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QImage, QWheelEvent
    from PySide6.QtTest import QTest

    from tfr_viewer.gui.widgets.tile_viewer import TileViewer

    viewer = TileViewer()
    qtbot.addWidget(viewer)
    viewer.resize(500, 400)
    viewer.show()
    qtbot.waitExposed(viewer)
    image = QImage(256, 256, QImage.Format.Format_RGB32)
    image.fill(0x336699)
    viewer.show_image(image, "test")
    viewer.zoom_by(4.0)
    spot = QPoint(40, 40)
    port = viewer.view.viewport()
    QTest.mouseMove(port, spot)
    qtbot.waitUntil(port.underMouse, timeout=2000)  # the wheel anchors under the mouse
    for step in range(3):
        before = viewer.view.mapToScene(spot)
        wheel = QWheelEvent(QPointF(spot), QPointF(port.mapToGlobal(spot)), QPoint(0, 0), QPoint(0, 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(port, wheel)
        after = viewer.view.mapToScene(spot)
        assert abs(after.x() - before.x()) < 3 and abs(after.y() - before.y()) < 3, (step, before, after)


def test_thumbnail_size_and_show_all_keep_the_current_tile(qtbot, window, folder: Path) -> None:
    open_and_wait(qtbot, window, folder)
    grid = window.grid
    grid.setCurrentIndex(window.browser.tile_model.index(9))
    grid.selectionModel().select(window.browser.tile_model.index(3), QItemSelectionModel.SelectionFlag.Select)
    window.appearance.set_thumb_size(64)
    assert grid.currentIndex().row() == 9
    assert sorted(i.row() for i in grid.selectionModel().selectedIndexes()) == [3, 9]
    rows = np.array([window.browser.tile_model.all_row(r) for r in (2, 9, 11)])
    window.browser.apply_region(rows)
    grid.setCurrentIndex(window.browser.tile_model.index(1))  # the 2nd of the 3 shown: tile 9
    window.browser.clear_region()
    assert not window.browser.tile_model.is_filtered()
    assert window.browser.tile_model.key(grid.currentIndex().row()) == window.browser.tile_model.key(9)


def test_verify_marks_a_damaged_file_in_the_tree(qtbot, window, tmp_path: Path) -> None:
    """Damage whose index still matches (a flipped payload byte) shows after Verify like damage
    found by indexing: warning icon, problem tooltip, the grid label's note."""
    from tfr_viewer.gui.models import FILE_ID_ROLE

    root = tmp_path / "flipped"
    root.mkdir()
    write_tiles(root / "a.tfrecords", 6)
    write_tiles(root / "c.tfrecords", 6)
    data = bytearray((root / "c.tfrecords").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / "c.tfrecords").write_bytes(bytes(data))
    open_and_wait(qtbot, window, root)
    window.browser.select_files([0, 1])
    window.tools.verify_selected()
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=20_000)
    assert window.statusBar().currentMessage() == "Verify: 1 of 2 file(s) OK"
    source = window.datasets.tree_model.item(0, 0)
    items = {Path(window.datasets.entries[source.child(r, 0).data(FILE_ID_ROLE)].path).name: source.child(r, 0)
             for r in range(source.rowCount())}
    assert "problem: " in items["c.tfrecords"].toolTip() and "problem" not in items["a.tfrecords"].toolTip()
    assert items["c.tfrecords"].foreground().color().lightness() < 128  # problem red (light theme)
    assert items["a.tfrecords"].data(Qt.ItemDataRole.ForegroundRole) is None
    assert window.grid_label.text().endswith("1 file(s) with a problem (see Problems)")


def test_a_gone_recent_path_leaves_the_list_and_the_left_splitter_is_kept(qtbot, window, folder: Path, tmp_path: Path) -> None:
    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    gone = tmp_path / "gone"
    gone.mkdir()
    write_tiles(gone / "x.tfrecords", 2)
    open_and_wait(qtbot, window, gone)
    open_and_wait(qtbot, window, folder)
    assert window.settings.get("recent/paths")[:2] == [str(folder), str(gone)]
    for child in gone.iterdir():
        child.unlink()
    gone.rmdir()
    with qtbot.waitSignal(window.loaded, timeout=15_000):
        window.open_path(str(gone))
    assert window.settings.get("recent/paths") == [str(folder)]
    window.left_splitter.setSizes([300, 400])
    sizes = window.left_splitter.sizes()
    window.close()
    again = MainWindow(Settings(), dialogs=False)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    restored = again.left_splitter.sizes()
    assert abs(restored[0] / sum(restored) - sizes[0] / sum(sizes)) < 0.02  # the default is 600:160
    again.close()


def test_the_slide_filter_hides_rows_but_keeps_what_is_shown(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "cohort"
    root.mkdir()
    for name in ("tumor_1", "tumor_2", "normal_1"):
        write_tiles(root / f"{name}.tfrecords", 3)
    open_and_wait(qtbot, window, root)
    ids = {Path(e.path).stem: i for i, e in enumerate(window.datasets.entries)}
    window.browser.select_files([ids["normal_1"]])
    qtbot.waitUntil(lambda: window.browser.selected_files == [ids["normal_1"]], timeout=5000)
    window.slide_filter.setText("tumor")  # hides the shown file: the grid keeps it
    assert window.browser.selected_files == [ids["normal_1"]] and window.browser.tile_model.rowCount() == 3
    folder_row = window.browser.tree_proxy.index(0, 0)
    window.tree.selectionModel().select(
        folder_row, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
    assert window.browser.selected_files == sorted([ids["tumor_1"], ids["tumor_2"]])  # only the rows shown
    window.slide_filter.setText("cohort")  # the folder's name: its files show under it
    assert window.browser.tree_proxy.rowCount(window.browser.tree_proxy.index(0, 0)) == 3
    window.slide_filter.setText("")


def test_dark_theme_greys_out_disabled_controls(qtbot, window) -> None:
    from PySide6.QtGui import QPalette

    try:
        window.appearance.set_theme("dark")
        palette = QApplication.palette()
        for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Text, QPalette.ColorRole.WindowText):
            enabled = palette.color(QPalette.ColorGroup.Active, role)
            disabled = palette.color(QPalette.ColorGroup.Disabled, role)
            assert enabled.lightness() - disabled.lightness() > 60
    finally:
        window.appearance.set_theme("light")


def test_colouring_by_a_field_survives_a_damaged_file(qtbot, window, tmp_path: Path) -> None:
    """A record that fails its CRC stops that file's values there; the rest are coloured and the
    problem is said, instead of no colouring at all."""
    from tfr_viewer.core.framing import frame_record
    from tfr_viewer.core.index import create_index
    from tfr_viewer.core.records import make_example

    from ..helpers import make_jpeg

    root = tmp_path / "scored"
    root.mkdir()
    for name, base in (("a", 0), ("c", 100)):
        with open(root / f"{name}.tfrecords", "wb") as f:
            for i in range(10):
                f.write(frame_record(make_example(
                    {"image_raw": make_jpeg(16, 16, seed=i), "slide": name, "loc_x": i * 64, "loc_y": base,
                     "score": base + i})))
        create_index(root / f"{name}.tfrecords")
    data = bytearray((root / "c.tfrecords").read_bytes())
    data[len(data) * 3 // 4] ^= 0xFF  # a payload byte of a late record: the index still matches
    (root / "c.tfrecords").write_bytes(bytes(data))
    open_and_wait(qtbot, window, root)
    window.browser.select_files([0, 1])
    qtbot.waitUntil(lambda: window.map_panel.map.point_count() == 20, timeout=10_000)
    window.grid.setCurrentIndex(window.browser.tile_model.index(1))
    qtbot.waitUntil(lambda: window.map_panel.color_by.findData("score") >= 0, timeout=5000)
    window.map_panel.color_by.setCurrentIndex(window.map_panel.color_by.findData("score"))
    qtbot.waitUntil(lambda: window.map_panel.color_legend.text().startswith("score: 0 "), timeout=10_000)
    assert "could not be read whole" in window.errors.history[-1] and "c.tfrecords" in window.errors.history[-1]
