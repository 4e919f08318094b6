"""Folders of image tiles -> TFRecords (Slideflow's `write_tfrecords_single` / `_multi`).

Writes go to a hidden temporary file in the destination folder that is renamed into place only
when complete, so a failure or a cancel never leaves a partial `.tfrecords`. The index is made
from the offsets known while writing (no second pass over the file).
"""

from __future__ import annotations

import io
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from .framing import frame_record
from .images import sniff_format
from .index import IndexInfo, save_index
from .naming import AUTO, compile_location_pattern, natural_key, parse_location
from .paths import AtomicOutput
from .progress import CancelToken, Job, Progress
from .records import make_example

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
PROGRESS_EVERY = 64
EXISTING_POLICIES = ("error", "skip", "overwrite")


@dataclass
class WrittenFile:
    path: str
    slide: str
    tiles: int
    index_path: str | None
    bytes: int = 0


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class WriteReport:
    """What a conversion wrote and what it left out, with reasons."""

    written: list[WrittenFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def tiles(self) -> int:
        return sum(w.tiles for w in self.written)

    def to_dict(self) -> dict:
        return {
            "written": [asdict(w) for w in self.written],
            "skipped": [asdict(s) for s in self.skipped],
            "warnings": list(self.warnings),
            "tiles": self.tiles,
            "elapsed": self.elapsed,
        }


class SkipImage(Exception):
    """An input file that cannot become a tile; its message is the reason shown to the user."""


def folder_entries(folder: str | os.PathLike) -> list[os.DirEntry]:
    """Visible entries of a folder in natural order; OSError names the folder."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError as exc:
        raise OSError(f"cannot read folder {folder}: {exc.strerror or exc}") from None
    return [e for e in entries if not e.name.startswith(".")]


def list_images(folder: str | os.PathLike) -> tuple[list[Path], list[SkippedFile]]:
    """Image files of one folder in natural order, and the other files with why they are left out."""
    images, skipped = [], []
    for entry in folder_entries(folder):
        if entry.is_dir():
            continue
        if Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS:
            images.append(Path(entry.path))
        else:
            skipped.append(SkippedFile(entry.path, "not an image file (unknown extension)"))
    return images, skipped


def prepare_image(path: str | os.PathLike, reencode: int | None = None) -> bytes:
    """The bytes to store for one tile: JPEG/PNG as they are, other formats as PNG.

    With `reencode=q` every image is stored as JPEG of quality q. Raises `SkipImage`.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SkipImage(f"unreadable ({exc.strerror or exc})") from None
    if not data:
        raise SkipImage("zero-byte file")
    fmt = sniff_format(data)
    try:
        img = Image.open(io.BytesIO(data))
        if reencode is None and fmt in ("jpeg", "png"):
            if fmt == "png":
                img.verify()  # chunk CRCs, no pixel decode; JPEG headers were parsed by open()
            return data
        img.load()
        if reencode is not None:
            if img.mode not in ("RGB", "L"):
                img = img.convert("RGB")
            out = io.BytesIO()
            img.save(out, format="JPEG", quality=int(reencode))
            return out.getvalue()
        if img.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "P"):
            img = img.convert("RGB")
        out = io.BytesIO()
        img.save(out, format="PNG")
        return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise SkipImage(f"not a decodable image ({exc})") from None


def _prepare_safe(args: tuple[str, int | None]) -> tuple[bytes | None, str | None]:
    """Process-pool entry: never raises, so one bad file cannot stop the pool."""
    path, reencode = args
    try:
        return prepare_image(path, reencode), None
    except SkipImage as exc:
        return None, str(exc)


def _prepared(images: list[Path], reencode: int | None, workers: int) -> Iterator[tuple[bytes | None, str | None]]:
    """Prepared bytes in input order (deterministic whatever the number of workers)."""
    jobs = [(str(p), reencode) for p in images]
    if workers <= 1 or len(images) < 2 * PROGRESS_EVERY:
        for job in jobs:
            yield _prepare_safe(job)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_prepare_safe, jobs, chunksize=PROGRESS_EVERY)


