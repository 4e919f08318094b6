"""Qt models over what the workers found: no pixels stored beyond a bounded thumbnail cache."""

from __future__ import annotations

import os
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QStringListModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyle

from ..core.catalog import FileEntry
from .errors import problem_color
from .plain import plain_tooltip
from .request_workers import ThumbnailLoader, ThumbRequest

ANNOUNCE_MS = 30  # thumbnails that arrive within this time repaint the grid once
CONVERT_SLICE = 24  # thumbnails made pixmaps per event-loop turn (~1 ms): the loader's batches
# queue up while the GUI thread is busy, and all of them in one turn stalled it (e.g. from the cache)
FILE_ID_ROLE = Qt.ItemDataRole.UserRole + 1
KEY_ROLE = Qt.ItemDataRole.UserRole + 2
ALL_ROW_ROLE = Qt.ItemDataRole.UserRole + 3


_ICONS: dict[QStyle.StandardPixmap, QIcon] = {}


def _icon(kind: QStyle.StandardPixmap) -> QIcon:
    """Style icons, looked up once (a style lookup per tree row was measurable at 500 files)."""
    if kind not in _ICONS:
        _ICONS[kind] = QApplication.style().standardIcon(kind)
    return _ICONS[kind]


def _untinted(pixmap: QPixmap) -> QIcon:
    """An icon that looks the same when selected: a tinted tile would misstate its colours."""
    icon = QIcon()
    icon.addPixmap(pixmap, QIcon.Mode.Normal)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)
    return icon


_STATE_ICONS = {
    "indexed": QStyle.StandardPixmap.SP_FileIcon,
    "pending": QStyle.StandardPixmap.SP_BrowserReload,
    "damaged": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "missing": QStyle.StandardPixmap.SP_MessageBoxCritical,
}


def sorted_rows(rows: np.ndarray) -> np.ndarray:
    """The rows as int64, sorted, each once. Rows from the map and the filters usually come
    sorted already: checking that is O(n). Otherwise a sort and a comparison with the
    neighbour: numpy 2's `np.unique` (hashing) took ~8 ms of the GUI thread for 33,000 rows
    and seconds for millions, holding the GIL throughout."""
    rows = np.asarray(rows, np.int64).reshape(-1)
    if len(rows) < 2 or bool(np.all(rows[1:] > rows[:-1])):
        return rows
    rows = np.sort(rows)
    keep = np.ones(len(rows), bool)
    keep[1:] = rows[1:] != rows[:-1]
    return rows[keep]


def _relative_name(path: str, source: str) -> str:
    """The file's name in the tree: its path below the source folder (string work for the usual
    normalised paths: pathlib costs ~10 µs a file, which adds up at thousands of files)."""
    if not path.startswith(source):
        return path
    prefix = source if source.endswith(os.sep) else source + os.sep
    rest = path[len(prefix):]
    if path.startswith(prefix) and rest and os.path.normpath(rest) == rest:
        return rest
    return str(Path(path).relative_to(source))


