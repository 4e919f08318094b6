"""Labels of tiles: the categorical and numeric fields of the records, read for colouring and
filtering.

A field is categorical when its values are text (bytes/string fields such as `label` or
`tissue`) or few distinct small integers (class numbers, not coordinates); other single-valued
numbers are numeric. The
kind is decided from the values read, never from the field's name. Values from files are bounded:
text is cut to `MAX_LABEL_CHARS`, a field keeps at most `MAX_CLASSES` classes (the rarest fold
into `OTHER`), and a bytes value longer than `MAX_TEXT_BYTES` is data (an image), not a label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from .catalog import FileEntry
from .errors import TFRecordError
from .loaders import tfrecord_loader
from .naming import natural_key
from .progress import CancelToken, Job, Progress
from .tfrecord import TFRecord

MAX_LABEL_CHARS = 80  # a label longer than this is cut (and shown cut)
MAX_TEXT_BYTES = 1024  # a bytes value longer than this is data, not a label
MAX_CLASSES = 100  # classes kept per field; the rarest ones are counted together as OTHER
CATEGORICAL_MAX_INTS = 50  # an integer field with at most this many distinct values is categorical,
CATEGORICAL_INT_RANGE = 1000  # all within +- this: class numbers are small, coordinates are not
SAMPLE_RECORDS = 200  # records read to discover the fields of the shown files
SAMPLE_FILES = 8  # from at most this many of them
MAX_FIELDS = 100  # fields offered per selection; a record with thousands is sampled once
CANCEL_EVERY = 512  # records read between checks of the cancel token
NOT_LABELS = frozenset({"image_raw"})
OTHER = "(other)"

Value = str | int | float | None


@dataclass(frozen=True)
class FieldInfo:
    """A field tiles can be coloured or filtered by."""

    name: str
    kind: str  # "categorical" | "numeric"
    source: str  # "record" | "annotation"


@dataclass
class FieldValues:
    """One field's value for every tile of the shown files, in tile order.

    Categorical: `codes` (int32, -1 = missing) into `names`, with `counts` tiles per class.
    Numeric: `numbers` (float64, NaN = missing). `problems` are (path, record or None, message)
    of the files that could not be read whole: their tiles from there on are missing.
    """

    name: str
    kind: str
    codes: np.ndarray | None = None
    names: list[str] = field(default_factory=list)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    numbers: np.ndarray | None = None
    problems: list[tuple[str, int | None, str]] = field(default_factory=list)

    @property
    def size(self) -> int:
        values = self.codes if self.codes is not None else self.numbers
        return 0 if values is None else len(values)

    def missing(self) -> int:
        if self.codes is not None:
            return int(np.count_nonzero(self.codes < 0))
        return 0 if self.numbers is None else int(np.count_nonzero(np.isnan(self.numbers)))


def label_text(raw: bytes) -> str:
    """Bytes of a label as text to show: UTF-8 (bad bytes replaced), cut to `MAX_LABEL_CHARS`."""
    text = raw.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def record_value(value: object) -> Value:
    """One record's field as a label value: text for a single bytes value, int or float for a
    single number; None for what is no label (several values, a long bytes blob, absent)."""
    if not isinstance(value, np.ndarray) or value.ndim != 1:
        return None
    if value.dtype == np.uint8:  # the loader returns a bytes field as its bytes
        return label_text(value.tobytes()) if len(value) <= MAX_TEXT_BYTES else None
    if value.size != 1:
        return None
    if value.dtype.kind in "iu":
        return int(value[0])
    if value.dtype.kind == "f":
        return float(value[0])
    return None


def raw_value(values: list) -> Value:
    """`record_value` for a parsed record's list of values (`TFRecord.read_raw`)."""
    if len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return label_text(bytes(value)) if len(value) <= MAX_TEXT_BYTES else None
    if isinstance(value, int):
        return int(value)
    return float(value) if isinstance(value, float) else None


