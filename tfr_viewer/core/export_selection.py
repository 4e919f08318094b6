"""Export of tiles chosen in the window: what it will write (estimated from the indexes alone,
no record read) and the job writing the images and, if asked, a CSV table beside them.

Tiles are (file id, record) rows of an (n, 2) integer array: a selection of 100,000 tiles is
never a list of Python tuples."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from typing import Callable, Generator

import numpy as np

from .catalog import FileEntry
from .errors import TFRecordError
from .export import ExportReport, iter_export_tiles
from .images import decode_image
from .progress import CancelToken, Job, Progress
from .storage import storage_for
from .tfrecord import TFRecord

FRAMING_BYTES = 16  # length, its CRC and the payload's CRC around each record
# Rough size of an image re-encoded to another format, from its stored size: a tile PNG holds
# about three times the bytes of its JPEG (quality 75-95); a JPEG (quality 95) a third of a PNG.
REENCODED_FACTOR = {"png": 3.0, "jpeg": 0.35}
CSV_NAME = "tiles.csv"


@dataclass(frozen=True)
class ExportEstimate:
    """What an export of these tiles will write, before it reads a record."""

    tiles: int
    files: int  # TFRecords they come from
    stored_bytes: int  # the records' bytes as indexed (image and fields)
    unknown: int  # tiles whose file has no index yet (not counted in stored_bytes)

    def approximate_bytes(self, fmt: str | None) -> int:
        """Output size: the stored bytes for the original format, else scaled by a rough factor."""
        return int(self.stored_bytes * (REENCODED_FACTOR[fmt] if fmt else 1.0))


def as_keys(keys: np.ndarray | list[tuple[int, int]]) -> np.ndarray:
    """(n, 2) int64 rows of (file id, record)."""
    return np.asarray(keys, dtype=np.int64).reshape(-1, 2)


def estimate_export(entries: list[FileEntry], keys: np.ndarray) -> ExportEstimate:
    """Count and bytes of the chosen tiles from the indexes' record lengths (numpy, no I/O)."""
    keys = as_keys(keys)
    stored = unknown = 0
    file_ids = np.flatnonzero(np.bincount(keys[:, 0])) if len(keys) else keys[:0, 0]
    for file_id in file_ids:
        records = keys[keys[:, 0] == file_id, 1]
        index = entries[int(file_id)].index
        if index is None:
            unknown += len(records)
            continue
        known = records[(records >= 0) & (records < len(index.offsets))]
        unknown += len(records) - len(known)
        stored += int(index.offsets[known, 1].sum()) - FRAMING_BYTES * len(known)
    return ExportEstimate(len(keys), len(file_ids), max(stored, 0), unknown)


def _csv_bytes(rows: list[dict]) -> bytes:
    """The table: the fixed columns first, then each other field in the order first met."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _free_name(name: str, present: set[str]) -> str:
    stem, ext = name.rsplit(".", 1)
    counter = 2
    while name in present:
        name = f"{stem}_{counter}.{ext}"
        counter += 1
    return name


def export_selection_job(
    entries: list[FileEntry],
    keys: np.ndarray | list[tuple[int, int]],
    folder: str,
    fmt: str | None = None,
    existing: str = "keep",
    write_csv: bool = False,
) -> Callable[[CancelToken], Job[ExportReport]]:
    """Job factory: the chosen tiles as image files in `folder` (see `core.export` for names
    and `existing`), file by file in the order first chosen; with `write_csv`, `tiles.csv`
    beside them (one row per image written; an existing table is kept unless `existing` is
    'overwrite'). Skipped records name their file."""
    keys = as_keys(keys)
    order = list(dict.fromkeys(keys[:, 0].tolist()))  # files in the order of their first tile

    def job(token: CancelToken) -> Generator[Progress, None, ExportReport]:
        report = ExportReport()
        storage = storage_for(folder)
        storage.make_dirs(folder)
        present = {entry.name for entry in storage.list_folder(folder)}
        done = 0
        for file_id in order:
            records = keys[keys[:, 0] == file_id, 1].tolist()
            entry = entries[file_id]
            with TFRecord(entry.path, create_index=False, index=entry.index) as tfr:
                part = yield from _offset(iter_export_tiles(tfr, folder, records, fmt, token, existing,
                                                            write_csv, present), done, len(keys))
            present.update(os.path.basename(p) for p in part.written)
            done += len(records)
            report.written += part.written
            report.existing += part.existing
            report.rows += part.rows
            report.skipped += [(i, f"{entry.path}, record {i}: {reason}") for i, reason in part.skipped]
        if write_csv and report.rows:
            name = CSV_NAME if existing == "overwrite" else _free_name(CSV_NAME, present)
            with storage.atomic_output(os.path.join(folder, name), overwrite=existing == "overwrite") as f:
                f.write(_csv_bytes(report.rows))
        return report

    return job


def _offset(job: Job[ExportReport], before: int, total: int) -> Job[ExportReport]:
    """One file's export progress as part of the whole selection's."""
    while True:
        try:
            step = next(job)
        except StopIteration as stop:
            return stop.value
        yield Progress(before + step.done, total, step.message)


def tile_pixels_job(entry: FileEntry, record: int) -> Callable[[CancelToken], Job[np.ndarray]]:
    """Job factory: one tile decoded to (H, W, 3) uint8 RGB pixels (to copy it as an image);
    a record whose image does not decode raises TFRecordError naming the file and record."""

    def job(token: CancelToken) -> Generator[Progress, None, np.ndarray]:
        yield Progress(0, 1, entry.path)
        token.raise_if_cancelled()
        with TFRecord(entry.path, create_index=False, index=entry.index) as tfr:
            data = tfr[record]["image_raw"]
        try:
            pixels = decode_image(data)
        except TFRecordError as exc:  # the image's own error knows no file: name it
            raise TFRecordError(exc.reason, entry.path, record) from None
        yield Progress(1, 1, entry.path)
        return np.ascontiguousarray(pixels)

    return job
