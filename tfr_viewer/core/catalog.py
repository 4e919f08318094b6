"""The dataset model: the TFRecords of the opened sources, each with its index state and count.

One discovery, one way to open and one notion of "a file and its count", shared by the window
(through its workers), `Dataset` and the CLI. Operations are jobs (generators that yield
`Progress`, take a `CancelToken` and return their result), so the same function runs in a CLI
loop, a test or a worker thread; per-file work is a plain function of a path.

Index states: pending (waits for its index) | indexed | damaged (indexed up to the damage) |
error (nothing readable) | missing (deleted or moved since it was opened).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

from .index import IndexInfo, IndexResult, find_index
from .manifest import manifest_hint, manifest_total
from .messages import file_message, one_line
from .progress import CancelToken, Job, Progress, run_job
from .storage import FileInfo, absolute, first_of_each_file, is_url, parent, relative, stem, storage_for
from .verified import remember_verify, verified_ok
from .verify import Problem, VerifyReport, iter_verify

T = TypeVar("T")
R = TypeVar("R")
STAT_CANCEL_EVERY = 256  # files stat'ed between checks of the cancel token


@dataclass(eq=False)  # compared by identity: two entries are never "equal" by content
class FileEntry:
    """One TFRecord of the catalog: its index (possibly partial) and its state."""

    path: str
    source: str  # the folder it was found under, or the folder of a file named directly
    index: IndexInfo | None = None
    state: str = "pending"  # pending | indexed | damaged | error | missing
    error: str | None = None
    size: int = 0
    mtime_ns: int = 0
    version: int = 0  # bumped whenever what a reader of this file sees may have changed
    listed_count: int | None = None  # from manifest.json while the file waits for its index
    verified: bool = False  # `verify` found it sound at its current size and time

    def apply(self, result: IndexResult) -> None:
        """Take a finished index (the window does so on the GUI thread: workers never mutate entries)."""
        self.index = result.info()
        self.state, self.error = result.state, result.error
        if (result.size, result.mtime_ns) != (self.size, self.mtime_ns):
            self.verified = False  # verify's word was about other bytes
        self.size, self.mtime_ns = result.size, result.mtime_ns
        self.version += 1

    def mark_missing(self) -> None:
        """The file was deleted or moved: nothing of it can be read any more."""
        self.state, self.index = "missing", None
        self.error = f"{self.path}: the file was deleted or moved"
        self.version += 1

    def mark_changed(self, status: "FileStatus") -> None:
        """The file changed on disk: it waits for a new index."""
        self.state, self.verified = "pending", False
        self.size, self.mtime_ns = status.size, status.mtime_ns

    @property
    def count(self) -> int:
        """Tiles that can be shown (records covered by the index)."""
        return 0 if self.index is None else len(self.index.offsets)

    @property
    def slide(self) -> str:
        return stem(self.path)


@dataclass
class OpenedDataset:
    """The catalog of opened sources: their files, and the folders that could not be listed."""

    sources: list[str]  # the paths as given
    files: list[FileEntry] = field(default_factory=list)
    unreadable_folders: list[tuple[str, str]] = field(default_factory=list)  # (folder, why)
    folders: list[str] = field(default_factory=list)  # given folders (absolute) holding a file of `files`, or none


def discover(paths: Sequence[str | os.PathLike]) -> OpenedDataset:
    """TFRecords named or found (recursively) under the given paths, in natural order, each
    file once (however it was reached); folders that cannot be read are listed as (folder, why),
    the given folder itself included. A path that is neither a folder nor a file raises
    FileNotFoundError."""
    entries: list[FileEntry] = []
    unreadable: list[tuple[str, str]] = []
    listed: list[tuple[str, list[FileEntry]]] = []  # (given folder, the entries found under it)
    for raw in paths:
        path = absolute(raw)
        storage = storage_for(path)
        if storage.is_dir(path):
            found, folders = storage.find_tfrecords(path)
            unreadable += folders
            listed.append((path, [FileEntry(f, path) for f in found]))
            entries += listed[-1][1]
        elif _is_file(path):
            entries.append(FileEntry(path, parent(path)))
        else:
            raise FileNotFoundError(2, "No such file or folder", path)
    files = first_of_each_file(entries, lambda entry: entry.path)  # a file reached twice: once
    kept = {id(entry) for entry in files}
    # a folder whose every file was reached through an earlier path is not a source of its own
    folders = [folder for folder, found in listed if not found or any(id(e) in kept for e in found)]
    return OpenedDataset([os.fspath(p) for p in paths], files, unreadable, folders)


def _is_file(path: str) -> bool:
    try:
        return storage_for(path).stat(path).is_file
    except OSError:
        return False


def _has_all_it_tells(info: IndexInfo) -> bool:
    """True unless the index is one of Slideflow's older forms (`.index.npy`, text `.index`),
    which hold offsets only: such a file is indexed again in the background for its locations."""
    return info.path is None or os.fspath(info.path).endswith(".npz") or info.locations is not None


def open_catalog(
    paths: Sequence[str | os.PathLike], cancel: CancelToken | None = None, load_indexes: bool = True
) -> Job[OpenedDataset]:
    """Job: discover the files and stat each; with `load_indexes`, load every valid index, and
    a file without one stays 'pending' with its tile count from manifest.json when that is
    current (so a big folder lists at once). Without, files are only listed and stat'ed
    (`Dataset` counts through its manifest). An empty file is an 'error'."""
    token = cancel or CancelToken()
    opened = discover(paths)
    entries = opened.files
    manifests: dict[str, dict] = {}
    def look(entry: FileEntry) -> tuple[FileInfo | None, IndexInfo | None, str | None]:
        # the first file (the one the window shows first) has its first screen fetched with its index
        return look_at_file(entry.path, load_indexes, FIRST_SCREEN_BYTES if entry is entries[0] else 0)

    looks = _each_file(look, entries, token)
    for i, (entry, (st, info, error)) in enumerate(zip(entries, looks)):
        if i % 32 == 0:
            yield Progress(i + 1, len(entries), entry.path)
        if st is not None:
            entry.size, entry.mtime_ns = st.size, st.mtime_ns
        if error is not None:
            entry.state, entry.error = "error", error
            continue
        entry.verified = load_indexes and verified_ok(entry.path, st)
        if info is not None and _has_all_it_tells(info):
            entry.index, entry.state = info, "indexed"
        elif load_indexes:
            if entry.source not in manifests:
                manifests[entry.source] = manifest_hint(entry.source)
            entry.listed_count = _listed_count(manifests[entry.source], entry, st)
    yield Progress(len(entries), len(entries), "")
    return opened


REMOTE_FILES_AT_ONCE = 32  # files of a remote storage looked at together: each waits on the network
# bytes of the first file of an open fetched with its index: on a remote storage the window's
# first screen of thumbnails then asks nothing more
FIRST_SCREEN_BYTES = 2 << 20


def look_at_file(
    path: str, load_indexes: bool = True, first_bytes: int = 0
) -> tuple[FileInfo | None, IndexInfo | None, str | None]:
    """One file of an open: its stat, its valid index (with `load_indexes`; `first_bytes` of the
    file wanted soon, see `find_index`) and why it cannot be read (an empty file, a bad index
    that raised), as plain values (it runs in a worker thread)."""
    st = None
    try:
        st = storage_for(path).stat(path)
        if st.size == 0:
            return st, None, f"{path}: empty file: holds no records"
        return st, (find_index(path, first_bytes=first_bytes) if load_indexes else None), None
    except Exception as exc:  # noqa: BLE001  (a bad index is this file's problem, not the folder's)
        return st, None, file_message(path, exc)


def _each_file(look: Callable[[T], R], items: Sequence[T], token: CancelToken) -> Iterator[R]:
    """`look(item)` for each item (a path or an entry), in order. Files behind URLs are looked
    at `REMOTE_FILES_AT_ONCE` at a time (their time is network latency); local ones one by one."""
    if len(items) < 2 or not any(is_url(getattr(item, "path", item)) for item in items):
        for item in items:
            token.raise_if_cancelled()
            yield look(item)
        return
    with ThreadPoolExecutor(REMOTE_FILES_AT_ONCE, thread_name_prefix="open-remote") as pool:
        futures = [pool.submit(look, item) for item in items]
        try:
            for future in futures:
                token.raise_if_cancelled()
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _listed_count(manifest: dict, entry: FileEntry, st: FileInfo) -> int | None:
    try:
        return manifest_total(manifest.get(relative(entry.path, entry.source)), st)
    except Exception:  # noqa: BLE001  (a garbled entry: the count waits for the index)
        return None


def open_dataset_job(paths: list[str]) -> Callable[[CancelToken], Job[OpenedDataset]]:
    """The window's open: `open_catalog` with indexes, as a job factory for a worker."""
    return lambda token: open_catalog(paths, token)


