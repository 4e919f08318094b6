"""Workers of the slide view: each slide's overview (cached on disk by the core) and the
thumbnails of the tiles visible when zoomed in. Both answer the newest selection only: a
request for an older one, or for a tile that scrolled away, is dropped before any work.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Qt, Signal
from PySide6.QtGui import QImage

from ..core.catalog import FileEntry
from ..core.errors import TFRecordError
from ..core.images import load_decoders
from ..core.messages import user_message
from ..core.mosaic import load_or_build_overview
from ..core.progress import CancelToken, Job, Progress
from ..core.storage import storage_for
from ..core.thumb_decode import lower_thread_priority
from .request_workers import CachedThumbnails, RequestWorker, where_message

OVERVIEW_SIDE = 2048  # the window's overviews: 16 MiB of RGBA at most per slide
SMALLEST_LEVEL = 128
PROGRESS_EVERY_S = 0.2


@dataclass(frozen=True)
class OverviewRequest:
    generation: int
    group: int  # the slide's number on the map (its file id)
    first_row: int  # overall row of the file's record 0
    entry: FileEntry
    locations: np.ndarray  # the file's own (n, 2) tile centres
    step: float


@dataclass(frozen=True)
class OverviewImage:
    """An overview ready to draw: the image (made in the worker) and where it sits."""

    group: int
    images: tuple[QImage, ...]  # the overview, then each level half the size of the one before
    x0: float
    y0: float
    scale: float
    broken_rows: np.ndarray  # overall rows of the tiles that did not decode
    problems: list[str]


OVERVIEW_NICENESS = 10  # the overviews wait for the window and the grid's thumbnails


class OverviewLoader(RequestWorker):
    """Loads or builds each slide's overview, one slide at a time, in request order.

    `progress(generation, done, total, path)` while building; `ready(generation, answer)` with an
    `OverviewImage`, or a message naming the file when it could not be made; `stopped` when a
    build was cancelled (a new selection, the Stop button, the window closing)."""

    ready = Signal(int, object)
    progress = Signal(int, int, int, str)
    stopped = Signal(int)  # a build of this generation was cancelled part-way
    batch_size = 1

    def __init__(self, parent: QObject | None = None) -> None:
        self._token = CancelToken()
        self._generation = 0
        self._lock = threading.Lock()
        super().__init__(parent)

    def start_generation(self, generation: int, requests: list[OverviewRequest]) -> None:
        """Forget older requests (the one being built is cancelled) and queue these."""
        with self._lock:
            self._token.cancel()
            self._token = CancelToken()
            self._generation = generation
        self.submit(requests, replace=True)

    def request_stop(self) -> None:
        with self._lock:
            self._token.cancel()
        super().request_stop()

    def prepare(self) -> None:
        load_decoders()
        lower_thread_priority(OVERVIEW_NICENESS)

    def process(self, batch: list[OverviewRequest]) -> None:
        request = batch[0]
        with self._lock:
            if request.generation != self._generation:
                return
            token = self._token
        last = [0.0]

        def report(step: Progress) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or step.done >= step.total:
                last[0] = now
                self.progress.emit(request.generation, step.done, step.total, request.entry.path)

        try:
            overview = load_or_build_overview(request.entry.path, request.locations, request.step, OVERVIEW_SIDE,
                                              cancel=token, progress=report, index=request.entry.index,
                                              threads=1)  # the other core decodes the grid's thumbnails
        except Exception as exc:  # noqa: BLE001  (said in the window; the other slides still come)
            if token.cancelled:
                self.stopped.emit(request.generation)
            else:
                self.ready.emit(request.generation, f"{request.entry.path}: no overview ({where_reason(exc)})")
            return
        pixels = np.ascontiguousarray(overview.pixels)
        # premultiplied, the raster engine's own format: drawn as is, never converted per frame
        image = QImage(pixels.data, overview.width, overview.height, 4 * overview.width,
                       QImage.Format.Format_RGBA8888).convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        answer = OverviewImage(request.group, overview_levels(image), overview.x0, overview.y0, overview.scale,
                               overview.broken.astype(np.int64) + request.first_row, list(overview.problems))
        self.ready.emit(request.generation, answer)

    def fail(self, batch: list[OverviewRequest], exc: Exception) -> None:
        self.ready.emit(batch[0].generation, f"{batch[0].entry.path}: no overview ({where_reason(exc)})")


def overview_levels(image: QImage) -> tuple[QImage, ...]:
    """The image and smaller copies (each half the last, down to SMALLEST_LEVEL px): zoomed out,
    the map draws the copy nearest the screen's size; scaling the whole 2048 px image down in
    every frame took ~15 ms a slide."""
    levels = [image]
    while max(image.width(), image.height()) > SMALLEST_LEVEL:
        image = image.scaled(max(image.width() // 2, 1), max(image.height() // 2, 1),
                             Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
        levels.append(image)
    return tuple(levels)


def where_reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, TFRecordError) else user_message(exc)


@dataclass(frozen=True)
class TileRequest:
    generation: int
    row: int  # overall row
    entry: FileEntry
    record: int
    size: int


class TileImageLoader(CachedThumbnails):
    """The thumbnails of the tiles the zoomed-in map shows, through the grid's per-user cache
    and decoder; emits them in batches `ready([(generation, row, QImage | None, error | None)])`.
    Rows no longer on screen are dropped before decoding."""

    ready = Signal(list)
    cache_share = 0.0

    def __init__(self, parent: QObject | None = None) -> None:
        self._wanted: tuple[int, frozenset[int]] = (0, frozenset())
        self._wanted_lock = threading.Lock()
        super().__init__(parent)

    def want(self, generation: int, requests: list[TileRequest]) -> None:
        """These tiles are on screen now: queue them, and forget the others."""
        with self._wanted_lock:
            self._wanted = (generation, frozenset(r.row for r in requests))
        self.submit(requests, replace=True)

    def prepare(self) -> None:
        load_decoders()

    def _still_wanted(self, request: TileRequest) -> bool:
        with self._wanted_lock:
            generation, rows = self._wanted
        return request.generation == generation and request.row in rows

    def process(self, batch: list[TileRequest]) -> None:
        groups: dict[tuple[str, int, int], list[TileRequest]] = {}
        for request in batch:
            if self._still_wanted(request):
                groups.setdefault((request.entry.path, request.entry.version, request.size), []).append(request)
        out = []
        for requests in groups.values():
            answers = self.thumbnails(requests[0].entry, [r.record for r in requests], requests[0].size)
            out += [(r.generation, r.row, image, error) for r, (image, error) in zip(requests, answers)]
        if out:
            self.ready.emit(out)
        self.save_when_idle()

    def fail(self, batch: list[TileRequest], exc: Exception) -> None:
        self.ready.emit([(r.generation, r.row, None, where_message(r.entry.path, r.record, exc)) for r in batch])


def save_png_job(image: QImage, path: str) -> Callable[[CancelToken], Job[str]]:
    """A job (for `JobWorker`) that encodes `image` as PNG and writes it whole to `path` (a
    failure leaves no file): a 4,000 px export takes a second to encode, off the GUI thread."""

    def job(cancel: CancelToken) -> Job[str]:
        yield Progress(0, 2, path)
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise ValueError(f"could not encode the map as PNG ({image.width()} x {image.height()} px)")
        buffer.close()
        cancel.raise_if_cancelled()
        yield Progress(1, 2, path)
        with storage_for(path).atomic_output(path) as out:
            out.write(bytes(data))
        yield Progress(2, 2, path)
        return path

    return job
