"""Files behind fsspec URLs (`s3://`, `gs://`, `az://`, `https://`, `memory://`, ...): a `Storage`
that reads by range requests and is never written by readers.

Why it looks as it does:
- Random access (a record through its index, a thumbnail) is one ranged GET of the record and
  the bytes after it up to `FIRST_BLOCK` (neighbouring tiles of a screen come with it; a request
  costs its latency more than its bytes); while reads keep going forward (a screen of
  thumbnails, then the next) that block doubles up to `READ_AT_BLOCK`. `read_ranges` and
  `prefetch_ranges` send a batch of ranges, of one file or many, as concurrent requests
  (`fs.cat_ranges`), ranges that overlap or lie close together joined into one.
- What random access fetched is kept in one `BlockCache` per storage (`BLOCK_CACHE_BYTES`),
  keyed by URL and ETag: the index check, the grid, the record viewer and the slide overview
  reading one file ask the server once.
- Sequential passes (index building, verify) read through `RemoteFile`, whose read-ahead grows
  from `FIRST_BLOCK` to `BLOCK_SIZE` while the reader keeps going forward: a file opened for one
  record costs one small request, a full pass a few big ones.
- Every open of a file asks for its first bytes (gzip magic, the first record header): the first
  `HEAD_BYTES` of each file version are kept, so those cost one request per file.
- A folder listing (`is_dir`, `find_tfrecords`: one request for both) keeps what it learned of
  every object for `LISTING_TTL_S`, or until `forget` (a refresh): the stat of a listed file,
  and of an index that is not there, cost no request.
- `writable = False`: indexes and manifests of remote files go to the per-user cache; only
  explicit writers (`convert`, `salvage`, `export` to a URL) write, through `atomic_output`
  (a local temporary file, then one upload) or `write_new`.
- A dropped connection is retried `RETRIES` times with backoff, then raised as an OSError naming
  the URL: that file's problem. A missing object or bucket is FileNotFoundError, refused
  credentials PermissionError (fsspec backends translate them so).

Endpoint and credentials come from each backend's own environment (for S3: `AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, profiles); more options (`--storage-option KEY=VALUE`) travel in the
environment variable `STORAGE_OPTIONS_ENV` as JSON, so spawned index processes and Dask workers
see them too.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import json
import os
import tempfile
import threading
import time
from datetime import datetime
from typing import Any, BinaryIO, Callable, Iterator, Sequence, TypeVar

import fsspec

from .naming import natural_key
from .remote_blocks import BlockCache
from .remote_file import FIRST_BLOCK, RemoteFile
from .storage import FileInfo, FolderEntry, Storage

T = TypeVar("T")

HEAD_BYTES = 64 << 10  # the first bytes of each file version, kept across opens
BLOCK_CACHE_BYTES = 64 << 20  # fetched ranges kept for every reader of the process
MERGE_GAP = 64 << 10  # ranges of one batch closer than this are fetched as one span
LISTING_TTL_S = 30.0  # how long a listing answers stats without asking the server again
RETRIES = 3  # tries of one request before a dropped connection is the file's problem
BACKOFF_S = 0.25  # first wait between tries; doubled each time
STORAGE_OPTIONS_ENV = "TFR_VIEWER_STORAGE_OPTIONS"
CREDENTIAL_ERRORS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                     "DefaultCredentialsError"}  # botocore's and google-auth's
ETAG_SCHEMES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}  # object stores whose every object has an ETag


def set_storage_options(options: dict[str, Any]) -> None:
    """Options handed to every fsspec file system of this process and of the processes it starts
    (`--storage-option KEY=VALUE`)."""
    os.environ[STORAGE_OPTIONS_ENV] = json.dumps(options)
    _STORAGES.clear()  # file systems made with the old options are not reused


def parse_storage_option(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` as fsspec wants it: true/false as booleans, whole numbers as ints, else text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{text!r}: a storage option is KEY=VALUE")
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return key.strip(), lowered == "true"
    if lowered.lstrip("-").isdigit():
        return key.strip(), int(lowered)
    return key.strip(), value


def _options() -> dict[str, Any]:
    text = os.environ.get(STORAGE_OPTIONS_ENV)
    return json.loads(text) if text else {}


def is_fsspec_protocol(scheme: str) -> bool:
    """Whether fsspec knows `scheme` (its backend may still need installing)."""
    return scheme.lower() in fsspec.available_protocols()


_STORAGES: dict[str, "FsspecStorage"] = {}
_STORAGES_LOCK = threading.Lock()


def storage_for_scheme(scheme: str) -> "FsspecStorage":
    """The one shared storage of `scheme` in this process (made at first use)."""
    scheme = scheme.lower()
    with _STORAGES_LOCK:
        if scheme not in _STORAGES:
            _STORAGES[scheme] = FsspecStorage(scheme, _options())
        return _STORAGES[scheme]


class FsspecStorage(Storage):
    """The files of one fsspec protocol. Paths are full URLs (`s3://bucket/key`)."""

    writable = False
    check_window = FIRST_BLOCK  # an index is checked against the records of a file's first and last block

    def __init__(self, scheme: str, options: dict[str, Any] | None = None) -> None:
        try:
            # a file system of its own (not fsspec's shared instance, nor its listings cache):
            # a new storage knows nothing yet, as in a new process
            self.fs = fsspec.filesystem(scheme, skip_instance_cache=True, **(options or {}))
        except ImportError as exc:  # the protocol's backend (s3fs, gcsfs, adlfs) is not installed
            raise OSError(f"{scheme}:// URLs need a package that is not installed ({exc})") from None
        self.scheme = scheme
        self.versions_are_exact = scheme in ETAG_SCHEMES
        self._lock = threading.Lock()
        self._known: dict[str, tuple[float, FileInfo]] = {}  # url -> (when, its stat)
        # a listing: the prefix every name it holds starts with (a folder's url and "/", or a
        # file's up to its last dot) -> (when, the files it named)
        self._listed: dict[str, tuple[float, list[str]]] = {}
        self.blocks = BlockCache(BLOCK_CACHE_BYTES)
        self._fetching: dict[threading.Event, tuple[str, str, int, int]] = {}  # blocks being fetched: set when done

    # --- locations -------------------------------------------------------------------------------

    def url(self, name: str) -> str:
        """A path as the backend spells it (`bucket/key`) back as a URL of our scheme."""
        return f"{self.scheme}://{name.lstrip('/')}" if self.scheme != "file" else f"file://{name}"

    def identity(self, path: str) -> str:
        scheme, _, rest = path.partition("://")
        return f"{scheme.lower()}://{rest.rstrip('/')}"

    # --- stat and listing ------------------------------------------------------------------------

    def _info(self, entry: dict) -> FileInfo:
        name = entry.get("name", "")
        size = int(entry.get("size") or entry.get("Size") or 0)
        mtime = entry.get("LastModified") or entry.get("mtime") or entry.get("last_modified") or entry.get("created")
        if isinstance(mtime, datetime):
            mtime_ns = int(mtime.timestamp() * 1e9)
        elif isinstance(mtime, (int, float)):
            mtime_ns = int(mtime * 1e9)
        else:
            mtime_ns = 0
        etag = str(entry.get("ETag") or entry.get("etag") or entry.get("md5Hash") or "").strip('"')
        is_file = entry.get("type") == "file"
        return FileInfo(self.url(name), size, mtime_ns, is_file, etag or f"{size}:{mtime_ns}")

    def _from_listing(self, path: str) -> FileInfo | None:
        """What a recent listing says of `path`; FileNotFoundError when a listing of the names
        it starts with did not hold it; None when no listing knows."""
        now = time.monotonic()
        with self._lock:
            known = self._known.get(path)
            if known is not None and now - known[0] < LISTING_TTL_S:
                return known[1]
            for prefix, (when, _) in self._listed.items():
                if now - when < LISTING_TTL_S and path.startswith(prefix):
                    raise FileNotFoundError(2, "No such file", path)
        return None

    def _listing(self, folder: str) -> list[str] | None:
        """The files of a recent listing of `folder`, None when there is none."""
        with self._lock:
            listed = self._listed.get(folder.rstrip("/") + "/")
        if listed is None or time.monotonic() - listed[0] >= LISTING_TTL_S:
            return None
        return listed[1]

    def _remember_listing(self, prefix: str, found: dict) -> list[str]:
        """Every object of a listing of the names starting with `prefix` remembered (a name it
        lacks then raises FileNotFoundError without a request); the files it names."""
        now = time.monotonic()
        infos = [self._info(entry) for entry in found.values()]
        files = [info.path for info in infos if info.is_file and info.path.startswith(prefix)]
        with self._lock:
            for info in infos:
                self._known[info.path] = (now, info)
            self._listed[prefix] = (now, files)
        return files

    def _list(self, path: str) -> list[str] | None:
        """One recursive listing under `path` (one request for a folder), every object it names
        remembered; the files under it, or None when `path` is no folder (a file is remembered
        too: fsspec's `find` of a file names the file itself)."""
        found = self._retry(path, "list", lambda: self.fs.find(path, detail=True, withdirs=True))
        folder = path.rstrip("/") + "/"
        if not any(self.url(name).startswith(folder) for name in found):
            for entry in found.values():  # the file itself
                info = self._info(entry)
                with self._lock:
                    self._known[info.path] = (time.monotonic(), info)
            return None
        return self._remember_listing(folder, found)

    def _list_names_like(self, path: str) -> bool:
        """On an object store, one listing of the objects named like `path` up to its last dot
        (`a.tfrecords` -> `a.`): the file and every index name of it (`a.index`, `a.index.npz`,
        `a.index.npy`) in one request, not a HEAD each. False where that cannot be asked."""
        folder, _, name = path.rstrip("/").rpartition("/")
        if not self.versions_are_exact or "." not in name or not folder.partition("://")[2]:
            return False
        prefix = name[: name.rindex(".") + 1]

        def find() -> dict | None:
            try:
                return self.fs.find(folder, prefix=prefix, detail=True)
            except (TypeError, ValueError, NotImplementedError):  # a backend whose `find` takes no prefix
                return None

        found = self._retry(path, "list", find)
        if found is None:
            return False
        self._remember_listing(f"{folder}/{prefix}", found)
        return True

    def stat(self, path: str) -> FileInfo:
        known = self._from_listing(path)
        if known is None and self._list_names_like(path):
            known = self._from_listing(path)  # FileNotFoundError when the listing lacks it
        if known is not None:
            return known
        info = self._info(self._retry(path, "stat", lambda: self.fs.info(path)))
        info = FileInfo(path, info.size, info.mtime_ns, info.is_file, info.version)
        with self._lock:
            self._known[path] = (time.monotonic(), info)
        return info

    def is_dir(self, path: str) -> bool:
        """From a recent listing, else by listing `path` (what `find_tfrecords` then reuses: one
        request opens a folder). A name with an extension is asked as an object first."""
        if self._listing(path) is not None:
            return True
        try:
            known = self._from_listing(path)
            if known is not None:
                return not known.is_file
            if "." in path.rstrip("/").rpartition("/")[2]:
                with contextlib.suppress(FileNotFoundError):
                    if self.stat(path).is_file:
                        return False
            return self._list(path) is not None
        except FileNotFoundError:
            return False

    def find_tfrecords(self, folder: str, follow_links: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
        files = self._listing(folder)
        if files is None:
            try:
                files = self._list(folder) or []
            except (FileNotFoundError, PermissionError) as exc:
                return [], [(folder, str(exc) or type(exc).__name__)]
        return sorted((f for f in files if f.endswith(".tfrecords")), key=natural_key), []

    def forget(self, paths: Sequence[str]) -> None:
        """What listings and reads taught of these files (and the listings of the folders
        holding them) is dropped: the next stat or read asks the server (a refresh)."""
        with self._lock:
            for path in paths:
                self._known.pop(path, None)
                self._listed = {prefix: v for prefix, v in self._listed.items()
                                if not (path.startswith(prefix) or path.rstrip("/") + "/" == prefix)}
        for path in paths:
            self.blocks.forget(path)
            self.fs.invalidate_cache(path)  # the backend's own listings cache (s3fs answers `info` from it)

    def list_folder(self, folder: str) -> list[FolderEntry]:
        entries = self._retry(folder, "list", lambda: self.fs.ls(folder, detail=True))
        out = []
        for entry in entries:
            info = self._info(entry)
            name = info.path.rstrip("/").rpartition("/")[2]
            out.append(FolderEntry(name, info.path, "file" if info.is_file else "dir"))
        return out

    # --- reading ---------------------------------------------------------------------------------

    def open(self, path: str, max_size: int | None = None) -> BinaryIO:
        info = self.stat(path)
        if not info.is_file:
            raise ValueError("not a regular file")
        if max_size is not None and info.size > max_size:
            raise ValueError(f"{info.size:,} bytes, more than the {max_size:,} allowed")
        return RemoteFile(self, info)

    def read_at(self, f: BinaryIO, offset: int, size: int) -> bytes:
        if isinstance(f, RemoteFile):
            return f.read_at(offset, size)
        f.seek(offset)  # an in-memory source (inflated gzip)
        return f.read(size)

    def prefetch(self, f: BinaryIO, ranges: Sequence[tuple[int, int]]) -> None:
        if isinstance(f, RemoteFile):
            self.prefetch_ranges([(f.info.path, int(offset), int(size)) for offset, size in ranges])

    def prefetch_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> None:
        """Fetch the `(path, offset, size)` ranges, of one file or many, as one batch of
        concurrent requests into the block cache, where the reads about to come find them. A
        range that cannot be fetched is left to its read, which reports why."""
        spans: list[tuple[FileInfo, int, int]] = []
        by_path: dict[str, list[tuple[int, int]]] = {}
        for path, offset, size in ranges:
            by_path.setdefault(path, []).append((offset, offset + size))
        for path, wanted in by_path.items():
            try:
                info = self.stat(path)
            except OSError:
                continue
            key = (path, info.version)
            missing = [(a, min(b, info.size)) for a, b in wanted
                       if b > a and a < info.size and self.blocks.get(key, a, min(b, info.size) - a) is None]
            spans += [(info, a, b) for a, b in merged_spans(missing)]
        if not spans:
            return
        try:
            fetched = self._retry(spans[0][0].path, "read", lambda: self.fs.cat_ranges(
                [info.path for info, _, _ in spans], [a for _, a, _ in spans], [b for _, _, b in spans],
                on_error="return"))
        except OSError:
            return
        for (info, start, end), data in zip(spans, fetched):
            if isinstance(data, bytes) and len(data) == end - start:
                self.blocks.put((info.path, info.version), start, data)

    def read_ranges(self, path: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        if not ranges:
            return []
        info = self.stat(path)
        out: list[bytes | None] = [self.cached(info, offset, size) for offset, size in ranges]
        wanted = [(ranges[i][0], min(ranges[i][0] + ranges[i][1], info.size), i)
                  for i, got in enumerate(out) if got is None]
        if wanted:
            spans = merged_spans([(start, end) for start, end, _ in wanted])
            fetched = self._retry(path, "read", lambda: self.fs.cat_ranges(
                [path] * len(spans), [a for a, _ in spans], [b for _, b in spans], on_error="raise"))
            for (start, _), data in zip(spans, fetched):
                self.blocks.put((path, info.version), start, bytes(data))
            for start, end, i in wanted:
                k = bisect.bisect_right(spans, (start, float("inf"))) - 1
                out[i] = bytes(fetched[k][start - spans[k][0] : end - spans[k][0]])
        return [bytes(data or b"") for data in out]

    def fetch(self, info: FileInfo, start: int, end: int) -> bytes:
        """Bytes `start`..`end` of the file (clipped to its size), in one ranged request."""
        end = min(end, info.size)
        if end <= start:
            return b""
        return self._retry(info.path, "read", lambda: self.fs.cat_file(info.path, start=start, end=end))

    def fetch_block(self, info: FileInfo, offset: int, size: int, end: int) -> bytes:
        """Bytes `offset`..`offset + size`, fetching `offset`..`end` into the block cache. A block
        another reader of the file is fetching right now (the grid and the slide overview start
        on the same records) is waited for, not asked for again."""
        key = (info.path, info.version)
        for attempt in range(2):
            with self._lock:
                data = self.blocks.get(key, offset, size)
                if data is not None:
                    return data
                busy = next((event for event, (path, version, a, b) in self._fetching.items()
                             if (path, version) == key and a <= offset and offset + size <= b), None)
                if busy is None or attempt:
                    mine = threading.Event()
                    self._fetching[mine] = (*key, offset, end)
                    break
            busy.wait()
        try:
            block = self.fetch(info, offset, end)
            self.blocks.put(key, offset, block)
        finally:
            with self._lock:
                del self._fetching[mine]
            mine.set()
        return block[:size]

    def cached(self, info: FileInfo, offset: int, size: int) -> bytes | None:
        """The range from the block cache, or from the file's first `HEAD_BYTES` (fetched once
        per file version: every open reads them); None when it must be fetched."""
        if size <= 0:
            return b""
        key = (info.path, info.version)
        data = self.blocks.get(key, offset, size)
        if data is None and offset + size <= HEAD_BYTES:
            self.blocks.put(key, 0, self.fetch(info, 0, HEAD_BYTES))
            data = self.blocks.get(key, offset, size)
        return data

    def _retry(self, path: str, what: str, call: Callable[[], T]) -> T:
        """`call()`, tried again after a dropped connection or a server error; a missing object
        or refused credentials are not retried."""
        for attempt in range(RETRIES):
            try:
                return call()
            except FileNotFoundError as exc:  # backends raise it without errno or filename
                raise FileNotFoundError(errno.ENOENT, _missing(exc), path) from None
            except PermissionError as exc:
                reason = " ".join(str(exc).split()) or "access denied"
                raise PermissionError(errno.EACCES, f"access refused ({reason})", path) from None
            except (IsADirectoryError, NotADirectoryError):
                raise
            except Exception as exc:  # noqa: BLE001 - each backend has its own connection errors
                if type(exc).__name__ in CREDENTIAL_ERRORS:  # no credentials at all: asking again is no use
                    raise PermissionError(errno.EACCES, f"no credentials ({' '.join(str(exc).split())})", path) from None
                if attempt == RETRIES - 1:
                    reason = " ".join(str(exc).split()) or type(exc).__name__
                    raise OSError(f"{path}: {what} failed after {RETRIES} tries ({reason})") from None
                time.sleep(BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")

    # --- writing (explicit writers only: readers never write here) ------------------------------

    @contextlib.contextmanager
    def atomic_output(self, dest: str, overwrite: bool = True) -> Iterator[BinaryIO]:
        """A local temporary file, uploaded in one put on a clean exit: the object appears whole
        or not at all (a failure or cancel uploads nothing)."""
        with tempfile.NamedTemporaryFile(prefix=".tfr-viewer-upload-", suffix=".partial") as local:
            yield local
            local.flush()
            if not overwrite and self.fs.exists(dest):
                raise FileExistsError(17, "File exists", dest)
            self._retry(dest, "upload", lambda: self.fs.put_file(local.name, dest))
        self.forget([dest])

    def write_new(self, path: str, data: bytes) -> None:
        if self.fs.exists(path):
            raise FileExistsError(17, "File exists", path)
        self._retry(path, "upload", lambda: self.fs.pipe_file(path, bytes(data)))
        self.forget([path])

    def make_dirs(self, folder: str) -> None:
        if self.scheme in ("file", "local"):
            self.fs.makedirs(folder, exist_ok=True)  # object stores have no folders to make

    def remove(self, path: str) -> None:
        self.fs.rm_file(path)
        self.forget([path])


def merged_spans(ranges: Sequence[tuple[int, int]], gap: int = MERGE_GAP) -> list[tuple[int, int]]:
    """The (start, end) ranges as the fewest sorted spans that cover them, joining ranges that
    overlap or lie less than `gap` bytes apart: one request instead of several (a request costs
    more than that many bytes)."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if spans and start < spans[-1][1] + gap:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _missing(exc: FileNotFoundError) -> str:
    """What the backend said of a missing object or bucket, without repeating the path."""
    text = exc.strerror or (str(exc.args[0]) if exc.args else "")
    return text if text and " " in text else "No such file or object"
