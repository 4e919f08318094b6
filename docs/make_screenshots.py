"""Regenerate the README's screenshots in docs/screenshots/ (offscreen, from the demo dataset).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshots.py

The window is shown at its default size with fresh settings, so the pictures do not depend on
what was saved on this machine. The damaged files of `problems.png` and the images converted in
the wizard's pictures are made in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tfr_viewer.demo import ensure_demo_dataset  # noqa: E402
from tfr_viewer.gui.app import make_app  # noqa: E402
from tfr_viewer.gui.main_window import MainWindow  # noqa: E402
from tfr_viewer.gui.map_later import visible_thumbnails_ready  # noqa: E402
from tfr_viewer.gui.settings import Settings  # noqa: E402
from tfr_viewer.gui.widgets.tile_viewer import TileViewer  # noqa: E402
from tfr_viewer.gui.wizard import ConvertWizard  # noqa: E402

OUT = Path(__file__).resolve().parent / "screenshots"
TIMEOUT_S = 60.0


def wait_until(app: QApplication, done, what: str) -> None:
    """Run the event loop until `done()` (the window's own work decides when, not a sleep)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        app.processEvents()
        time.sleep(0.005)


def settled(app: QApplication, window: MainWindow) -> None:
    """Everything opened, indexed, read and painted: no job running, every thumbnail the grid
    shows (the loader decodes only the rows in view, so that is what to wait for)."""
    wait_until(app, lambda: not window.jobs.busy() and visible_thumbnails_ready(window), "the window to settle")
    for _ in range(20):
        app.processEvents()


def opened_window(app: QApplication, path: str) -> MainWindow:
    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1440, 900)
    window.show()
    loaded: list[bool] = []
    window.loaded.connect(lambda: loaded.append(True))
    overviews: list[bool] = []
    window.map_panel.overviewsShown.connect(lambda: overviews.append(True))
    window.open_path(path)
    wait_until(app, lambda: loaded, "the folder to open")
    wait_until(app, lambda: overviews, "the slide overviews")  # the mosaic, not its stand-in dots
    settled(app, window)
    return window


