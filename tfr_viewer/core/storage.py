"""The one way to the bytes: every file-system touch of the core goes through a `Storage`.

A storage lists, stats, opens, reads ranges of and writes (temporary file, then rename) the
files of one kind of place. `LocalStorage` serves paths on this machine and keeps the fast paths
(`os.pread`, block reads into the caller's buffer). Readers, indexes, the dataset model and the
GUI ask `storage_for(path)` and never learn which kind they hold, so an fsspec-backed storage for
`s3://`, `gs://` or `https://` is one more class and one `register_storage` call.

A new storage: subclass `Storage` (ranged reads for `read_at`, the ETag as `FileInfo.version`,
`atomic_output` as a local temporary file put once on a clean exit), set `writable = False` when
readers must never write into it (indexes then go to the per-user cache, keyed by URL), and
`register_storage(scheme, factory)`. Only the storage modules touch the file system: the test
`tests/core/test_storage_seam.py` and an import-linter contract hold that line.
"""

from __future__ import annotations

import os
import posixpath
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager, Iterable, NamedTuple, Sequence, TypeVar

from . import local_storage
from .naming import COMPRESSED_EXTENSIONS
from .urls import is_url

T = TypeVar("T")


@dataclass(frozen=True)
class FileInfo:
    """What a listing or a stat knows of one file: enough to notice that it changed."""

    path: str
    size: int
    mtime_ns: int
    is_file: bool = True  # a regular file (not a folder, a FIFO or a device)
    version: str = ""  # changes whenever the content may have: local size+mtime+inode, remote ETag


class FolderEntry(NamedTuple):
    """One entry of a folder listing (a tuple: a listing makes one per file, so it is cheap).
    `kind`: 'dir', 'file' (regular; links followed), 'other' (a pipe, a device, a broken link)
    or 'unreadable (<why>)' (a link loop, an entry that cannot be checked)."""

    name: str
    path: str
    kind: str


class Storage(ABC):
    """One kind of place files live in. Paths are plain strings in the storage's own spelling."""

    # whether readers may write beside the files (indexes): a storage that must only ever be
    # read (a remote bucket a viewer looks at) says False, and indexes go to the per-user cache
    writable: bool = True
    # whether `stat().version` changes whenever the content does (an object store's ETag): an
    # index cached under that version is trusted without sampling the file's records
    versions_are_exact: bool = False
    # bytes at each end of a file whose records an index is checked against, fetched in the
    # same batch as the index itself, when every read is a network request (0: a storage whose
    # reads cost no round trip samples records all through the file)
    check_window: int = 0

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

    def prefetch(self, f: BinaryIO, ranges: Sequence[tuple[int, int]]) -> None:
        """Say which `(offset, size)` ranges of the open file `f` are about to be read with
        `read_at`: a remote storage fetches them now as one batch of concurrent requests (one
        network round trip instead of one each); a local one has nothing to gain."""

    def prefetch_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> None:
        """Say which `(path, offset, size)` ranges, of one file or many, are about to be read: a
        remote storage fetches them now as one batch of concurrent requests; a local one has
        nothing to gain."""

    def forget(self, paths: Sequence[str]) -> None:
        """Drop what was learned of these files (listings, stats, bytes read): the next look
        asks the storage itself (a refresh). A storage that remembers nothing does nothing."""

    @abstractmethod
    def atomic_output(self, dest: str, overwrite: bool = True) -> ContextManager[BinaryIO]:
        """A binary file to write `dest` through: it appears whole on a clean exit and never half
        (a failure or cancel leaves nothing); `overwrite=False` never replaces an existing `dest`."""

    @abstractmethod
    def write_new(self, path: str, data: bytes) -> None:
        """Create `path` holding `data`; FileExistsError (nothing written) when it exists, and
        a failure part-way leaves no file."""

    @abstractmethod
    def list_folder(self, folder: str) -> list[FolderEntry]:
        """The entries of one folder (not recursive, in the order the storage lists them): what a
        new file's name must not clash with, and the images a conversion reads. OSError when the
        folder cannot be read."""

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
        return local_storage.find_tfrecords(folder, follow_links)

    def open(self, path: str, max_size: int | None = None) -> BinaryIO:
        return local_storage.open_regular_file(path, max_size)

    def read_at(self, f: BinaryIO, offset: int, size: int) -> bytes:
        if _HAS_PREAD:
            try:
                fd = f.fileno()
            except (AttributeError, OSError, ValueError):  # an in-memory source (inflated gzip)
                pass
            else:
                return os.pread(fd, size, offset)  # no seek: the position is left alone
        f.seek(offset)
        return f.read(size)

    def atomic_output(self, dest: str, overwrite: bool = True) -> ContextManager[BinaryIO]:
        return local_storage.AtomicOutput(dest, overwrite=overwrite)

    def write_new(self, path: str, data: bytes) -> None:
        local_storage.write_new(path, data)

    def list_folder(self, folder: str) -> list[FolderEntry]:
        return [FolderEntry(*entry) for entry in local_storage.list_folder(folder)]

    def make_dirs(self, folder: str) -> None:
        local_storage.make_dirs(folder)

    def remove(self, path: str) -> None:
        os.unlink(path)

    def identity(self, path: str) -> str:
        return os.path.realpath(path)


