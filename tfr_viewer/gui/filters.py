"""The filters' controller: the filter bar's choices, the fields' values and the browser's subset.

The bar says which classes and ranges are wanted; the values come from the `FieldStore`; the
tiles that pass every filter (AND, and AND the map rectangle in the browser) are what the grid,
the map and the status line show.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Slot

from ..core.labels import FieldValues
from .browser import Browser
from .fields import FieldStore
from .widgets.filter_panel import FilterPanel

MAX_NAMED_CLASSES = 3  # the status line names up to this many chosen classes


def class_note(name: str, chosen: list[str]) -> str:
    """"label = tumor", "label in {a, b}", for the status line."""
    if len(chosen) == 1:
        return f"{name} = {chosen[0]}"
    if not chosen:
        return f"{name}: no class"
    shown = ", ".join(chosen[:MAX_NAMED_CLASSES]) + (", …" if len(chosen) > MAX_NAMED_CLASSES else "")
    return f"{name} in {{{shown}}}"


def range_note(name: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g} ≤ {name} ≤ {high:g}"
    return f"{name} ≥ {low:g}" if low is not None else f"{name} ≤ {high:g}"


class FilterController(QObject):
    """Feeds the filter bar from the store and narrows the browser to what passes."""

    def __init__(self, store: FieldStore, panel: FilterPanel, browser: Browser, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store, self.panel, self.browser = store, panel, browser
        self._clearing = False
        self._wanted_classes: tuple[str, set[str]] | None = None  # filter_by's classes, until read
        store.fieldsChanged.connect(self._on_fields_changed)
        store.valuesReady.connect(self._on_values)
        panel.fieldAdded.connect(store.request)
        panel.filtersChanged.connect(self.apply)
        browser.filtersCleared.connect(self._on_browser_cleared)

    def filter_by(self, name: str, classes: set[str] | None = None) -> None:
        """Add a filter on this field (checking only `classes` once its values are known)."""
        section = self.panel.add_filter(name)
        if section is not None and classes is not None:
            self._wanted_classes = (name, classes)
            values = self.store.values(name)
            if values is not None:
                self._on_values(name, values)

    @Slot()
    def _on_fields_changed(self) -> None:
        self.panel.set_fields([(f.name, f.kind, f.source) for f in self.store.fields()])
        for name in self.panel.sections:  # the filters stay; their values are read again
            self.store.request(name)
        self.apply()

    @Slot(str, object)
    def _on_values(self, name: str, values: FieldValues) -> None:
        section = self.panel.sections.get(name)
        if section is None:
            return
        if values.kind == "categorical":
            section.show_classes(values.names, values.counts.tolist())
            if self._wanted_classes is not None and self._wanted_classes[0] == name:
                section.check_only(self._wanted_classes[1])
                self._wanted_classes = None
        elif values.numbers is not None:
            present = values.numbers[~np.isnan(values.numbers)]
            low, high = (float(present.min()), float(present.max())) if len(present) else (np.inf, -np.inf)
            section.show_span(low, high, values.missing())
        self.apply()

    @Slot()
    def apply(self) -> None:
        """Narrow the browser to the tiles that pass every filter whose values are known."""
        if self._clearing:
            return
        total = len(self.browser.tile_model.file_of)
        keep = np.ones(total, bool)
        notes: list[str] = []
        for name, section in self.panel.sections.items():
            values = self.store.values(name)
            if values is None or values.size != total:
                continue  # not read yet (or for another selection): does not narrow yet
            if values.codes is not None:
                chosen = section.checked()
                if chosen is None:
                    continue
                codes = [i for i, n in enumerate(values.names) if n in chosen]
                keep &= np.isin(values.codes, codes)
                notes.append(class_note(name, [n for n in values.names if n in chosen]))
            elif values.numbers is not None:
                low, high = section.bounds()
                if low is None and high is None:
                    continue
                with np.errstate(invalid="ignore"):
                    keep &= (values.numbers >= (-np.inf if low is None else low)) & (values.numbers <= (np.inf if high is None else high))
                notes.append(range_note(name, low, high))
        if self.panel.broken.isChecked():
            broken = np.zeros(total, bool)
            broken[self.browser.broken_rows()] = True
            keep &= broken
            notes.append("broken tiles")
        if notes:
            self.browser.set_field_filter(np.flatnonzero(keep), "; ".join(notes))
        elif self.browser.has_field_filter():
            self.browser.set_field_filter(None)

    @Slot()
    def _on_browser_cleared(self) -> None:
        self._clearing = True
        try:
            self.panel.clear()
        finally:
            self._clearing = False
