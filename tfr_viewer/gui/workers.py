"""Everything that touches the disk or decodes pixels for the window runs here, off the GUI thread.

- `JobWorker`: runs one core job generator (yields Progress, returns a result) in a QThread,
  turning yields into `progress`, the return value into `result` and exceptions into `failed`;
  `cancel()` sets the job's CancelToken.
- `RequestWorker`: a long-lived thread serving a queue where only the newest requests matter
  (thumbnails of visible rows, the record of the current tile); stale requests are dropped.
- `ThumbnailLoader`, `RecordReader`, `ArrayBuilder`: the request workers (the last one builds
  the map's arrays, so that no big numpy work runs on the GUI thread).
- `IndexBuilderWorker`, `TFRecordWriterJob`, `open_dataset_job`: jobs for JobWorker.

Whatever a file holds, a worker survives it: each request that fails for any reason becomes
an answer with a readable reason (a broken tile), and the next request is served.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
import traceback
from collections import OrderedDict, deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QImage

from ..core.errors import TFRecordError
from ..core.dataset import manifest_total, read_manifest
from ..core.images import decode_image, decode_thumbnail, image_info, load_decoders, sniff_format
from ..core.index import IndexInfo, IndexResult, find_index, index_file
from ..core.local_storage import find_tfrecords
from ..core.storage import first_of_each_file
from ..core.processes import exit_with_parent
from ..core.progress import CancelToken, Cancelled, Job, Progress
from ..core.records import feature_kinds, field_order, parse_example
from ..core.source import GzipSource, source_size
from ..core.tfrecord import TFRecord

_ACTIVE: set[QThread] = set()
_ACTIVE_LOCK = threading.Lock()
_ORPHANS: set[QThread] = set()  # threads outliving their window: kept until they finish

MAX_OPEN_FILES = 32  # open TFRecords a request worker keeps for its next requests
MAX_CACHED_BYTES = 512 * 2**20  # inflated gzip files all request workers keep, together
MAX_SHOWN_FIELDS = 500  # fields of one record the metadata panel lists
MAX_VIEWER_SIDE = 4096  # the viewer keeps no bigger image: a screen never shows more


def active_threads() -> list[QThread]:
    """Worker threads still running (tests assert none is left behind)."""
    running = []
    with _ACTIVE_LOCK:
        for thread in list(_ACTIVE):
            try:
                if thread.isRunning():
                    running.append(thread)
            except RuntimeError:  # its C++ object is gone with its parent: not running
                _ACTIVE.discard(thread)
    return running


def user_message(exc: BaseException) -> str:
    """One readable line for a dialog or the status bar: what went wrong and with which file."""
    if isinstance(exc, TFRecordError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return "not enough memory"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def where_message(path: str, index: int, exc: BaseException) -> str:
    """A reason naming the file and record, whatever was raised (a TFRecordError names them itself)."""
    if isinstance(exc, TFRecordError):
        return str(exc) if exc.path else f"{path}, record {index}: {exc.reason}"
    return f"{path}, record {index}: {user_message(exc)}"


def orphan_thread(thread: QThread) -> None:
    """A thread still running when its owner goes: unparented and kept referenced until it ends,
    so it is never destroyed while running (Qt aborts the process if it is)."""
    try:
        if not thread.isRunning():
            return
        thread.setParent(None)
    except RuntimeError:  # already deleted
        return
    with _ACTIVE_LOCK:
        # forgotten from the GUI thread once finished (`_prune_orphans`): dropping the last
        # reference from its own `finished` signal would delete it while it still runs
        _ORPHANS.add(thread)
    _prune_orphans()


def _prune_orphans() -> None:
    with _ACTIVE_LOCK:
        for thread in [t for t in _ORPHANS if t.isFinished()]:
            _ORPHANS.discard(thread)


GC_INTERVAL_MS = 100  # how often the GUI thread runs the collections Python would have run


def collect_garbage_in_gui_thread() -> None:
    """Run Python's cyclic garbage collector in the GUI thread only (once per process).

    The collector runs in whichever thread happens to allocate when a threshold trips. A cycle
    that holds widgets (a closed window, a wizard, a dialog) freed in a worker thread deletes
    them there, and Qt's deletion then waits for a lock the GUI thread holds while it waits for
    the GIL: the window hangs. So automatic collection is off and a timer in the GUI thread runs
    the same generational collections (the pattern pyqtgraph's GarbageCollector uses)."""
    app = QCoreApplication.instance()
    if app is None or app.property("tfrViewerCollector"):
        return
    gc.disable()
    timer = QTimer(app)
    timer.setInterval(GC_INTERVAL_MS)

    def collect() -> None:
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                break

    timer.timeout.connect(collect)
    timer.start()
    app.setProperty("tfrViewerCollector", True)


def _start(worker: QObject, run: Callable[[], None], parent: QObject | None) -> QThread:
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(run)
    with _ACTIVE_LOCK:
        _ACTIVE.add(thread)

    def forget() -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(thread)

    thread.finished.connect(forget)
    thread.start()
    return thread


def orphans_running() -> int:
    """Orphaned threads still running (see `orphan_thread`)."""
    _prune_orphans()
    with _ACTIVE_LOCK:
        return len(_ORPHANS)


def wait_for_orphans(ms: int) -> bool:
    """Wait up to `ms` for orphaned threads to end; True when none runs any more."""
    deadline = time.monotonic() + ms / 1000
    with _ACTIVE_LOCK:
        threads = list(_ORPHANS)
    for thread in threads:
        thread.wait(max(0, int(1000 * (deadline - time.monotonic()))))
    return orphans_running() == 0


def _has_all_it_tells(info: IndexInfo) -> bool:
    """True unless the index is one of Slideflow's older forms (`.index.npy`, text `.index`),
    which hold offsets only: such a file is indexed again in the background for its locations."""
    return info.path is None or info.path.name.endswith(".npz") or info.locations is not None


class JobWorker(QObject):
    """Runs `factory(cancel_token)` -> job generator in its own thread."""

    progress = Signal(int, int, str)
    result = Signal(object)
    failed = Signal(str, str)  # readable message, details (traceback)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, factory: Callable[[CancelToken], Job[Any]], label: str = "", parent: QObject | None = None):
        super().__init__()
        self.factory = factory
        self.label = label
        self.token = CancelToken()
        self.thread: QThread | None = None
        self._parent = parent

    def start(self) -> "JobWorker":
        self.thread = _start(self, self._run, self._parent)
        return self

    def cancel(self) -> None:
        self.token.cancel()

    def wait(self, ms: int = 10_000) -> bool:
        """Wait for the thread to end; a thread still running after `ms` is orphaned (see
        `orphan_thread`) so that closing the window never destroys it while it runs."""
        if self.thread is None:
            return True
        done = self.thread.wait(ms)
        if not done:
            orphan_thread(self.thread)
        return done

    @Slot()
    def _run(self) -> None:
        last = 0.0
        try:
            job = self.factory(self.token)
            while True:
                try:
                    report = next(job)
                except StopIteration as stop:
                    if self.token.cancelled:
                        self.cancelled.emit()
                    else:
                        self.result.emit(stop.value)
                    break
                now = time.monotonic()
                if now - last > 0.2 or report.done >= report.total:
                    last = now
                    self.progress.emit(report.done, report.total, report.message)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # noqa: BLE001  (every error crosses to the GUI as a message)
            self.failed.emit(user_message(exc), traceback.format_exc())
        finally:
            self.finished.emit()
            # quit from here: a queued quit() would wait for the GUI loop, which may be wait()ing on us
            QThread.currentThread().quit()


class RequestWorker(QObject):
    """A thread that serves the newest requests first and forgets ones that were replaced."""

    finished = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._pending: list[Any] = []
        self._stopping = False
        self._files: OrderedDict[str, tuple[TFRecord, int]] = OrderedDict()  # key -> (file, bytes held)
        self._held_bytes = 0
        self.failures = 0  # requests that failed with an unexpected error (the thread served on)
        self.thread = _start(self, self._loop, parent)

    def submit(self, requests: list[Any], replace: bool = True) -> None:
        with self._cond:
            self._pending = list(requests) if replace else self._pending + list(requests)
            self._cond.notify()

    def clear(self) -> None:
        with self._cond:
            self._pending = []

    def stop(self, wait_ms: int = 5000) -> bool:
        """Stop after the request in hand; True when the thread ended within `wait_ms` (else it
        is orphaned, never destroyed while running)."""
        self.request_stop()
        done = self.thread.wait(wait_ms)
        if not done:
            orphan_thread(self.thread)
        return done

    def request_stop(self) -> None:
        """Ask the thread to end after the request in hand (does not wait)."""
        with self._cond:
            self._stopping = True
            self._pending = []
            self._cond.notify()

    @property
    def stopping(self) -> bool:
        """Long requests check this between steps and give up when the window closes."""
        return self._stopping

    def _take(self, n: int) -> list[Any]:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return []
            batch, self._pending = self._pending[:n], self._pending[n:]
            return batch

    @Slot()
    def _loop(self) -> None:
        try:
            self.prepare()
            while True:
                batch = self._take(self.batch_size)
                if not batch:
                    break
                try:
                    self.process(batch)
                except Exception as exc:  # noqa: BLE001  (a bug or a file nobody foresaw: serve on)
                    self.failures += 1
                    self.fail(batch, exc)
        finally:
            self._close_files()
            self.finished.emit()
            QThread.currentThread().quit()

    batch_size = 16

    def prepare(self) -> None:
        """One-time work in the worker's thread before the first request (at window start)."""

    cache_share = 0.0  # of MAX_CACHED_BYTES; the workers that open files share it out

    def tfrecord(self, entry: "FileEntry") -> TFRecord:
        """An open TFRecord for this file, kept for the next requests: at most MAX_OPEN_FILES,
        and inflated gzip files (held in memory) at most this worker's share of MAX_CACHED_BYTES."""
        key = f"{entry.path}\0{entry.version}"
        cached = self._files.get(key)
        if cached is not None:
            self._files.move_to_end(key)
            return cached[0]
        tfr = TFRecord(entry.path, create_index=False, index=entry.index)
        held = memory_held(tfr)
        self._files[key] = (tfr, held)
        self._held_bytes += held
        budget = MAX_CACHED_BYTES * self.cache_share
        while len(self._files) > 1 and (len(self._files) > MAX_OPEN_FILES or self._held_bytes > budget):
            _, (old, old_held) = self._files.popitem(last=False)
            self._held_bytes -= old_held
            old.close()
        return tfr

    def cached_bytes(self) -> int:
        """Memory the kept files hold (inflated gzip files)."""
        return self._held_bytes

    def _close_files(self) -> None:
        for tfr, _ in self._files.values():
            tfr.close()
        self._files.clear()
        self._held_bytes = 0

    def process(self, batch: list[Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def fail(self, batch: list[Any], exc: Exception) -> None:
        """Answer a batch whose processing raised: by default, nothing (subclasses answer each
        request with the reason)."""


def memory_held(tfr: TFRecord) -> int:
    """Bytes an open TFRecord keeps in memory: a gzip file is inflated whole, a plain file
    is read from disk on demand."""
    source = getattr(tfr, "_file", None)
    return source_size(source) if isinstance(source, GzipSource) else 0


def to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage that owns a copy of the (h, w, 3) uint8 pixels (safe to hand to another thread)."""
    pixels = np.ascontiguousarray(pixels)
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


@dataclass(frozen=True)
class ThumbRequest:
    generation: int
    row: int
    key: tuple[int, int]  # (file id, record index)
    entry: "FileEntry"
    size: int


class ThumbnailLoader(RequestWorker):
    """Decodes thumbnails (JPEG draft mode) for the rows the grid shows; emits them in batches.

    Requests accumulate (duplicates ignored); before decoding, a request for a row that has
    scrolled out of the visible range, or for an older model generation, is dropped.
    """

    ready = Signal(list)  # [(generation, row, key, QImage | None, error | None)]
    MARGIN = 24
    cache_share = 0.5

    def __init__(self, parent: QObject | None = None) -> None:
        self._visible = (0, 0, -1)  # generation, first row, last row (set by the GUI)
        self._visible_lock = threading.Lock()
        super().__init__(parent)

    def set_visible(self, generation: int, first: int, last: int) -> None:
        with self._visible_lock:
            self._visible = (generation, first, last)

    def submit(self, requests: list[Any], replace: bool = False) -> None:
        with self._cond:
            queued = {(r.generation, r.row) for r in self._pending}
            fresh = [r for r in requests if (r.generation, r.row) not in queued]
            self._pending = fresh if replace else self._pending + fresh
            self._cond.notify()

    def prepare(self) -> None:
        load_decoders()  # not with the first thumbnails, while the window shows a new folder

    def _still_wanted(self, request: ThumbRequest) -> bool:
        with self._visible_lock:
            generation, first, last = self._visible
        if request.generation != generation:
            return False
        return last < first or first - self.MARGIN <= request.row <= last + self.MARGIN

    def process(self, batch: list[ThumbRequest]) -> None:
        out = []
        for request in batch:
            if not self._still_wanted(request):
                out.append((request.generation, request.row, request.key, None, None))
                continue
            try:
                tfr = self.tfrecord(request.entry)
                raw = tfr.read_raw(request.key[1])
                data = image_bytes_of(raw, request.entry.path, request.key[1])
                image = to_qimage(decode_thumbnail(data, request.size))
                out.append((request.generation, request.row, request.key, image, None))
            except Exception as exc:  # noqa: BLE001  (any failure is this tile's: a broken tile)
                out.append((request.generation, request.row, request.key, None,
                            where_message(request.entry.path, request.key[1], exc)))
        self.ready.emit(out)

    def fail(self, batch: list[ThumbRequest], exc: Exception) -> None:
        self.ready.emit([(r.generation, r.row, r.key, None, where_message(r.entry.path, r.key[1], exc)) for r in batch])


def image_bytes_of(raw: dict[str, Any], path: str, index: int) -> bytes:
    """The record's `image_raw` bytes, or a TFRecordError saying what is there instead."""
    values = raw.get("image_raw")
    if values is None:
        raise TFRecordError("no image_raw field", path, index)
    if len(values) == 0:
        raise TFRecordError("image_raw is an empty list", path, index)
    data = values[0]
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TFRecordError(f"image_raw holds {type(data).__name__} values, not image bytes", path, index)
    return bytes(data)


@dataclass(frozen=True)
class RecordRequest:
    generation: int
    row: int
    key: tuple[int, int]
    entry: "FileEntry"


class RecordReader(RequestWorker):
    """Reads one record for the metadata panel and the tile viewer (newest request wins)."""

    ready = Signal(object)  # dict with details, or {'error': ...}
    batch_size = 1
    cache_share = 0.5

    def prepare(self) -> None:
        load_decoders()

    def process(self, batch: list[RecordRequest]) -> None:
        request = batch[-1]
        details: dict[str, Any] = {"generation": request.generation, "row": request.row, "key": request.key}
        try:
            details.update(self._read(request))
        except Exception as exc:  # noqa: BLE001  (any failure is this record's; the next one is read)
            details["error"] = where_message(request.entry.path, request.key[1], exc)
        self.ready.emit(details)

    def fail(self, batch: list[RecordRequest], exc: Exception) -> None:
        request = batch[-1]
        self.ready.emit({"generation": request.generation, "row": request.row, "key": request.key,
                         "error": where_message(request.entry.path, request.key[1], exc)})

    def _read(self, request: RecordRequest) -> dict[str, Any]:
        """The record's fields (at most MAX_SHOWN_FIELDS; `more_fields` counts the rest) and
        its image, scaled to at most MAX_VIEWER_SIDE."""
        path, i = request.entry.path, request.key[1]
        tfr = self.tfrecord(request.entry)
        payload = tfr.read_payload(i)
        raw = parse_example(payload, path, i)
        order = field_order(payload)
        kinds = feature_kinds(payload, path, i)
        names = list(dict.fromkeys(order + list(raw)))  # stored order first, then any other
        fields = []
        for name in names[:MAX_SHOWN_FIELDS]:
            if self.stopping:
                break
            values = raw.get(name, [])
            entry: dict[str, Any] = {"name": name, "kind": kinds.get(name, ""), "values": values}
            if values and isinstance(values[0], bytes) and sniff_format(values[0]):
                try:
                    entry["image"] = image_info(values[0])
                except Exception as exc:  # noqa: BLE001  (a field's bad image is said in its row)
                    entry["image_error"] = exc.reason if isinstance(exc, TFRecordError) else user_message(exc)
            fields.append(entry)
        offset, length = tfr.record_info(i)
        details: dict[str, Any] = dict(path=path, index=i, offset=offset, length=length, fields=fields,
                                       more_fields=max(0, len(names) - len(fields)))
        try:
            image = decode_image(image_bytes_of(raw, path, i))
            details["qimage"] = fit_qimage(to_qimage(image), MAX_VIEWER_SIDE)
            details["image_size"] = (int(image.shape[1]), int(image.shape[0]))
        except Exception as exc:  # noqa: BLE001  (the fields still show; the viewer says why no image)
            details["image_error"] = where_message(path, i, exc)
        return details


def fit_qimage(image: QImage, side: int) -> QImage:
    """The image, scaled down (aspect kept) when a side exceeds `side` pixels."""
    if image.width() <= side and image.height() <= side:
        return image
    return image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


@dataclass(frozen=True)
class BuildRequest:
    generation: int
    build: Callable[[], Any]  # numpy work on arrays the window hands over: no files, no widgets


class ArrayBuilder(RequestWorker):
    """Builds big arrays for the window off the GUI thread (the map's points); newest request wins.

    `ready(generation, result)` hands the finished arrays over; an exception is the result
    when the build failed.
    """

    ready = Signal(int, object)
    batch_size = 1

    def process(self, batch: list[BuildRequest]) -> None:
        request = batch[-1]
        try:
            result: Any = request.build()
        except Exception as exc:  # noqa: BLE001  (reported by the window)
            result = exc
        self.ready.emit(request.generation, result)

    def fail(self, batch: list[BuildRequest], exc: Exception) -> None:
        self.ready.emit(batch[-1].generation, exc)


# --- dataset opening and indexing -------------------------------------------------------------


@dataclass(eq=False)  # compared by identity: two entries are never "equal" by content
class FileEntry:
    """One TFRecord as the window knows it: its index (possibly partial) and its state."""

    path: str
    source: str
    index: IndexInfo | None = None
    state: str = "pending"  # pending | indexed | damaged | error | missing
    error: str | None = None
    size: int = 0
    mtime_ns: int = 0
    version: int = 0
    listed_count: int | None = None  # from manifest.json while the file waits for its index

    def apply(self, result: IndexResult) -> None:
        """Take a finished index (on the GUI thread: workers never mutate entries)."""
        self.index = result.info()
        self.state, self.error = result.state, result.error
        self.size, self.mtime_ns = result.size, result.mtime_ns
        self.version += 1

    @property
    def count(self) -> int:
        """Tiles the window can show (records covered by the index)."""
        return 0 if self.index is None else len(self.index.offsets)

    @property
    def slide(self) -> str:
        return Path(self.path).stem


@dataclass
class OpenedDataset:
    sources: list[str]
    files: list[FileEntry] = field(default_factory=list)
    unreadable_folders: list[tuple[str, str]] = field(default_factory=list)  # (folder, why)


def discover(paths: list[str], unreadable: list[tuple[str, str]] | None = None) -> list[FileEntry]:
    """TFRecords named or found (recursively) under the given paths, natural order; folders
    that cannot be read are added to `unreadable` as (folder, why)."""
    entries: list[FileEntry] = []
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        if path.is_dir():
            found, folders = find_tfrecords(path)
            if unreadable is not None:
                unreadable += folders
            entries += [FileEntry(f, str(path)) for f in found]
        elif path.is_file():
            entries.append(FileEntry(str(path), str(path.parent)))
        else:
            raise FileNotFoundError(2, "No such file or folder", str(path))
    return first_of_each_file(entries, lambda entry: entry.path)  # a file reached twice: once


def open_dataset_job(paths: list[str]) -> Callable[[CancelToken], Job[OpenedDataset]]:
    """Job: discover files and load every valid index; files without one stay 'pending' with
    their tile count from manifest.json when it is current (so a big folder lists at once)."""

    def job(token: CancelToken) -> Generator[Progress, None, OpenedDataset]:
        unreadable: list[tuple[str, str]] = []
        entries = discover(paths, unreadable)
        manifests: dict[str, dict] = {}
        for i, entry in enumerate(entries):
            token.raise_if_cancelled()
            try:
                st = os.stat(entry.path)
                entry.size, entry.mtime_ns = st.st_size, st.st_mtime_ns
                if st.st_size == 0:
                    entry.state, entry.error = "error", f"{entry.path}: empty file: holds no records"
                    continue
                info = find_index(entry.path)
            except Exception as exc:  # noqa: BLE001  (a bad index is this file's problem, not the folder's)
                message = user_message(exc)
                entry.state, entry.error = "error", message if entry.path in message else f"{entry.path}: {message}"
                continue
            if info is not None and _has_all_it_tells(info):
                entry.index, entry.state = info, "indexed"
            else:
                if entry.source not in manifests:
                    manifests[entry.source] = _manifest_or_nothing(entry.source)
                rel = os.path.relpath(entry.path, entry.source)
                try:
                    entry.listed_count = manifest_total(manifests[entry.source].get(rel), st)
                except Exception:  # noqa: BLE001  (a garbled entry: the count waits for the index)
                    entry.listed_count = None
            if i % 32 == 0:
                yield Progress(i + 1, len(entries), entry.path)
        yield Progress(len(entries), len(entries), "")
        return OpenedDataset([str(p) for p in paths], entries, unreadable)

    return job


def _manifest_or_nothing(source: str) -> dict:
    """The folder's manifest.json entries, or none when it cannot be read (only a hint)."""
    try:
        manifest = read_manifest(Path(source))
    except Exception:  # noqa: BLE001  (counts then come from the indexes)
        return {}
    return manifest if isinstance(manifest, dict) else {}


@dataclass
class FileStatus:
    file_id: int
    exists: bool
    size: int
    mtime_ns: int


def stat_files_job(paths: list[str]) -> Callable[[CancelToken], Job[list[FileStatus]]]:
    """Job: size and modification time of every file (to notice growth, truncation, deletion)."""

    def job(token: CancelToken) -> Generator[Progress, None, list[FileStatus]]:
        out = []
        for i, path in enumerate(paths):
            if i % 256 == 0:
                token.raise_if_cancelled()
            try:
                st = os.stat(path)
                out.append(FileStatus(i, True, st.st_size, st.st_mtime_ns))
            except OSError:
                out.append(FileStatus(i, False, 0, 0))
        yield Progress(len(paths), len(paths), "")
        return out

    return job


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def index_pool() -> ProcessPoolExecutor:
    """The process that indexes files, started once and reused (starting one costs the GIL
    tens of milliseconds, which the window would feel if it happened on every open)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            # the process ends with the window (even a killed one) and yields the CPU to it
            _POOL = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(), 10),
            )
        return _POOL


def warm_index_pool() -> None:
    """Start the indexing process now (at window start), before there is anything to index."""
    index_pool().submit(os.getpid)


def _reset_index_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None


def index_files_job(
    entries: list[FileEntry], on_file: Callable[[FileEntry, IndexResult], None]
) -> Callable[[CancelToken], Job[int]]:
    """Job: index each file in the indexing process (no GIL contention with the window).

    `on_file(entry, result)` is called in the worker thread for each finished file; it should
    only emit a signal: the entry itself is updated on the GUI thread (`FileEntry.apply`).
    Cancel takes effect between files; a file already being indexed finishes (atomically).
    """

    def submit(path: str) -> Future:
        try:
            return index_pool().submit(index_file, path)
        except BrokenProcessPool:  # the indexing process died: start a new one
            _reset_index_pool()
            return index_pool().submit(index_file, path)

    def job(token: CancelToken) -> Generator[Progress, None, int]:
        pending = list(entries)
        in_flight: deque = deque()
        done = 0
        try:
            yield Progress(0, len(entries), "")
            while pending or in_flight:
                while pending and len(in_flight) < 2:
                    entry = pending.pop(0)
                    in_flight.append((entry, submit(entry.path)))
                entry, future = in_flight.popleft()
                while True:
                    token.raise_if_cancelled()
                    try:
                        result = future.result(timeout=0.05)
                        break
                    except FutureTimeout:
                        continue
                    except BrokenProcessPool:
                        _reset_index_pool()
                        result = IndexResult(entry.path, "error", error=f"{entry.path}: the indexing process stopped")
                        break
                    except Exception as exc:  # noqa: BLE001  (this file's problem: the others go on)
                        message = user_message(exc)
                        error = message if entry.path in message else f"{entry.path}: {message}"
                        result = IndexResult(entry.path, "error", error=error)
                        break
                on_file(entry, result)  # applied to the entry on the GUI thread, not here
                done += 1
                yield Progress(done, len(entries), entry.path)
        finally:
            for _, future in in_flight:
                future.cancel()
        return done

    return job


class IndexBuilderWorker(JobWorker):
    """Indexes files without a valid index in the background; `fileIndexed(entry, result)`."""

    fileIndexed = Signal(object, object)

    def __init__(self, entries: list[FileEntry], parent: QObject | None = None) -> None:
        super().__init__(index_files_job(entries, self._emit_file), "Indexing", parent)

    def _emit_file(self, entry: FileEntry, result: IndexResult) -> None:
        self.fileIndexed.emit(entry, result)


class TFRecordWriterJob(JobWorker):
    """Runs a core writer job (`iter_write_tfrecords_single/multi`) for the conversion wizard."""

    def __init__(self, job_factory: Callable[[CancelToken], Job[Any]], parent: QObject | None = None) -> None:
        super().__init__(job_factory, "Converting", parent)


# --- jobs for the window's tools ----------------------------------------------------------------


def read_field_job(
    entries: list[FileEntry], file_ids: list[int], name: str
) -> Callable[[CancelToken], Job[tuple[np.ndarray, list[str]]]]:
    """Job: one numeric field of every record of these files, in tile order (NaN where absent or
    unreadable), and the problems met: a damaged file leaves NaN from its bad record on."""
    from ..core.loaders import tfrecord_loader

    def job(token: CancelToken) -> Generator[Progress, None, tuple[np.ndarray, list[str]]]:
        total = sum(entries[f].count for f in file_ids)
        out = np.full(total, np.nan)
        problems: list[str] = []
        pos = 0
        for f in file_ids:
            entry = entries[f]
            offsets = entry.index.offsets if entry.index is not None else None
            try:
                for i, record in enumerate(tfrecord_loader(entry.path, offsets, clip=entry.count)):
                    if i % 512 == 0:
                        token.raise_if_cancelled()
                    value = record.get(name)
                    if value is not None and getattr(value, "size", 0) == 1 and value.dtype.kind in "iuf":
                        out[pos + i] = float(value[0])
            except (TFRecordError, OSError) as exc:
                problems.append(str(exc))
            pos += entry.count
            yield Progress(pos, total, entry.path)
        return out, problems

    return job


def export_tiles_job(
    entries: list[FileEntry], keys: list[tuple[int, int]], folder: str
) -> Callable[[CancelToken], Job[Any]]:
    """Job: write the chosen tiles as image files (see `core.export`); returns an `ExportReport`
    whose skipped records name their file."""
    from ..core.export import ExportReport, iter_export_tiles

    by_file: dict[int, list[int]] = {}
    for file_id, record in keys:
        by_file.setdefault(file_id, []).append(record)

    def job(token: CancelToken) -> Generator[Progress, None, ExportReport]:
        report = ExportReport()
        for file_id, records in by_file.items():
            entry = entries[file_id]
            with TFRecord(entry.path, create_index=False, index=entry.index) as tfr:
                part = yield from iter_export_tiles(tfr, folder, records, None, token)
            report.written += part.written
            report.skipped += [(i, f"{entry.path}, record {i}: {reason}") for i, reason in part.skipped]
        return report

    return job


def verify_files_job(paths: list[str]) -> Callable[[CancelToken], Job[list]]:
    """Job: `core.verify` over several files; returns their reports."""
    from ..core.verify import iter_verify

    def job(token: CancelToken) -> Generator[Progress, None, list]:
        reports = []
        for path in paths:
            reports.append((yield from iter_verify(path, token)))
        return reports

    return job


def demo_dataset_job() -> Callable[[CancelToken], Job[Path]]:
    """Job: the demo dataset folder, generated on first use."""
    from ..demo import ensure_demo_dataset

    def job(_token: CancelToken) -> Generator[Progress, None, Path]:
        yield Progress(0, 1, "generating demo tiles")
        return ensure_demo_dataset()

    return job
