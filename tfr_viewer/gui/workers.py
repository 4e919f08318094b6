"""The thread machinery of the window: nothing here reads a file or decodes a pixel itself.

- `JobWorker`: runs one core job generator (yields Progress, returns a result) in a QThread,
  turning yields into `progress`, the return value into `result` and exceptions into `failed`;
  `cancel()` sets the job's CancelToken. The jobs themselves come from the core, beside the
  functions they run (`core.catalog`, `core.index_pool`, `core.tile_jobs`, `demo`).
- `IndexBuilderWorker`, `TFRecordWriterJob`: JobWorkers with a role (a signal per file indexed).
- The threads every worker runs in are tracked (tests assert none is left behind) and a thread
  still running when its window goes is kept alive until it ends (`orphan_thread`).
- Python's garbage collection runs on the GUI thread (`collect_garbage_in_gui_thread`).

The request workers (thumbnails, records, the map's arrays) are in `request_workers`.
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from ..core.catalog import FileEntry
from ..core.index import IndexResult
from ..core.index_pool import index_files_job
from ..core.messages import user_message
from ..core.progress import CancelToken, Cancelled, Job

_ACTIVE: set[QThread] = set()
_ACTIVE_LOCK = threading.Lock()
_ORPHANS: set[QThread] = set()  # threads outliving their window: kept until they finish


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


_FROZEN = False


def freeze_startup_objects() -> None:
    """Once per process, after the window's modules are imported (pyqtgraph's included): move
    every object alive now out of the collector's sight. Nearly all of them (~77,000 of ~84,000
    with a dataset open: functions, classes, Qt's enums) live as long as the process, yet a full
    collection walked them all: ~50 ms of the GUI thread every few seconds. They are still
    freed as usual when nothing refers to them; only a cycle among them would now stay."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.freeze()


def start_thread(worker: QObject, run: Callable[[], None], parent: QObject | None) -> QThread:
    """Move `worker` to a new thread that runs `run` and is tracked until it finishes."""
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
        self.thread = start_thread(self, self._run, self._parent)
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
