"""The filter bar above the grid: filters on label fields, and "only broken tiles".

Picking a field adds a section: for a categorical field, its classes with their tile counts, to
check or uncheck; for a numeric field, a min/max range. The panel only shows and reports what is
chosen (`filtersChanged`); its controller reads the values and narrows the grid. Class names come
from files: they are shown as plain text only (item and title text, never a rich label).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtGui import QAction, QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..plain import plain_label, plain_menu_text

SECTION_WIDTH = 230
SECTION_HEIGHT = 150
NAME_ROLE = Qt.ItemDataRole.UserRole


class FilterSection(QGroupBox):
    """One field's filter: checkable classes, or a min/max range."""

    changed = Signal()
    removeRequested = Signal(str)

    def __init__(self, name: str, kind: str, parent: QWidget | None = None) -> None:
        super().__init__(plain_menu_text(name), parent)  # a title's '&' would be a shortcut
        self.name, self.kind = name, kind
        self.setObjectName(f"filter:{name}")
        self.setFixedSize(SECTION_WIDTH, SECTION_HEIGHT)
        self.classes = QListWidget()
        self.classes.itemChanged.connect(self._on_item_changed)
        self.low, self.high = QLineEdit(), QLineEdit()
        self.span = plain_label("reading…")
        close = QToolButton()
        close.setText("×")
        close.setToolTip("Remove this filter")
        close.clicked.connect(lambda: self.removeRequested.emit(self.name))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        top = QHBoxLayout()
        top.addWidget(self.span, 1)
        top.addWidget(close)
        layout.addLayout(top)
        if kind == "categorical":
            layout.addWidget(self.classes, 1)
        else:
            form = QFormLayout()
            for box, text in ((self.low, "min"), (self.high, "max")):
                validator = QDoubleValidator(box)
                validator.setLocale(QLocale.c())  # what float() reads
                box.setValidator(validator)
                box.setPlaceholderText("any")
                box.editingFinished.connect(self.changed)
                form.addRow(plain_label(text), box)
            layout.addLayout(form)
            layout.addStretch(1)

    def show_classes(self, names: list[str], counts: list[int]) -> None:
        """The classes with their counts; a class unchecked before stays unchecked."""
        unchecked = {self.classes.item(i).data(NAME_ROLE) for i in range(self.classes.count())
                     if self.classes.item(i).checkState() != Qt.CheckState.Checked}
        blocked = self.classes.blockSignals(True)
        self.classes.clear()
        for name, count in zip(names, counts):
            item = QListWidgetItem(f"{name} ({count:,})")
            item.setData(NAME_ROLE, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if name in unchecked else Qt.CheckState.Checked)
            self.classes.addItem(item)
        self.classes.blockSignals(blocked)
        self.span.setText(f"{len(names)} class(es), {sum(counts):,} tiles")

    def show_span(self, low: float, high: float, missing: int) -> None:
        text = f"{low:g} … {high:g}" if math.isfinite(low) else "no values"
        self.span.setText(text + (f" ({missing:,} missing)" if missing else ""))

    def checked(self) -> set[str] | None:
        """Names of the checked classes; None when all are (no restriction)."""
        names = [self.classes.item(i) for i in range(self.classes.count())]
        checked = {item.data(NAME_ROLE) for item in names if item.checkState() == Qt.CheckState.Checked}
        return None if len(checked) == len(names) else checked

    def check_only(self, names: set[str]) -> None:
        for i in range(self.classes.count()):
            item = self.classes.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(NAME_ROLE) in names else Qt.CheckState.Unchecked)

    def bounds(self) -> tuple[float | None, float | None]:
        def number(box: QLineEdit) -> float | None:
            try:
                return float(box.text())
            except ValueError:  # empty: that end is open
                return None
        return number(self.low), number(self.high)

    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        self.changed.emit()


class FilterPanel(QWidget):
    """The bar: a field to filter by, "Only broken tiles", "Clear filters", and the sections."""

    fieldAdded = Signal(str)  # the user asked to filter by this field
    filtersChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterPanel")
        self.field_menu = QMenu(self)
        self.field_choice = QPushButton("Add filter")
        self.field_choice.setObjectName("filterField")
        self.field_choice.setToolTip("Filter the tiles by a field of the records or of the annotations")
        self.field_choice.setMenu(self.field_menu)
        self.broken = QCheckBox("Only broken tiles")
        self.broken.setObjectName("brokenOnly")
        self.broken.toggled.connect(self.filtersChanged)
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.setObjectName("clearFilters")
        self.clear_button.clicked.connect(self.clear)
        self.sections: dict[str, FilterSection] = {}
        self._kinds: dict[str, str] = {}
        self.filtersChanged.connect(self._update_clear_button)
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.addStretch(1)
        self._section_area = QWidget()
        self._section_area.setLayout(self._row)
        self._section_area.setVisible(False)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(plain_label("Filter:"))
        bar.addWidget(self.field_choice)
        bar.addWidget(self.broken)
        bar.addWidget(self.clear_button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self._section_area)
        self.set_fields([])
        self._update_clear_button()

    def _update_clear_button(self) -> None:
        self.clear_button.setEnabled(bool(self.sections) or self.broken.isChecked())

    def set_fields(self, fields: list[tuple[str, str, str]]) -> None:
        """(name, kind, source) of the fields that can be filtered by."""
        self._kinds = {name: kind for name, kind, _ in fields}
        self.field_menu.clear()
        for name, kind, source in fields:
            where = " (annotations)" if source == "annotation" else ""
            action = self.field_menu.addAction(plain_menu_text(f"{name}{where} · {'classes' if kind == 'categorical' else 'range'}"))
            action.setData(name)
            action.triggered.connect(lambda _checked=False, n=name: self.add_filter(n))
        self.field_choice.setEnabled(bool(fields))
        for name in [n for n, s in self.sections.items() if self._kinds.get(n) != s.kind]:
            self._drop(name)  # gone, or now of another kind

    def add_filter(self, name: str) -> FilterSection | None:
        """A section for this field (the existing one if there is one)."""
        if name in self.sections:
            return self.sections[name]
        kind = self._kinds.get(name)
        if kind is None:
            return None
        section = FilterSection(name, kind)
        section.changed.connect(self.filtersChanged)
        section.removeRequested.connect(self.remove_filter)
        self.sections[name] = section
        self._row.insertWidget(self._row.count() - 1, section)
        self._section_area.setVisible(True)
        self._update_clear_button()
        self.fieldAdded.emit(name)
        return section

    def remove_filter(self, name: str) -> None:
        self._drop(name)
        self.filtersChanged.emit()

    def _drop(self, name: str) -> None:
        section = self.sections.pop(name, None)
        if section is not None:
            section.setParent(None)
            section.deleteLater()
        self._section_area.setVisible(bool(self.sections))
        self._update_clear_button()

    def clear(self) -> None:
        """No filter at all (one `filtersChanged`)."""
        for name in list(self.sections):
            self._drop(name)
        blocked = self.broken.blockSignals(True)
        self.broken.setChecked(False)
        self.broken.blockSignals(blocked)
        self.filtersChanged.emit()

    def set_broken_only(self, on: bool) -> None:
        self.broken.setChecked(on)

    def field_action(self, name: str) -> QAction | None:
        """The menu entry that adds a filter on this field."""
        return next((a for a in self.field_menu.actions() if a.data() == name), None)
