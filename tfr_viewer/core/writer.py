"""Folders of image tiles -> TFRecords (Slideflow's `write_tfrecords_single` / `_multi`).

Writes go through the destination's storage to a hidden temporary file that is renamed into
place only when complete, so a failure or a cancel never leaves a partial `.tfrecords`. The
index is made from the offsets known while writing (no second pass over the file). With
`workers > 1` a process pool (`write_pool`) reads, checks and frames the images while this
process writes them in input order, so the output bytes never depend on the number of workers.
Which files become tiles is `tile_inputs`' call, their bytes `tile_encoding`'s.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from .index import IndexInfo, remove_indexes, save_index
from .naming import AUTO, location_parser
from .progress import CancelToken, Job, Progress, run_job
from .storage import location, storage_for
from .tile_inputs import is_text, list_images, slide_folders, slide_name_skip
from .write_pool import Group, Prepared, append_chunk, prepared_tiles
from .write_report import SkippedFile, WriteReport, WrittenFile

PROGRESS_EVERY = 64  # images between progress reports
CANCEL_EVERY = 16  # images between cancel checks
EXISTING_POLICIES = ("error", "skip", "overwrite")


class _NothingWritten(Exception):
    """Leaves a destination's temporary file unrenamed (and so removed): no tile was written."""


def _destination_error(exc: OSError, dest: Path) -> OSError:
    """The same kind of OSError (errno kept), naming the file the user asked for, not our temp."""
    if isinstance(exc, FileExistsError) or str(dest) in str(exc):
        return exc
    return OSError(exc.errno, f"cannot write {dest}: {exc.strerror or exc}")


def _write_groups(
    groups: list[Group],
    report: WriteReport,
    *,
    locations: str | None,
    reencode: int | None,
    overwrite: bool,
    build_index: bool,
    workers: int,
    cancel: CancelToken | None,
) -> Job[WriteReport]:
    """Write each (destination, slide, images) group as one TFRecord, in order."""
    total = sum(len(images) for _, _, images in groups)
    done = 0
    stream = prepared_tiles(groups, reencode, locations, workers)
    with contextlib.closing(stream):
        for dest, slide, images in groups:
            yield from _write_one(stream, images, dest, slide, report, locations is not None,
                                  overwrite, build_index, cancel, done, total)
            done += len(images)
    return report


def _write_one(
    stream: Iterator[Prepared],
    images: list[Path],
    dest: Path,
    slide: str,
    report: WriteReport,
    track_locations: bool,
    overwrite: bool,
    build_index: bool,
    cancel: CancelToken | None,
    done: int,
    total: int,
) -> Job[None]:
    offsets: list[tuple[int, int]] = []
    locs: list[tuple[int, int]] = []
    unmatched = 0
    position = 0
    try:
        with storage_for(dest).atomic_output(os.fspath(dest), overwrite=overwrite) as out:
            write = out.write
            for i, path in enumerate(images):
                if cancel is not None and i % CANCEL_EVERY == 0:
                    cancel.raise_if_cancelled()
                framed, length, reason, loc, chunk = next(stream)
                if reason is not None:
                    report.skipped.append(SkippedFile(str(path), reason))
                else:
                    if loc is None:
                        unmatched += track_locations
                        loc = (0, 0)
                    if framed is not None:
                        write(framed)
                    offsets.append((position, length))
                    locs.append(loc)
                    position += length
                if chunk is not None:
                    append_chunk(out, *chunk)
                if (i + 1) % PROGRESS_EVERY == 0:
                    yield Progress(done + i + 1, total, slide)
            if cancel is not None:
                cancel.raise_if_cancelled()
            if not offsets:
                raise _NothingWritten
    except _NothingWritten:
        pass
    except OSError as exc:
        raise _destination_error(exc, dest) from None
    if not offsets:
        report.warnings.append(f"{slide}: no images could be written; no TFRecord created")
        yield Progress(done + len(images), total, slide)
        return
    remove_indexes(dest)  # a new file: any index beside it was the old file's
    index_path = None
    if build_index:
        saved = save_index(IndexInfo(np.asarray(offsets, np.int64), np.asarray(locs, np.int64)), dest)
        index_path = str(saved.path) if saved.path else None
        if saved.path is None:
            report.warnings.append(f"{dest}: could not write the index (it is built on first open)")
    if unmatched:
        report.warnings.append(
            f"{slide}: {unmatched} file name(s) did not match the location pattern; stored location (0, 0)"
        )
    report.written.append(WrittenFile(str(dest), slide, len(offsets), index_path, position))
    yield Progress(done + len(images), total, slide)


def _check_slide(slide: str) -> None:
    if not isinstance(slide, str) or not is_text(slide):
        raise ValueError(f"slide name {slide!r} is not valid UTF-8 text")


def _check_options(locations: str | None, reencode: int | None, workers: int) -> None:
    """Bad options fail before anything is read or written."""
    location_parser(locations)  # ValueError for a bad pattern
    if reencode is not None and not (isinstance(reencode, int) and 1 <= reencode <= 100):
        raise ValueError(f"reencode must be a JPEG quality 1..100 or None, not {reencode!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, not {workers!r}")


def _make_dir(folder: Path) -> None:
    try:
        storage_for(folder).make_dirs(os.fspath(folder))
    except OSError as exc:
        raise OSError(exc.errno, f"cannot create folder {folder}: {exc.strerror or exc}") from None


