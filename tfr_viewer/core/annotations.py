"""An annotations CSV (Slideflow's `annotations.csv`: a `slide` column, plus `patient`, `label`
...) joined to the tiles by slide name: each column becomes a field of every tile of its slide.

Read with the csv module, bounded and strict about its shape: at most `MAX_ANNOTATIONS_BYTES`,
UTF-8 (a BOM is fine), a `slide` column required. A slide listed twice keeps its first row
(`duplicates` names the others). A column is numeric when every value present parses as a
number, categorical otherwise; a slide with no row, or an empty cell, is missing.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .labels import MAX_LABEL_CHARS, FieldInfo, FieldValues, categorical_values, label_text
from .progress import CancelToken, Job, Progress
from .storage import storage_for

MAX_ANNOTATIONS_BYTES = 16 << 20  # one row per slide: thousands of slides fit in far less
MAX_COLUMNS = 200


class AnnotationsError(ValueError):
    """An annotations file that cannot be used; the message names the file and why."""


@dataclass
class Annotations:
    """Rows of an annotations CSV by slide name (first row wins), and its columns but `slide`."""

    path: str
    columns: list[str]
    rows: dict[str, dict[str, str]]
    duplicates: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # column -> "categorical" | "numeric"

    def fields(self) -> list[FieldInfo]:
        return [FieldInfo(c, self.kinds[c], "annotation") for c in self.columns]

    def values(self, column: str, slides: list[tuple[str, int]]) -> FieldValues:
        """The column's value for every tile of these (slide, tile count) files, in tile order."""
        cells = [self.rows.get(slide, {}).get(column, "") for slide, _ in slides]
        counts = np.array([n for _, n in slides], np.int64)
        if self.kinds.get(column) == "numeric":
            per_slide = np.array([_number(c) if c else np.nan for c in cells], np.float64)
            return FieldValues(column, "numeric", numbers=np.repeat(per_slide, counts))
        per_file = categorical_values(column, [label_text(c.encode()) if c else None for c in cells])
        per_file.codes = np.repeat(per_file.codes, counts)
        per_file.counts = np.bincount(per_file.codes[per_file.codes >= 0], minlength=len(per_file.names)).astype(np.int64)
        return per_file


def _number(text: str) -> float:
    value = float(text)
    if math.isnan(value):
        raise ValueError("not a number")
    return value


def _column_kind(values: list[str]) -> str:
    present = [v for v in values if v]
    try:
        for v in present:
            _number(v)
    except ValueError:
        return "categorical"
    return "numeric" if present else "categorical"


def read_annotations(path: str | os.PathLike) -> Annotations:
    """Read and check an annotations CSV; `AnnotationsError` names the file and what is wrong."""
    path = os.fspath(path)
    try:
        binary = storage_for(path).open(path, MAX_ANNOTATIONS_BYTES)
    except (OSError, ValueError) as exc:
        raise AnnotationsError(f"annotations file {path} cannot be read ({exc})") from None
    try:
        with io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [label_text(h.strip().encode()) for h in next(reader, [])]
            if "slide" not in header:
                raise AnnotationsError(f"annotations file {path} has no 'slide' column (columns: "
                                       f"{', '.join(label_text(h.encode()) for h in header[:10]) or 'none'})")
            if len(header) > MAX_COLUMNS:
                raise AnnotationsError(f"annotations file {path} has {len(header)} columns, more than {MAX_COLUMNS}")
            if len(set(header)) != len(header):
                raise AnnotationsError(f"annotations file {path} names a column twice")
            slide_at = header.index("slide")
            columns = [h for h in header if h and h != "slide"]
            rows: dict[str, dict[str, str]] = {}
            duplicates: list[str] = []
            for line in reader:
                if len(line) <= slide_at or not line[slide_at].strip():
                    continue
                slide = line[slide_at].strip()
                if slide in rows:
                    duplicates.append(slide)
                    continue
                rows[slide] = {h: line[i].strip()[: 4 * MAX_LABEL_CHARS] for i, h in enumerate(header)
                               if i < len(line) and h in columns}
    except UnicodeDecodeError as exc:
        raise AnnotationsError(f"annotations file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise AnnotationsError(f"annotations file {path} is not a CSV file ({exc})") from None
    kinds = {c: _column_kind([row.get(c, "") for row in rows.values()]) for c in columns}
    return Annotations(path, columns, rows, duplicates, kinds)


def read_annotations_job(path: str) -> Callable[[CancelToken], Job[Annotations]]:
    """`read_annotations` as a job for a worker (the window never reads a file itself)."""

    def job(_token: CancelToken) -> Job[Annotations]:
        yield Progress(0, 1, path)
        return read_annotations(path)

    return job
