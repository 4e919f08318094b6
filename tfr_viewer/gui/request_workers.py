"""Request workers: long-lived threads serving the window's newest requests, off the GUI thread.

- `RequestWorker`: a thread serving a queue where only the newest requests matter (thumbnails
  of visible rows, the record of the current tile); stale requests are dropped.
- `ThumbnailLoader`, `RecordReader`, `ArrayBuilder`: the request workers (the last one builds
  the map's arrays, so that no big numpy work runs on the GUI thread).

Whatever a file holds, a worker survives it: each request that fails for any reason becomes
an answer with a readable reason (a broken tile), and the next request is served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage

from ..core.catalog import FileEntry
from ..core.errors import TFRecordError
from ..core.images import decode_image, image_info, load_decoders, sniff_format
from ..core.messages import user_message
from ..core.records import feature_kinds, feature_lists, field_order, image_bytes, parse_example
from ..core.source import GzipSource, source_size
from ..core.tfrecord import TFRecord
from ..core.thumb_decode import DECODER_NICENESS, ThumbnailDecoder, lower_thread_priority, shared_decoder
from ..core.thumbnail_cache import ThumbnailCache, file_identity
from .workers import orphan_thread, start_thread

MAX_OPEN_FILES = 32  # open TFRecords a request worker keeps for its next requests
MAX_CACHED_BYTES = 512 * 2**20  # inflated gzip files all request workers keep, together
MAX_SHOWN_FIELDS = 500  # fields of one record the metadata panel lists
MAX_VIEWER_SIDE = 4096  # the viewer keeps no bigger image: a screen never shows more


def where_message(path: str, index: int, exc: BaseException) -> str:
    """A reason naming the file and record, whatever was raised (a TFRecordError names them itself)."""
    if isinstance(exc, TFRecordError):
        return str(exc) if exc.path else f"{path}, record {index}: {exc.reason}"
    return f"{path}, record {index}: {user_message(exc)}"


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
        self.thread = start_thread(self, self._loop, parent)

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

    def tfrecord(self, entry: FileEntry) -> TFRecord:
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
    entry: FileEntry
    size: int


class CachedThumbnails(RequestWorker):
    """A worker making thumbnails through the per-user cache and the shared decoder: the grid's
    loader and the slide view's share both (a tile seen in one is not decoded again for the other)."""

    def __init__(self, parent: QObject | None = None, cache: ThumbnailCache | None = None,
                 decoder: ThumbnailDecoder | None = None) -> None:
        self.cache = cache if cache is not None else ThumbnailCache()
        self.decoder = decoder if decoder is not None else shared_decoder()
        self._identities: dict[str, str | None] = {}  # file key -> identity when it was opened
        self._unsaved: list[tuple[str, str, int, list[tuple[int, np.ndarray]]]] = []  # for the cache
        super().__init__(parent)

    def identity(self, entry: FileEntry) -> str | None:
        """The file's identity for the cache, taken once per opened file; None (no caching)
        when the file is no longer what the catalog listed (its index may be of other content)."""
        key = f"{entry.path}\0{entry.version}"
        if key not in self._identities:
            identity = file_identity(entry.path)
            if identity is not None and not identity.startswith(f"{entry.size}:{entry.mtime_ns}:"):
                identity = None
            self._identities[key] = identity
        return self._identities[key]

    def thumbnails(self, entry: FileEntry, records: list[int], size: int) -> list[tuple[QImage | None, str | None]]:
        """(image, None) or (None, error naming file and record) for each record of one file at
        one size: cached ones first, the rest read here and decoded (on every core for big batches)."""
        identity = self.identity(entry)
        cached = self.cache.get(entry.path, identity, records, size) if identity else {}
        answers: list[tuple[QImage | None, str | None]] = [(None, None)] * len(records)
        to_decode: list[tuple[int, bytes]] = []  # (position, image bytes)
        for i, record in enumerate(records):
            if record in cached:
                answers[i] = (fit_qimage(to_qimage(cached[record]), size), None)
                continue
            try:
                to_decode.append((i, image_bytes(self.tfrecord(entry).read_raw(record), entry.path, record)))
            except Exception as exc:  # noqa: BLE001  (any failure is this tile's: a broken tile)
                answers[i] = (None, where_message(entry.path, record, exc))
        fresh = []
        for (i, _), pixels in zip(to_decode, self.decoder.decode([(data, size) for _, data in to_decode])):
            if isinstance(pixels, str):
                answers[i] = (None, f"{entry.path}, record {records[i]}: {pixels}")
            else:
                answers[i] = (fit_qimage(to_qimage(pixels), size), None)
                fresh.append((records[i], pixels))
        if identity and fresh:
            self._unsaved.append((entry.path, identity, size, fresh))
        return answers

    def save_when_idle(self) -> None:
        """New thumbnails go to the cache when no request waits: it never delays a screen."""
        with self._cond:
            idle = not self._pending
        if idle:
            self._save()

    def _save(self) -> None:
        unsaved, self._unsaved = self._unsaved, []
        for path, identity, size, fresh in unsaved:
            self.cache.put(path, identity, fresh, size)

    def _close_files(self) -> None:
        super()._close_files()
        self._save()
        self.cache.close()


