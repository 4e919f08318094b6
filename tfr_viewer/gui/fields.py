"""The label fields of the files shown: what they are, and their values, read in workers.

`FieldStore` is what the map's colouring and the filter panel ask: `fields()` lists the fields
of the shown files' records (found from a sample of their records) and the columns of a loaded
annotations CSV; `request(name)` reads one field for every tile in a job and answers with
`valuesReady(name, FieldValues)`, aligned with the tile model's overall rows. Answers are kept
per selection; an answer for an older selection is dropped.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from ..core.annotations import Annotations, read_annotations_job
from ..core.labels import FieldInfo, FieldValues, discover_fields_job, read_field_values_job
from .browser import Browser
from .datasets import DatasetController
from .jobs import JobRunner
from .workers import JobWorker


class FieldStore(QObject):
    """Fields and their values for the files the browser shows (see the module's docstring)."""

    fieldsChanged = Signal()  # the list of fields changed: new selection, annotations loaded
    valuesReady = Signal(str, object)  # field name, FieldValues
    annotationsLoaded = Signal(str)  # the CSV's path

    def __init__(self, browser: Browser, datasets: DatasetController, jobs: JobRunner,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.browser, self.datasets, self.jobs = browser, datasets, jobs
        self.annotations: Annotations | None = None
        self._record_fields: list[FieldInfo] = []
        self._generation = 0
        self._values: dict[str, FieldValues] = {}
        self._reading: dict[str, JobWorker] = {}
        self._discovery: JobWorker | None = None
        browser.filesShown.connect(self._on_files_shown)

    def reset(self) -> None:
        """A new dataset: no record fields until its files are shown (annotations stay)."""
        self._new_generation()
        self._record_fields = []
        self.fieldsChanged.emit()

    def fields(self) -> list[FieldInfo]:
        """Record fields first (by name), then annotation columns not named like one."""
        names = {f.name for f in self._record_fields}
        extra = [f for f in self.annotations.fields() if f.name not in names] if self.annotations else []
        return self._record_fields + extra

    def field(self, name: str) -> FieldInfo | None:
        return next((f for f in self.fields() if f.name == name), None)

    def values(self, name: str) -> FieldValues | None:
        """The field's values if already read for the shown files."""
        return self._values.get(name)

    # --- reading -------------------------------------------------------------------------------
    def request(self, name: str) -> None:
        """Answer with `valuesReady(name, values)`: at once when known, else once read."""
        if name in self._values:
            self.valuesReady.emit(name, self._values[name])
            return
        info = self.field(name)
        if info is None or name in self._reading:
            return
        file_ids = list(self.browser.selected_files)
        entries = self.datasets.entries
        if info.source == "annotation":  # joined in memory: no file to read
            assert self.annotations is not None
            self._store(name, self.annotations.values(name, [(entries[f].slide, entries[f].count) for f in file_ids]))
            return
        worker = JobWorker(read_field_values_job(entries, file_ids, name), f"Reading {name}", self)
        worker.generation = (self._generation, name)
        worker.result.connect(self._on_values)
        worker.finished.connect(self._on_reading_done)
        self._reading[name] = worker
        self.jobs.run(worker, f"Reading {name}")

    @Slot(object)
    def _on_values(self, values: FieldValues) -> None:
        if getattr(self.sender(), "generation", None) != (self._generation, values.name):
            return
        if values.problems:  # the readable tiles have values; the file's others are missing
            lines = [message for _, _, message in values.problems]
            for path, record, message in values.problems:
                if record is not None:
                    self.datasets.problems.add_tile_problem(path, record, message)
            self.jobs.errors.report(f"{len(lines)} file(s) could not be read whole for {values.name}: {lines[0]}",
                                    "\n".join(lines), dialog=False)
        info = self.field(values.name)
        if info is not None and info.source == "record" and info.kind != values.kind:
            # the first records looked categorical, all of them are not (or the other way)
            self._record_fields = [FieldInfo(f.name, values.kind, f.source) if f.name == values.name else f
                                   for f in self._record_fields]
            self.fieldsChanged.emit()
        self._store(values.name, values)

    @Slot()
    def _on_reading_done(self) -> None:
        worker = self.sender()
        generation, name = getattr(worker, "generation", (None, None))
        if generation == self._generation and self._reading.get(name) is worker:
            del self._reading[name]

    def _store(self, name: str, values: FieldValues) -> None:
        self._values[name] = values
        self.valuesReady.emit(name, values)

    # --- the shown files -----------------------------------------------------------------------
    def _new_generation(self) -> None:
        self._generation += 1
        self._values.clear()
        for worker in self._reading.values():
            worker.cancel()
        self._reading.clear()
        if self._discovery is not None:
            self._discovery.cancel()
            self._discovery = None

    @Slot()
    def _on_files_shown(self) -> None:
        self._new_generation()
        file_ids = list(self.browser.selected_files)
        if not file_ids:
            return
        worker = JobWorker(discover_fields_job(self.datasets.entries, file_ids), "Finding fields", self)
        worker.generation = self._generation
        worker.result.connect(self._on_fields_found)
        self._discovery = worker
        self.jobs.run(worker, "Finding fields", after_paint=True)  # the new tiles are painted first

    @Slot(object)
    def _on_fields_found(self, fields: list[FieldInfo]) -> None:
        if getattr(self.sender(), "generation", None) != self._generation:
            return
        self._discovery = None
        self._record_fields = fields
        self.fieldsChanged.emit()  # also when the same: values were dropped with the old selection

    # --- annotations ---------------------------------------------------------------------------
    def choose_annotations(self, parent: QWidget) -> None:
        path, _ = QFileDialog.getOpenFileName(parent, "Load annotations", "", "CSV files (*.csv);;All files (*)")
        if path:
            self.load_annotations(path)

    def load_annotations(self, path: str) -> None:
        """Read an annotations CSV in a worker; its columns become fields (a failure is reported)."""
        worker = JobWorker(read_annotations_job(path), "Reading annotations", self)
        worker.result.connect(self._on_annotations)
        self.jobs.run(worker, "Reading annotations")

    @Slot(object)
    def _on_annotations(self, annotations: Annotations) -> None:
        self.annotations = annotations
        record_names = {f.name for f in self._record_fields}
        self._values = {n: v for n, v in self._values.items() if n in record_names}
        note = f"Annotations: {len(annotations.rows):,} slide(s), columns {', '.join(annotations.columns)}"
        if annotations.duplicates:
            note += f"; {len(annotations.duplicates)} slide(s) listed twice, the first row kept"
        self.jobs.status_bar.showMessage(note, 8000)
        self.annotationsLoaded.emit(annotations.path)
        self.fieldsChanged.emit()