def damaged_copy(demo: Path, folder: Path) -> None:
    """Two demo slides, one with a flipped byte in a record, plus an empty and a truncated file."""
    folder.mkdir()
    shutil.copy(demo / "demo_slide_01.tfrecords", folder)
    data = bytearray((demo / "demo_slide_02.tfrecords").read_bytes())
    data[len(data) * 5 // 6] ^= 0xFF
    (folder / "demo_slide_02.tfrecords").write_bytes(data)
    (folder / "empty_slide.tfrecords").write_bytes(b"")
    whole = (demo / "demo_slide_04.tfrecords").read_bytes()
    (folder / "truncated_slide.tfrecords").write_bytes(whole[: len(whole) // 3])


def tile_images(folder: Path, demo: Path, count: int) -> None:
    """JPEG tiles named `<slide>_X-Y.jpg`, taken from the demo dataset, to convert back."""
    import tfr_viewer as sf

    folder.mkdir(parents=True)
    tfr = sf.TFRecord(demo / "demo_slide_03.tfrecords")
    for i in range(count):
        record = tfr[i]
        x, y = int(record["loc_x"]), int(record["loc_y"])
        (folder / f"slide_03_{x}-{y}.jpg").write_bytes(record["image_raw"])
    (folder / "notes.txt").write_text("not an image\n")


def wizard_pictures(app: QApplication, source: Path, dest: Path) -> None:
    wizard = ConvertWizard()
    wizard.show()
    scanned: list[bool] = []
    wizard.source_page.scanned.connect(lambda *_: scanned.append(True))
    wizard.source_page.set_source(str(source))
    wait_until(app, lambda: scanned and not wizard._jobs, "the scan")
    wizard.grab().save(str(OUT / "wizard_1_source.png"))
    wizard.next()
    wizard.grab().save(str(OUT / "wizard_2_options.png"))
    wizard.next()
    wizard.destination_page.path.setText(str(dest))
    app.processEvents()
    wizard.grab().save(str(OUT / "wizard_3_destination.png"))
    finished: list[bool] = []
    wizard.run_page.finished.connect(lambda *_: finished.append(True))
    wizard.next()
    wizard.grab().save(str(OUT / "wizard_4_run.png"))
    wait_until(app, lambda: finished, "the conversion")
    wizard.next()
    app.processEvents()
    wizard.grab().save(str(OUT / "wizard_5_result.png"))
    wizard.shutdown()
    wizard.close()


def mosaic_command_picture(demo: Path) -> None:
    """What `tfr-viewer mosaic` writes for the second demo slide (README, Slide mosaic)."""
    from tfr_viewer import cli

    slide = demo / "demo_slide_02.tfrecords"
    if cli.main(["mosaic", str(slide), str(OUT / "cli_mosaic.png"), "--width", "600"]) != 0:
        raise SystemExit("tfr-viewer mosaic failed on the demo slide")


def window_states_pictures(app: QApplication, demo: Path, tmp: Path) -> None:
    """The window on small screens, a folder of images without TFRecords, View -> Slides."""
    for width, height in ((1024, 700), (1280, 800)):
        window = MainWindow(Settings(fresh=True), dialogs=False)
        window.resize(width, height)
        window.appearance.reset_layout()
        window.show()
        loaded: list[bool] = []
        window.loaded.connect(lambda: loaded.append(True))
        window.open_path(str(demo))
        wait_until(app, lambda: loaded, "the folder to open")
        settled(app, window)
        window.grab().save(str(OUT / f"small_screen_{width}x{height}.png"))
        if width == 1280:
            window.commands.actions["view.slides"].trigger()
            wait_until(app, lambda: window.tools.slides is not None and window.tools.slides.model.first_tiles
                       and not window.jobs.busy(), "the slides table")
            window.tools.slides.grab().save(str(OUT / "slides_table.png"))
            window.tools.slides.close()
        window.close()

    images = tmp / "slide_images"
    for slide in ("slide_01", "slide_02", "slide_03"):
        tile_images(images / slide, demo, 40)
    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1024, 700)
    window.show()
    counted: list[bool] = []
    window.datasets.imagesCounted.connect(lambda *_: counted.append(True))
    window.open_path(str(images))
    wait_until(app, lambda: counted and not window.jobs.busy(), "the images to be counted")
    window.grab().save(str(OUT / "empty_folder.png"))
    window.close()


def slide_view_pictures(app: QApplication, demo: Path) -> None:
    """The slide view: three slides side by side with their legend, then one slide's mosaic
    zoomed out (its overview) and zoomed in (each tile's own thumbnail)."""
    window = opened_window(app, str(demo))
    window.right_splitter.setSizes([620, 140, 140])  # room for the map
    view = window.map_panel.map
    window.browser.select_files([0, 1, 2])
    wait_until(app, lambda: len(view.slide_items()) == 3 and all(i.has_overview() for i in view.slide_items()),
               "the overviews of three slides")
    settled(app, window)
    window.grab().save(str(OUT / "slides_side_by_side.png"))
    window.browser.select_files([0])
    wait_until(app, lambda: len(view.slide_items()) == 1 and view.slide_items()[0].has_overview(), "one slide's overview")
    settled(app, window)
    window.map_panel.grab().save(str(OUT / "mosaic_zoomed_out.png"))
    x0, y0, x1, y1 = view.slide_items()[0].frame.placed_bounds
    step = view.slide_items()[0].frame.step
    middle_x, middle_y = (x0 + x1) / 2, (y0 + y1) / 2
    view.setRange(xRange=(middle_x - 3 * step, middle_x + 3 * step), yRange=(middle_y - 2 * step, middle_y + 2 * step),
                  padding=0)
    wait_until(app, lambda: len(view.visible_tiles()[0]) and all(view.tile_images.get(r) is not None
                                                                 for r in view.visible_tiles()[0].tolist()),
               "the thumbnails of the zoomed-in tiles")
    settled(app, window)
    window.map_panel.grab().save(str(OUT / "mosaic_zoomed_in.png"))
    window.close()


def labelled_copy(demo: Path, folder: Path) -> Path:
    """The demo's first slide with a `label` field per tile, from how much dark stain it holds."""
    import numpy as np

    from tfr_viewer.core.framing import frame_record
    from tfr_viewer.core.images import decode_image
    from tfr_viewer.core.index import create_index
    from tfr_viewer.core.loaders import tfrecord_loader
    from tfr_viewer.core.records import make_example

    folder.mkdir(parents=True)
    source = sorted(demo.glob("*.tfrecords"))[0]
    records = list(tfrecord_loader(str(source)))
    darkness = np.array([255 - decode_image(r["image_raw"].tobytes()).mean() for r in records])
    low, high = np.quantile(darkness, [0.3, 0.75])
    dest = folder / source.name
    with open(dest, "wb") as f:
        for record, dark in zip(records, darkness):
            label = "tumor" if dark > high else "stroma" if dark > low else "background"
            f.write(frame_record(make_example({"image_raw": record["image_raw"].tobytes(), "slide": source.stem,
                                               "loc_x": int(record["loc_x"][0]), "loc_y": int(record["loc_y"][0]),
                                               "label": label})))
    create_index(dest)
    return folder


def label_filter_picture(app: QApplication, folder: Path) -> None:
    """The filter bar narrowing the grid (and the map) to the tumor tiles."""
    window = opened_window(app, str(folder))
    wait_until(app, lambda: window.fields.field("label") is not None, "the fields")
    window.filters.filter_by("label", {"tumor"})
    wait_until(app, lambda: window.browser.has_field_filter(), "the label filter")
    settled(app, window)
    window.grab().save(str(OUT / "label_filter.png"))
    window.close()


def with_popup(window, menu) -> QPixmap:
    """The window's picture with a popped-up menu painted where it shows (a menu is a window of
    its own: `grab()` of the main window leaves it out)."""
    from PySide6.QtGui import QPainter  # the pictures module needs it only here

    picture = window.grab()
    painter = QPainter(picture)
    painter.drawPixmap(window.mapFromGlobal(menu.pos()), menu.grab())
    painter.end()
    return picture


def menu_and_dialog_pictures(app: QApplication, demo: Path, tmp: Path) -> None:
    """Right-click menus on a tile and a file, the export dialog, and the wizard after a cancel."""
    window = opened_window(app, str(demo))
    grid, tree = window.grid, window.tree
    window.grid.selectAll()
    index = window.browser.tile_model.index(9)
    shown: list[bool] = []
    window.recordShown.connect(lambda: shown.append(True))
    window.context_menus._on_grid_menu(grid.visualRect(index).center())
    wait_until(app, lambda: shown, "the tile to show")
    settled(app, window)
    with_popup(window, window.context_menus.menu).save(str(OUT / "context_menu_tile.png"))
    window.context_menus.menu.close()
    window.tools.export_selected().csv.setChecked(True)
    app.processEvents()
    window.tools.export_dialog.grab().save(str(OUT / "export_dialog.png"))
    window.tools.export_dialog.reject()
    file_index = window.browser.tree_index(2)
    window.context_menus._on_tree_menu(tree.visualRect(file_index).center())
    app.processEvents()
    settled(app, window)
    with_popup(window, window.context_menus.menu).save(str(OUT / "context_menu_file.png"))
    window.context_menus.menu.close()
    window.close()

    source = tmp / "two_slides"
    tile_images(source / "slide_A", demo, 60)
    big = source / "slide_B"
    tile_images(big, demo, 120)
    for copy in range(1, 30):  # a slide long enough to cancel in the middle of
        for name in [p.name for p in big.glob("slide_03_*.jpg") if "-c" not in p.name][:120]:
            stem, ext = name.rsplit(".", 1)
            shutil.copy(big / name, big / f"{stem.replace('slide_03', f'slide_03-c{copy}')}.{ext}")
    wizard = ConvertWizard()
    wizard.resize(820, 620)
    wizard.show()
    scanned: list[bool] = []
    wizard.source_page.scanned.connect(lambda *_: scanned.append(True))
    wizard.source_page.set_source(str(source))
    wait_until(app, lambda: scanned and not wizard._jobs, "the scan")
    wizard.next()
    wizard.next()
    wizard.destination_page.path.setText(str(tmp / "two_slides_tfrecords"))
    finished: list[bool] = []
    wizard.run_page.finished.connect(lambda *_: finished.append(True))
    wizard.next()
    wait_until(app, lambda: "now slide_B" in wizard.run_page.current.text(), "the second slide")
    wizard.run_page.cancel()
    wait_until(app, lambda: finished, "the cancel")
    app.processEvents()
    wizard.grab().save(str(OUT / "wizard_cancelled.png"))
    wizard.shutdown()
    wizard.close()


def main() -> int:
    app = make_app(sys.argv[:1])
    demo = ensure_demo_dataset()
    OUT.mkdir(parents=True, exist_ok=True)

    window = opened_window(app, str(demo))
    window.grab().save(str(OUT / "main_window.png"))
    shown: list[bool] = []
    window.recordShown.connect(lambda: shown.append(True))
    window.browser.select_all_row(40)
    wait_until(app, lambda: shown, "the tile to show")
    viewer = window.findChild(TileViewer, "tileViewer")
    viewer.zoom_by(3.0)  # the tile's pixels, as a pathologist zooms in on a nucleus
    settled(app, window)
    window.grab().save(str(OUT / "tile_viewer.png"))
    window.close()
    slide_view_pictures(app, demo)

    tmp = Path(tempfile.gettempdir()) / "tfr-viewer-screenshots"  # a stable name: it shows in the pictures
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        damaged = tmp / "damaged"
        damaged_copy(demo, damaged)
        window = opened_window(app, str(damaged))
        window.browser.select_files([1])
        settled(app, window)
        window.grab().save(str(OUT / "problems.png"))
        window.close()

        label_filter_picture(app, labelled_copy(demo, tmp / "labelled"))

        source = tmp / "slide_03_tiles"
        tile_images(source, demo, 120)
        wizard_pictures(app, source, tmp / "converted")
        window_states_pictures(app, demo, tmp)
        menu_and_dialog_pictures(app, demo, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mosaic_command_picture(demo)
    print(f"screenshots written to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
