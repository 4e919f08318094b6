"""Tiles of a TFRecord -> image files named `<slide>_<x>-<y>.<ext>` (CLI `export`, GUI export)."""

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


@dataclass
class ExportReport:
    """What an export wrote, and the records it left out with the reason (never a bad file)."""

    written: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (record index, reason)


MAX_NAME_BYTES = 200  # most file systems allow 255; the rest is room for the clash suffixes


def export_name(slide: str, record: dict, index: int, ext: str, used: set[str]) -> str:
    """A file name that is not in `used` (which it updates): `<slide>_<x>-<y>.<ext>`, else with
    the record index, then a counter, appended. A slide name too long for a file name is cut
    and given a hash of the whole name (`<start>-<hash>_<x>-<y>.<ext>`): still unique, and
    still a name `convert` reads the location from."""
    # no leading dot: convert takes '.name' for a hidden file and leaves it out
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(slide)).lstrip(".") or "tile"
    x, y = record.get("loc_x"), record.get("loc_y")
    whole = (int, np.integer)  # a location stored as bytes or a list is no part of a file name
    if isinstance(x, whole) and isinstance(y, whole) and not isinstance(x, bool) and not isinstance(y, bool):
        tail = f"_{x}-{y}"
    else:
        tail = f"_{index}"
    name = _fit(safe, str(slide), len(f"{tail}.{ext}".encode())) + tail
    candidate = f"{name}.{ext}"
    if candidate in used:
        candidate = f"{name}_{index}.{ext}"
    counter = 2
    while candidate in used:
        candidate = f"{name}_{index}_{counter}.{ext}"
        counter += 1
    used.add(candidate)
    return candidate


def _fit(safe: str, slide: str, reserved: int) -> str:
    """`safe`, or its start and a hash of `slide` when the file name would be too long."""
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
) -> Job[ExportReport]:
    """Write tiles as image files; original bytes when the format matches, else re-encoded.

    Existing files in `outdir` are never overwritten: a clash gets the record index (then a
    counter) appended, and files are created exclusively. A record whose image is missing or
    does not decode is skipped and reported, never written under an image name.
    """
    if fmt not in (None, "png", "jpeg"):
        raise ValueError(f"format must be 'png' or 'jpeg', not {fmt!r}")
    out = os.fspath(outdir)
    storage = storage_for(out)
    storage.make_dirs(out)
    used = set((entry.name for entry in storage.list_folder(out)))
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
        try:
            name = _write_new(storage, out, name, data, used)
        except OSError as exc:
            if exc.errno not in _NAME_ERRORS:  # a full disk or a lost folder ends the export
                raise
            report.skipped.append((i % len(tfr), f"cannot create {name}: {exc.strerror or exc}"))
            continue
        report.written.append(os.path.join(out, name))
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
