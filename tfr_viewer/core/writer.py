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
from typing import Any

import numpy as np

from .index import IndexInfo, remove_indexes, save_index
from .naming import AUTO, location_parser
from .progress import CancelToken, Job, Progress, run_job
from .storage import location, storage_for
from .tile_inputs import is_text, list_images, slide_folders, slide_name_skip
from .write_compress import COMPRESSIONS, CompressedOutput
from .write_pool import Group, Prepared, append_chunk, prepared_tiles
from .write_report import OutputsExist, SkippedFile, WriteReport, WrittenFile

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
    compress: str | None = None,
) -> Job[WriteReport]:
    """Write each (destination, slide, images) group as one TFRecord, in order."""
    total = sum(len(images) for _, _, images in groups)
    done = 0
    stream = prepared_tiles(groups, reencode, locations, workers)
    with contextlib.closing(stream):
        for dest, slide, images in groups:
            yield from _write_one(stream, images, dest, slide, report, locations is not None,
                                  overwrite, build_index, cancel, done, total, compress)
            done += len(images)
    return report


def _write_merged(
    groups: list[Group],
    report: WriteReport,
    *,
    locations: str | None,
    reencode: int | None,
    overwrite: bool,
    build_index: bool,
    workers: int,
    cancel: CancelToken | None,
    compress: str | None,
) -> Job[WriteReport]:
    """Write every (destination, slide, images) group, in order, into the one file all name."""
    images = [image for _, _, group in groups for image in group]
    label = ", ".join(slide for _, slide, _ in groups)
    stream = prepared_tiles(groups, reencode, locations, workers)  # each tile labelled with its group's slide
    with contextlib.closing(stream):
        yield from _write_one(stream, images, groups[0][0], label, report, locations is not None,
                              overwrite, build_index, cancel, 0, len(images), compress)
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
    compress: str | None = None,
) -> Job[None]:
    offsets: list[tuple[int, int]] = []
    locs: list[tuple[int, int]] = []
    unmatched = 0
    position = 0
    compressed = None
    try:
        with storage_for(dest).atomic_output(os.fspath(dest), overwrite=overwrite) as out:
            if compress is not None:
                compressed = CompressedOutput(out, compress)
            write = out.write if compressed is None else compressed.write
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
                    append_chunk(out if compressed is None else compressed, *chunk)
                if (i + 1) % PROGRESS_EVERY == 0:
                    yield Progress(done + i + 1, total, slide)
            if cancel is not None:
                cancel.raise_if_cancelled()
            if not offsets:
                raise _NothingWritten
            if compressed is not None:
                compressed.finish()
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
    if build_index and compressed is None:  # a compressed file's offsets are of the inflated stream
        saved = save_index(IndexInfo(np.asarray(offsets, np.int64), np.asarray(locs, np.int64)), dest)
        index_path = str(saved.path) if saved.path else None
        if saved.path is None:
            report.warnings.append(f"{dest}: could not write the index (it is built on first open)")
    if unmatched:
        report.warnings.append(
            f"{slide}: {unmatched} file name(s) did not match the location pattern; stored location (0, 0)"
        )
    size = position if compressed is None else compressed.bytes_written
    report.written.append(WrittenFile(str(dest), slide, len(offsets), index_path, size))
    yield Progress(done + len(images), total, slide)


def _check_slide(slide: str) -> None:
    if not isinstance(slide, str) or not is_text(slide):
        raise ValueError(f"slide name {slide!r} is not valid UTF-8 text")