class DatasetTreeModel(QStandardItemModel):
    """Sources -> TFRecord files with tile counts, index state and problems (all in memory)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setHorizontalHeaderLabels(["TFRecords", "Tiles"])
        self._file_items: dict[int, tuple[QStandardItem, QStandardItem]] = {}
        self._source_of: dict[int, QStandardItem] = {}
        self._tiles: dict[int, int] = {}
        self._totals: dict[int, int] = {}  # id(source item) -> tiles of its files

    def show_loading(self, paths: list[str]) -> None:
        self.removeRows(0, self.rowCount())
        self._file_items.clear()
        self._source_of.clear()
        self._tiles.clear()
        item = QStandardItem(_icon(QStyle.StandardPixmap.SP_BrowserReload), f"Loading {', '.join(paths)}…")
        item.setEditable(False)
        self.appendRow([item, QStandardItem("")])

    def show_error(self, message: str) -> None:
        self.removeRows(0, self.rowCount())
        item = QStandardItem(_icon(QStyle.StandardPixmap.SP_MessageBoxCritical), message)
        item.setToolTip(plain_tooltip(message))
        item.setEditable(False)
        self.appendRow([item, QStandardItem("")])

    def set_entries(self, entries: list[FileEntry]) -> None:
        """All files at once: the items are filled before they join the model (one insert per
        source instead of a signal per row and property)."""
        self.removeRows(0, self.rowCount())
        self._file_items.clear()
        self._source_of.clear()
        self._tiles.clear()
        self._totals.clear()
        sources: dict[str, tuple[QStandardItem, list[list[QStandardItem]]]] = {}
        # Rows are copies of two prototypes: a copy made by Qt has no Python subclass to consult
        # on each of its setters (half the cost of building the tree, which is thousands of items).
        name_proto = QStandardItem()
        name_proto.setEditable(False)
        count_proto = QStandardItem("")
        count_proto.setEditable(False)
        count_proto.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for file_id, entry in enumerate(entries):
            source = sources.get(entry.source)
            if source is None:
                parent = QStandardItem(_icon(QStyle.StandardPixmap.SP_DirIcon), entry.source)
                parent.setEditable(False)
                parent.setData(-1, FILE_ID_ROLE)
                parent.setToolTip(plain_tooltip(entry.source))
                source = sources[entry.source] = (parent, [])
            parent, rows = source
            name = name_proto.clone()
            name.setText(_relative_name(entry.path, entry.source))
            name.setData(file_id, FILE_ID_ROLE)
            count = count_proto.clone()
            count.setData(file_id, FILE_ID_ROLE)
            rows.append([name, count])
            self._file_items[file_id] = (name, count)
            self._source_of[file_id] = parent
            self.update_entry(file_id, entry, update_totals=False)
        for parent, rows in sources.values():
            parent.insertColumns(0, 2)
            parent.insertRows(0, len(rows))
            for r, (name, count) in enumerate(rows):
                parent.setChild(r, 0, name)
                parent.setChild(r, 1, count)
            total = QStandardItem("")
            total.setEditable(False)
            self.appendRow([parent, total])
            self._totals[id(parent)] = sum(self._tiles[name.data(FILE_ID_ROLE)] for name, _ in rows)
            self._show_total(parent)

    def index_of_file(self, file_id: int) -> QModelIndex:
        """The tree index of a file (a dict lookup: searching the tree costs O(files) per call)."""
        items = self._file_items.get(file_id)
        return self.indexFromItem(items[0]) if items else QModelIndex()

    def update_entry(self, file_id: int, entry: FileEntry, update_totals: bool = True) -> None:
        items = self._file_items.get(file_id)
        if items is None:
            return
        name, count = items
        shown_state = "damaged" if entry.error and entry.state == "indexed" else entry.state  # e.g. found by Verify
        name.setIcon(_icon(_STATE_ICONS.get(shown_state, QStyle.StandardPixmap.SP_FileIcon)))
        before = self._tiles.get(file_id, 0)
        if entry.state == "pending":
            count.setText(f"{entry.listed_count:,}" if entry.listed_count is not None else "…")
            self._tiles[file_id] = entry.listed_count or 0
        else:
            count.setText(f"{entry.count:,}")
            self._tiles[file_id] = entry.count
        index_where = entry.index.path if entry.index is not None and entry.index.path else "in memory"
        tip = [entry.path, f"{entry.count:,} tiles" if entry.state != "pending" else "waiting for its index…"]
        if entry.state in ("indexed", "damaged"):
            tip.append(f"index: {index_where}")
        if entry.state == "indexed" and not entry.error and not entry.verified:
            tip.append("not verified: the index fits the file; its records' bytes were not all checked (Tools → Verify)")
        if entry.error:
            tip.append(f"problem: {entry.error}")
        name.setToolTip(plain_tooltip("\n".join(tip)))
        if shown_state in ("error", "missing", "damaged"):
            name.setForeground(problem_color())
        else:  # the palette's text colour (an empty QColor paints black, unreadable when dark)
            name.setData(None, Qt.ItemDataRole.ForegroundRole)
        if update_totals:
            parent = self._source_of[file_id]
            self._totals[id(parent)] = self._totals.get(id(parent), 0) + self._tiles[file_id] - before
            self._show_total(parent)

    def _show_total(self, parent: QStandardItem) -> None:
        """The source's tile count (kept as a running sum: adding up its files costs O(files))."""
        self.item(parent.row(), 1).setText(f"{self._totals.get(id(parent), 0):,}")


