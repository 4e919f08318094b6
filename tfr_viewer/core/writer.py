"""Folders of image tiles -> TFRecords (Slideflow's `write_tfrecords_single` / `_multi`).

Writes go to a hidden temporary file in the destination folder that is renamed into place only
when complete, so a failure or a cancel never leaves a partial `.tfrecords`. The index is made
from the offsets known while writing (no second pass over the file). With `workers > 1` a
process pool reads, checks and frames the images while this process writes them in input
order, so the output bytes never depend on the number of workers.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import multiprocessing
import os
import shutil
import stat
import struct
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

import crc32c
import numpy as np
from PIL import Image

from .errors import TFRecordError
from .images import SOURCE_FORMATS, open_image, readable_reason, to_rgb_array
from .index import IndexInfo, remove_indexes, save_index
from .naming import AUTO, location_parser, natural_key
from .local_storage import AtomicOutput
from .processes import exit_with_parent
from .progress import CancelToken, Job, Progress
from .records import encode_varint, len_field

MAX_SOURCE_BYTES = 256 * 2**20  # one tile image file; a bigger one is skipped unread
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
PROGRESS_EVERY = 64  # images between progress reports
CANCEL_EVERY = 16  # images between cancel checks
CHUNK = 32  # images per process-pool task
POOL_MIN_IMAGES = 256  # below this a pool costs more to start than it saves
EXISTING_POLICIES = ("error", "skip", "overwrite")
_PNG_MODES = {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}
_INT64 = (-(2**63), 2**63 - 1)
_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM}


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


# --- inputs -------------------------------------------------------------------------------------


SUBFOLDER_REASON = "a folder inside the slide folder (its files are not read)"
HIDDEN_REASON = "hidden file (its name starts with a dot)"
NOT_REGULAR_REASON = "not a regular file (a pipe, a device or a broken link)"


def folder_entries(folder: str | os.PathLike, hidden: bool = False) -> list[os.DirEntry]:
    """Entries of a folder in natural order (hidden ones only when asked); OSError names the folder."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError as exc:
        raise OSError(exc.errno, f"cannot read folder {folder}: {exc.strerror or exc}") from None
    return entries if hidden else [e for e in entries if not e.name.startswith(".")]


def entry_kind(entry: os.DirEntry) -> str:
    """'dir', 'file' (regular, links followed) or 'other'; a link loop or an entry that cannot be
    checked is 'unreadable (<why>)'."""
    try:
        if entry.is_dir():
            return "dir"
        return "file" if entry.is_file() else "other"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"


def entry_skip_reason(entry: os.DirEntry) -> str | None:
    """Why a folder entry is not a tile image ('' for hidden non-images, not worth a line), or
    None for an image file to read. The writer and the wizard's preview both ask this."""
    is_image_name = Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS
    kind = entry_kind(entry)
    if entry.name.startswith("."):  # e.g. macOS '._tile.jpg' copies are named; '.DS_Store' is not
        return HIDDEN_REASON if is_image_name and kind != "dir" else ""
    if kind == "dir":
        return SUBFOLDER_REASON
    if kind == "other":  # reading a pipe would wait forever
        return NOT_REGULAR_REASON
    if kind != "file":
        return kind
    return None if is_image_name else "not an image file (unknown extension)"


def list_images(folder: str | os.PathLike) -> tuple[list[Path], list[SkippedFile]]:
    """Image files of one folder in natural order (extensions in any case), and the other
    entries with why they are left out (see `entry_skip_reason`); sub-folders are not entered."""
    images, skipped = [], []
    for entry in folder_entries(folder, hidden=True):
        reason = entry_skip_reason(entry)
        if reason is None:
            images.append(Path(entry.path))
        elif reason:
            skipped.append(SkippedFile(entry.path, reason))
    return images, skipped


def slide_folders(
    src_dir: str | os.PathLike, exclude: str | os.PathLike | None = None
) -> tuple[list[Path], list[SkippedFile]]:
    """Sub-folders of a nested layout (one per slide), and loose files that belong to none.

    `exclude` (the destination, when it lies inside the source) is never taken for a slide.
    """
    excluded = os.path.realpath(exclude) if exclude is not None else None
    folders, loose = [], []
    for entry in folder_entries(src_dir):
        kind = entry_kind(entry)
        if kind == "dir":
            if excluded is None or os.path.realpath(entry.path) != excluded:
                folders.append(Path(entry.path))
        else:
            loose.append(SkippedFile(entry.path, kind if kind.startswith("unreadable") else "not inside a slide folder"))
    return folders, loose


