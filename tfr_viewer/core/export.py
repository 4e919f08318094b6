"""Tiles of a TFRecord -> image files named `<slide>_<x>-<y>.<ext>` (CLI `export`, GUI export).

The names end in the location, so `convert` with the `*_X-Y.ext` pattern reads it back; a name
taken already gets `-r<record>` (then a counter) before the location, never after it."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from PIL import Image

from .errors import TFRecordError
from .images import decode_image, sniff_format
from .progress import CancelToken, Job, Progress
from .storage import Storage, storage_for
from .tfrecord import TFRecord

_NAME_ERRORS = {errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL}  # this name only, not the disk


EXISTING_POLICIES = ("keep", "skip", "overwrite")  # keep both (a new name), leave it, replace it


@dataclass
class ExportReport:
    """What an export wrote, and the records it left out with the reason (never a bad file).
    `rows` (when asked for): one dict per written tile for a table beside the images."""

    written: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (record index, reason)
    existing: list[str] = field(default_factory=list)  # files left as they were (policy 'skip')
    rows: list[dict] = field(default_factory=list)


MAX_NAME_BYTES = 200  # most file systems allow 255; the rest is room for the clash suffixes


def _whole(value: object) -> bool:
    """A location usable in a file name: a whole number (a bytes value or a list is not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def first_name(slide: str, record: dict, index: int, ext: str) -> str:
    """The name a tile gets when nothing is in its way: `<slide>_<x>-<y>.<ext>`."""
    return export_name(slide, record, index, ext, set())


def export_name(slide: str, record: dict, index: int, ext: str, used: set[str]) -> str:
    """A file name that is not in `used` (which it updates): `<slide>_<x>-<y>.<ext>`, else with
    the record index, then a counter, appended. A slide name too long for a file name is cut
    and given a hash of the whole name (`<start>-<hash>_<x>-<y>.<ext>`): still unique, and
    still a name `convert` reads the location from."""
    # no leading dot: convert takes '.name' for a hidden file and leaves it out
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(slide)).lstrip(".") or "tile"
    x, y = record.get("loc_x"), record.get("loc_y")
    tail = f"_{x}-{y}" if _whole(x) and _whole(y) else f"_{index}"
    base = _fit(safe, str(slide), len(f"{tail}.{ext}".encode()))
    candidate = f"{base}{tail}.{ext}"
    if candidate in used:
        candidate = f"{base}-r{index}{tail}.{ext}"
    counter = 2
    while candidate in used:
        candidate = f"{base}-r{index}-{counter}{tail}.{ext}"
        counter += 1
    used.add(candidate)
    return candidate


