"""The one way to the bytes: every file-system touch of the core goes through a `Storage`.

A storage lists, stats, opens, reads ranges of and writes (temporary file, then rename) the
files of one kind of place. `LocalStorage` serves paths on this machine and keeps the fast paths
(`os.pread`, block reads into the caller's buffer). Readers, indexes, the dataset model and the
GUI ask `storage_for(path)` and never learn which kind they hold, so an fsspec-backed storage for
`s3://`, `gs://` or `https://` is one more class here and one more branch in `storage_for`.
"""

from __future__ import annotations

import os
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import BinaryIO, ContextManager, Sequence

from . import paths


@dataclass(frozen=True)
class FileInfo:
    """What a listing or a stat knows of one file: enough to notice that it changed."""

    path: str
    size: int
    mtime_ns: int
    is_file: bool = True  # a regular file (not a folder, a FIFO or a device)
    version: str = ""  # changes whenever the content may have: local size+mtime+inode, remote ETag


class Storage(ABC):
    """One kind of place files live in. Paths are plain strings in the storage's own spelling."""

    @abstractmethod
    def stat(self, path: str) -> FileInfo:
        """The file's size, time and version; raises FileNotFoundError or OSError."""

    @abstractmethod
    def is_dir(self, path: str) -> bool:
        """Whether `path` is a folder (False for a missing path)."""

    @abstractmethod
    def find_tfrecords(self, folder: str, follow_links: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
        """TFRecords under `folder` (recursively, natural order) and the places that could not be
        read, each with why: a folder we may not list is reported, it must not look empty."""

    @abstractmethod
    def open(self, path: str, max_size: int | None = None) -> BinaryIO:
        """`path` opened for reading (seekable, `readinto` works) when it is a regular file of at
        most `max_size` bytes; raises ValueError for anything else, OSError when it cannot be opened."""

    @abstractmethod
    def read_at(self, f: BinaryIO, offset: int, size: int) -> bytes:
        """`size` bytes of the open file `f` from `offset` (fewer at its end); the file position
        is not relied on. The random-access path of every reader."""

    def read_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The bytes of several `(offset, size)` ranges of one file: a remote storage fetches them
        as one batch of concurrent requests, a local one reads them in turn."""
        with self.open(path) as f:
            return [self.read_at(f, offset, size) for offset, size in ranges]

    @abstractmethod
    def atomic_output(self, dest: str, overwrite: bool = True) -> ContextManager[BinaryIO]:
        """A binary file to write `dest` through: it appears whole on a clean exit and never half
        (a failure or cancel leaves nothing); `overwrite=False` never replaces an existing `dest`."""

    @abstractmethod
    def make_dirs(self, folder: str) -> None:
        """`folder` and the folders above it, created where missing."""

    @abstractmethod
    def remove(self, path: str) -> None:
        """Delete one file (never a TFRecord of the user's: callers remove only what they wrote)."""

    @abstractmethod
    def identity(self, path: str) -> str:
        """A key equal for two spellings of one file (a link, '..'): a file reached twice is read once."""


class LocalStorage(Storage):
    """Files on this machine: POSIX calls, `pread` for ranges, non-blocking opens checked on the
    open descriptor (a FIFO or /dev/zero named like a TFRecord never hangs a reader)."""

    def stat(self, path: str) -> FileInfo:
        st = os.stat(path)
        return FileInfo(
            path,
            st.st_size,
            st.st_mtime_ns,
            stat.S_ISREG(st.st_mode),
            f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}",
        )

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def find_tfrecords(self, folder: str, follow_links: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
        return paths.find_tfrecords(folder, follow_links)

    def open(self, path: str, max_size: int | None = None) -> BinaryIO:
        return paths.open_regular_file(path, max_size)

    def read_at(self, f: BinaryIO, offset: int, size: int) -> bytes:
        try:
            fd = f.fileno()
        except (AttributeError, OSError, ValueError):  # an in-memory source (inflated gzip)
            f.seek(offset)
            return f.read(size)
        return os.pread(fd, size, offset)

    def atomic_output(self, dest: str, overwrite: bool = True) -> ContextManager[BinaryIO]:
        return paths.AtomicOutput(dest, overwrite=overwrite)

    def make_dirs(self, folder: str) -> None:
        paths.make_dirs(folder)

    def remove(self, path: str) -> None:
        os.unlink(path)

    def identity(self, path: str) -> str:
        return os.path.realpath(path)


LOCAL = LocalStorage()


def is_url(path: str | os.PathLike) -> bool:
    """Whether `path` names a place through a URL scheme (`s3://...`, `file://...`)."""
    text = os.fspath(path)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isidentifier() and len(scheme) > 1  # 'C://' is a Windows drive


def storage_for(path: str | os.PathLike) -> Storage:
    """The storage that serves `path`. Today local paths only: a URL raises a ValueError that
    says so (remote stores come with the `remote` extra)."""
    if is_url(path):
        scheme = os.fspath(path).partition("://")[0]
        raise ValueError(f"{os.fspath(path)}: {scheme}:// URLs are not supported yet (local paths only)")
    return LOCAL


# --- folder listings and the tile writer's scratch files (local) ------------------------------

import errno  # noqa: E402  (this block is kept apart from the interface above)
import shutil  # noqa: E402
from collections.abc import Iterable  # noqa: E402
from typing import NamedTuple  # noqa: E402

_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM}


class FolderEntry(NamedTuple):
    """One entry of a folder listing (a tuple: a listing makes one per file, so it is cheap).
    `kind`: 'dir', 'file' (regular; links followed), 'other' (a pipe, a device, a broken link)
    or 'unreadable (<why>)' (a link loop, an entry that cannot be checked)."""

    name: str
    path: str
    kind: str


def list_folder(folder: str | os.PathLike) -> list[FolderEntry]:
    """The entries of one folder, in the order the system lists them, not entered. The kinds
    come from the listing itself where the system tells them (no stat per entry); OSError when
    the folder cannot be read."""
    entries = []
    with os.scandir(folder) as listing:
        for entry in listing:
            try:
                kind = "dir" if entry.is_dir() else "file" if entry.is_file() else "other"
            except OSError as exc:
                kind = f"unreadable ({exc.strerror or exc})"
            entries.append(FolderEntry(entry.name, entry.path, kind))
    return entries


def write_scratch_file(path: str, parts: Iterable[bytes]) -> None:
    """Write a local scratch file that the caller reads back and removes within the same run
    (the tile writer's chunk files): no temporary name and no fsync, it never outlives the run."""
    with open(path, "wb") as f:
        for part in parts:
            f.write(part)


def append_scratch_file(out: BinaryIO, path: str, size: int) -> None:
    """Append the scratch file `path`, which must hold exactly `size` bytes, to the open file
    `out`: an in-kernel copy where the system has one, a buffered copy where it has not."""
    out.flush()
    with open(path, "rb") as src:
        held = os.fstat(src.fileno()).st_size
        if held != size:
            raise OSError(errno.EIO, f"chunk file {path} holds {held} bytes, expected {size}")
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
            raise OSError(errno.EIO, f"chunk file {path} ended early")