def read_source(path: str | os.PathLike) -> bytes:
    """The bytes of one source image, refused before reading when the file is no regular file
    or larger than `MAX_SOURCE_BYTES` (a sparse file can claim terabytes)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise SkipImage(f"unreadable ({exc.strerror or exc})") from None
    with open(fd, "rb") as f:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # a pipe or device swapped in after the listing
                raise SkipImage(NOT_REGULAR_REASON)
            if info.st_size > MAX_SOURCE_BYTES:
                raise SkipImage(too_big_reason(info.st_size))
            data = f.read(MAX_SOURCE_BYTES + 1)
        except OSError as exc:
            raise SkipImage(f"unreadable ({exc.strerror or exc})") from None
    if len(data) > MAX_SOURCE_BYTES:  # grew while we read
        raise SkipImage(too_big_reason(len(data)))
    return data


def too_big_reason(size: int) -> str:
    return f"file of {size:,} bytes, larger than a tile image may be ({MAX_SOURCE_BYTES >> 20} MiB)"


def prepare_image(path: str | os.PathLike, reencode: int | None = None) -> bytes:
    """The bytes to store for one tile: JPEG/PNG bytes as they are (recognised by their bytes,
    not the extension), TIFF/BMP/GIF/WebP as PNG; with `reencode=q` every image becomes a JPEG
    of quality q. Keeping bytes costs a header parse, never a pixel decode. Only the formats of
    `images.SOURCE_FORMATS` are parsed, and the tile size cap of `images` applies.

    Raises `SkipImage` with the reason for zero-byte, too large, unreadable, truncated or
    non-image files (PostScript named `.png` included).
    """
    data = read_source(path)
    if not data:
        raise SkipImage("zero-byte file")
    try:
        img = open_image(data, SOURCE_FORMATS)  # parses the header only
        fmt = img.format
        if reencode is None and fmt == "JPEG":
            if data.rfind(b"\xff\xd9") < 0:
                raise SkipImage("truncated JPEG (no end-of-image marker)")
            return data
        if reencode is None and fmt == "PNG":
            img.verify()  # chunk structure and CRCs up to IEND, no inflate
            return data
        img.load()
        if reencode is not None:
            return _encode(img, "JPEG", quality=int(reencode))
        return _encode(img, "PNG")
    except SkipImage:
        raise
    except TFRecordError as exc:
        raise SkipImage(exc.reason.replace("image bytes do not decode", "not a decodable image")) from None
    except Exception as exc:  # noqa: BLE001  (hostile files make Pillow raise anything)
        raise SkipImage(f"not a decodable image ({readable_reason(exc)})") from None


def _encode(img: Image.Image, fmt: str, **params) -> bytes:
    keep = {"L", "RGB"} if fmt == "JPEG" else _PNG_MODES
    if img.mode not in keep:  # 16-bit, float, CMYK, alpha for JPEG...: the viewer's RGB
        img = img.convert("RGBA") if fmt == "PNG" and img.mode in ("PA", "RGBa", "La") else Image.fromarray(to_rgb_array(img))
    out = io.BytesIO()
    img.save(out, format=fmt, **params)
    return out.getvalue()


# --- records ------------------------------------------------------------------------------------


def _int_entry(key: bytes, value: int) -> bytes:
    """Map entry `key -> Feature(int64_list=[value])`, as `records.make_example` writes it."""
    return len_field(1, len_field(1, key) + len_field(2, len_field(3, len_field(1, encode_varint(value)))))


def _bytes_entry_head(key: bytes, size: int) -> bytes:
    """Map entry `key -> Feature(bytes_list=[<size bytes>])` up to (not including) the bytes."""
    item_head = b"\x0a" + encode_varint(size)
    list_size = len(item_head) + size
    list_head = b"\x0a" + encode_varint(list_size)
    feature_size = len(list_head) + list_size
    key_field = len_field(1, key)
    feature_head = b"\x12" + encode_varint(feature_size)
    entry_size = len(key_field) + len(feature_head) + feature_size
    return b"\x0a" + encode_varint(entry_size) + key_field + feature_head + list_head + item_head


@functools.lru_cache(maxsize=256)
def _slide_entry(slide: bytes) -> bytes:
    return _bytes_entry_head(b"slide", len(slide)) + slide


@functools.lru_cache(maxsize=4096)
def _loc_entries(x: int, y: int) -> bytes:
    return _int_entry(b"loc_x", x) + _int_entry(b"loc_y", y)


_U64, _U32 = struct.Struct("<Q"), struct.Struct("<I")
_crc = crc32c.crc32c  # crc32c(data, crc) extends crc over data


def _masked(crc: int) -> bytes:
    return _U32.pack((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def tile_record(image: bytes, slide: str | bytes, x: int, y: int) -> bytes:
    """One framed tile record, byte for byte what `frame_record(make_example({'image_raw': image,
    'slide': slide, 'loc_x': x, 'loc_y': y}))` gives, with the image copied once instead of
    four times (the CRC is extended over the parts)."""
    slide_bytes = slide.encode("utf-8") if isinstance(slide, str) else slide
    head = _bytes_entry_head(b"image_raw", len(image))
    tail = _slide_entry(slide_bytes) + _loc_entries(x, y)
    size = len(head) + len(image) + len(tail)
    head = b"\x0a" + encode_varint(size) + head
    length = _U64.pack(len(head) + len(image) + len(tail))
    crc = _crc(tail, _crc(image, _crc(head)))
    return b"".join((length, _masked(_crc(length)), head, image, tail, _masked(crc)))


# One prepared tile: (framed record, or None when it went to a chunk file or was skipped;
# record length; skip reason or None; location from the name or None; chunk file to append
# after this tile, with its size, or None).
Prepared = tuple[bytes | None, int, str | None, tuple[int, int] | None, tuple[str, int] | None]
Task = tuple[list[str], str, int | None, str | None]


def _prepare_chunk(task: Task) -> list[tuple[bytes | None, str | None, tuple[int, int] | None]]:
    """Read, check and frame a few images: (framed record or None, skip reason, location)."""
    paths, slide, reencode, pattern = task
    locate = location_parser(pattern)
    slide_bytes = slide.encode("utf-8")
    out = []
    for path in paths:
        try:
            data = prepare_image(path, reencode)
        except SkipImage as exc:
            out.append((None, str(exc), None))
            continue
        loc = locate(os.path.basename(path))
        if loc is not None and not all(_INT64[0] <= v <= _INT64[1] for v in loc):
            loc = None  # a number too large for int64 is not a location
        x, y = loc or (0, 0)
        out.append((tile_record(data, slide_bytes, x, y), None, loc))
    return out


def _prepare_chunk_file(task: Task, chunk_path: str) -> list[tuple[int, str | None, tuple[int, int] | None]]:
    """The process-pool task: frames a few images into `chunk_path`, returns only their
    lengths, skip reasons and locations. Sending the records back through a pipe measured
    slower than preparing them inline; the writer appends the file with an in-kernel copy."""
    items = _prepare_chunk(task)
    with open(chunk_path, "wb") as f:
        for framed, _, _ in items:
            if framed is not None:
                f.write(framed)
    return [(len(framed) if framed is not None else 0, reason, loc) for framed, reason, loc in items]


def _pool_context() -> multiprocessing.context.BaseContext:
    """Never plain fork: forking a process that runs Qt or other threads can deadlock.

    A fork server (one clean process, started once, with this module preloaded) starts a pool
    in ~15 ms instead of ~250 ms for spawned interpreters; spawn where there is none (Windows)
    or in a frozen app.
    """
    if "forkserver" in multiprocessing.get_all_start_methods() and not getattr(sys, "frozen", False):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _prepared(
    groups: list[tuple[Path, str, list[Path]]], reencode: int | None, pattern: str | None, workers: int
) -> Iterator[Prepared]:
    """Prepared tiles of every (destination, slide, images) group, in input order.

    Inline for one worker. With a pool, each task frames a chunk of images into a hidden file
    beside its destination; at most `4 * workers` tasks are in flight (bounded memory and disk),
    the window runs across file boundaries, and closing the generator cancels what has not
    started and removes every chunk file.
    """
    tasks = [
        (dest, ([str(p) for p in images[i : i + CHUNK]], slide, reencode, pattern))
        for dest, slide, images in groups
        for i in range(0, len(images), CHUNK)
    ]
    total = sum(len(images) for _, _, images in groups)
    if workers <= 1 or total < POOL_MIN_IMAGES:
        for _, task in tasks:
            for framed, reason, loc in _prepare_chunk(task):
                yield framed, len(framed) if framed is not None else 0, reason, loc, None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(),
                               initializer=exit_with_parent, initargs=(os.getpid(),))
    stamp = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    chunk_files = [str(dest.with_name(f".{dest.name}.chunk-{stamp}-{n}")) for n, (dest, _) in enumerate(tasks)]
    pending: deque[tuple[Future, str]] = deque()
    submitted = 0
    try:
        while submitted < len(tasks) or pending:
            while submitted < len(tasks) and len(pending) < 4 * workers:
                chunk = chunk_files[submitted]
                pending.append((pool.submit(_prepare_chunk_file, tasks[submitted][1], chunk), chunk))
                submitted += 1
            future, chunk = pending.popleft()
            items = future.result()
            size = sum(length for length, _, _ in items)
            for n, (length, reason, loc) in enumerate(items):
                yield None, length, reason, loc, (chunk, size) if n == len(items) - 1 else None
    finally:
        for future, _ in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        for chunk in chunk_files[:submitted]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(chunk)


def _append_chunk(out: BinaryIO, chunk: str, size: int) -> None:
    """Append a worker's chunk file to `out` (in-kernel copy where the OS has one), then remove it."""
    out.flush()
    with open(chunk, "rb") as src:
        if os.fstat(src.fileno()).st_size != size:
            raise OSError(errno.EIO, f"chunk file {chunk} holds {os.fstat(src.fileno()).st_size} bytes, expected {size}")
        left = size
        try:
            while left > 0:
                copied = os.copy_file_range(src.fileno(), out.fileno(), left)
                if copied == 0:
                    break
                left -= copied
        except (AttributeError, OSError) as exc:  # no copy_file_range here, or not across these files
            if isinstance(exc, OSError) and exc.errno not in _NO_COPY_RANGE:
                raise  # a real write error (disk full...), not a missing feature
            src.seek(size - left)
            out.seek(0, os.SEEK_END)
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            left = 0
        if left:
            raise OSError(errno.EIO, f"chunk file {chunk} ended early")
    os.unlink(chunk)


