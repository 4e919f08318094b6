"""Labels and filters at 100,000 tiles: reading a `label` field, and narrowing the grid.

    .venv/bin/python benchmarks/labels_bench.py [--tiles-per-file 10000] [--files 10]

Prints: field discovery time; reading one label field for every tile (tiles/s, and as a ratio
of a bare pass over the records that parses them all); applying a label filter in the window
(mask, model reset, status line) in ms; and an annotations column joined for all tiles.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LABELS = ("tumor", "stroma", "necrosis", "background")


def labelled_dataset(files: int, tiles: int) -> Path:
    """`files` TFRecords of `tiles` small JPEG tiles each, with a `label` bytes field (cached)."""
    from tfr_viewer.core.framing import frame_record
    from tfr_viewer.core.index import create_index
    from tfr_viewer.core.records import make_example

    from _data import tile_jpegs

    root = Path(tempfile.gettempdir()) / f"tfr-bench-labels-{files}x{tiles}"
    if (root / ".complete").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    images = tile_jpegs(count=8, px=64, target_kb=3)
    for f in range(files):
        path = root / f"slide_{f:03d}.tfrecords"
        with open(path, "wb") as out:
            for t in range(tiles):
                out.write(frame_record(make_example({
                    "image_raw": images[t % len(images)], "slide": path.stem, "loc_x": 64 * (t % 100),
                    "loc_y": 64 * (t // 100), "label": LABELS[(t * 7 + f) % 5 % 4]})))
        create_index(path)
    (root / ".complete").write_text("")
    return root


def core_figures(root: Path) -> None:
    from tfr_viewer.core.catalog import open_catalog
    from tfr_viewer.core.loaders import tfrecord_loader
    from tfr_viewer.core.labels import iter_discover_fields, iter_read_field_values
    from tfr_viewer.core.progress import CancelToken, run_job

    entries = run_job(open_catalog([str(root)])).files
    ids = list(range(len(entries)))
    total = sum(e.count for e in entries)
    t0 = time.perf_counter()
    fields = run_job(iter_discover_fields(entries, ids, CancelToken()))
    t1 = time.perf_counter()
    print(f"discover fields: {1000 * (t1 - t0):.1f} ms -> {[(f.name, f.kind) for f in fields]}")
    t0 = time.perf_counter()
    for e in entries:
        for _ in tfrecord_loader(e.path, e.index.offsets):
            pass
    bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    values = run_job(iter_read_field_values(entries, ids, "label", CancelToken()))
    read = time.perf_counter() - t0
    print(f"read 'label' for {total:,} tiles: {read:.2f} s = {total / read:,.0f} tiles/s "
          f"({read / bare:.2f}x a bare parse of every record, {bare:.2f} s); counts {values.counts.tolist()}")


def window_figures(root: Path) -> None:
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from tfr_viewer.core.annotations import read_annotations
    from tfr_viewer.gui.main_window import MainWindow
    from tfr_viewer.gui.settings import Settings

    app = QApplication.instance() or QApplication([])
    window = MainWindow(Settings(fresh=True), dialogs=False)
    window.resize(1440, 900)
    window.show()
    done: list[bool] = []
    window.loaded.connect(lambda: done.append(True))
    window.open_path(str(root))

    def spin_until(check, limit=120.0):
        end = time.monotonic() + limit
        while not check():
            if time.monotonic() > end:
                raise SystemExit("gave up waiting")
            app.processEvents()
            time.sleep(0.002)

    spin_until(lambda: done)
    window.browser.select_files(list(range(len(window.datasets.entries))))
    spin_until(lambda: window.fields.field("label") is not None and not window.jobs.busy())
    total = len(window.browser.tile_model.file_of)
    t0 = time.perf_counter()
    window.filter_panel.add_filter("label")
    spin_until(lambda: window.fields.values("label") is not None)
    print(f"window: 'label' read for {total:,} tiles in {time.perf_counter() - t0:.2f} s (in a worker)")
    section = window.filter_panel.sections["label"]
    times = []
    for keep in ({"tumor"}, {"stroma", "necrosis"}, {"tumor"}, {"background"}, {"tumor", "stroma"}):
        blocked = section.classes.blockSignals(True)
        section.check_only(keep)
        section.classes.blockSignals(blocked)
        t0 = time.perf_counter()
        window.filters.apply()  # what one click on a class does
        times.append(time.perf_counter() - t0)
        app.processEvents()
    print(f"window: one filter change over {total:,} tiles (mask, grid reset, status): "
          f"median {1000 * statistics.median(times):.1f} ms, max {1000 * max(times):.1f} ms")
    print(f"         -> {window.grid_label.text()}")
    region = np.arange(0, total, 3)
    t0 = time.perf_counter()
    window.browser.apply_region(region)
    print(f"window: map rectangle of {len(region):,} tiles AND the filter: {1000 * (time.perf_counter() - t0):.1f} ms"
          f" -> {window.grid_label.text()}")
    notes = root.parent / "tfr-bench-labels-annotations.csv"
    notes.write_text("slide,grade\n" + "".join(f"{e.slide},{'high' if i % 2 else 'low'}\n"
                                               for i, e in enumerate(window.datasets.entries)))
    annotations = read_annotations(notes)
    t0 = time.perf_counter()
    joined = annotations.values("grade", [(e.slide, e.count) for e in window.datasets.entries])
    print(f"annotations column joined for {total:,} tiles: {1000 * (time.perf_counter() - t0):.1f} ms, "
          f"counts {dict(zip(joined.names, joined.counts.tolist()))}")
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--tiles-per-file", type=int, default=10_000)
    args = parser.parse_args()
    root = labelled_dataset(args.files, args.tiles_per_file)
    core_figures(root)
    window_figures(root)


if __name__ == "__main__":
    main()
