"""Tiles of a TFRecord -> image files named `<slide>_<x>-<y>.<ext>` (CLI `export`, GUI export)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable

from PIL import Image

from .images import decode_image, sniff_format
from .progress import CancelToken, Job, Progress
from .tfrecord import TFRecord


def export_name(slide: str, record: dict, index: int, ext: str, used: set[str]) -> str:
    """A file name that does not clash with `used` (which it updates)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(slide)) or "tile"
    name = f"{safe}_{record['loc_x']}-{record['loc_y']}" if "loc_x" in record and "loc_y" in record else f"{safe}_{index}"
    candidate = f"{name}.{ext}"
    if candidate in used:
        candidate = f"{name}_{index}.{ext}"
    used.add(candidate)
    return candidate


def iter_export_tiles(
    tfrecord: str | os.PathLike | TFRecord,
    outdir: str | os.PathLike,
    indices: Iterable[int] | None = None,
    fmt: str | None = None,
    cancel: CancelToken | None = None,
) -> Job[list[str]]:
    """Write tiles as image files; original bytes when the format matches, else re-encoded.

    Existing files in `outdir` are never overwritten (a clash gets the record index appended).
    """
    if fmt not in (None, "png", "jpeg"):
        raise ValueError(f"format must be 'png' or 'jpeg', not {fmt!r}")
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    used = {p.name for p in out.iterdir()}
    tfr = tfrecord if isinstance(tfrecord, TFRecord) else TFRecord(tfrecord)
    chosen = list(range(len(tfr)) if indices is None else indices)
    written: list[str] = []
    for n, i in enumerate(chosen):
        if cancel is not None:
            cancel.raise_if_cancelled()
        record = tfr[i]
        data = record["image_raw"]
        current = sniff_format(data) or "png"
        target = fmt or current
        name = export_name(record.get("slide", "tile"), record, i % len(tfr), "jpg" if target == "jpeg" else "png", used)
        if target != current:
            buf = io.BytesIO()
            Image.fromarray(decode_image(data)).save(buf, format="JPEG" if target == "jpeg" else "PNG", quality=95)
            data = buf.getvalue()
        (out / name).write_bytes(data)
        written.append(str(out / name))
        if n % 32 == 0:
            yield Progress(n + 1, len(chosen), name)
    yield Progress(len(chosen), len(chosen), "")
    return written