def _exists(path: Path) -> bool:
    """Whether anything is at `path`; as pathlib says it, a name that cannot lead anywhere is not."""
    try:
        storage_for(path).stat(os.fspath(path))
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP):
            return False
        raise
    return True


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
) -> Job[WriteReport]:
    """Write `images` (in the order given) as one TFRecord; job form: yields Progress, returns
    the report. Raises FileExistsError when `dest_file` exists and not `overwrite`, `Cancelled`
    on cancel and OSError for destination problems; in every case no partial file is left."""
    _check_options(locations, reencode, workers)
    _check_slide(slide)
    dest = location(dest_file)
    report = report if report is not None else WriteReport()
    if _exists(dest) and not overwrite:
        raise FileExistsError(f"{dest} already exists (use overwrite to replace it)")
    started = time.perf_counter()
    yield from _write_groups([(dest, slide, list(images))], report, locations=locations, reencode=reencode,
                             overwrite=overwrite, build_index=build_index, workers=workers, cancel=cancel)
    report.elapsed += time.perf_counter() - started
    return report


def tfrecord_filename(filename: str) -> str:
    """`filename` with `.tfrecords` added when it has no such extension; a bare name only."""
    if not filename or filename in (".", "..") or "/" in filename or os.sep in filename:
        raise ValueError(f"filename must be a plain file name, not {filename!r}")
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
    _check_options(locations, reencode, workers)
    _check_slide(slide)
    dest = location(dest_dir) / tfrecord_filename(filename)
    images, skipped = list_images(src_dir)
    report = WriteReport(skipped=skipped)
    if _exists(dest) and not overwrite:
        raise FileExistsError(f"{dest} already exists (use overwrite to replace it)")
    _make_dir(location(dest_dir))
    started = time.perf_counter()
    yield from _write_groups([(dest, slide, images)], report, locations=locations, reencode=reencode,
                             overwrite=overwrite, build_index=build_index, workers=workers, cancel=cancel)
    report.elapsed = time.perf_counter() - started
    return report


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
    (report and leave it) or 'overwrite' (also what `overwrite=True` means). `slides` limits
    the conversion to these folder names. One process pool serves every folder.
    """
    _check_options(locations, reencode, workers)
    policy = existing or ("overwrite" if overwrite else "error")
    if policy not in EXISTING_POLICIES:
        raise ValueError(f"existing must be one of {EXISTING_POLICIES}, not {policy!r}")
    dest_root = location(dest_dir)
    folders, loose = slide_folders(src_dir, exclude=dest_root)
    if slides is not None:
        wanted = set(slides)
        folders = [f for f in folders if f.name in wanted]
    report = WriteReport(skipped=loose)
    groups: list[Group] = []
    clashes = []
    claimed: dict[str, Path] = {}  # output name (case-folded: one file where case is ignored) -> folder
    for folder in folders:
        not_text = slide_name_skip(folder)
        if not_text is not None:
            report.skipped.append(not_text)
            continue
        dest = dest_root / tfrecord_filename(folder.name)
        first = claimed.setdefault(dest.name.casefold(), folder)
        if first != folder:  # e.g. folders 'x' and 'x.tfrecords', or 'A' and 'a'
            report.skipped.append(SkippedFile(
                str(folder), f"its output {dest.name} would be the file of folder {first.name}: rename one"))
            continue
        if _exists(dest) and policy != "overwrite":
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
        groups.append((dest, folder.name, images))
    if clashes:
        raise FileExistsError(
            f"{len(clashes)} destination file(s) already exist, e.g. {clashes[0]} (use overwrite)"
        )
    _make_dir(dest_root)
    started = time.perf_counter()
    yield from _write_groups(groups, report, locations=locations, reencode=reencode,
                             overwrite=policy == "overwrite", build_index=build_index, workers=workers,
                             cancel=cancel)
    report.elapsed = time.perf_counter() - started
    return report


def write_tfrecords_single(
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
) -> WriteReport:
    """All images of `src_dir` into `dest_dir/<filename>` (`.tfrecords` added when missing),
    index beside, every record labelled `slide`.

    `locations`: 'auto' (the presets of `naming.LOCATION_PRESETS`), one preset name, a regex
    with groups x and y, or None (all (0, 0)). `reencode`: JPEG quality to re-encode every
    image, or None to keep JPEG/PNG bytes. `workers`: processes that prepare images.
    Never overwrites an existing file unless `overwrite=True`.
    """
    return run_job(
        iter_write_tfrecords_single(
            src_dir, dest_dir, filename, slide, overwrite=overwrite, locations=locations, reencode=reencode,
            build_index=build_index, workers=workers, cancel=cancel,
        )
    )


def write_tfrecords_multi(
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
) -> WriteReport:
    """One TFRecord (+ index) per sub-folder of `src_dir`, named and labelled after the folder.

    Options as `write_tfrecords_single`, plus `existing` ('error' | 'skip' | 'overwrite') for
    destinations that already exist and `slides` to convert only some folders.
    """
    return run_job(
        iter_write_tfrecords_multi(
            src_dir, dest_dir, overwrite=overwrite, existing=existing, locations=locations, reencode=reencode,
            build_index=build_index, workers=workers, cancel=cancel, slides=slides,
        )
    )