# --- changes on disk ----------------------------------------------------------------------------


@dataclass
class FileStatus:
    file_id: int  # position in the list of paths that was stat'ed
    exists: bool
    size: int
    mtime_ns: int


def stat_files(paths: Sequence[str], cancel: CancelToken | None = None) -> Job[list[FileStatus]]:
    """Job: size and modification time of every file (to notice growth, truncation, deletion),
    asked afresh: what a storage remembered of them (a bucket's listing) is forgotten first."""
    token = cancel or CancelToken()
    for path in filter(is_url, paths):
        storage_for(path).forget([path])
    out = []
    for i, status in enumerate(_each_file(_file_status, paths, token)):
        if i % STAT_CANCEL_EVERY == 0:
            token.raise_if_cancelled()
        out.append(FileStatus(i, *status))
    yield Progress(len(paths), len(paths), "")
    return out


def _file_status(path: str) -> tuple[bool, int, int]:
    """(exists, size, mtime_ns) of one file."""
    try:
        st = storage_for(path).stat(path)
        return True, st.size, st.mtime_ns
    except (OSError, ValueError):  # ValueError: a URL no storage serves
        return False, 0, 0


def stat_files_job(paths: list[str]) -> Callable[[CancelToken], Job[list[FileStatus]]]:
    """`stat_files` as a job factory for a worker."""
    return lambda token: stat_files(paths, token)


