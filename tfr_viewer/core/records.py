"""tf.train.Example payloads <-> plain Python values.

Parsing goes through the upb-backed protobuf module (fast); writing is hand-serialised so that
feature order is the caller's order (protobuf map order is unspecified) and output is
deterministic byte for byte.
"""

from __future__ import annotations

import os
import struct
from typing import Any, Mapping

import numpy as np
from google.protobuf.message import DecodeError

from .errors import TFRecordError
from .example_pb2 import Example, ExampleEntries, Feature, RawExample, SequenceExample

RawRecord = dict[str, list]
KIND_NAMES = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int"}


def parse_example(
    payload: bytes, path: str | os.PathLike | None = None, index: int | None = None
) -> RawRecord:
    """Every feature of an Example payload as a Python list (bytes, float or int values)."""
    features = _parse(payload, path, index).features.feature
    out: RawRecord = {}
    for name in features:  # keys then lookup: items() goes through a slow Python ABC here
        feature = features[name]
        kind = feature.WhichOneof("kind")
        if kind == "bytes_list":
            out[name] = list(feature.bytes_list.value)
        elif kind == "int64_list":
            out[name] = list(feature.int64_list.value)
        elif kind == "float_list":
            out[name] = list(feature.float_list.value)
        else:
            out[name] = []
    return out


def feature_kinds(
    payload: bytes, path: str | os.PathLike | None = None, index: int | None = None
) -> dict[str, str]:
    """Feature name -> 'bytes' | 'float' | 'int' ('' for a feature with no list set)."""
    example = _parse(payload, path, index)
    return {
        name: KIND_NAMES.get(feature.WhichOneof("kind") or "", "")
        for name, feature in example.features.feature.items()
    }


def _parse(payload: bytes, path: str | os.PathLike | None, index: int | None) -> Example:
    example = Example()
    try:
        example.ParseFromString(payload)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise TFRecordError(f"payload is not a tf.train.Example ({exc})", path, index) from None
    if payload and not example.HasField("features") and not has_feature_lists(payload):
        raise TFRecordError("payload is not a tf.train.Example (no features message)", path, index)
    return example


def field_order(
    payload: bytes, path: str | os.PathLike | None = None, index: int | None = None
) -> list[str]:
    """Feature names in the order they are stored (what `TFRecord.fields` reports).

    Reads the payload as `ExampleEntries`, the same bytes seen as a list instead of a map.
    """
    entries = ExampleEntries()
    try:
        entries.ParseFromString(payload)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise TFRecordError(f"payload is not a tf.train.Example ({exc})", path, index) from None
    return list(dict.fromkeys(entry.key for entry in entries.features.feature))


# --- writing ------------------------------------------------------------------------------------


_ONE_BYTE = [bytes([b]) for b in range(128)]