def _check_options(locations: str | None, reencode: int | None, workers: int, compress: str | None = None) -> None:
    """Bad options fail before anything is read or written."""
    location_parser(locations)  # ValueError for a bad pattern
    if compress is not None and compress not in COMPRESSIONS:
        raise ValueError(f"compress must be one of {COMPRESSIONS} or None, not {compress!r}")
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
    compress: str | None = None,
    cancel: CancelToken | None = None,
    report: WriteReport | None = None,
) -> Job[WriteReport]:
    """Write `images` (in the order given) as one TFRecord; job form: yields Progress, returns
    the report. Raises FileExistsError when `dest_file` exists and not `overwrite`, `Cancelled`
    on cancel and OSError for destination problems; in every case no partial file is left."""
    _check_options(locations, reencode, workers, compress)
    _check_slide(slide)
    dest = location(dest_file)
    report = report if report is not None else WriteReport()
    if _exists(dest) and not overwrite:
        raise OutputsExist([str(dest)])
    started = time.perf_counter()
    yield from _write_groups([(dest, slide, list(images))], report, locations=locations, reencode=reencode,
                             overwrite=overwrite, build_index=build_index, workers=workers, cancel=cancel,
                             compress=compress)
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
    compress: str | None = None,
    cancel: CancelToken | None = None,
    report: WriteReport | None = None,
) -> Job[WriteReport]:
    """Job form of `write_tfrecords_single`. A `report` given is filled as the run goes (the
    window counts skipped files live and lists what a cancelled run completed)."""
    _check_options(locations, reencode, workers, compress)
    _check_slide(slide)
    dest = location(dest_dir) / tfrecord_filename(filename)
    images, skipped = list_images(src_dir)
    report = report if report is not None else WriteReport()
    report.skipped.extend(skipped)
    if _exists(dest) and not overwrite:
        raise OutputsExist([str(dest)])
    _make_dir(location(dest_dir))
    started = time.perf_counter()
    yield from _write_groups([(dest, slide, images)], report, locations=locations, reencode=reencode,
                             overwrite=overwrite, build_index=build_index, workers=workers, cancel=cancel,
                             compress=compress)
    report.elapsed = time.perf_counter() - started
    return report


def plan_tfrecords_multi(
    src_dir: str | os.PathLike,
    dest_dir: str | os.PathLike,
    *,
    existing: str = "error",
    slides: Iterable[str] | None = None,
    report: WriteReport | None = None,
) -> tuple[list[Group], WriteReport]:
    """What `iter_write_tfrecords_multi` will write, decided before anything is written: the
    (destination, slide, images) groups in order, and a report holding the files and folders
    left out (loose images, unreadable or clashing folders). Raises `OutputsExist` naming every
    existing destination under the 'error' policy. A cluster run writes these groups one per
    task with `write_group`."""
    if existing not in EXISTING_POLICIES:
        raise ValueError(f"existing must be one of {EXISTING_POLICIES}, not {existing!r}")
    dest_root = location(dest_dir)
    folders, loose = slide_folders(src_dir, exclude=dest_root)
    if slides is not None:
        wanted = set(slides)
        folders = [f for f in folders if f.name in wanted]
    report = report if report is not None else WriteReport()
    report.skipped.extend(loose)
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
        if _exists(dest) and existing != "overwrite":
            if existing == "skip":
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
        raise OutputsExist(clashes)
    return groups, report


def write_group(
    group: Group,
    *,
    locations: str | None = AUTO,
    reencode: int | None = None,
    overwrite: bool = False,
    build_index: bool = True,
    compress: str | None = None,
) -> WriteReport:
    """One planned (destination, slide, images) group written as its TFRecord, in this process
    (one task of a cluster run): the same writing as the local loop's, so the same bytes. Its
    report holds only what writing this group added (skipped images, warnings, the file)."""
    _check_options(locations, reencode, 1, compress)
    _make_dir(location(group[0]).parent)
    report = WriteReport()
    started = time.perf_counter()
    run_job(_write_groups([group], report, locations=locations, reencode=reencode, overwrite=overwrite,
                          build_index=build_index, workers=1, cancel=None, compress=compress))
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
    compress: str | None = None,
    cancel: CancelToken | None = None,
    slides: Iterable[str] | None = None,
    report: WriteReport | None = None,
) -> Job[WriteReport]:
    """Job form of `write_tfrecords_multi`: one TFRecord per sub-folder, slide = folder name.

    `existing`: 'error' (default; nothing is written when any destination exists), 'skip'
    (report and leave it) or 'overwrite' (also what `overwrite=True` means). `slides` limits
    the conversion to these folder names. One process pool serves every folder. A `report`
    given is filled as the run goes.
    """
    _check_options(locations, reencode, workers, compress)
    policy = existing or ("overwrite" if overwrite else "error")
    groups, report = plan_tfrecords_multi(src_dir, dest_dir, existing=policy, slides=slides, report=report)
    _make_dir(location(dest_dir))
    started = time.perf_counter()
    yield from _write_groups(groups, report, locations=locations, reencode=reencode,
                             overwrite=policy == "overwrite", build_index=build_index, workers=workers,
                             cancel=cancel, compress=compress)
    report.elapsed = time.perf_counter() - started
    return report