def _fit(safe: str, slide: str, reserved: int) -> str:
    """`safe`, or its start and a hash of `slide` when the file name would be too long."""
    reserved += 32  # room for '-r<record>-<counter>' on a clash
    if len(safe.encode()) + reserved <= MAX_NAME_BYTES:
        return safe
    digest = "-" + hashlib.sha1(slide.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    room = max(MAX_NAME_BYTES - reserved - len(digest), 1)
    start = safe.encode()[:room].decode("utf-8", "ignore")  # never half a character
    return start + digest


def iter_export_tiles(
    tfrecord: str | os.PathLike | TFRecord,
    outdir: str | os.PathLike,
    indices: Iterable[int] | None = None,
    fmt: str | None = None,
    cancel: CancelToken | None = None,
    existing: str = "keep",
    table: bool = False,
    present: set[str] | None = None,
) -> Job[ExportReport]:
    """Write tiles as image files; original bytes when the format matches, else re-encoded.

    A file already in `outdir` under a tile's name is, by `existing`: 'keep' (the default;
    both kept: the tile gets the record index, then a counter, in its name; files are created
    exclusively), 'skip' (left as it is, listed in `report.existing`) or 'overwrite' (replaced
    whole). Tiles of this export never replace each other. A record whose image is missing or
    does not decode is skipped and reported, never written under an image name. `table`: fill
    `report.rows` (slide, x, y, record and the other single-valued fields). `present`: the
    names in `outdir` before the export, when the caller listed it already (shared between calls).
    """
    if fmt not in (None, "png", "jpeg"):
        raise ValueError(f"format must be 'png' or 'jpeg', not {fmt!r}")
    if existing not in EXISTING_POLICIES:
        raise ValueError(f"existing must be one of {EXISTING_POLICIES}, not {existing!r}")
    out = os.fspath(outdir)
    storage = storage_for(out)
    storage.make_dirs(out)
    if present is None:
        present = {entry.name for entry in storage.list_folder(out)}
    used = set(present) if existing == "keep" else set()  # names this export may not take
    tfr = tfrecord if isinstance(tfrecord, TFRecord) else TFRecord(tfrecord)
    chosen = list(range(len(tfr)) if indices is None else indices)
    report = ExportReport()
    for n, i in enumerate(chosen):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            record = tfr[i]
            data = record.get("image_raw")
            if not isinstance(data, bytes):  # missing, empty list, a number...
                raise TFRecordError("no image in this record (image_raw missing or not bytes)")
            current = sniff_format(data)
            target = fmt or current or "png"
            pixels = decode_image(data)  # raises TFRecordError for bytes that do not decode whole
            if target != current:
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, format="JPEG" if target == "jpeg" else "PNG", quality=95)
                data = buf.getvalue()
        except TFRecordError as exc:
            report.skipped.append((i % len(tfr), exc.reason))
            continue
        name = export_name(record.get("slide", "tile"), record, i % len(tfr), "jpg" if target == "jpeg" else "png", used)
        if existing == "skip" and name in present:
            report.existing.append(os.path.join(out, name))
            continue
        try:
            if existing == "overwrite" and name in present:
                with storage.atomic_output(os.path.join(out, name), overwrite=True) as f:
                    f.write(data)
            else:
                name = _write_new(storage, out, name, data, used)
        except OSError as exc:
            if exc.errno not in _NAME_ERRORS:  # a full disk or a lost folder ends the export
                raise
            report.skipped.append((i % len(tfr), f"cannot create {name}: {exc.strerror or exc}"))
            continue
        report.written.append(os.path.join(out, name))
        if table:
            report.rows.append(table_row(name, str(tfr.path), i % len(tfr), record))
        if n % 32 == 0:
            yield Progress(n + 1, len(chosen), name)
    yield Progress(len(chosen), len(chosen), "")
    return report


def _write_new(storage: Storage, out: str, name: str, data: bytes, used: set[str]) -> str:
    """Create `out/name` (never replacing a file that appeared meanwhile: then the next free name).
    A write that fails part-way removes its file (`Storage.write_new`): no half tile is left."""
    stem, ext = name.rsplit(".", 1)
    counter = 2
    while True:
        try:
            storage.write_new(os.path.join(out, name), data)
        except FileExistsError:
            used.add(name)
            name = f"{stem}_{counter}.{ext}"
            counter += 1
            continue
        return name


def _scalar(value: object) -> object | None:
    """A value fit for one table cell, or None: numbers, text, and one-element lists of them."""
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != 1:
            return None
        value = value[0]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, (str, int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return value.item() if isinstance(value, np.generic) else value
    return None


def table_row(name: str, tfrecord: str, index: int, record: dict) -> dict:
    """One exported tile as a table row: file, slide, x, y, tfrecord, record, then every other
    single-valued field of the record (the image bytes and lists left out)."""
    row = {"file": name, "slide": _scalar(record.get("slide")), "x": _scalar(record.get("loc_x")),
           "y": _scalar(record.get("loc_y")), "tfrecord": tfrecord, "record": index}
    for key, value in record.items():
        if key not in ("image_raw", "slide", "loc_x", "loc_y") and key not in row:
            cell = _scalar(value)
            if cell is not None:
                row[key] = cell
    return row
