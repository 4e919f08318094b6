"""Slideflow's pure-Python TFRecord loaders: `tfrecord_loader` and `multi_tfrecord_loader`.

Records are read sequentially (one seek per shard, never one per record). The usual tile
layout (image first) is read by hand with protobuf decoding only the small entries once each;
any other layout is parsed by the upb protobuf runtime. Fields come back as numpy arrays the
way Slideflow returns them.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .errors import TFRecordError
from .framing import FRAMING_SIZE, iter_frames
from .record_decoder import KIND_BY_TYPE, RecordDecoder
from .source import check_compression, open_source, source_size
from .storage import storage_for

Description = Sequence[str] | Mapping[str, str] | None
Clip = int | Sequence[int | None] | Mapping[str | bytes | os.PathLike, int] | None

MAX_OPEN_FILES = 64  # multi loader: readers kept open at once (the rest resume from their offset)
_DRAWS = 4096  # multi loader: random choices drawn per numpy call


class RecordLoader:
    """What the loaders return: an iterable of records whose every `iter()` is a fresh pass.

    Slideflow's loaders are iterables, not one-shot generators: its page reads
    `next(iter(loader))` and then loops `for record in loader` over all records. `next(loader)`
    also works here (Slideflow has no such call): it continues one pass kept by the loader.
    """

    def __init__(self, start_pass: Callable[[], Iterator[dict[str, Any]]]) -> None:
        self._start_pass = start_pass
        self._pass: Iterator[dict[str, Any]] | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._start_pass()

    def __next__(self) -> dict[str, Any]:
        if self._pass is None:
            self._pass = self._start_pass()
        return next(self._pass)

    def close(self) -> None:
        """Close the pass `next(loader)` walks (passes of `for` loops close with their loop)."""
        if self._pass is not None:
            self._pass.close()  # type: ignore[attr-defined]
            self._pass = None


@dataclass(frozen=True)
class _Plan:
    """Which bytes and records of one file a loader reads."""

    path: str
    index: np.ndarray | None
    start: int  # byte offset of the first record
    end: int | None  # byte offset where reading stops (None: end of file)
    first: int  # record number of the first record (for error messages)
    budget: int | None  # records to yield (None: until `end`)
    compression: str | None = None  # 'gzip' | 'zlib' required, None: detected from the bytes


def _normalise_description(description: Description) -> dict[str, str | None] | None:
    """name -> expected protobuf list kind (None = any); None or empty means every field."""
    if isinstance(description, str):
        raise TypeError("description must be a list of field names or a dict, not a string")
    if description is not None and not isinstance(description, Mapping):
        description = list(description)
    if not description:  # Slideflow: None or empty means "all"
        return None
    if isinstance(description, Mapping):
        out: dict[str, str | None] = {}
        for name, kind in description.items():
            if kind is not None and kind not in KIND_BY_TYPE:
                raise ValueError(f"description[{name!r}] must be 'byte', 'int' or 'float', not {kind!r}")
            out[name] = None if kind is None else KIND_BY_TYPE[kind]
        return out
    return {name: None for name in description}


def _check_index(index: Any, path: str) -> np.ndarray | None:
    """The (n, 2) int64 offsets array; a 1-D pair (one-record file, as Slideflow allows) is reshaped."""
    if index is None:
        return None
    arr = np.asarray(index)
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr.reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise TFRecordError(f"index must be an (n, 2) integer array, got shape {arr.shape} {arr.dtype}", path)
    if len(arr) and (arr[:, 0].min() < 0 or arr[:, 1].min() < FRAMING_SIZE):
        raise TFRecordError("index holds a negative offset or a length shorter than a record's framing", path)
    return arr.astype(np.int64, copy=False)


def _check_shard(shard: tuple[int, int] | None) -> tuple[int, int] | None:
    if shard is None:
        return None
    try:
        shard_id, n_shards = shard
    except (TypeError, ValueError):
        raise ValueError(f"shard must be a pair (i, n), got {shard!r}") from None
    ints = (int, np.integer)
    if not (isinstance(shard_id, ints) and isinstance(n_shards, ints) and 0 <= shard_id < n_shards):
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard!r}")
    return int(shard_id), int(n_shards)


def _check_clip(clip: Any) -> int | None:
    if clip is None:
        return None
    if not isinstance(clip, (int, np.integer)) or isinstance(clip, bool) or clip < 0:
        raise ValueError(f"clip must be an integer >= 0, got {clip!r}")
    return int(clip)


def shard_bounds(n_records: int, shard_id: int, n_shards: int) -> tuple[int, int]:
    """Records [first, last) of shard `shard_id`: contiguous chunks sized like `np.array_split`
    (Slideflow's split), so the first `n % n_shards` shards hold one record more."""
    size, extra = divmod(n_records, n_shards)
    first = shard_id * size + min(shard_id, extra)
    return first, first + size + (1 if shard_id < extra else 0)


def _plan(
    path: str, index: np.ndarray | None, shard: tuple[int, int] | None, clip: int | None, compression: str | None
) -> _Plan:
    if index is None:
        if shard is not None:
            raise ValueError("shard needs an index (see tfrecord2idx.create_index)")
        return _Plan(path, None, 0, None, 0, clip, compression)
    n = len(index) if clip is None else min(clip, len(index))
    first, last = (0, n) if shard is None else shard_bounds(n, *shard)
    if first >= last:
        return _Plan(path, index, 0, 0, first, 0, compression)
    end = int(index[last - 1, 0]) + int(index[last - 1, 1])  # Python ints: no wrap-around
    return _Plan(path, index, int(index[first, 0]), end, first, last - first, compression)


def tfrecord_loader(
    data_path: str | os.PathLike,
    index: np.ndarray | None = None,
    description: Description = None,
    shard: tuple[int, int] | None = None,
    clip: int | None = None,
    verify_crc: bool = True,
    compression_type: str | None = None,
) -> RecordLoader:
    """Parsed records of one TFRecord, in file order, as Slideflow's loader returns them.

    Returns an iterable: each `iter(loader)` (each `for` loop) reads from the first record
    again, as Slideflow's `ExampleIterator` does, so `next(iter(loader))` followed by
    `for record in loader` reads every record; `next(loader)` walks one pass kept inside.

    `image_raw`, `slide` and other single bytes fields come back as uint8 arrays of the bytes
    (several bytes values: a list of them), int fields as int64 arrays (`loc_x` -> `array([768])`),
    float fields as float32 arrays. `index` is the (n, 2) offsets array (`arr_0`) or None for a
    plain sequential read.

    `clip=k` keeps the first k records (`clip=0` yields none; Slideflow reads all for 0).
    `shard=(i, n)` (needs the index) takes the i-th of n
    contiguous chunks of the (clipped) records, sized like `np.array_split` as in Slideflow: the
    n shards are disjoint and together yield every record exactly once. `description` selects
    fields: a list of names, or a dict name -> 'byte'|'int'|'float' that is also checked
    (a mismatch or a missing field raises `TFRecordError` naming file, record and field);
    None or empty means every field. Both CRCs are checked unless `verify_crc=False`. Bad data
    raises `TFRecordError` after the good records before it were yielded. Arguments are checked
    when called, not at the first record. `compression_type` as TensorFlow and the `tfrecord`
    package spell it: 'gzip' or 'zlib' (the file must be so; an index then counts offsets in the
    inflated stream), None or '' to detect it from the bytes (a plain file reads as plain).
    """
    path = os.fsdecode(os.fspath(data_path))
    _require_file(path)
    wanted = _normalise_description(description)
    compression = check_compression(compression_type)
    plan = _plan(path, _check_index(index, path), _check_shard(shard), _check_clip(clip), compression)
    return RecordLoader(lambda: _iter_records(plan, wanted, verify_crc, None))


def _require_file(path: str) -> None:
    """FileNotFoundError unless `path` is a regular file (checked when the loader is made)."""
    try:
        is_file = storage_for(path).stat(path).is_file
    except OSError:
        is_file = False
    if not is_file:
        raise FileNotFoundError(f"no such TFRecord file: {path}")


def _iter_records(
    plan: _Plan,
    wanted: dict[str, str | None] | None,
    verify_crc: bool,
    position: list[int] | None,
) -> Iterator[dict[str, Any]]:
    """The records of `plan`; `position` (if given) is kept at [next byte offset, records yielded].

    One generator over `iter_frames` (each extra layer costs per record). A payload in the usual
    tile layout is read by `RecordDecoder.image_first`, any other by `RecordDecoder.protobuf`;
    a described read first tries the former and leaves what does not fit the description to
    the latter, which names the problem.
    """
    budget = plan.budget
    if budget == 0:
        return
    path, index = plan.path, plan.index
    with open_source(path, compression=plan.compression) as f:
        size = source_size(f)
        covered = int(index[-1, 0]) + int(index[-1, 1]) if index is not None and len(index) else size
        if covered != size:
            raise TFRecordError(
                f"index covers {covered} bytes but the file has {size}"
                " (stale index)",
                path,
            )
        frames = iter_frames(f, path, start=plan.start, verify_crc=verify_crc, file_size=size,
                             first_index=plan.first, end=plan.end, views=True)  # parsed at once
        decoder = RecordDecoder(path, wanted)
        image_first, protobuf, select = decoder.image_first, decoder.protobuf, decoder.select
        described = wanted is not None
        skip = 0  # records left to read through protobuf before the shortcut is tried again
        i = plan.first
        last = i + budget if budget is not None else -1
        for offset, length, payload in frames:
            if skip:  # a file in another layout: trying each record would cost a few per cent
                skip -= 1
                record = None
            else:
                record = image_first(payload)
                if record is None:
                    skip = _SKIP_AFTER_MISS
                    decoder.forget_names()  # the names protobuf saw last may be records ago
                elif described:
                    record = select(record)
            if record is None:
                record = protobuf(payload, i, offset)
            if position is not None:
                position[0] = offset + length
                position[1] += 1
            yield record
            i += 1
            if i == last:
                return


_SKIP_AFTER_MISS = 63  # after a record the shortcut cannot read, the next 63 go to protobuf


# --- several files ------------------------------------------------------------------------------


def _validate_weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    if isinstance(weights, Mapping):
        raise TypeError("weights must be a list with one weight per TFRecord")
    try:
        w = np.asarray(list(weights), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"weights must be numbers, got {weights!r}") from None
    if w.shape != (n,):
        raise ValueError(f"{len(w)} weights for {n} TFRecords")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError("weights must be finite and > 0")
    return w


def _path_key(path: str | bytes | os.PathLike) -> str:
    """One spelling of a path, whether given as str, bytes (as Slideflow passes them) or PathLike."""
    return os.path.normpath(os.fsdecode(os.fspath(path)))


def _per_file_clip(clip: Clip, paths: list[str]) -> list[int | None]:
    """One clip per file: an int for all, a list (Slideflow passes `clip[i]`) or a dict by path
    (keys and paths compared as `_path_key` spells them)."""
    if clip is None or isinstance(clip, (int, np.integer)):
        return [_check_clip(clip)] * len(paths)
    if isinstance(clip, Mapping):
        by_key = {_path_key(k): v for k, v in clip.items()}
        return [_check_clip(by_key.get(_path_key(p))) for p in paths]
    clips = list(clip)
    if len(clips) != len(paths):
        raise ValueError(f"{len(clips)} clip values for {len(paths)} TFRecords")
    return [_check_clip(c) for c in clips]


def multi_tfrecord_loader(
    paths: Sequence[str | os.PathLike],
    indices: Sequence[np.ndarray | None] | None,
    weights: Sequence[float] | None = None,
    shard: tuple[int, int] | None = None,
    clip: Clip = None,
    infinite: bool = True,
    seed: int | None = None,
    description: Description = None,
    verify_crc: bool = True,
    compression_type: str | None = None,
) -> RecordLoader:
    """Interleave several TFRecords: each record comes from a file picked at random by weight.

    Returns an iterable like `tfrecord_loader`'s (Slideflow's `RandomSampler`): each
    `iter(loader)` starts a new draw over all files (the same order again when `seed` is set).

    Weights need not sum to 1 (uniform when None); zero, negative, NaN or a wrong count raise
    ValueError. With `infinite=True` an exhausted file starts again (an empty one is dropped);
    with `infinite=False` it is dropped and the remaining weights renormalised, so the loader ends
    after every record of every file was yielded exactly once. `shard` and `clip` apply to each
    file (`clip`: one int, a list with one per file, or a dict by path); `indices` may be None
    or hold None for files read sequentially (no shard then). `seed` makes the order repeatable.
    At most `MAX_OPEN_FILES` files are open at once; the others resume from their byte offset.
    `compression_type` applies to every file, as in `tfrecord_loader`.
    """
    paths = [os.fsdecode(os.fspath(p)) for p in paths]
    if indices is None:
        indices = [None] * len(paths)
    indices = list(indices)
    if len(indices) != len(paths):
        raise ValueError(f"{len(indices)} indices for {len(paths)} TFRecords")
    weight_array = _validate_weights(weights, len(paths))
    wanted = _normalise_description(description)
    checked_shard = _check_shard(shard)
    compression = check_compression(compression_type)
    plans = [
        _plan(p, _check_index(idx, p), checked_shard, c, compression)
        for p, idx, c in zip(paths, indices, _per_file_clip(clip, paths))
    ]
    return RecordLoader(lambda: _interleave(plans, weight_array, infinite, seed, wanted, verify_crc))


class _Cursor:
    """One file's place in the interleave: a live reader, or where to resume a closed one."""

    def __init__(self, plan: _Plan, wanted: dict[str, str | None] | None, verify_crc: bool) -> None:
        self.plan, self.wanted, self.verify_crc = plan, wanted, verify_crc
        self.position = [plan.start, 0]  # next byte offset, records yielded so far
        self.reader: Iterator[dict[str, Any]] | None = None

    def next(self) -> dict[str, Any]:
        """The next record; StopIteration when this pass over the file is complete."""
        if self.reader is None:
            plan, done = self.plan, self.position[1]
            if done:  # resume a reader that was closed to free its handle
                budget = None if plan.budget is None else plan.budget - done
                plan = replace(plan, start=self.position[0], first=plan.first + done, budget=budget)
            self.reader = _iter_records(plan, self.wanted, self.verify_crc, self.position)
        return next(self.reader)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def restart(self) -> None:
        self.close()
        self.position = [self.plan.start, 0]


def _interleave(
    plans: list[_Plan],
    weights: np.ndarray,
    infinite: bool,
    seed: int | None,
    wanted: dict[str, str | None] | None,
    verify_crc: bool,
) -> Iterator[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cursors = [_Cursor(p, wanted, verify_crc) for p in plans]
    active = list(range(len(plans)))  # files still in the draw
    live: OrderedDict[int, None] = OrderedDict()  # files with an open reader, least recent first
    try:
        while active:
            cumulative = np.cumsum(weights[active])
            picks = np.searchsorted(cumulative, rng.random(_DRAWS) * cumulative[-1], side="right")
            picks = np.minimum(picks, len(active) - 1).tolist()
            dropped = False
            for pick in picks:
                k = active[pick]
                cursor = cursors[k]
                record = _next_record(cursor, infinite)
                if record is None:
                    cursor.close()
                    live.pop(k, None)
                    active.remove(k)  # exhausted (or empty): renormalise over the others
                    dropped = True
                    break
                live[k] = None
                live.move_to_end(k)
                if len(live) > MAX_OPEN_FILES:
                    oldest, _ = live.popitem(last=False)
                    cursors[oldest].close()
                yield record
            if dropped:
                continue
    finally:
        for cursor in cursors:
            cursor.close()


def _next_record(cursor: _Cursor, infinite: bool) -> dict[str, Any] | None:
    """The next record of a file, starting it again when infinite; None when it is done."""
    try:
        return cursor.next()
    except StopIteration:
        pass
    if not infinite or cursor.position[1] == 0:  # finished, or a file that holds no record
        return None
    cursor.restart()
    try:
        return cursor.next()
    except StopIteration:
        return None