def iter_write_tfrecords_merge(
    src_dir: str | os.PathLike,
    dest_dir: str | os.PathLike,
    filename: str,
    *,
    overwrite: bool = False,
    locations: str | None = AUTO,
    reencode: int | None = None,
    build_index: bool = True,
    workers: int = 1,
    compress: str | None = None,
    cancel: CancelToken | None = None,
) -> Job[WriteReport]:
    """Job form of `write_tfrecords_merge`."""
    _check_options(locations, reencode, workers, compress)
    dest = Path(dest_dir) / tfrecord_filename(filename)
    if _exists(dest) and not overwrite:
        raise OutputsExist([str(dest)])
    folders, loose = slide_folders(src_dir, exclude=Path(dest_dir))
    report = WriteReport(skipped=loose)
    groups: list[Group] = []
    for folder in folders:
        not_text = slide_name_skip(folder)
        if not_text is not None:
            report.skipped.append(not_text)
            continue
        images, skipped = list_images(folder)
        report.skipped.extend(skipped)
        if images:
            groups.append((dest, folder.name, images))
    if not groups:
        report.warnings.append(f"{src_dir}: no slide folder holds images; no TFRecord created")
        return report
    _make_dir(Path(dest_dir))
    started = time.perf_counter()
    yield from _write_merged(groups, report, locations=locations, reencode=reencode, overwrite=overwrite,
                             build_index=build_index, workers=workers, cancel=cancel, compress=compress)
    report.elapsed = time.perf_counter() - started
    return report


def write_tfrecords_merge(
    input_directory: str | os.PathLike,
    output_directory: str | os.PathLike,
    filename: str,
    **options: Any,
) -> WriteReport:
    """The images of every sub-folder of `input_directory` in one TFRecord
    `output_directory/<filename>`, each labelled with its folder's name as slide (Slideflow's
    `sf.io.write_tfrecords_merge`; `.tiles` of the report is the count Slideflow returns).
    Folders in natural order and images in natural order within each (Slideflow shuffles them).
    `options` as `write_tfrecords_single` (overwrite, locations, reencode, build_index,
    workers, compress, cancel)."""
    return run_job(iter_write_tfrecords_merge(input_directory, output_directory, filename, **options))


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
    compress: str | None = None,
    cancel: CancelToken | None = None,
) -> WriteReport:
    """All images of `src_dir` into `dest_dir/<filename>` (`.tfrecords` added when missing),
    index beside, every record labelled `slide`.

    `locations`: 'auto' (the presets of `naming.LOCATION_PRESETS`), one preset name, a regex
    with groups x and y, or None (all (0, 0)). `reencode`: JPEG quality to re-encode every
    image, or None to keep JPEG/PNG bytes. `workers`: processes that prepare images.
    `compress`: 'gzip' or 'zlib' writes the file compressed as TensorFlow's `TFRecordOptions`
    does (same name; no index is written, readers inflate it). Never overwrites an existing
    file unless `overwrite=True`.
    """
    return run_job(
        iter_write_tfrecords_single(
            src_dir, dest_dir, filename, slide, overwrite=overwrite, locations=locations, reencode=reencode,
            build_index=build_index, workers=workers, compress=compress, cancel=cancel,
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
    compress: str | None = None,
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
            build_index=build_index, workers=workers, compress=compress, cancel=cancel, slides=slides,
        )
    )
