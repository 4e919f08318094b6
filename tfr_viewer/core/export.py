"""Tiles of a TFRecord -> image files named `<slide>_<x>-<y>.<ext>` (CLI `export`, GUI export)."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

from .errors import TFRecordError
from .images import decode_image, sniff_format
from .progress import CancelToken, Job, Progress
from .tfrecord import TFRecord


@dataclass
class ExportReport:
    """What an export wrote, and the records it left out with the reason (never a bad file)."""

    written: list[str] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (record index, reason)


def export_name(slide: str, record: dict, index: int, ext: str, used: set[str]) -> str:
    """A file name that is not in `used` (which it updates): `<slide>_<x>-<y>.<ext>`, else with
    the record index, then a counter, appended."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(slide)) or "tile"
    x, y = record.get("loc_x"), record.get("loc_y")
    whole = (int, np.integer)  # a location stored as bytes or a list is no part of a file name
    if isinstance(x, whole) and isinstance(y, whole) and not isinstance(x, bool) and not isinstance(y, bool):
        name = f"{safe}_{x}-{y}"
    else:
        name = f"{safe}_{index}"
    candidate = f"{name}.{ext}"
    if candidate in used:
        candidate = f"{name}_{index}.{ext}"
    counter = 2
    while candidate in used:
        candidate = f"{name}_{index}_{counter}.{ext}"
        counter += 1
    used.add(candidate)
    return candidate


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
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    used = {p.name for p in out.iterdir()}
    tfr = tfrecord if isinstance(tfrecord, TFRecord) else TFRecord(tfrecord)
    chosen = list(range(len(tfr)) if indices is None else indices)
    report = ExportReport()
    for n, i in enumerate(chosen):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            record = tfr[i]
            data = record["image_raw"]
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
        name = _write_new(out, export_name(record.get("slide", "tile"), record, i % len(tfr),
                                           "jpg" if target == "jpeg" else "png", used), data, used)
        report.written.append(str(out / name))
        if n % 32 == 0:
            yield Progress(n + 1, len(chosen), name)
    yield Progress(len(chosen), len(chosen), "")
    return report


def _write_new(out: Path, name: str, data: bytes, used: set[str]) -> str:
    """Create `out/name` (never replacing a file that appeared meanwhile: then the next free name)."""
    stem, ext = name.rsplit(".", 1)
    counter = 2
    while True:
        try:
            with open(out / name, "xb") as f:
                f.write(data)
            return name
        except FileExistsError:
            used.add(name)
            name = f"{stem}_{counter}.{ext}"
            counter += 1