class ThumbnailLoader(CachedThumbnails):
    """Thumbnails for the rows the grid shows, emitted in batches: from the per-user cache when
    it has them, else read here and decoded on every core (JPEG DCT scaling), then cached;
    Qt fits them to the size here.

    Requests accumulate (duplicates ignored); before decoding, a request for a row that has
    scrolled out of the visible range, or for an older model generation, is dropped.
    """

    ready = Signal(list)  # [(generation, row, key, QImage | None, error | None)]
    MARGIN = 24
    cache_share = 0.5

    def __init__(self, parent: QObject | None = None, cache: ThumbnailCache | None = None,
                 decoder: ThumbnailDecoder | None = None) -> None:
        self._visible = (0, 0, -1)  # generation, first row, last row (set by the GUI)
        self._visible_lock = threading.Lock()
        super().__init__(parent, cache, decoder)

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
        lower_thread_priority(DECODER_NICENESS)  # it decodes too: the window's thread comes first
        load_decoders()  # not with the first thumbnails, while the window shows a new folder

    def _still_wanted(self, request: ThumbRequest) -> bool:
        with self._visible_lock:
            generation, first, last = self._visible
        if request.generation != generation:
            return False
        return last < first or first - self.MARGIN <= request.row <= last + self.MARGIN

    def process(self, batch: list[ThumbRequest]) -> None:
        out: list[tuple] = []
        groups: dict[tuple[str, int, int], list[ThumbRequest]] = {}
        for request in batch:
            if self._still_wanted(request):
                groups.setdefault((request.entry.path, request.entry.version, request.size), []).append(request)
            else:
                out.append((request.generation, request.row, request.key, None, None))
        for requests in groups.values():
            answers = self.thumbnails(requests[0].entry, [r.key[1] for r in requests], requests[0].size)
            out += [(r.generation, r.row, r.key, image, error) for r, (image, error) in zip(requests, answers)]
        self.ready.emit(out)
        self.save_when_idle()

    def fail(self, batch: list[ThumbRequest], exc: Exception) -> None:
        self.ready.emit([(r.generation, r.row, r.key, None, where_message(r.entry.path, r.key[1], exc)) for r in batch])


@dataclass(frozen=True)
class RecordRequest:
    generation: int
    row: int
    key: tuple[int, int]
    entry: FileEntry


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
                                       more_fields=max(0, len(names) - len(fields)),
                                       feature_lists=feature_lists(payload, path, i))  # a SequenceExample's
        try:
            image = decode_image(image_bytes(raw, path, i))
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