def field_kind(values: Iterable[Value]) -> str | None:
    """"categorical" for text or few distinct integers, "numeric" for other numbers, None when
    no value is present."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if any(isinstance(v, str) for v in present):
        return "categorical"
    if (all(isinstance(v, int) and abs(v) <= CATEGORICAL_INT_RANGE for v in present)
            and len(set(present)) <= CATEGORICAL_MAX_INTS):
        return "categorical"
    return "numeric"


def summarize(name: str, values: list[Value], kind: str | None = None) -> FieldValues:
    """The `FieldValues` of a field from each tile's value (None = missing); `kind` as
    `field_kind` decides unless given."""
    kind = kind or field_kind(values) or "categorical"
    if kind == "numeric":
        numbers = np.full(len(values), np.nan)
        for i, v in enumerate(values):
            if isinstance(v, (int, float)):
                numbers[i] = float(v)
        return FieldValues(name, kind, numbers=numbers)
    return categorical_values(name, [None if v is None else str(v) for v in values])


def categorical_values(name: str, labels: list[str | None]) -> FieldValues:
    """Codes, class names (in natural order) and counts; beyond `MAX_CLASSES` classes the
    rarest are counted together as `OTHER`."""
    tally: dict[str, int] = {}
    for label in labels:
        if label is not None:
            tally[label] = tally.get(label, 0) + 1
    kept = set(tally)
    if len(tally) > MAX_CLASSES:
        kept = set(sorted(tally, key=lambda k: (-tally[k], natural_key(k)))[: MAX_CLASSES - 1])
    names = sorted(kept, key=natural_key) + ([OTHER] if len(kept) < len(tally) else [])
    code_of = {n: i for i, n in enumerate(names)}
    other = code_of.get(OTHER, -1)
    codes = np.fromiter((-1 if lb is None else code_of.get(lb, other) for lb in labels), np.int32, len(labels))
    counts = np.bincount(codes[codes >= 0], minlength=len(names)).astype(np.int64)
    return FieldValues(name, "categorical", codes=codes, names=names, counts=counts)


# --- jobs over the shown files ----------------------------------------------------------------
def iter_discover_fields(entries: list[FileEntry], file_ids: list[int], cancel: CancelToken) -> Job[list[FieldInfo]]:
    """Job: the label fields of these files, from `SAMPLE_RECORDS` records spread over up to
    `SAMPLE_FILES` of them (spread: the first rows of a slide hold few distinct coordinates).
    A file that cannot be read is skipped; reading all values later reports it."""
    readable = [f for f in file_ids if entries[f].index is not None and entries[f].count]
    chosen = readable[:: max(1, len(readable) // SAMPLE_FILES)][:SAMPLE_FILES]
    samples: dict[str, list[Value]] = {}
    order: list[str] = []
    for n, f in enumerate(chosen):
        entry = entries[f]
        spread = np.unique(np.linspace(0, entry.count - 1, max(1, SAMPLE_RECORDS // len(chosen))).astype(np.int64))
        try:
            with TFRecord(entry.path, create_index=False, index=entry.index) as tfr:
                for i in spread:
                    record = tfr.read_raw(int(i))
                    for name, values in record.items():
                        if name in NOT_LABELS or (name not in samples and len(order) >= MAX_FIELDS):
                            continue
                        if name not in samples:
                            samples[name] = []
                            order.append(name)
                        samples[name].append(raw_value(values))
                    if len(record) > MAX_FIELDS:
                        break  # a record this wide costs a parse each: one is enough to list fields
        except (TFRecordError, OSError):
            pass
        cancel.raise_if_cancelled()
        yield Progress(n + 1, len(chosen), entry.path)
    return [FieldInfo(name, kind, "record") for name in sorted(order, key=natural_key)
            if (kind := field_kind(samples[name]))]


def iter_read_field_values(
    entries: list[FileEntry], file_ids: list[int], name: str, cancel: CancelToken
) -> Job[FieldValues]:
    """Job: one field of every tile of these files, in tile order; a file that cannot be read
    whole leaves its tiles missing from the bad record on, and is named in `problems`."""
    total = sum(entries[f].count for f in file_ids)
    values: list[Value] = [None] * total
    problems: list[tuple[str, int | None, str]] = []
    pos = 0
    for f in file_ids:
        entry = entries[f]
        if entry.index is not None and entry.count:
            try:
                for i, record in enumerate(tfrecord_loader(entry.path, entry.index.offsets, clip=entry.count)):
                    if i % CANCEL_EVERY == 0:
                        cancel.raise_if_cancelled()
                    values[pos + i] = record_value(record.get(name))
            except TFRecordError as exc:
                problems.append((entry.path, exc.index, str(exc)))
            except OSError as exc:
                problems.append((entry.path, None, f"{entry.path}: {exc}"))
        pos += entry.count
        yield Progress(pos, total, entry.path)
    result = summarize(name, values)
    result.problems = problems
    return result


def discover_fields_job(entries: list[FileEntry], file_ids: list[int]) -> Callable[[CancelToken], Job[list[FieldInfo]]]:
    """`iter_discover_fields` as a job factory for a worker."""
    return lambda token: iter_discover_fields(entries, file_ids, token)


def read_field_values_job(
    entries: list[FileEntry], file_ids: list[int], name: str
) -> Callable[[CancelToken], Job[FieldValues]]:
    """`iter_read_field_values` as a job factory for a worker."""
    return lambda token: iter_read_field_values(entries, file_ids, name, token)