def _destination_error(exc: OSError, dest: Path) -> OSError:
    """The same kind of OSError (errno kept), naming the file the user asked for, not our temp."""
    if isinstance(exc, FileExistsError) or str(dest) in str(exc):
        return exc
    return OSError(exc.errno, f"cannot write {dest}: {exc.strerror or exc}")


def _write_groups(
    groups: list[tuple[Path, str, list[Path]]],
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
    stream = _prepared(groups, reencode, locations, workers)
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
    output = AtomicOutput(dest, overwrite=overwrite)
    try:
        with output as out:
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
                    _append_chunk(out, *chunk)
                if (i + 1) % PROGRESS_EVERY == 0:
                    yield Progress(done + i + 1, total, slide)
            if cancel is not None:
                cancel.raise_if_cancelled()
            if not offsets:
                output.discard()
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


NOT_TEXT_REASON = "its name is not valid UTF-8 text, so it cannot be a slide name (rename it)"


def is_text(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot create folder {folder}: {exc.strerror or exc}") from None


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
    dest = Path(dest_file)
    report = report if report is not None else WriteReport()
    if dest.exists() and not overwrite:
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
    dest = Path(dest_dir) / tfrecord_filename(filename)
    images, skipped = list_images(src_dir)
    report = WriteReport(skipped=skipped)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} already exists (use overwrite to replace it)")
    _make_dir(Path(dest_dir))
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
    dest_root = Path(dest_dir)
    folders, loose = slide_folders(src_dir, exclude=dest_root)
    if slides is not None:
        wanted = set(slides)
        folders = [f for f in folders if f.name in wanted]
    report = WriteReport(skipped=loose)
    groups: list[tuple[Path, str, list[Path]]] = []
    clashes = []
    claimed: dict[str, Path] = {}  # output name (case-folded: one file where case is ignored) -> folder
    for folder in folders:
        if not is_text(folder.name):
            report.skipped.append(SkippedFile(str(folder), NOT_TEXT_REASON))
            continue
        dest = dest_root / tfrecord_filename(folder.name)
        first = claimed.setdefault(dest.name.casefold(), folder)
        if first != folder:  # e.g. folders 'x' and 'x.tfrecords', or 'A' and 'a'
            report.skipped.append(SkippedFile(
                str(folder), f"its output {dest.name} would be the file of folder {first.name}: rename one"))
            continue
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


def _run(job: Job[WriteReport]) -> WriteReport:
    from .progress import run_job

    return run_job(job)


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
    return _run(
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
    return _run(
        iter_write_tfrecords_multi(
            src_dir, dest_dir, overwrite=overwrite, existing=existing, locations=locations, reencode=reencode,
            build_index=build_index, workers=workers, cancel=cancel, slides=slides,
        )
    )