class TileListModel(QStringListModel):
    """One row per tile of the selected files; thumbnails requested only for rows a view paints.

    A QStringListModel of empty strings underneath, for its row count only: a view lays out a
    new grid asking the model for every row's index, and with `rowCount` written in Python each
    of those 200,000 questions for 100,000 tiles went through Python (and waited for the GIL
    while workers decode). Everything else behaves as a read-only list model.

    `data()` returns a placeholder until the ThumbnailLoader answers; answers are queued and made
    pixmaps CONVERT_SLICE per event-loop turn, then `dataChanged` is emitted once for the
    thumbnails that arrived within ANNOUNCE_MS. A bounded LRU keeps the pixmaps; stale answers
    (an older generation) are ignored.
    """

    thumbnailsArrived = Signal(int)

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None, cache_size: int = 3000) -> None:
        super().__init__(parent)
        self.loader = loader
        self.loader.ready.connect(self._on_ready)
        self.entries: list[FileEntry] = []
        self.file_of = np.zeros(0, np.int32)  # all tiles of the selected files
        self.record_of = np.zeros(0, np.int64)
        self.rows = np.zeros(0, np.int64)  # what is shown: indexes into the arrays above
        self.generation = 0
        self.thumb_size = 96
        self.show_captions = False
        self.cache_size = cache_size
        # ready-made icons: data() runs for every painted tile, and each Qt call it makes may
        # wait for the GIL while the loader works (an icon built per call was four of them)
        self._cache: OrderedDict[tuple[int, int], QIcon | None] = OrderedDict()
        self._errors: dict[tuple[int, int], str] = {}
        self._wanted: dict[int, ThumbRequest] = {}
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._send_requests)
        self._incoming: deque[tuple] = deque()  # loader answers not made pixmaps yet
        self._convert = QTimer(self)
        self._convert.setSingleShot(True)
        self._convert.setInterval(0)
        self._convert.timeout.connect(self._convert_some)
        self._arrived: list[tuple[int, int]] = []  # (generation, row) of thumbnails not announced yet
        self._announce = QTimer(self)
        self._announce.setSingleShot(True)
        self._announce.setInterval(ANNOUNCE_MS)
        self._announce.timeout.connect(self._announce_thumbnails)
        self._placeholder = self._make_placeholder()
        self._error_icon = _untinted(self._error_pixmap())

    # --- content -------------------------------------------------------------------------------
    def set_tiles(self, entries: list[FileEntry], file_ids: list[int]) -> None:
        self.beginResetModel()
        self.generation += 1
        self.entries = entries
        counts = np.array([entries[fid].count for fid in file_ids], np.int64)
        self.file_of = np.repeat(np.array(file_ids, np.int32), counts)
        starts = np.cumsum(counts) - counts  # first row of each file
        self.record_of = np.arange(len(self.file_of), dtype=np.int64) - np.repeat(starts, counts)
        self.rows = np.arange(len(self.file_of), dtype=np.int64)
        self._set_row_count(len(self.rows))
        self._wanted.clear()
        self.loader.clear()
        self.endResetModel()

    def set_filter(self, all_rows: np.ndarray | None) -> None:
        """Show only these tiles (indexes into all tiles), or all of them."""
        self.beginResetModel()
        self.generation += 1
        self.rows = np.arange(len(self.file_of), dtype=np.int64) if all_rows is None else sorted_rows(all_rows)
        self._set_row_count(len(self.rows))
        self._wanted.clear()
        self.loader.clear()
        self.endResetModel()

    def _set_row_count(self, n: int) -> None:
        """Size the string list to `n` rows, within a model reset (whose signals tell the views)."""
        have = QStringListModel.rowCount(self)
        blocked = self.blockSignals(True)
        try:
            if n < have:
                self.removeRows(n, have - n)
            elif n > have:
                # at the front: Qt inserts the strings one by one, and only at the front of a
                # list is that not a move of all the strings after them
                self.insertRows(0, n - have)
        finally:
            self.blockSignals(blocked)

    def is_filtered(self) -> bool:
        return len(self.rows) != len(self.file_of)

    def set_thumb_size(self, size: int) -> None:
        self.beginResetModel()
        self.thumb_size = size
        self.generation += 1
        self._cache.clear()
        self._placeholder = self._make_placeholder()
        self._error_icon = _untinted(self._error_pixmap())
        self.endResetModel()

    def set_show_captions(self, on: bool) -> None:
        self.show_captions = on
        if self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1), [Qt.ItemDataRole.DisplayRole])

    def forget_file(self, file_id: int) -> None:
        """Drop cached thumbnails of a file whose content changed."""
        for key in [k for k in self._cache if k[0] == file_id]:
            del self._cache[key]

    # --- lookups -------------------------------------------------------------------------------
    def key(self, row: int) -> tuple[int, int]:
        i = int(self.rows[row])
        return int(self.file_of[i]), int(self.record_of[i])

    def all_row(self, row: int) -> int:
        return int(self.rows[row])

    def all_row_of(self, file_id: int, record: int) -> int | None:
        """The overall number of a file's record among the shown files (None: not shown)."""
        rows = np.flatnonzero(self.file_of == file_id)
        return int(rows[record]) if 0 <= record < len(rows) else None

    def row_of_all(self, all_row: int) -> int | None:
        pos = int(np.searchsorted(self.rows, all_row))
        return pos if pos < len(self.rows) and self.rows[pos] == all_row else None

    def location(self, all_row: int) -> tuple[int, int] | None:
        entry = self.entries[int(self.file_of[all_row])]
        locs = entry.index.locations if entry.index is not None else None
        if locs is None:
            return None
        x, y = locs[int(self.record_of[all_row])]
        return int(x), int(y)

    def has_thumbnail(self, row: int) -> bool:
        return self._cache.get(self.key(row)) is not None

    def thumbnail_settled(self, row: int) -> bool:
        """Decoded, or failed (shown as a broken tile): nothing more will come for this row."""
        return self.key(row) in self._cache

    # --- Qt model ------------------------------------------------------------------------------
    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return QAbstractListModel.flags(self, index)  # selectable, not editable nor draggable

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        return False

    def itemData(self, index: QModelIndex | QPersistentModelIndex) -> dict:  # noqa: N802
        return QAbstractListModel.itemData(self, index)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = index.row()
        if role == Qt.ItemDataRole.DecorationRole:
            key = self.key(row)
            if key in self._cache:
                self._cache.move_to_end(key)
                icon = self._cache[key]
                return icon if icon is not None else self._error_icon
            self._want(row, key)
            return self._placeholder
        if role == Qt.ItemDataRole.DisplayRole:
            if not self.show_captions:
                return None
            return self._caption(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            key = self.key(row)
            text = self._caption(row).replace("\n", " · ") + f" · record {key[1]}"
            if key in self._errors:
                text += f"\n⚠ {self._errors[key]}"
            return plain_tooltip(text)
        if role == KEY_ROLE:
            return self.key(row)
        if role == ALL_ROW_ROLE:
            return self.all_row(row)
        return None

    def multiData(self, index: QModelIndex | QPersistentModelIndex, roleDataSpan: Any) -> None:  # noqa: N802
        """Every role a view asks for at once: the grid's delegate wants seven per painted tile,
        and each call from Qt into Python may wait for the GIL while workers decode."""
        for i in range(len(roleDataSpan)):
            role_data = roleDataSpan[i]
            value = self.data(index, role_data.role())
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)

    def _caption(self, row: int) -> str:
        i = self.all_row(row)
        entry = self.entries[int(self.file_of[i])]
        loc = self.location(i)
        where = f"{loc[0]}, {loc[1]}" if loc else f"#{int(self.record_of[i])}"
        return f"{entry.slide}\n{where}"

    # --- thumbnails ----------------------------------------------------------------------------
    def _want(self, row: int, key: tuple[int, int]) -> None:
        if row not in self._wanted:
            self._wanted[row] = ThumbRequest(self.generation, row, key, self.entries[key[0]], self.thumb_size)
            if not self._flush.isActive():
                self._flush.start()

    def _send_requests(self) -> None:
        if self._wanted:
            self.loader.submit(list(self._wanted.values()))
            self._wanted.clear()

    def set_visible_rows(self, first: int, last: int) -> None:
        """What the view shows now; the loader drops requests far outside it."""
        self.loader.set_visible(self.generation, first, last)

    @Slot(list)
    def _on_ready(self, batch: list) -> None:
        """Queue the loader's answers; they become pixmaps a slice per event-loop turn."""
        self._incoming.extend(batch)
        if not self._convert.isActive():
            self._convert.start()

    def pending_thumbnails(self) -> int:
        """Answers received and not yet made pixmaps."""
        return len(self._incoming)

    @Slot()
    def _convert_some(self) -> None:
        changed = []
        for _ in range(min(CONVERT_SLICE, len(self._incoming))):
            generation, row, key, image, error = self._incoming.popleft()
            if image is None and error is None:  # dropped: scrolled away before decoding
                continue
            if image is None:
                self._cache[key] = None
                self._errors[key] = error or "thumbnail failed"
            else:
                self._cache[key] = _untinted(QPixmap.fromImage(image))
            if generation == self.generation and row < len(self.rows):
                changed.append(row)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        if self._incoming:
            self._convert.start()
        if changed:
            self._arrived += [(self.generation, row) for row in changed]
            if not self._announce.isActive():
                self._announce.start()

    @Slot()
    def _announce_thumbnails(self) -> None:
        """One `dataChanged` for the thumbnails of the last few batches: each one repaints the
        grid, and the loader answers in batches of 16."""
        rows = [row for generation, row in self._arrived if generation == self.generation and row < len(self.rows)]
        self._arrived = []
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [Qt.ItemDataRole.DecorationRole])
            self.thumbnailsArrived.emit(len(rows))

    def _make_placeholder(self) -> QPixmap:
        pixmap = QPixmap(self.thumb_size, self.thumb_size)
        pixmap.fill(QColor("#e4e4e8"))
        return pixmap

    def _error_pixmap(self) -> QPixmap:
        pixmap = QPixmap(self.thumb_size, self.thumb_size)
        pixmap.fill(QColor("#f6d6d6"))
        painter = QPainter(pixmap)
        painter.setPen(QColor("#b00020"))
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "⚠")
        painter.end()
        return pixmap