def iter_write_tfrecord(
    images: list[Path],
    dest_file: str | os.PathLike,
    slide: str,
    *,
    locations: str | None = AUTO,
    reencode: int | None = None,
    overwrite: bool = False,
    build_index: bool = True,
    workers: int = 1,
    cancel: CancelToken | None = None,
    report: WriteReport | None = None,
    progress_offset: int = 0,
    progress_total: int | None = None,
) -> Job[WriteReport]:
    """Write `images` as one TFRecord (job form: yields Progress, returns the report).

    Raises FileExistsError when `dest_file` exists and not `overwrite`, `Cancelled` on cancel,
    `OSError` for destination problems; in every case no partial file is left behind.
    """
    dest = Path(dest_file)
    report = report if report is not None else WriteReport()
    started = time.perf_counter()
    if locations is not None and locations != AUTO:
        compile_location_pattern(locations)  # a bad pattern fails before any writing
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} already exists (use overwrite to replace it)")
    total = progress_total if progress_total is not None else len(images)
    offsets: list[tuple[int, int]] = []
    locs: list[tuple[int, int]] = []
    unmatched = 0
    position = 0
    output = AtomicOutput(dest, overwrite=overwrite)
    with output as out:
        for i, (path, (data, reason)) in enumerate(zip(images, _prepared(images, reencode, workers))):
            if cancel is not None and i % 16 == 0:
                cancel.raise_if_cancelled()
            if data is None:
                report.skipped.append(SkippedFile(str(path), reason or "skipped"))
                continue
            loc = parse_location(path.name, locations)
            if loc is None:
                loc = (0, 0)
                unmatched += locations is not None
            framed = frame_record(make_example({"image_raw": data, "slide": slide, "loc_x": loc[0], "loc_y": loc[1]}))
            out.write(framed)
            offsets.append((position, len(framed)))
            locs.append(loc)
            position += len(framed)
            if i % PROGRESS_EVERY == 0:
                yield Progress(progress_offset + i + 1, total, slide)
        if cancel is not None:
            cancel.raise_if_cancelled()
        if not offsets:
            report.warnings.append(f"{slide}: no images could be written; no TFRecord created")
            output.discard()
    if not offsets:
        return report
    index_path = None
    if build_index:
        info = IndexInfo(
            np.asarray(offsets, dtype=np.int64),
            np.asarray(locs, dtype=np.int64),
        )
        saved = save_index(info, dest)
        index_path = str(saved.path) if saved.path else None
        if saved.path is None:
            report.warnings.append(f"{dest}: could not write the index (it is built on first open)")
    if unmatched:
        report.warnings.append(
            f"{slide}: {unmatched} file name(s) did not match the location pattern; stored location (0, 0)"
        )
    report.written.append(WrittenFile(str(dest), slide, len(offsets), index_path, position))
    report.elapsed += time.perf_counter() - started
    yield Progress(progress_offset + len(images), total, slide)
    return report


def _tfrecord_name(filename: str) -> str:
    return filename if filename.endswith(".tfrecords") else f"{filename}.tfrecords"


def iter_write_tfrecords_single(
    src_dir: str | os.PathLike,
    dest_dir: str | os.PathLike,
    filename: str,
    slide: str,
    *,
    overwrite: bool = False,
    locations: str | None = AUTO,
    reencode: int | None = None,
    build_index: bool = True,
    workers: int = 1,
    cancel: CancelToken | None = None,
) -> Job[WriteReport]:
    """Job form of `write_tfrecords_single`."""
    images, skipped = list_images(src_dir)
    report = WriteReport(skipped=skipped)
    Path(dest_dir).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    yield from iter_write_tfrecord(
        images,
        Path(dest_dir) / _tfrecord_name(filename),
        slide,
        locations=locations,
        reencode=reencode,
        overwrite=overwrite,
        build_index=build_index,
        workers=workers,
        cancel=cancel,
        report=report,
    )
    report.elapsed = time.perf_counter() - started
    return report


