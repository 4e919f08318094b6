"""Records of a TFRecord as the loaders return them (Slideflow's shapes: uint8 arrays of bytes,
int64 and float32 arrays), decoded fast for the usual tile layout and by protobuf otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import TFRecordError
from .example_pb2 import FeatureEntries, RawExample, RawFeatures
from .records import SMALL_FEATURE as _SMALL, image_first_span, parse_feature, single_bytes_span, stored_names

KIND_BY_TYPE = {"byte": "bytes_list", "int": "int64_list", "float": "float_list"}  # description words
TYPE_BY_KIND = {v: k for k, v in KIND_BY_TYPE.items()}
_SMALL_LIMIT = 4096  # distinct small features (and map entries) remembered per loader
_frombuffer, _UINT8 = np.frombuffer, np.uint8  # once per record: a global costs less than np.x


class RecordDecoder:
    """Loader records of one file's payloads, as Slideflow returns them.

    A one-value bytes list longer than `_SMALL` (an image) becomes a uint8 array of its bytes;
    small features (slide names, locations, labels) repeat from record to record and are
    decoded once, then handed out again (numbers as copies, bytes as the same read-only array).
    """

    def __init__(self, path: str, wanted: dict[str, str | None] | None) -> None:
        self.path = path
        self.items = None if wanted is None else list(wanted.items())
        self.small: dict[bytes, tuple[str | None, Any, bool]] = {}  # raw -> (kind, value, shared)
        self.entries: dict[bytes, tuple[str, str | None, Any, bool]] = {}  # entry -> name, kind, ...
        self.kinds: dict[str, str | None] | None = {} if self.items and any(k for _, k in self.items) else None
        self.names: list[str] = []  # protobuf path: field names of its record before, stored order
        self.n_fields = -1

    def image_first(self, payload: memoryview) -> dict[str, Any] | None:
        """The record of a payload in the usual tile layout (`image_first_span`), read without
        protobuf parsing the image: its parse and map lookup copy the image more than once
        (into its arena, then out of the map); here it is copied once. None for any other
        layout and for anything unexpected: `protobuf` then reads the record, or names what
        is wrong with it.

        The entries after the image are small (a one-byte length each) and repeat from record
        to record, so each serialized entry is decoded once and its value handed out again.
        """
        span = image_first_span(payload, len(payload))
        if span is None:
            return None
        start, end = span
        record: dict[str, Any] = {"image_raw": _frombuffer(payload[start:end].tobytes(), _UINT8)}
        kinds = self.kinds
        if kinds is not None:
            kinds["image_raw"] = "bytes_list"
        rest = payload[end:].tobytes()
        entries_get = self.entries.get
        pos, rest_size = 0, len(rest)
        try:
            while pos < rest_size:
                stop = pos + 2 + rest[pos + 1]  # a one-byte length: a remembered entry has one
                hit = entries_get(rest[pos:stop])
                if hit is None:
                    hit = self._learn_entry(rest[pos:stop])
                    if hit is None:
                        return None
                name, kind, value, shared = hit
                record[name] = value if shared else value.copy()  # a name given again: the last wins
                if kinds is not None:
                    kinds[name] = kind
                pos = stop
        except IndexError:  # an entry's length byte is missing
            return None
        return record if pos == rest_size else None

    def _learn_entry(self, entry: bytes) -> tuple[str, str | None, Any, bool] | None:
        """Decode a serialized map entry seen for the first time (None: leave it to `protobuf`).
        Only a whole entry with tag 1 and a one-byte length is remembered, so no other bytes
        can equal a remembered one."""
        if len(entry) < 2 or entry[0] != 0x0A or entry[1] >= 0x80 or len(entry) != 2 + entry[1]:
            return None
        try:
            FeatureEntries.FromString(entry)  # each value a valid Feature, even one a later replaces
            features = RawFeatures.FromString(entry).feature
            if len(features) != 1:  # an entry protobuf set aside
                return None
            (name,) = features
            kind, value, shared = self.lookup(features[name], name, -1)
        except Exception:  # noqa: BLE001 - whatever it is, the protobuf path reports it
            return None
        hit = name, kind, value, shared
        if len(self.entries) < _SMALL_LIMIT:
            self.entries[entry] = hit
        return hit

    def select(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The described fields of `record`; None when one is missing or of another kind."""
        kinds, selected = self.kinds, {}
        for name, expected in self.items or ():
            if name not in record or (expected is not None and kinds is not None and kinds[name] != expected):
                return None
            selected[name] = record[name]
        return selected

    def forget_names(self) -> None:
        """Make the protobuf path learn the names of its next record afresh."""
        self.n_fields = -1

    def protobuf(self, payload: memoryview, i: int, offset: int) -> dict[str, Any]:
        """The record of a payload in any layout, through protobuf (each Feature left serialized).

        Untyped reads look fields up by the names of the record before instead of iterating the
        map (faster); a record with another number of names, or one lacking a name (the lookup
        inserted it), relearns the names in stored order.
        """
        try:
            features = RawExample.FromString(payload).features.feature
        except Exception as exc:  # upb raises DecodeError; keep the one error type
            raise TFRecordError(f"payload is not a tf.train.Example ({exc})", self.path, i, offset) from None
        decode = self.decode
        if self.items is not None:
            record = {}
            for name, expected in self.items:
                if name not in features:  # test first: indexing a protobuf map inserts the key
                    raise TFRecordError(f"record has no field {name!r}", self.path, i, offset)
                record[name] = decode(features[name], name, expected, i)
            return record
        if len(features) == self.n_fields:
            record = {}
            small_get = self.small.get
            for name in self.names:  # decode() inlined for the two common cases
                raw = features[name]
                if len(raw) > _SMALL:
                    span = single_bytes_span(raw)
                    if span is None:
                        record[name] = decode(raw, name, None, i)
                    else:
                        record[name] = _frombuffer(raw, _UINT8, span[1], span[0])
                else:
                    hit = small_get(raw)
                    if hit is None:
                        record[name] = decode(raw, name, None, i)
                    else:
                        record[name] = hit[1] if hit[2] else hit[1].copy()
            if len(features) == self.n_fields:
                return record
        self.names = _stored_names(payload, self.path, i, offset)
        self.n_fields = len(self.names) or -1  # no fields: check every such record
        return {name: decode(features[name], name, None, i) for name in self.names}

    def decode(self, raw: bytes, name: str, expected: str | None, i: int) -> Any:
        """The loader value of one serialized Feature, its kind checked against `expected`."""
        kind, value, shared = self.lookup(raw, name, i)
        if not shared and len(raw) <= _SMALL:  # a large value is decoded afresh: no copy needed
            value = value.copy()
        if expected is not None and kind != expected:
            raise TFRecordError(
                f"field {name!r} is {TYPE_BY_KIND.get(kind or '', 'empty')}, description says "
                f"{TYPE_BY_KIND[expected]}",
                self.path,
                i,
            )
        return value

    def lookup(self, raw: bytes, name: str, i: int) -> tuple[str | None, Any, bool]:
        """(kind, value, shared): a remembered value that is not `shared` is copied before it is
        handed out (large values are not remembered here)."""
        if len(raw) > _SMALL:
            span = single_bytes_span(raw)
            if span is not None:
                return "bytes_list", np.frombuffer(raw, np.uint8, span[1], span[0]), True
            kind, value = self._parse(raw, name, i)
            return kind, value, False
        hit = self.small.get(raw)
        if hit is None:
            kind, value = self._parse(raw, name, i)
            hit = kind, value, isinstance(value, np.ndarray) and not value.flags.writeable
            if len(self.small) < _SMALL_LIMIT:
                self.small[raw] = hit
        return hit

    def _parse(self, raw: bytes, name: str, i: int) -> tuple[str | None, Any]:
        feature = parse_feature(raw, name, self.path, i)
        return feature.WhichOneof("kind"), _convert(feature)


def _stored_names(payload: bytes | memoryview, path: str, i: int, offset: int) -> list[str]:
    """Feature names of one record in stored order (protobuf map order is unspecified)."""
    example = RawExample.FromString(payload)  # fresh: the caller's map may hold inserted keys
    if payload and not example.HasField("features"):
        raise TFRecordError("payload is not a tf.train.Example (no features message)", path, i, offset)
    return stored_names(payload, example.features.feature, path, i)


def _convert(feature: Any) -> Any:
    kind = feature.WhichOneof("kind")
    if kind == "bytes_list":
        values = feature.bytes_list.value
        if len(values) == 1:
            return np.frombuffer(values[0], dtype=np.uint8)
        return [np.frombuffer(v, dtype=np.uint8) for v in values]
    if kind == "int64_list":  # slicing first: 5x faster than converting the container
        return np.array(feature.int64_list.value[:], dtype=np.int64)
    if kind == "float_list":
        return np.array(feature.float_list.value[:], dtype=np.float32)
    return np.array([], dtype=np.int64)
