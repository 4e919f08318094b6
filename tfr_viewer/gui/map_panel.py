"""The slide view of the selected files: slides laid out side by side in a worker, their
overviews and zoomed-in thumbnails from the mosaic workers, colour-by, legend, note.

The map's arrays are built in a worker; only the answer for the newest selection is shown. While
it is pending the map still shows the previous selection, so clicks and regions are ignored.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSlider, QVBoxLayout, QWidget

from ..core.tile_jobs import read_field_job
from .browser import Browser
from .fields import FieldStore
from .datasets import DatasetController
from .jobs import JobRunner
from .plain import plain_label, plain_tooltip
from .mosaic_workers import OverviewImage, OverviewLoader, OverviewRequest, TileImageLoader, TileRequest
from .request_workers import ArrayBuilder, BuildRequest
from .widgets.legend import MapLegend
from .widgets.location_map import LocationMap, MapPoints
from .widgets.map_notes import OverviewRow, note_label
from .widgets.slide_points import selection_points
from .workers import JobWorker


OVERVIEW_DELAY_MS = 100  # after the map is shown, before its overviews are asked for
CLASS = "class:"  # the colour-by choice of a categorical field is CLASS + its name


class MapPanel(QWidget):
    """The colour-by choice and legend above the map, the note below it, and what feeds them."""

    mapFilled = Signal()
    overviewsShown = Signal()  # every shown slide's overview arrived
    overviewsStopped = Signal()  # a build was cancelled part-way (Stop, a new selection)
    tilesShown = Signal()  # thumbnails of the zoomed-in map arrived
    pointClicked = Signal(int)  # a tile's overall row, clicked on the map that shows the selection
    regionSelected = Signal(object)  # overall rows of the tiles in a region drawn on that map
    selectionCleared = Signal()

    def __init__(self, browser: Browser, datasets: DatasetController, jobs: JobRunner,
                 fields: FieldStore | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.browser, self.datasets, self.jobs, self.fields = browser, datasets, jobs, fields
        self.tile_model = browser.tile_model
        self._map_rows = np.zeros(0, np.int64)
        self._numeric_fields_known = False
        self.builder = ArrayBuilder(self)
        self.builder.ready.connect(self._on_map_built)
        self._map_generation = 0
        self._map_pending = False
        # A finished map is shown from a timer, not from the worker's signal: queued signals run
        # in the event-loop pass that paints the window (QGraphicsScene flushes pending paints
        # synchronously, and the pass then also takes every signal queued meanwhile), a timer
        # after it, so the map's repaint does not pile onto the grid's.
        self._built_map: tuple[int, MapPoints | None] | None = None
        self._map_timer = QTimer(self)
        self._map_timer.setSingleShot(True)
        self._map_timer.setInterval(0)
        self._map_timer.timeout.connect(self._show_built_map)

        self.overviews = OverviewLoader(self)
        self.overviews.ready.connect(self._on_overview)
        self.overviews.progress.connect(self._on_overview_progress)
        self.overviews.stopped.connect(self._on_overviews_stopped)
        self.tile_loader = TileImageLoader(self)
        self.tile_loader.ready.connect(self._on_tile_images)
        self._overviews_left = 0
        self._overviews_stopped = False
        self._overviews_for: MapPoints | None = None  # the shown map, whose overviews are asked for next
        self._overview_timer = QTimer(self)
        self._overview_timer.setSingleShot(True)
        self._overview_timer.setInterval(OVERVIEW_DELAY_MS)
        self._overview_timer.timeout.connect(self._request_overviews)

        self.map = LocationMap()
        self.map.pointClicked.connect(self._on_map_point)
        self.map.regionSelected.connect(self._on_map_region)
        self.map.selectionCleared.connect(self.selectionCleared)
        self.map.tilesWanted.connect(self._on_tiles_wanted)
        self.legend = MapLegend()
        self.map.legendChanged.connect(self._on_legend_changed)
        self.map.themeChanged.connect(self.legend.set_dark)
        self.map.mosaicChanged.connect(self._on_mosaic_changed)
        self.map.overlayChanged.connect(self._on_overlay_changed)
        self.view_mode = QComboBox()
        self.view_mode.setObjectName("mapMode")
        self.view_mode.setToolTip("Draw each tile's image (the mosaic) or a dot per tile")
        self.view_mode.addItem("Mosaic", True)
        self.view_mode.addItem("Dots", False)
        self.view_mode.currentIndexChanged.connect(self._on_view_mode)
        self.overlay = QSlider(Qt.Orientation.Horizontal)
        self.overlay.setObjectName("overlayOpacity")
        self.overlay.setToolTip("Opacity of the coloured dots over the mosaic")
        self.overlay.setRange(0, 100)
        self.overlay.setValue(round(100 * self.map.overlay_opacity))
        self.overlay.setMaximumWidth(90)
        self.overlay.valueChanged.connect(self._on_overlay)
        self.color_by = QComboBox()
        self.color_by.setObjectName("colorBy")
        self.color_by.setToolTip("Colour the map by slide or by a numeric field of the records")
        self.color_by.addItem("Colour by slide", "slide")
        self.color_by.currentIndexChanged.connect(self._on_color_by)
        self.color_legend = plain_label("")
        self.map_note = note_label("mapNote")  # says why the map shows fewer tiles than the grid, or none
        self.tile_note = note_label("tileNote")  # tiles of the shown slides that do not decode, named
        self._broken_lines: list[str] = []
        self.overview_row = OverviewRow()  # the overviews being built (long for big slides)
        self.overview_note, self.stop_overviews = self.overview_row.note, self.overview_row.stop
        self.stop_overviews.clicked.connect(self._on_stop_overviews)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.color_by)
        bar.addWidget(self.color_legend, 1)
        bar.addWidget(self.view_mode)
        bar.addWidget(self.overlay)
        layout.addLayout(bar)
        layout.addWidget(self.legend)
        layout.addWidget(self.map, 1)
        layout.addWidget(self.map_note)
        layout.addWidget(self.tile_note)
        layout.addWidget(self.overview_row)

        browser.filesShown.connect(self._on_files_shown)
        browser.currentTileChanged.connect(self._on_current_tile)
        browser.recordRead.connect(self._offer_numeric_fields)
        browser.subsetChanged.connect(self._on_subset)
        self.tile_model.modelReset.connect(self._on_tiles_reset)
        if fields is not None:  # classes of the records and of an annotations CSV
            fields.fieldsChanged.connect(self._offer_class_fields)
            fields.valuesReady.connect(self._on_class_values)

    def catch_up(self) -> None:
        """A panel built after the window opened its dataset (start-up builds the slide view after
        the first screen of thumbnails) shows what the browser shows already."""
        if self.browser.selected_files:
            self._on_files_shown()
        details = self.browser.metadata.shown_details
        if details is not None and not details.get("error"):
            self._offer_numeric_fields(details)

    def filled_map(self):
        """The map (a LocationMap) with the current selection's points, built now if pending."""
        self._ensure_map_filled()
        return self.map

    def request_workers(self) -> tuple:
        """The panel's request workers, for the window to stop at shutdown."""
        return self.builder, self.overviews, self.tile_loader

    def reset(self) -> None:
        """No map: a new dataset is being opened (a map the worker may still build is not wanted)."""
        self._map_generation += 1
        self._map_pending = False
        self._built_map = None
        self._map_timer.stop()
        self._overview_timer.stop()
        self.overviews.start_generation(self._map_generation, [])
        self.tile_loader.want(self._map_generation, [])
        self.map.clear_points()

    @Slot()
    def _on_tiles_reset(self) -> None:
        if not self.tile_model.is_filtered():  # the region was cleared, here or elsewhere
            self.map.clear_band()

    @Slot()
    def _on_files_shown(self) -> None:
        self._reset_color_choices()
        self._request_map()

    @Slot(int)
    def _on_current_tile(self, all_row: int) -> None:
        if not self._map_pending:  # else the map still shows the previous selection: `_show_map` rings it
            self.map.set_current(all_row)

    @Slot(int)
    def _on_map_point(self, all_row: int) -> None:
        if not self._map_pending:  # else the map still shows the previous selection's tiles
            self.pointClicked.emit(all_row)

    @Slot(object)
    def _on_map_region(self, all_rows: np.ndarray) -> None:
        if not self._map_pending:
            self.regionSelected.emit(all_rows)

    # --- building and showing the points -------------------------------------------------------
    def _map_parts(self) -> list[tuple[int, np.ndarray, int, str]]:
        """(file id, locations, first tile row, slide name) of the selected files whose index has
        locations."""
        parts, start = [], 0
        for fid in self.browser.selected_files:
            entry = self.datasets.entries[fid]
            locs = entry.index.locations if entry.index is not None else None
            if locs is not None and len(locs) == entry.count:
                parts.append((fid, locs, start, entry.slide))
            start += entry.count
        return parts

    def _request_map(self) -> None:
        """Have the map's points built in the worker (for 100,000 tiles that work would pause
        the window); `_on_map_built` shows them and emits `mapFilled`."""
        self._map_generation += 1
        self._map_pending = True
        self._built_map = None
        self._map_timer.stop()
        self._overview_timer.stop()
        self.overviews.start_generation(self._map_generation, [])  # the old slides' build stops now
        self.builder.submit([BuildRequest(self._map_generation, partial(selection_points, self._map_parts()))])

    @Slot(int, object)
    def _on_map_built(self, generation: int, points: object) -> None:
        if generation != self._map_generation or not self._map_pending:
            return  # an answer for a selection that was replaced
        if isinstance(points, Exception):
            self.jobs.errors.report(f"Could not draw the map: {points}")
            points = None
        self._built_map = (generation, points)
        self._map_timer.start()

    @Slot()
    def _show_built_map(self) -> None:
        built, self._built_map = self._built_map, None
        if built is not None and built[0] == self._map_generation and self._map_pending:
            self._show_map(built[1])

    def _show_map(self, points: MapPoints | None) -> None:
        self._map_pending = False
        self._map_rows = points.rows if points is not None else np.zeros(0, np.int64)
        self._update_map_note()
        if points is not None:
            self.map.show_points(points)
        else:
            self.map.clear_points()
        current = self.browser.current_all_row()
        if current is not None:
            self.map.set_current(current)
        if self.browser.subset() is not None:
            self.map.set_shown(self.browser.subset())
        self._overviews_for = points
        self._overview_timer.start()  # once the map and the grid are painted: the build takes the CPU
        self.mapFilled.emit()

    # --- the mosaic: overviews and thumbnails --------------------------------------------------
    @Slot()
    def _request_overviews(self) -> None:
        """Queue each shown slide's overview (read from the cache, else built in the worker)."""
        points, self._overviews_for = self._overviews_for, None
        requests = []
        if points is not None and points.layout is not None:
            starts = {fid: start for fid, _, start, _ in self._map_parts()}
            for frame in points.layout.frames:
                entry = self.datasets.entries[frame.group]
                if entry.index is None or frame.group not in starts:
                    continue
                requests.append(OverviewRequest(self._map_generation, frame.group, starts[frame.group], entry,
                                                entry.index.locations, frame.step))
        self._overviews_left = len(requests)
        self._overviews_stopped = False
        self._broken_lines = []
        self.tile_note.setVisible(False)
        self.overview_row.setVisible(False)
        self.overviews.start_generation(self._map_generation, requests)

    @Slot(int, int, int, str)
    def _on_overview_progress(self, generation: int, done: int, total: int, path: str) -> None:
        if generation == self._map_generation and not self._overviews_stopped:
            name = path.replace("\\", "/").rsplit("/", 1)[-1]
            self.overview_note.setText(f"Drawing the slide overview of {name}: {done:,} of {total:,} tiles…")
            self.overview_row.setVisible(done < total)

    @Slot()
    def _on_stop_overviews(self) -> None:
        """The user stops the build: the slide being drawn and those waiting are left as dots."""
        self.overviews.start_generation(self._map_generation, [])
        self._overviews_left = 0
        self._overviews_stopped = True  # progress reports still queued are not shown
        self.overview_row.setVisible(False)

    @Slot(int)
    def _on_overviews_stopped(self, generation: int) -> None:
        if generation == self._map_generation:
            self.overview_row.setVisible(False)
        self.overviewsStopped.emit()

    @Slot(int, object)
    def _on_overview(self, generation: int, answer: object) -> None:
        if generation != self._map_generation or self._map_pending:
            return
        self._overviews_left -= 1
        self.overview_row.setVisible(False)
        if isinstance(answer, str):
            self.jobs.errors.report(answer, dialog=False)
            return
        assert isinstance(answer, OverviewImage)
        self.map.set_overview(answer.group, answer.images, answer.x0, answer.y0, answer.scale)
        if len(answer.broken_rows):
            self.map.mark_broken(answer.broken_rows)
            self._note_broken(answer.problems or [f"{len(answer.broken_rows)} tile(s) do not decode"])
            self._list_problems(answer.broken_rows.tolist(), answer.problems)  # the first ones, in order
        if self._overviews_left <= 0:
            self.overviewsShown.emit()

    @Slot(object, int)
    def _on_tiles_wanted(self, rows: np.ndarray, size: int) -> None:
        if self._map_pending:
            return
        file_of, record_of = self.tile_model.file_of, self.tile_model.record_of
        rows = rows[rows < len(file_of)]
        requests = [TileRequest(self._map_generation, row, self.datasets.entries[int(file_of[row])], int(record_of[row]), size)
                    for row in rows.tolist()]
        self.tile_loader.want(self._map_generation, requests)

    @Slot(list)
    def _on_tile_images(self, batch: list) -> None:
        answers, errors = [], []
        for generation, row, image, error in batch:
            if generation != self._map_generation:
                continue
            answers.append((row, image, error is not None))
            if error:
                errors.append((row, error))
        self.map.add_tile_images(answers)
        if errors:
            self._note_broken([error for _, error in errors])
            self._list_problems([row for row, _ in errors], [error for _, error in errors])
        if answers:
            self.tilesShown.emit()

    def _note_broken(self, lines: list[str]) -> None:
        """Name the broken tiles under the map (red on the map, with a cross)."""
        self._broken_lines = list(dict.fromkeys(self._broken_lines + lines))
        first = self._broken_lines[0]
        more = len(self._broken_lines) - 1
        self.tile_note.setText(f"Broken tile (marked red): {first}" + (f" (and {more} more)" if more else ""))
        self.tile_note.setToolTip(plain_tooltip("\n".join(self._broken_lines[:50])))
        self.tile_note.setVisible(True)

    def _list_problems(self, rows: list[int], messages: list[str]) -> None:
        """A Problems line per broken tile, which takes the user to it."""
        file_of, record_of = self.tile_model.file_of, self.tile_model.record_of
        for row, message in zip(rows, messages):
            if row < len(file_of):
                path = self.datasets.entries[int(file_of[row])].path
                self.datasets.problems.add_tile_problem(path, int(record_of[row]), message)

    @Slot(int)
    def _on_view_mode(self, _index: int) -> None:
        self.map.set_mosaic(bool(self.view_mode.currentData()))

    @Slot(bool)
    def _on_mosaic_changed(self, on: bool) -> None:
        """The map's own menu switched: the combo box says so too."""
        blocked = self.view_mode.blockSignals(True)
        self.view_mode.setCurrentIndex(self.view_mode.findData(on))
        self.view_mode.blockSignals(blocked)

    @Slot(float)
    def _on_overlay_changed(self, opacity: float) -> None:
        blocked = self.overlay.blockSignals(True)
        self.overlay.setValue(round(100 * opacity))
        self.overlay.blockSignals(blocked)

    @Slot(int)
    def _on_overlay(self, value: int) -> None:
        self.map.set_overlay_opacity(value / 100)

    @Slot()
    def _on_legend_changed(self) -> None:
        self.legend.set_content(self.map.legend_content())

    def _update_map_note(self) -> None:
        tiles = len(self.tile_model.file_of)
        mapped = sum(len(locs) for _, locs, _, _ in self._map_parts())
        shown = [self.datasets.entries[f] for f in self.browser.selected_files if self.datasets.entries[f].count]
        waiting = sum(e.index is None for e in shown)
        without = sum(e.index is not None and e.index.locations is None for e in shown)
        if not tiles or mapped == tiles:
            note = ""
        elif not mapped and not waiting:
            note = "No tile locations: the selected file(s) have no loc_x/loc_y fields."
        else:
            reasons = [f"{without} file(s) have no loc_x/loc_y fields"] if without else []
            reasons += [f"{waiting} file(s) are still being indexed"] if waiting else []
            note = f"The map shows {mapped:,} of {tiles:,} tiles: {'; '.join(reasons) or 'some files have no locations'}."
        self.map_note.setText(note)
        self.map_note.setVisible(bool(note))

    # --- colouring -----------------------------------------------------------------------------
    def _reset_color_choices(self) -> None:
        self.color_by.blockSignals(True)
        self.color_by.clear()
        self.color_by.addItem("Colour by slide", "slide")
        self.color_by.addItem("Colour by record order", "#order")
        self.color_by.blockSignals(False)
        self.color_legend.setText("")
        self._numeric_fields_known = False
        if self.fields is not None:
            self._offer_class_fields()  # annotation columns stay known from one selection to the next

    @Slot(object)
    def _offer_numeric_fields(self, details: dict) -> None:
        """Numeric single-valued fields of the current record become colouring choices."""
        if self._numeric_fields_known:
            return
        self._numeric_fields_known = True
        for field in details.get("fields", []):
            if field.get("kind") in ("int", "float") and len(field.get("values", [])) == 1:
                self.color_by.addItem(f"Colour by {field['name']}", field["name"])

    @Slot()
    def _offer_class_fields(self) -> None:
        """Categorical fields (of the records, or columns of an annotations CSV) colour by class."""
        for info in self.fields.fields():
            if info.kind != "categorical" or info.name == "slide" or self.color_by.findData(CLASS + info.name) >= 0:
                continue  # (the slide name is the first choice already)
            numeric = self.color_by.findData(info.name) >= 0  # an integer field: by number or by class
            self.color_by.addItem(f"Colour by {info.name}" + (" (classes)" if numeric else ""), CLASS + info.name)

    @Slot(str, object)
    def _on_class_values(self, name: str, values: object) -> None:
        if self.color_by.currentData() != CLASS + name:
            return  # an answer for a choice since replaced
        self._ensure_map_filled()
        if values.codes is not None:
            self.map.set_categories(values.codes, values.names, values.counts)
            self.color_legend.setText(f"{name}: {len(values.names)} classes")
        elif values.numbers is not None:
            self._show_color_values(values.numbers[self._map_rows], name)

    @Slot(object)
    def _on_subset(self, rows: object) -> None:
        """The grid shows a subset (filters, map area): the map shows the same tiles."""
        if not self._map_pending:
            self.map.set_shown(rows)

    def _ensure_map_filled(self) -> None:
        """Colours refer to the map's points: fill it now if the worker has not answered yet."""
        if not self._map_pending:
            return
        if self._built_map is not None and self._built_map[0] == self._map_generation:
            self._map_timer.stop()
            self._show_built_map()
        else:
            self._map_generation += 1  # the worker's answer, when it comes, is stale
            self._show_map(selection_points(self._map_parts()))

    @Slot(int)
    def _on_color_by(self, _index: int) -> None:
        self._ensure_map_filled()
        choice = self.color_by.currentData()
        if choice in (None, "slide"):
            self.map.set_color_values(None)
            self.color_legend.setText("")
            return
        if choice == "#order":
            self._show_color_values(self.tile_model.record_of[self._map_rows].astype(np.float64), "record")
            return
        if isinstance(choice, str) and choice.startswith(CLASS) and self.fields is not None:
            self.map.set_color_values(None)
            self.fields.request(choice[len(CLASS):])  # `_on_class_values` colours the map
            return
        if choice in ("loc_x", "loc_y"):
            xy = self.map.point_xy()
            self._show_color_values(xy[:, 0 if choice == "loc_x" else 1], choice)
            return
        file_ids = list(self.browser.selected_files)
        worker = JobWorker(read_field_job(self.datasets.entries, file_ids, choice), f"Reading {choice}", self)
        worker.generation = (self.datasets.generation, tuple(file_ids), choice)
        worker.result.connect(self._on_field_values)
        self.jobs.run(worker, f"Reading {choice}")

    @Slot(object)
    def _on_field_values(self, result: tuple) -> None:
        wanted = (self.datasets.generation, tuple(self.browser.selected_files), self.color_by.currentData())
        if getattr(self.sender(), "generation", None) != wanted:
            return
        values, problems = result
        if problems:  # the readable tiles are coloured; the others keep the lowest colour
            self.jobs.errors.report(f"{len(problems)} file(s) could not be read whole for colouring: {problems[0]}",
                                    "\n".join(problems), dialog=False)
        self._ensure_map_filled()
        self._show_color_values(values[self._map_rows], self.color_by.currentData())

    def _show_color_values(self, values: np.ndarray, name: str) -> None:
        span = self.map.set_color_values(values, name)
        self.color_legend.setText(f"{name}: {span[0]:g} (purple) … {span[1]:g} (yellow)" if span else "")
