"""Integrity check of a whole TFRecord that keeps going after damage, and salvage of good records.

Two levels. The file's health: framing, both CRCs and the Example parse of every record. Then
the tile checks: `image_raw` and `slide` present as one value each (and, asked for, the image
decodes). A sound file of ordinary Examples (no record has `image_raw`) is OK, with a note
that its records are not image tiles; in a file of tiles, a record that is not one is a tile
problem. A record whose payload alone is bad (data CRC, parse) leaves the framing intact, so
the scan goes on at the next record; after a broken header it resynchronises on the next
offset that holds a valid header followed by another (or the end of the file), so one flipped
byte does not hide the rest of the file. The file is only ever read.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

from .errors import TFRecordError
from .framing import FRAMING_SIZE, HEADER, HEADER_SIZE, frame_record, masked_crc32c, read_frame
from .images import decode_image
from .index import create_index
from .progress import CancelToken, Job, Progress, run_job
from .records import parse_example
from .source import open_source, source_damage, source_size
from .storage import Storage, storage_for

REQUIRED_FIELDS = ("image_raw", "slide")
NO_IMAGE = "missing required field 'image_raw'"
_ZERO_HEADER = bytes(HEADER_SIZE)
_NONZERO = re.compile(rb"[^\x00]")
RESYNC_WINDOW = 8 << 20
PROGRESS_EVERY = 256


@dataclass
class Problem:
    index: int
    offset: int
    reason: str
    level: str = "file"  # "file": framing, CRC or parse; "tile": a sound record that is no readable tile


@dataclass
class VerifyReport:
    """What `verify` found: good records, and every problem with record index and byte offset.

    `records_ok + records_bad == records_total` (the records found; an unreadable stretch
    after a broken header counts as one). `notes` says what is not a problem, e.g. that the
    records are not image tiles.
    """

    path: str
    records_ok: int = 0
    problems: list[Problem] = field(default_factory=list)
    bytes_scanned: int = 0
    size: int = 0
    good_offsets: list[tuple[int, int]] = field(default_factory=list, repr=False)
    records_total: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def file_ok(self) -> bool:
        """Framing, CRCs and parse all sound (tile problems aside)."""
        return all(p.level != "file" for p in self.problems)

    @property
    def records_bad(self) -> int:
        return self.records_total - self.records_ok

    @property
    def first_bad(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "ok": self.ok,
            "file_ok": self.file_ok,
            "records_ok": self.records_ok,
            "records_bad": self.records_bad,
            "records_total": self.records_total,
            "problems": [asdict(p) for p in self.problems],
            "notes": list(self.notes),
            "bytes_scanned": self.bytes_scanned,
            "size": self.size,
        }

    def __str__(self) -> str:
        notes = "".join(f"; {note}" for note in self.notes)
        if self.ok:
            return f"{self.path}: OK, {self.records_ok} records{notes}"
        first = self.problems[0]
        health = "file sound, tile problems" if self.file_ok else "damaged"
        return (
            f"{self.path}: {health}: {len(self.problems)} problem(s), {self.records_bad} bad and "
            f"{self.records_ok} good of {self.records_total} records; first at record {first.index}, "
            f"byte offset {first.offset}: {first.reason}{notes}"
        )


def _header_fits(f: BinaryIO, offset: int, size: int) -> int | None:
    """The payload length of a sound header at `offset` (length CRC right, record within the
    file), else None. A sound header means the record after it starts where it says."""
    if size - offset < HEADER_SIZE:
        return None
    f.seek(offset)
    header = f.read(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        return None
    length, length_crc = HEADER.unpack_from(header)
    if masked_crc32c(header[:8]) != length_crc or length > size - offset - FRAMING_SIZE:
        return None
    return length


def _followed_well(f: BinaryIO, end: int, size: int) -> bool:
    """Whether a candidate record ending at `end` is followed by the end of the file, a cut
    tail too short for a header, or another sound header."""
    return size - end < HEADER_SIZE or _header_fits(f, end, size) is not None


def _resync(f: BinaryIO, start: int, size: int, verify_crc: bool = True) -> int | None:
    """The next offset >= start where a record with a sound header begins, followed by another
    sound header (or the end of the file), or None.

    Candidates are found with bytes.find on the 4 zero high bytes of the length (every record
    under 4 GiB has them), so scanning is at C speed, not one Python step per byte. Each
    candidate costs two 12-byte checks, never a read of its payload: a crafted file with a valid
    header every 12 bytes made payload checks quadratic. (A random stretch passes both length
    CRCs once in 2**64; the payload's own CRC is checked when the record is read.)
    """
    pos = start
    while pos < size - FRAMING_SIZE + 1:
        f.seek(pos)
        window = f.read(min(RESYNC_WINDOW, size - pos))
        search = 0
        while True:
            hit = window.find(b"\x00\x00\x00\x00", search + 4)
            if hit < 0 or hit + 8 > len(window):
                break
            candidate = hit - 4
            search = candidate + 1
            if candidate + HEADER_SIZE > len(window):
                break
            if window[candidate : candidate + HEADER_SIZE] == _ZERO_HEADER:
                # a run of zero bytes (a crash or preallocation tail): no header inside it is
                # valid (the CRC of a zero length is not zero), so jump to the bytes after it
                after = _NONZERO.search(window, candidate)
                if after is None:
                    break
                search = max(search, after.start() - HEADER_SIZE + 1)
                continue
            length, length_crc = HEADER.unpack_from(window, candidate)
            if masked_crc32c(window[candidate : candidate + 8]) != length_crc:
                continue
            offset = pos + candidate
            if length > size - offset - FRAMING_SIZE:
                continue
            if _followed_well(f, offset + length + FRAMING_SIZE, size):
                return offset
        if len(window) < RESYNC_WINDOW:
            return None
        pos += len(window) - HEADER_SIZE  # overlap so a header across windows is found
    return None


def _check_record(payload: bytes, path: str, index: int, check_images: bool) -> tuple[str, str] | None:
    """(level, reason) of why this correctly framed record is bad, or None when it is a good
    tile. Level "file" for a payload that does not parse, "tile" for a record that is no
    readable tile, "no image" for one without any `image_raw` field (decided per file)."""
    try:
        raw = parse_example(payload, path, index)
    except TFRecordError as exc:
        return "file", exc.reason
    if "image_raw" not in raw:
        return "no image", NO_IMAGE
    for name in REQUIRED_FIELDS:
        values = raw.get(name)
        if not values or not isinstance(values[0], bytes):
            return "tile", f"missing required field {name!r}"
        if len(values) != 1:  # a tile is one image of one slide (TFRecord[i] cannot read more)
            return "tile", f"field {name!r} holds {len(values)} values, not one"
    if check_images:
        try:
            decode_image(raw["image_raw"][0])
        except TFRecordError as exc:
            return "tile", exc.reason
    return None


def iter_verify(
    path: str | os.PathLike,
    cancel: CancelToken | None = None,
    check_images: bool = False,
) -> Job[VerifyReport]:
    """Job form of `verify` (yields Progress in bytes)."""
    path = os.fspath(path)
    report = VerifyReport(path)
    try:
        storage = storage_for(path)
        f = open_source(path, storage)
    except TFRecordError as exc:
        report.problems.append(Problem(0, 0, exc.reason))
        return report
    except (OSError, ValueError) as exc:  # unreadable: a problem of this file, the others are still checked
        report.problems.append(Problem(0, 0, f"cannot read the file ({getattr(exc, 'strerror', None) or exc})"))
        return report
    with f:
        size = report.size = source_size(f)
        if size == 0:
            report.problems.append(Problem(0, 0, "empty file: holds no records"))
            return report
        offset, index = 0, 0
        no_image: list[tuple[int, int, int]] = []  # (index, offset, length): tiles or not, known at the end
        tiles = 0
        yield Progress(0, size, path)
        while offset < size:
            if cancel is not None and index % PROGRESS_EVERY == 0:
                cancel.raise_if_cancelled()
            try:
                payload = read_frame(f, offset, None, path, index, file_size=size, storage=storage)
            except TFRecordError as exc:
                report.problems.append(Problem(index, offset, exc.reason))
                index += 1
                length = _header_fits(f, offset, size)
                if length is not None:  # only the payload is bad: the next record is where it says
                    offset += length + FRAMING_SIZE
                    continue
                next_offset = _resync(f, offset + 1, size)
                if next_offset is None:
                    break
                offset = next_offset
                continue
            length = len(payload) + FRAMING_SIZE
            found = _check_record(payload, path, index, check_images)
            if found is None:
                tiles += 1
                report.records_ok += 1
                report.good_offsets.append((offset, length))
            elif found[0] == "no image":
                no_image.append((index, offset, length))
            else:
                tiles += found[0] == "tile"
                report.problems.append(Problem(index, offset, found[1], found[0]))
            offset += length
            index += 1
            if index % PROGRESS_EVERY == 0:
                yield Progress(offset, size, path)
        report.records_total = index
        if no_image and tiles:  # a file of tiles: a record without an image is a broken tile
            report.problems += [Problem(i, o, NO_IMAGE, "tile") for i, o, _ in no_image]
            report.problems.sort(key=lambda p: p.offset)
        elif no_image:  # ordinary Examples: sound records, the tile checks do not apply
            report.records_ok += len(no_image)
            report.good_offsets = sorted(report.good_offsets + [(o, n) for _, o, n in no_image])
            report.notes.append(f"{len(no_image)} record(s) are not image tiles (no 'image_raw' field)")
        damage = source_damage(f)
        if damage is not None:  # a gzip stream cut short: its good records were counted above
            report.problems.append(Problem(index, size, damage))
        report.bytes_scanned = size
        yield Progress(size, size, path)
    return report


def verify(path: str | os.PathLike, check_images: bool = False) -> VerifyReport:
    """Check every record of a TFRecord; never modifies it. See `VerifyReport`."""
    return run_job(iter_verify(path, check_images=check_images))


def salvage(
    src: str | os.PathLike, dest: str | os.PathLike, overwrite: bool = False, check_images: bool = False
) -> VerifyReport:
    """Copy the good records of `src` into a new file `dest` (+ index); `src` is never touched.

    Returns the verify report of `src`: its `records_ok` records were written, its
    `records_bad` left out.
    """
    src, dest = os.fspath(src), os.fspath(dest)
    source, target = storage_for(src), storage_for(dest)
    if _exists(target, dest):
        if source.identity(src) == target.identity(dest):
            raise ValueError("salvage writes a new file; the destination cannot be the source")
        if not overwrite:
            raise FileExistsError(f"{dest} already exists (use overwrite to replace it)")
    report = verify(src, check_images=check_images)
    if not report.good_offsets:  # an empty copy would only look like a repaired file
        raise TFRecordError("no good record to salvage: nothing was written", src)
    offsets: list[tuple[int, int]] = []
    position = 0
    with open_source(src, source) as f, target.atomic_output(dest) as out:
        size = source_size(f)
        for offset, length in report.good_offsets:
            framed = frame_record(read_frame(f, offset, length, src, file_size=size, storage=source))
            out.write(framed)
            offsets.append((position, len(framed)))
            position += len(framed)
    if offsets:
        create_index(dest)  # the copy is known good: one scan gives offsets and locations
    return report


def _exists(storage: Storage, path: str) -> bool:
    try:
        storage.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return True
