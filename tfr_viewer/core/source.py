"""Every reader opens a TFRecord through `open_source`: the file its storage opens, or, for a
GZIP- or ZLIB-compressed TFRecord (TensorFlow's two compressions), its bytes inflated in memory
(handled once for every reader).

`cgroup_memory_limit` reads /proc and /sys directly: a probe of this machine's limits, not
data of any storage (the seam test names it as allowed).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from typing import BinaryIO

import crc32c

from .errors import TFRecordError
from .storage import Storage, storage_for

GZIP_MAGIC = b"\x1f\x8b"
# a zlib stream's first two bytes (deflate, 32 KiB window) for each compression level class
ZLIB_MAGICS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")
# zlib.decompressobj's wbits for each compression: a gzip header, a zlib header
WBITS = {"gzip": 31, "zlib": 15}
# how TensorFlow (`TFRecordOptions`, `tf.data.TFRecordDataset`) and the `tfrecord` package spell them
COMPRESSION_NAMES = {None: None, "": None, "gzip": "gzip", "zlib": "zlib"}


def check_compression(name: str | None) -> str | None:
    """A `compression_type=` argument checked: `'gzip'`, `'zlib'` (any case), or None / `''`
    (detect it from the bytes: a plain file reads as plain). Raises ValueError for others."""
    key = name.lower() if isinstance(name, str) else name
    if key not in COMPRESSION_NAMES:
        raise ValueError(f"compression_type must be 'gzip', 'zlib', '' or None, not {name!r}")
    return COMPRESSION_NAMES[key]


def sniff_compression(head: bytes) -> str | None:
    """'gzip', 'zlib' or None (plain) from a file's first 12 bytes.

    A plain TFRecord's first 8 bytes are a record length, which may start with the same two
    bytes as a gzip or zlib stream (a 24,184-byte record starts 78 5e): a first header whose
    length CRC holds is a plain file's, whatever its first bytes.
    """
    if len(head) >= 12:
        value = crc32c.crc32c(head[:8])
        masked = (((value >> 15) | (value << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        if masked == struct.unpack_from("<I", head, 8)[0]:
            return None
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:2] in ZLIB_MAGICS:
        return "zlib"
    return None


def compression_of(path: str | os.PathLike, storage: Storage | None = None) -> str | None:
    """'gzip', 'zlib' or None: TensorFlow writes compressed TFRecords under the same `.tfrecords`
    name, so the bytes tell (see `sniff_compression`)."""
    path = os.fspath(path)
    storage = storage_for(path) if storage is None else storage
    return sniff_compression(storage.read_ranges(path, [(0, 12)])[0])


def is_compressed(path: str | os.PathLike, storage: Storage | None = None) -> bool:
    """Whether the TFRecord is GZIP- or ZLIB-compressed (see `compression_of`)."""
    return compression_of(path, storage) is not None


GZIP_CHUNK = 1 << 20
GZIP_FIRST_STEP = 64  # input bytes first given to a new member (see `_inflate`)
GZIP_RETRY_STEP = 512  # input bytes per step when a piece fails: keeps what came before the damage
# JPEG/PNG tiles inflate ~1x, and even identical tiles stay near 100x (deflate repeats cost a few
# bytes per 258); runs of one byte, what decompression bombs are made of, reach ~1000x
MAX_GZIP_RATIO = 256
MIN_GZIP_ALLOWANCE = 64 << 20
CGROUP_ROOT = "/sys/fs/cgroup"


def _memory_budget() -> int:
    """Half the memory this process may use (the machine's, or its cgroup's limit when lower):
    a gzip stream that inflates beyond it is refused."""
    try:
        host = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        host = 16 << 30
    limit = cgroup_memory_limit()
    return min(host, limit if limit is not None else host) // 2


def cgroup_memory_limit(root: str | None = None, self_cgroup: str = "/proc/self/cgroup") -> int | None:
    """The lowest memory limit of this process's cgroup and the cgroups above it (v2
    `memory.max`, v1 `memory.limit_in_bytes`, under `root`, default `CGROUP_ROOT`), or None
    when there is none (or no cgroups)."""
    root = CGROUP_ROOT if root is None else root
    names = [""]  # the namespace's root (what a container sees)
    try:
        with open(self_cgroup, encoding="utf-8", errors="replace") as f:
            for line in f:
                _, controllers, rel = line.rstrip("\n").partition(":")[2].partition(":")
                if controllers in ("", "memory") or "memory" in controllers.split(","):
                    parts = [p for p in rel.split("/") if p]
                    names += ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    except OSError:
        pass
    limits = []
    for name in dict.fromkeys(names):
        for candidate in (os.path.join(root, name, "memory.max"), os.path.join(root, "memory", name, "memory.limit_in_bytes")):
            try:
                with open(candidate, encoding="ascii", errors="replace") as f:
                    text = f.read(64).strip()
            except OSError:
                continue
            if text.isdigit() and int(text) < 1 << 60:  # "max", or v1's huge number: no limit
                limits.append(int(text))
    return min(limits) if limits else None


class GzipSource(io.BytesIO):
    """The decompressed bytes of a gzip (or zlib) TFRecord. `damage` (None when the stream was whole)
    says why decompression stopped early; readers report it where the good bytes end.
    `len(f.getbuffer())` (or `source_size(f)`) is the inflated size, without a copy."""

    def __init__(self) -> None:
        super().__init__()
        self.damage: str | None = None


def source_damage(f: BinaryIO) -> str | None:
    """Why the bytes of `f` end early (a truncated or corrupt gzip or zlib stream), else None."""
    return getattr(f, "damage", None)


def open_source(
    path: str | os.PathLike, storage: Storage | None = None, compression: str | None = None
) -> BinaryIO:
    """A seekable binary file object for a TFRecord, opened by `storage` (default: the one
    `storage_for` picks), gzip or zlib already decompressed in memory.

    `compression` ('gzip', 'zlib', or None to detect it with `sniff_compression`; see
    `check_compression`) names what the file must be: a file whose bytes say otherwise raises
    `TFRecordError`. A compressed stream is inflated piece by piece: one that would grow past `MAX_GZIP_RATIO` times
    its size (and `MIN_GZIP_ALLOWANCE`), or past half the memory of the machine or cgroup,
    raises `TFRecordError` before taking that memory, and a truncated or corrupt one keeps the
    bytes before the damage (see `GzipSource`), as TensorFlow's reader yields the records before
    it. Raises `TFRecordError` when not a byte could be inflated or `path` is no regular file
    (a FIFO, a device: opened without blocking and refused), and `OSError` for files that
    cannot be opened.
    """
    path = os.fspath(path)
    storage = storage_for(path) if storage is None else storage
    try:
        f = storage.open(path)
    except TFRecordError:
        raise
    except ValueError as exc:  # not a regular file
        raise TFRecordError(str(exc), path) from None
    try:
        found = sniff_compression(f.read(12))
        f.seek(0)
        if compression is not None and found != compression:
            raise TFRecordError(f"not a {compression}-compressed TFRecord (compression_type={compression!r})", path)
        if found is None:
            return f
        with f:
            return _inflate(f, path, found)
    except BaseException:
        f.close()
        raise


def _inflate(f: BinaryIO, path: str | os.PathLike, kind: str = "gzip") -> GzipSource:
    """Inflate every member of the gzip (or every stream of the zlib) file `f` into one GzipSource.

    The output is written straight into the BytesIO (no second full copy at the end). zlib
    copies the input left over at the end of each member (`unused_data`), so each member is fed
    small pieces first (`GZIP_FIRST_STEP`, doubling while it goes on): a file of a million tiny
    members costs a small copy per member, not the rest of a 1 MiB chunk each time.
    """
    compressed = source_size(f)
    limit = max(MIN_GZIP_ALLOWANCE, min(MAX_GZIP_RATIO * compressed, _memory_budget()))
    out = GzipSource()
    inflater = zlib.decompressobj(wbits=WBITS[kind])
    first_byte = (GZIP_MAGIC if kind == "gzip" else ZLIB_MAGICS[0])[0]
    chunk, pos = memoryview(b""), 0  # input read from the file, and how far it was consumed
    step = GZIP_FIRST_STEP
    damage = None
    while True:
        if pos >= len(chunk):
            chunk, pos = memoryview(f.read(GZIP_CHUNK)), 0
            if not chunk:
                held = b"" if inflater.eof else inflater.flush()  # output zlib still holds
                out.write(held)
                if not inflater.eof:
                    damage = f"{kind} stream is truncated (the file ends inside it)"
                break
        if inflater.eof:  # another member follows (what `cat a.gz b.gz` makes), or padding
            if chunk[pos] != first_byte:
                if chunk[pos:].tobytes().strip(b"\x00"):
                    damage = f"unexpected bytes after the end of the {kind} stream"
                    break
                pos = len(chunk)  # zero padding to the end of this chunk
                continue
            inflater, step = zlib.decompressobj(wbits=WBITS[kind]), GZIP_FIRST_STEP
        piece = chunk[pos : pos + step]
        before = inflater.copy()
        try:
            out.write(inflater.decompress(piece, GZIP_CHUNK))
        except zlib.error as exc:
            damage = f"corrupt {kind} stream ({exc})"
            out.write(_inflate_until_error(before, piece.tobytes()))  # the failed piece's good start
            break
        left = len(inflater.unconsumed_tail) + len(inflater.unused_data)
        pos += len(piece) - left
        if not left and not inflater.eof:
            step = min(2 * step, GZIP_CHUNK)  # a long member: bigger pieces
        if out.tell() > limit:
            raise TFRecordError(
                f"{kind} stream inflates to more than {limit:,} bytes: refused (more than {MAX_GZIP_RATIO}x "
                "its size, or half the memory of this machine or its cgroup: it looks like a decompression bomb)",
                path,
            )
    if damage is not None and not out.tell():
        raise TFRecordError(damage, path)
    out.damage = damage
    out.seek(0)
    return out


def _inflate_until_error(inflater, data: bytes) -> bytes:
    """What `inflater` gives for `data` up to the byte where it fails: fed in small steps, and
    the step that fails once more byte by byte (zlib drops the output of a call that fails)."""
    good = bytearray()
    for start in range(0, len(data), GZIP_RETRY_STEP):
        step = data[start : start + GZIP_RETRY_STEP]
        before = inflater.copy()
        try:
            good += inflater.decompress(step)
        except zlib.error:
            for i in range(len(step)):
                try:
                    good += before.decompress(step[i : i + 1])
                except zlib.error:
                    break
            break
        if inflater.eof:
            break
    return bytes(good)


def source_size(f: BinaryIO) -> int:
    """Size of an open source in bytes (works for real files and in-memory buffers)."""
    if isinstance(f, io.BytesIO):
        return len(f.getbuffer())
    pos = f.tell()
    end = f.seek(0, os.SEEK_END)
    f.seek(pos)
    return end