_HAS_PREAD = hasattr(os, "pread")  # not on Windows
LOCAL = LocalStorage()


def first_of_each_file(items: Iterable[T], path_of: Callable[[T], str], seen: set[str] | None = None) -> list[T]:
    """`items` without those whose file was met before (by its storage's `identity`: a folder
    named twice, through '..' or a link, holds the same files); `seen` carries the identities
    across calls."""
    seen = set() if seen is None else seen
    unique = []
    for item in items:
        path = path_of(item)
        identity = storage_for(path).identity(path)
        if identity not in seen:
            seen.add(identity)
            unique.append(item)
    return unique


# --- spelling locations: a URL stays a URL (`Path("s3://b/k")` would fold its "//") ----------


def absolute(path: str | os.PathLike) -> str:
    """A location as the catalog spells it: a URL as given, a local path user-expanded and
    absolute (not resolved: a link keeps the name the user gave)."""
    text = os.fspath(path)
    return text if is_url(text) else str(Path(text).expanduser().absolute())


def join(folder: str, name: str) -> str:
    """`name` inside `folder`."""
    return f"{folder.rstrip('/')}/{name}" if is_url(folder) else os.path.join(folder, name)


def parent(path: str) -> str:
    """The folder that holds `path`."""
    return path.rstrip("/").rpartition("/")[0] if is_url(path) else os.path.dirname(path)


def relative(path: str, folder: str) -> str:
    """`path` spelled from inside `folder` (the keys of manifest.json)."""
    if not is_url(path):
        return os.path.relpath(path, folder)
    prefix = folder.rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


def base_name(path: str) -> str:
    """The last part of `path`: a file's or a folder's own name."""
    return path.rstrip("/").rpartition("/")[2] if is_url(path) else Path(path).name


def stem(path: str) -> str:
    """The file's name without its extension (and without `.gz`/`.zlib` after it): a slide's
    name, the same for `slide.tfrecords` and `slide.tfrecords.gz`."""
    name = base_name(path) if is_url(path) else Path(path).name
    if name.lower().endswith(COMPRESSED_EXTENSIONS):
        name = posixpath.splitext(name)[0]
    return posixpath.splitext(name)[0]


class URLLocation(os.PathLike):
    """A URL where code builds locations the pathlib way (`folder / name`, `.name`, `.parent`):
    `Path("s3://b/k")` would fold its '//'; this keeps it."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") if url.rstrip("/").partition("://")[2] else url

    def __fspath__(self) -> str:
        return self.url

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"URLLocation({self.url!r})"

    def __truediv__(self, name: str) -> "URLLocation":
        return URLLocation(join(self.url, name))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URLLocation) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    @property
    def name(self) -> str:
        return base_name(self.url)

    @property
    def parent(self) -> "URLLocation":
        return URLLocation(parent(self.url))


def location(path: str | os.PathLike) -> Path | URLLocation:
    """`Path(path)` for a local path, a `URLLocation` for a URL: for code that joins with `/`."""
    text = os.fspath(path)
    return URLLocation(text) if is_url(text) else Path(text)


_FACTORIES: dict[str, Callable[[str], Storage]] = {}


def register_storage(scheme: str, factory: Callable[[str], Storage]) -> None:
    """Serve URLs of `scheme` (`"s3"` for `s3://...`) with `factory(scheme)`'s storage. The
    factory is called at each `storage_for`, so it may import its backend late and should
    return a shared instance (each reader asks once per file, never per record)."""
    _FACTORIES[scheme.lower()] = factory


class UnsupportedURL(ValueError):
    """A URL whose scheme no storage serves: said to the user as it is, on one line."""


def storage_for(path: str | os.PathLike) -> Storage:
    """The storage that serves `path`: `LOCAL` for a plain path, the registered storage of a
    URL's scheme, else fsspec's for any protocol it knows (with the `remote` extra installed);
    an `UnsupportedURL` (a ValueError) says what to install or that nothing serves the scheme."""
    if is_url(path):
        scheme = os.fspath(path).partition("://")[0]
        factory = _FACTORIES.get(scheme.lower())
        if factory is not None:
            return factory(scheme)
        return _remote_storage(os.fspath(path), scheme)
    return LOCAL


REMOTE_EXTRA = "tfr-viewer[remote]"


def _remote_storage(url: str, scheme: str) -> Storage:
    """The fsspec storage of `scheme` (imported late: fsspec is an extra), or why there is none."""
    try:
        from . import remote_storage
    except ImportError:
        raise UnsupportedURL(f"{url}: install '{REMOTE_EXTRA}' to read {scheme}:// URLs") from None
    if not remote_storage.is_fsspec_protocol(scheme):
        raise UnsupportedURL(f"{url}: {scheme}:// URLs are not supported (no fsspec backend knows {scheme}://)")
    try:
        return remote_storage.storage_for_scheme(scheme)
    except OSError as exc:  # the protocol's own package (s3fs, gcsfs, adlfs) is missing
        raise UnsupportedURL(f"{url}: {exc}; install '{REMOTE_EXTRA}'") from None