def slide_folders(src_dir: str | os.PathLike) -> tuple[list[Path], list[SkippedFile]]:
    """Sub-folders of a nested layout (one per slide), and loose files that belong to none."""
    folders, loose = [], []
    for entry in folder_entries(src_dir):
        if entry.is_dir():
            folders.append(Path(entry.path))
        else:
            loose.append(SkippedFile(entry.path, "not inside a slide folder"))
    return folders, loose


def iter_write_tfrecords_multi(
    src_dir: str | os.PathLike,
    dest_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    existing: str | None = None,
    locations: str | None = AUTO,
    reencode: int | None = None,
    build_index: bool = True,
    workers: int = 1,
    cancel: CancelToken | None = None,
    slides: Iterable[str] | None = None,
) -> Job[WriteReport]:
    """Job form of `write_tfrecords_multi`: one TFRecord per sub-folder, slide = folder name.

    `existing`: 'error' (default; nothing is written when any destination exists), 'skip'
    (report and leave it) or 'overwrite' (also what `overwrite=True` means).
    """
    policy = existing or ("overwrite" if overwrite else "error")
    if policy not in EXISTING_POLICIES:
        raise ValueError(f"existing must be one of {EXISTING_POLICIES}, not {policy!r}")
    folders, loose = slide_folders(src_dir)
    if slides is not None:
        wanted = set(slides)
        folders = [f for f in folders if f.name in wanted]
    report = WriteReport(skipped=loose)
    dest_root = Path(dest_dir)
    plan: list[tuple[Path, list[Path]]] = []
    clashes = []
    for folder in folders:
        dest = dest_root / _tfrecord_name(folder.name)
        if dest.exists() and policy != "overwrite":
            if policy == "skip":
                report.skipped.append(SkippedFile(str(folder), f"{dest.name} already exists"))
                continue
            clashes.append(str(dest))
        try:
            images, skipped = list_images(folder)
        except OSError as exc:
            report.skipped.append(SkippedFile(str(folder), str(exc)))
            continue
        report.skipped.extend(skipped)
        plan.append((folder, images))
    if clashes:
        raise FileExistsError(
            f"{len(clashes)} destination file(s) already exist, e.g. {clashes[0]} (use overwrite)"
        )
    dest_root.mkdir(parents=True, exist_ok=True)
    total = sum(len(images) for _, images in plan)
    done = 0
    started = time.perf_counter()
    for folder, images in plan:
        yield from iter_write_tfrecord(
            images,
            dest_root / _tfrecord_name(folder.name),
            folder.name,
            locations=locations,
            reencode=reencode,
            overwrite=policy == "overwrite",
            build_index=build_index,
            workers=workers,
            cancel=cancel,
            report=report,
            progress_offset=done,
            progress_total=total,
        )
        done += len(images)
    report.elapsed = time.perf_counter() - started
    return report


def _run(job: Job[WriteReport]) -> WriteReport:
    from .progress import run_job

    return run_job(job)


def write_tfrecords_single(
    src_dir: str | os.PathLike,
    dest_dir: str | os.PathLike,
    filename: str,
    slide: str,
    **options,
) -> WriteReport:
    """All images of `src_dir` into `dest_dir/<filename>.tfrecords` (+ index), slide = `slide`.

    Options: overwrite=False, locations='auto' (preset name, regex with groups x/y, or None),
    reencode=None (JPEG quality), build_index=True, workers=1.
    """
    return _run(iter_write_tfrecords_single(src_dir, dest_dir, filename, slide, **options))


def write_tfrecords_multi(src_dir: str | os.PathLike, dest_dir: str | os.PathLike, **options) -> WriteReport:
    """One TFRecord (+ index) per sub-folder of `src_dir`, named and labelled after the folder."""
    return _run(iter_write_tfrecords_multi(src_dir, dest_dir, **options))