@dataclass
class DiskChanges:
    """What a stat of the open files found: statuses of files gone since, and of files that
    changed (grew, shrank or were rewritten) and must be indexed again."""

    deleted: list[FileStatus] = field(default_factory=list)
    changed: list[FileStatus] = field(default_factory=list)


def disk_changes(entries: Sequence[FileEntry], statuses: Sequence[FileStatus]) -> DiskChanges:
    """Decide, without touching the entries, what the statuses mean: a file not there any more
    is deleted (once: a missing file stays missing), a file whose size or time differs from
    what its entry knows has changed, unless it already waits for its index."""
    changes = DiskChanges()
    for status in statuses:
        entry = entries[status.file_id]
        if not status.exists:
            if entry.state != "missing":
                changes.deleted.append(status)
        elif (status.size, status.mtime_ns) != (entry.size, entry.mtime_ns) and entry.state != "pending":
            changes.changed.append(status)
    return changes


# --- verify -------------------------------------------------------------------------------------


def iter_verify_files(
    paths: Sequence[str], cancel: CancelToken | None = None, check_images: bool = False
) -> Job[list[VerifyReport]]:
    """Job: `verify` each file (progress counts the records of the file at hand); an error
    nobody foresaw is that file's problem, the other files are still checked."""
    reports = []
    for path in paths:
        try:
            report = yield from iter_verify(path, cancel, check_images=check_images)
            remember_verify(path, report.ok)
            reports.append(report)
        except Exception as exc:  # noqa: BLE001
            if cancel is not None and cancel.cancelled:
                raise
            reports.append(verify_failure(path, exc))
    return reports


def verify_file(path: str, check_images: bool = False) -> VerifyReport:
    """One file's `verify` as a plain function (what a Dask task runs): what goes wrong is the
    file's report, never an exception."""
    try:
        return run_job(iter_verify(path, check_images=check_images))
    except Exception as exc:  # noqa: BLE001
        return verify_failure(path, exc)


def verify_failure(path: str, exc: BaseException) -> VerifyReport:
    """The report of a file whose verify stopped on an error nobody foresaw."""
    report = VerifyReport(path)
    report.problems.append(Problem(0, 0, f"verify stopped: {type(exc).__name__}: {one_line(exc)}"))
    return report


def verify_files_job(paths: list[str]) -> Callable[[CancelToken], Job[list[VerifyReport]]]:
    """`iter_verify_files` as a job factory for a worker."""
    return lambda token: iter_verify_files(paths, token)