def encode_varint(value: int) -> bytes:
    """A protobuf varint; negative numbers as int64 two's complement (10 bytes), as protobuf does."""
    value &= 0xFFFFFFFFFFFFFFFF
    if value < 0x80:
        return _ONE_BYTE[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def len_field(number: int, body: bytes) -> bytes:
    """A length-delimited field: tag, length, body."""
    return encode_varint((number << 3) | 2) + encode_varint(len(body)) + body


def _feature_bytes(value: Any, name: str) -> bytes:
    """Serialize one feature value into a `Feature` message body."""
    if isinstance(value, np.ndarray):
        if value.dtype == np.uint8 and value.ndim == 1:
            value = [value.tobytes()]
        else:
            value = value.ravel().tolist()
    elif isinstance(value, (bytes, bytearray, memoryview, str, int, float, np.generic)):
        value = [value]
    values = list(value)
    kind = _value_kind(values, name)
    if kind == "bytes":
        body = b"".join(
            len_field(1, v.encode("utf-8") if isinstance(v, str) else bytes(v)) for v in values
        )
        return len_field(1, body)
    if kind == "float":
        packed = struct.pack(f"<{len(values)}f", *values)
        return len_field(2, len_field(1, packed) if values else b"")
    packed = b"".join(encode_varint(int(v)) for v in values)
    return len_field(3, len_field(1, packed) if values else b"")


def _value_kind(values: list, name: str) -> str:
    if not values:
        return "int"
    first = values[0]
    if isinstance(first, (bool, np.bool_)):
        raise TypeError(f"feature {name!r}: booleans are not a TFRecord type; use int")
    if isinstance(first, (bytes, bytearray, memoryview, str)):
        kind = "bytes"
    elif isinstance(first, (int, np.integer)):
        kind = "int"
    elif isinstance(first, (float, np.floating)):
        kind = "float"
    else:
        raise TypeError(f"feature {name!r}: unsupported value type {type(first).__name__}")
    for v in values:
        ok = (
            isinstance(v, (bytes, bytearray, memoryview, str))
            if kind == "bytes"
            else isinstance(v, (int, np.integer, float, np.floating)) and not isinstance(v, bool)
        )
        if not ok:
            raise TypeError(f"feature {name!r}: mixed value types in one list")
    if kind == "int" and any(isinstance(v, (float, np.floating)) for v in values):
        kind = "float"
    if kind == "int":
        for v in values:
            if not -(2**63) <= int(v) < 2**63:
                raise OverflowError(f"feature {name!r}: {v} does not fit in int64")
    return kind


def make_example(fields: Mapping[str, Any]) -> bytes:
    """Serialize name -> bytes | str | int | float | list | 1-D numpy array into Example bytes.

    Features are written in the mapping's order; str is stored as UTF-8 bytes; a uint8 numpy
    array is one bytes value (as Slideflow's loaders return them).
    """
    entries = b"".join(
        len_field(1, len_field(1, name.encode("utf-8")) + len_field(2, _feature_bytes(v, name)))
        for name, v in fields.items()
    )
    return len_field(1, entries)


# --- Slideflow-shaped records -------------------------------------------------------------------


def image_bytes(raw: RawRecord, path: str | os.PathLike | None, index: int | None) -> bytes:
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


def parse_public(
    payload: bytes | memoryview,
    order: list[str] | None,
    path: str | os.PathLike | None = None,
    index: int | None = None,
    small: dict[tuple[str, bytes], Any] | None = None,
) -> dict[str, Any]:
    """`to_public(parse_example(payload))` in one pass (the `TFRecord[i]` hot path).

    `order`: the field names expected, in stored order (a record with other names is read in
    its own stored order). `small`: a dict the caller keeps between records, where small
    features (slide names, locations, labels repeat from record to record) are remembered.
    """
    features = _parse_raw(payload, path, index).features.feature
    small = {} if small is None else small
    names = order if order and len(features) == len(order) else stored_names(payload, features, path, index)
    out = {name: _public_value(features[name], name, small, path, index) for name in names}
    if len(features) != len(names):  # a name of `order` was missing (the lookup inserted it)
        features = _parse_raw(payload, path, index).features.feature
        names = stored_names(payload, features, path, index)
        out = {name: _public_value(features[name], name, small, path, index) for name in names}
    return out


def stored_names(
    payload: bytes | memoryview, features: Any, path: str | os.PathLike | None, index: int | None
) -> list[str]:
    """The names of a parsed map `features` in the order the payload stores them. Only names the
    map holds: a damaged map entry that protobuf sets aside is not a feature."""
    return [name for name in field_order(payload, path, index) if name in features]


def _parse_raw(payload: bytes | memoryview, path: str | os.PathLike | None, index: int | None) -> RawExample:
    try:
        example = RawExample.FromString(payload)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise TFRecordError(f"payload is not a tf.train.Example ({exc})", path, index) from None
    if payload and not example.HasField("features") and not has_feature_lists(payload):
        raise TFRecordError("payload is not a tf.train.Example (no features message)", path, index)
    return example


# --- SequenceExample ------------------------------------------------------------------------------
# A `tf.train.SequenceExample` stores its context as field 1, where an Example stores its features
# (so the readers above see the context), and its feature lists as field 2, which an Example lacks.


def has_feature_lists(payload: bytes | memoryview) -> bool:
    """Whether the payload has a top-level field 2 (a SequenceExample's `feature_lists`): a walk
    over the top-level tags, stopping at anything that is not a length-delimited field."""
    data, pos = memoryview(payload), 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        if tag is None or tag & 7 != 2:
            return False
        if tag >> 3 == 2:
            return True
        length, pos = _read_varint(data, pos)
        if length is None:
            return False
        pos += length
    return False


def _read_varint(data: memoryview, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


def feature_lists(
    payload: bytes | memoryview, path: str | os.PathLike | None = None, index: int | None = None
) -> list[dict[str, Any]]:
    """The feature lists of a SequenceExample payload, by name: `{"name", "kind", "steps"}`, where
    `steps` holds one list of values per step and `kind` is 'bytes' | 'float' | 'int' (of the
    first step that has values; '' when none has). An Example has none: `[]`."""
    if not has_feature_lists(payload):
        return []
    try:
        sequence = SequenceExample.FromString(bytes(payload))
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise TFRecordError(f"payload is not a tf.train.SequenceExample ({exc})", path, index) from None
    lists = sequence.feature_lists.feature_list
    out = []
    for name in sorted(lists):
        steps, kind = [], ""
        for feature in lists[name].feature:
            which = feature.WhichOneof("kind")
            steps.append(list(getattr(feature, which).value) if which else [])
            kind = kind or KIND_NAMES.get(which or "", "")
        out.append({"name": name, "kind": kind, "steps": steps})
    return out


SMALL_FEATURE = 64  # serialized features up to this size are worth remembering between records
_SMALL_LIMIT = 4096


_EIGHT_BYTES = struct.Struct("8B").unpack_from


def single_bytes_span(raw: bytes) -> tuple[int, int] | None:
    """(start, size) of the one value inside a serialized `Feature{bytes_list{value: [x]}}`, or
    None when `raw` is anything else (then protobuf decodes it). For `raw` longer than
    `SMALL_FEATURE`, so the header bytes read here always exist. The varints are decoded
    inline: this runs once per image, and a call per varint cost as much as the rest."""
    total = len(raw)
    # the usual tile (16 KiB to 2 MiB): both lengths are 3-byte varints, read with one unpack
    tag, a1, a2, a3, value_tag, b1, b2, b3 = _EIGHT_BYTES(raw)
    if tag == value_tag == 0x0A and a1 & a2 & b1 & b2 & 0x80 and a3 < 0x80 and b3 < 0x80:
        if (a1 & 0x7F | (a2 & 0x7F) << 7 | a3 << 14) + 4 == total == (b1 & 0x7F | (b2 & 0x7F) << 7 | b3 << 14) + 8:
            return 8, total - 8
    pos = 0
    for _ in range(2):  # Feature.bytes_list, then BytesList.value: tag 1, a length to the end
        if raw[pos] != 0x0A:
            return None
        byte = raw[pos + 1]
        size, pos, shift = byte & 0x7F, pos + 2, 7
        while byte >= 0x80:
            if shift > 63:
                return None
            byte = raw[pos]
            size |= (byte & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
        if pos + size != total:
            return None
    return pos, size


# The layout TensorFlow (keys sorted) and our writer give tile records: one `features` field
# whose first map entry is `image_raw` holding one bytes value. Read as 32-bit words, each
# (tag, 3-byte length) pair is one word, so the five lengths cost one unpack; under 16 KiB the
# lengths take two bytes each.
_IMAGE_KEY = b"\x0a\x09image_raw"
_HEAD_3 = struct.Struct("<II11sIII").unpack_from  # 31 bytes, then the image
_HEAD_2 = struct.Struct("<BHBH11sBHBHBH").unpack_from  # 26 bytes, then the image
_WORD_MASK, _WORD_TAG_0A = 0x808080FF, 0x0080800A  # tag 0x0A, then a 3-byte varint


def image_first_span(payload: bytes | memoryview, size: int) -> tuple[int, int] | None:
    """(start, end) of the image in an Example payload of `size` bytes laid out as above, or
    None for any other layout (then protobuf reads it).

    Accepted only when every length agrees with the image's: entry = image + 23, Feature =
    image + 8 and BytesList = image + 4 (+20, +6, +3 with 2-byte lengths), and `features` runs to
    the end of the payload. While adding those sums carries no length byte, the raw words differ
    by the sums themselves: one subtraction each tests them (a carry, for the one image in six
    whose length sits just below a multiple of 128, fails that test and decodes every length).
    """
    if size >= 0x4000 + 31:
        w0, w1, key, w2, w3, w4 = _HEAD_3(payload)
        if key != _IMAGE_KEY:
            return None
        mask, tagged = _WORD_MASK, _WORD_TAG_0A
        value = w4 >> 8 & 0x7F | w4 >> 9 & 0x3F80 | w4 >> 10 & 0x1FC000
        if w1 - w4 == 23 << 8 and w2 - w4 == (8 << 8) + 0x12 - 0x0A and w3 - w4 == 4 << 8:
            if not w4 & mask == w1 & mask == w0 & mask == tagged:  # w1 did not carry: nor w2, w3
                return None
        elif not (
            w4 & mask == w3 & mask == w1 & mask == w0 & mask == tagged
            and w2 & mask == tagged - 0x0A + 0x12
            and (w3 >> 8 & 0x7F | w3 >> 9 & 0x3F80 | w3 >> 10 & 0x1FC000) == value + 4
            and (w2 >> 8 & 0x7F | w2 >> 9 & 0x3F80 | w2 >> 10 & 0x1FC000) == value + 8
            and (w1 >> 8 & 0x7F | w1 >> 9 & 0x3F80 | w1 >> 10 & 0x1FC000) == value + 23
        ):
            return None
        if (w0 >> 8 & 0x7F | w0 >> 9 & 0x3F80 | w0 >> 10 & 0x1FC000) + 4 != size or 31 + value > size:
            return None
        return 31, 31 + value
    if size >= 0x80 + 26:
        t0, h0, t1, h1, key, t2, h2, t3, h3, t4, h4 = _HEAD_2(payload)
        if key != _IMAGE_KEY or not t0 == t1 == t3 == t4 == 0x0A or t2 != 0x12:
            return None
        value = h4 & 0x7F | h4 >> 1 & 0x3F80
        if h1 - h4 == 20 and h2 - h4 == 6 and h3 - h4 == 3:
            if not h4 & 0x8080 == h1 & 0x8080 == h0 & 0x8080 == 0x0080:  # h1 did not carry
                return None
        elif not (
            h4 & 0x8080 == h3 & 0x8080 == h2 & 0x8080 == h1 & 0x8080 == h0 & 0x8080 == 0x0080
            and (h3 & 0x7F | h3 >> 1 & 0x3F80) == value + 3
            and (h2 & 0x7F | h2 >> 1 & 0x3F80) == value + 6
            and (h1 & 0x7F | h1 >> 1 & 0x3F80) == value + 20
        ):
            return None
        if (h0 & 0x7F | h0 >> 1 & 0x3F80) + 3 != size or 26 + value > size:
            return None
        return 26, 26 + value
    return None


def parse_feature(raw: bytes, name: str, path: str | os.PathLike | None, index: int | None) -> Feature:
    """A serialized `Feature` (a value of `RawExample`'s map); TFRecordError when it is not one."""
    try:
        return Feature.FromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise TFRecordError(f"field {name!r} is not a tf.train.Feature ({exc})", path, index) from None


def _public_value(
    raw: bytes, name: str, small: dict[tuple[str, bytes], Any], path: str | os.PathLike | None, index: int | None
) -> Any:
    if len(raw) > SMALL_FEATURE:
        span = single_bytes_span(raw)
        if span is not None and name != "slide":
            start, size = span
            return raw[start : start + size]
        return _unwrap(parse_feature(raw, name, path, index), name)
    key = (name, raw)
    value = small.get(key)
    if value is None:
        value = _unwrap(parse_feature(raw, name, path, index), name)
        if len(small) < _SMALL_LIMIT:
            small[key] = value
    return value.copy() if isinstance(value, list) else value


def _unwrap(feature: Feature, name: str) -> Any:
    """One value as itself (slide as str when it is UTF-8), several or none as a list."""
    kind = feature.WhichOneof("kind")
    if kind is None:
        return []
    values = getattr(feature, kind).value
    if len(values) != 1:
        return list(values)
    if name == "slide" and kind == "bytes_list":
        try:
            return values[0].decode("utf-8")
        except UnicodeDecodeError:
            return values[0]
    return values[0]


def to_public(raw: RawRecord, order: list[str] | None = None) -> dict[str, Any]:
    """The dict `TFRecord[i]` returns: image_raw bytes, slide str, loc_x/loc_y int, others unwrapped."""
    names = list(raw)
    if order:
        names = [n for n in order if n in raw] + [n for n in raw if n not in order]
    out: dict[str, Any] = {}
    for name in names:
        values = raw[name]
        if name == "slide" and len(values) == 1 and isinstance(values[0], bytes):
            try:
                out[name] = values[0].decode("utf-8")
            except UnicodeDecodeError:
                out[name] = values[0]
        elif len(values) == 1:
            out[name] = values[0]
        else:
            out[name] = values
    return out
