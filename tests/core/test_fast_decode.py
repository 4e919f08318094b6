"""The loaders and `TFRecord[i]` decode common features from their serialized bytes themselves
(see `records.single_bytes_span`) and remember small ones between records. These tests check
that every such shortcut gives exactly what the protobuf runtime gives, on random Examples, on
legal but unusual encodings, and on corrupted payloads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tfr_viewer as sf
from tfr_viewer.core.errors import TFRecordError
from tfr_viewer.core.example_pb2 import Example
from tfr_viewer.core.records import field_order, parse_example, parse_public, to_public

from ..helpers import example_py, frame_py, make_jpeg


def reference_loader_record(payload: bytes) -> dict:
    """What Slideflow's loader returns for a payload, computed from the protobuf runtime."""
    features = Example.FromString(payload).features.feature
    out = {}
    for name in [n for n in field_order(payload) if n in features]:  # entries protobuf kept
        feature = features[name]
        kind = feature.WhichOneof("kind")
        if kind == "bytes_list":
            values = [np.frombuffer(v, np.uint8) for v in feature.bytes_list.value]
            out[name] = values[0] if len(values) == 1 else values
        elif kind == "int64_list":
            out[name] = np.array(list(feature.int64_list.value), np.int64)
        elif kind == "float_list":
            out[name] = np.array(list(feature.float_list.value), np.float32)
        else:
            out[name] = np.array([], np.int64)
    return out


def assert_same_record(got: dict, expected: dict, same_order: bool = True) -> None:
    """Same names, values, dtypes; and the same key order unless told otherwise (a record whose
    names are those of the record before, stored in another order, keeps the order before)."""
    assert (list(got) if same_order else sorted(got)) == (list(expected) if same_order else sorted(expected))
    for name, value in expected.items():
        if isinstance(value, list):
            assert isinstance(got[name], list) and len(got[name]) == len(value), name
            for a, b in zip(got[name], value):
                assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
        else:
            assert isinstance(got[name], np.ndarray), name
            # bit for bit: a float list read from random bytes holds NaNs
            assert got[name].dtype == value.dtype and got[name].tobytes() == value.tobytes(), name


def write_payloads(path: Path, payloads: list[bytes]) -> Path:
    path.write_bytes(b"".join(frame_py(p) for p in payloads))
    return path


def check_file(path: Path, payloads: list[bytes]) -> None:
    """Loader (untyped and indexed), TFRecord[i] and TFRecord iteration against the runtime."""
    expected = [reference_loader_record(p) for p in payloads]
    got = list(sf.tfrecord_loader(str(path)))
    assert len(got) == len(expected)
    for k, (g, e) in enumerate(zip(got, expected)):
        assert_same_record(g, e, same_order=k == 0)
    public = [to_public(parse_example(p), field_order(p)) for p in payloads]
    if all(isinstance(r.get("image_raw"), bytes) for r in public):
        with sf.TFRecord(str(path)) as tfr:
            assert [tfr[i] for i in range(len(tfr))] == public
            assert list(tfr) == public
    for p, e in zip(payloads, public):
        assert parse_public(p, list(e)) == e
        assert parse_public(p, None) == e


names = st.sampled_from(["image_raw", "slide", "loc_x", "loc_y", "label", "emb", "é"])
values = st.one_of(
    st.lists(st.binary(max_size=300), min_size=1, max_size=3),  # crosses the small/large limit
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=4),
    st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=4),
    st.just([]),
)
records = st.lists(st.dictionaries(names, values, max_size=5), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records)
def test_random_records_decode_as_the_runtime_does(tmp_path: Path, batch: list[dict]) -> None:
    # records in one file may differ in names, kinds and sizes: the loader relearns as it goes
    payloads = [example_py(r) for r in batch]
    check_file(write_payloads(tmp_path / "random.tfrecords", payloads), payloads)


def _varint(value: int, width: int | None = None) -> bytes:
    """A varint; with `width`, padded to that many bytes (legal, though no writer does it)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value or (width is not None and len(out) + 1 < width):
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, body: bytes, width: int | None = None) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(body), width) + body


def _entry(name: str, feature: bytes) -> bytes:
    return _field(1, _field(1, name.encode()) + _field(2, feature))


def _example(*entries: bytes) -> bytes:
    return _field(1, b"".join(entries))


IMAGE = make_jpeg(seed=3)
OTHER = make_jpeg(seed=4)
SMALL = _field(1, _field(1, b"slide_a"))  # Feature{bytes_list{value: ["slide_a"]}}
LOC = _field(3, _field(1, _varint(640)))  # Feature{int64_list{value: [640]}} (packed)

UNUSUAL = {
    "padded list length": _field(1, _field(1, IMAGE), width=4),
    "padded value length": _field(1, _field(1, IMAGE, width=5)),
    "bytes_list given twice (merged)": _field(1, _field(1, IMAGE)) + _field(1, _field(1, OTHER)),
    "two values": _field(1, _field(1, IMAGE) + _field(1, OTHER)),
    "unknown field first": b"\x20\x07" + _field(1, _field(1, IMAGE)),
    "unknown field last": _field(1, _field(1, IMAGE)) + b"\x20\x07",
    "unknown field inside the list": _field(1, b"\x10\x01" + _field(1, IMAGE)),
    "oneof set twice (last wins)": _field(1, _field(1, IMAGE)) + LOC,
    "int list with image-sized bytes": _field(3, _field(1, b"".join(_varint(i) for i in range(200)))),
    "unpacked ints": _field(3, b"".join(b"\x08" + _varint(i) for i in range(40))),
    "floats": _field(2, _field(1, np.arange(40, dtype="<f4").tobytes())),
    "empty feature": b"",
}


@pytest.mark.parametrize("case", sorted(UNUSUAL))
def test_unusual_but_legal_encodings(tmp_path: Path, case: str) -> None:
    first = _example(_entry("image_raw", _field(1, _field(1, IMAGE))), _entry("x", UNUSUAL[case]), _entry("slide", SMALL))
    second = _example(_entry("image_raw", _field(1, _field(1, OTHER))), _entry("x", UNUSUAL[case]), _entry("slide", SMALL))
    payloads = [first, second, first]
    for p in payloads:
        Example.FromString(p)  # legal for the runtime
    check_file(write_payloads(tmp_path / "unusual.tfrecords", payloads), payloads)


def test_duplicate_names_keep_the_last_value(tmp_path: Path) -> None:
    payload = _example(
        _entry("image_raw", _field(1, _field(1, OTHER))),
        _entry("slide", SMALL),
        _entry("image_raw", _field(1, _field(1, IMAGE))),
    )
    [record] = sf.tfrecord_loader(str(write_payloads(tmp_path / "dup.tfrecords", [payload])))
    assert bytes(record["image_raw"]) == IMAGE
    check_file(tmp_path / "dup.tfrecords", [payload])


def test_values_handed_out_again_are_not_shared_mutably(tmp_path: Path) -> None:
    payloads = [example_py({"image_raw": IMAGE, "slide": "s", "loc_x": 7, "w": [0.5, 1.5]})] * 3
    got = list(sf.tfrecord_loader(str(write_payloads(tmp_path / "same.tfrecords", payloads))))
    got[0]["loc_x"][0] = 99
    got[0]["w"][0] = 9.0
    assert got[1]["loc_x"][0] == 7 and got[2]["loc_x"][0] == 7
    assert got[1]["w"][0] == 0.5
    assert not got[1]["slide"].flags.writeable  # bytes come back read-only, as from Slideflow


def test_typed_description_checks_kinds_through_the_shortcuts(tmp_path: Path) -> None:
    payloads = [example_py({"image_raw": IMAGE, "slide": "s", "loc_x": 7})] * 2
    path = write_payloads(tmp_path / "typed.tfrecords", payloads)
    records = list(sf.tfrecord_loader(str(path), description={"image_raw": "byte", "loc_x": "int"}))
    assert [list(r) for r in records] == [["image_raw", "loc_x"]] * 2
    assert bytes(records[1]["image_raw"]) == IMAGE and records[1]["loc_x"].tolist() == [7]
    with pytest.raises(TFRecordError, match="'image_raw' is byte, description says int"):
        list(sf.tfrecord_loader(str(path), description={"image_raw": "int"}))
    with pytest.raises(TFRecordError, match="'loc_x' is int, description says float"):
        list(sf.tfrecord_loader(str(path), description={"loc_x": "float"}))


VALID = example_py({"image_raw": IMAGE, "slide": "slide_a", "loc_x": 640, "loc_y": -64})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_corrupted_payloads_with_valid_crc(tmp_path: Path, mutations: list[tuple[int, int]]) -> None:
    """Damage the CRC cannot see (it is recomputed): only TFRecordError may come out, and
    whatever decodes must equal what the runtime decodes."""
    data = bytearray(VALID)
    for pos, value in mutations:
        data[pos] = value
    payload = bytes(data)
    path = write_payloads(tmp_path / "mutated.tfrecords", [VALID, payload, VALID])
    try:
        expected = reference_loader_record(payload)
    except Exception:
        expected = None  # the runtime refuses it; we may refuse it too, or read what is there
    try:
        got = list(sf.tfrecord_loader(str(path)))
    except TFRecordError:
        # only what the runtime refuses, or reads as an Example without features (we are stricter)
        assert expected is None or not Example.FromString(payload).HasField("features")
        return
    if expected is not None:
        assert_same_record(got[1], expected)
    try:
        public = parse_public(payload, ["image_raw", "slide", "loc_x", "loc_y"])
    except TFRecordError:
        return
    if expected is not None:
        assert public == to_public(parse_example(payload), field_order(payload))


def test_records_larger_than_the_read_buffer_and_across_its_edges(tmp_path: Path) -> None:
    from tfr_viewer.core.framing import BLOCK_SIZE, iter_frames

    rng = np.random.default_rng(5)
    sizes = [100, BLOCK_SIZE + 12345, BLOCK_SIZE - 30, 3 * BLOCK_SIZE, 10, BLOCK_SIZE // 2, 7]
    blobs = [IMAGE[:4] + rng.bytes(n) for n in sizes]
    payloads = [example_py({"image_raw": b, "slide": "big", "loc_x": i}) for i, b in enumerate(blobs)]
    path = write_payloads(tmp_path / "big.tfrecords", payloads)
    with open(path, "rb") as f:
        assert [bytes(p) for _, _, p in iter_frames(f, path)] == payloads
    with open(path, "rb") as f:
        assert [p.tobytes() for _, _, p in iter_frames(f, path, views=True)] == payloads
    got = list(sf.tfrecord_loader(str(path)))
    assert [bytes(r["image_raw"]) for r in got] == blobs
    sf.io.tfrecord2idx.create_index(str(path))
    index = sf.io.tfrecord2idx.load_index(str(path))
    assert index is not None and len(index) == len(blobs)
    for n in (1, 2, 3):
        shards = [list(sf.tfrecord_loader(str(path), index, shard=(k, n))) for k in range(n)]
        assert [int(r["loc_x"][0]) for s in shards for r in s] == list(range(len(blobs)))
    with sf.TFRecord(str(path)) as tfr:
        assert [tfr[i]["image_raw"] for i in range(len(tfr))] == blobs


@settings(max_examples=300, deadline=None)
@given(
    size=st.one_of(st.integers(65, 300), st.integers(16_370, 16_400), st.integers(2**21 - 20, 2**21 + 4)),
    list_width=st.none() | st.integers(1, 5),
    value_width=st.none() | st.integers(1, 5),
)
def test_bytes_span_agrees_with_the_runtime(size: int, list_width: int | None, value_width: int | None) -> None:
    from tfr_viewer.core.example_pb2 import Feature
    from tfr_viewer.core.records import single_bytes_span

    value = bytes(range(256)) * (size // 256) + bytes(size % 256)
    try:
        raw = _field(1, _field(1, value, value_width), list_width)
        expected = Feature.FromString(raw).bytes_list.value[0]
    except Exception:
        return  # a width too small for the length, or one protobuf refuses: nothing to compare
    span = single_bytes_span(raw)
    assert span is not None and raw[span[0] : span[0] + span[1]] == expected


# --- the usual tile layout, read without protobuf (`records.image_first_span`) -------------------


def _tile_payload(value: bytes, rest: bytes = b"", widths: tuple[int | None, ...] = (None,) * 5) -> bytes:
    """An Example whose first entry is `image_raw` = [value], then the serialized entries
    `rest`; `widths` pads the five lengths (features, entry, Feature, BytesList, value)."""
    w_features, w_entry, w_feature, w_list, w_value = widths
    feature = _field(1, _field(1, value, w_value), w_list)
    entry = _field(1, _field(1, b"image_raw") + _field(2, feature, w_feature), w_entry)
    return _field(1, entry + rest, w_features)


REST = _entry("slide", SMALL) + _entry("loc_x", LOC)
# image lengths around the 2- and 3-byte limits and just below multiples of 128, where one of
# the sums the span test relies on carries into the next length byte
_BELOW_128 = [1, 3, 4, 8, 20, 23, 24, 30]
TILE_SIZES = st.one_of(
    st.integers(100, 400),
    st.integers(16_300, 16_450),
    st.integers(2**21 - 60, 2**21 + 4),
    st.tuples(st.integers(1, 1000), st.sampled_from(_BELOW_128)).map(lambda kd: 128 * kd[0] - kd[1]),
)


@settings(max_examples=300, deadline=None)
@given(
    size=TILE_SIZES,
    widths=st.tuples(*[st.none() | st.integers(1, 5)] * 5),
    with_rest=st.booleans(),
)
def test_image_first_span_agrees_with_the_runtime(size: int, widths: tuple, with_rest: bool) -> None:
    from tfr_viewer.core.records import image_first_span

    value = bytes(range(256)) * (size // 256) + bytes(size % 256)
    rest = REST if with_rest else b""
    try:
        payload = _tile_payload(value, rest, widths)
        features = Example.FromString(payload).features.feature
    except Exception:
        return  # a width too small for its length: not a payload
    span = image_first_span(payload, len(payload))
    if span is None:
        # left to protobuf: padded lengths, and lengths not all 2 or all 3 bytes long
        if all(w is None for w in widths):
            [features_length] = [n for w in range(1, 6) if len(_varint(n := len(payload) - 1 - w)) == w]
            assert not len(_varint(size)) == len(_varint(features_length)) in (2, 3), size
        return
    start, end = span
    assert payload[start:end] == features["image_raw"].bytes_list.value[0] == value
    assert payload[end:] == rest  # the image entry ends where the next entry starts


@pytest.fixture
def protobuf_reads(monkeypatch) -> list[int]:
    """The record numbers the loaders read through protobuf rather than the shortcut."""
    from tfr_viewer.core.record_decoder import RecordDecoder

    reads: list[int] = []
    original = RecordDecoder.protobuf

    def counting(self, payload, i, offset):
        reads.append(i)
        return original(self, payload, i, offset)

    monkeypatch.setattr(RecordDecoder, "protobuf", counting)
    return reads


def test_tiles_of_every_length_class_are_read_without_protobuf_and_as_the_runtime_reads_them(
    tmp_path: Path, protobuf_reads: list[int]
) -> None:
    rng = np.random.default_rng(11)
    sizes = [128, 200, 16_200, 16_300, 16_384, 20_000, 2**21 - 200]
    sizes += [128 * k - d for k in (3, 150, 1000) for d in (1, 4, 8, 20, 23, 24)]  # the carries
    payloads = [
        _tile_payload(rng.bytes(n), _entry("slide", SMALL) + _entry("loc_x", _field(3, _field(1, _varint(k)))))
        for k, n in enumerate(sizes)
    ]
    check_file(write_payloads(tmp_path / "tiles.tfrecords", payloads), payloads)
    assert protobuf_reads == []  # every one of them took the shortcut the figures rely on
    typed = list(sf.tfrecord_loader(str(tmp_path / "tiles.tfrecords"), description={"loc_x": "int", "image_raw": "byte"}))
    assert [list(r) for r in typed] == [["loc_x", "image_raw"]] * len(sizes)
    assert [int(r["loc_x"][0]) for r in typed] == list(range(len(sizes)))
    assert protobuf_reads == []


IMAGE_20K = np.random.default_rng(2).bytes(20_000)

AFTER_THE_IMAGE = {
    "a name given twice (the last wins)": _entry("slide", SMALL) + _entry("slide", _field(1, _field(1, b"b"))),
    "image_raw again, small": _entry("slide", SMALL) + _entry("image_raw", _field(1, _field(1, b"tiny"))),
    "image_raw again, large": _entry("image_raw", _field(1, _field(1, IMAGE))),
    "an entry with a two-byte length": _entry("emb", _field(2, _field(1, np.arange(64, dtype="<f4").tobytes()))),
    "an unknown field in features": b"\x10\x01" + _entry("slide", SMALL),
    "an entry that is not a map entry": _field(1, b"\x18\x05"),
    "an entry without a value": _field(1, _field(1, b"empty")),
    "an entry without a key": _field(1, _field(2, LOC)),
    "nothing": b"",
}


@pytest.mark.parametrize("image", [IMAGE, IMAGE_20K], ids=["2-byte lengths", "3-byte lengths"])
@pytest.mark.parametrize("case", sorted(AFTER_THE_IMAGE))
def test_entries_after_the_image_read_as_the_runtime_reads_them(tmp_path: Path, image: bytes, case: str) -> None:
    payloads = [_tile_payload(image, AFTER_THE_IMAGE[case]), _tile_payload(image[::-1], AFTER_THE_IMAGE[case])]
    for p in payloads:
        Example.FromString(p)  # legal for the runtime
    check_file(write_payloads(tmp_path / "after.tfrecords", payloads), payloads)


VALID_20K = _tile_payload(IMAGE_20K, _entry("slide", SMALL) + _entry("loc_x", LOC) + _entry("loc_y", LOC))
_HEAD_AND_TAIL = list(range(40)) + list(range(len(VALID_20K) - 60, len(VALID_20K)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_HEAD_AND_TAIL), st.integers(0, 255)), min_size=1, max_size=3))
@example(mutations=[(VALID_20K.index(b"\x0a\x05loc_x"), 0x12)])  # loc_x's key made a value: refused
def test_corrupted_tile_headers_with_valid_crc(tmp_path: Path, mutations: list[tuple[int, int]]) -> None:
    """Damage to the lengths and entries the shortcut reads: read exactly as the runtime reads
    it, and where the runtime refuses it, refused or read exactly as without the shortcut (the
    protobuf path reads map values as bytes, so a refused value that a later one replaces is
    never looked at)."""
    from tfr_viewer.core.record_decoder import RecordDecoder

    data = bytearray(VALID_20K)
    for pos, value in mutations:
        data[pos] = value
    payload = bytes(data)
    path = str(write_payloads(tmp_path / "mutated20k.tfrecords", [VALID_20K, payload, VALID_20K]))

    def read(shortcut: bool) -> list[dict] | None:
        with pytest.MonkeyPatch.context() as patch:
            if not shortcut:
                patch.setattr(RecordDecoder, "image_first", lambda self, payload: None)
            try:
                return list(sf.tfrecord_loader(path))
            except TFRecordError:
                return None

    try:
        expected = reference_loader_record(payload)
    except Exception:
        expected = None
    got, without_shortcut = read(shortcut=True), read(shortcut=False)
    if expected is not None:
        assert got is not None or not Example.FromString(payload).HasField("features")
    if got is None:
        return
    assert without_shortcut is not None, "the shortcut read a payload the protobuf path refuses"
    for ours, theirs in zip(got, without_shortcut):
        assert_same_record(ours, theirs, same_order=False)
    if expected is not None:
        assert_same_record(got[1], expected, same_order=False)
    assert_same_record(got[2], reference_loader_record(VALID_20K))


def test_a_record_in_another_layout_sends_a_run_of_records_to_protobuf_and_then_the_shortcut_resumes(
    tmp_path: Path, protobuf_reads: list[int]
) -> None:
    from tfr_viewer.core import loaders

    tile = _tile_payload(IMAGE, _entry("slide", SMALL))
    other = _example(_entry("case", SMALL), _entry("image_raw", _field(1, _field(1, IMAGE))))
    payloads = [tile, other] + [tile] * 100 + [other, tile]
    check_file(write_payloads(tmp_path / "mixed.tfrecords", payloads), payloads)
    # `other` at 1 and 102: it and the next 63 records each time; both read correctly
    assert protobuf_reads == list(range(1, 1 + 1 + loaders._SKIP_AFTER_MISS)) + [102, 103]


def test_protobuf_reads_after_shortcut_reads_keep_their_stored_order(tmp_path: Path) -> None:
    # records 0-63 teach the protobuf path the names a, b, image_raw; the tile read by the
    # shortcut has other names; record 65 holds the first three again, stored as b, a, image_raw
    image = bytes(300)
    a, b = _entry("a", LOC), _entry("b", SMALL)
    first = _example(a, b, _entry("image_raw", _field(1, _field(1, image))))
    tile = _tile_payload(image, _entry("c", LOC) + _entry("d", LOC))
    swapped = _example(b, a, _entry("image_raw", _field(1, _field(1, image))))
    records = list(sf.tfrecord_loader(str(write_payloads(tmp_path / "order.tfrecords", [first] * 64 + [tile, swapped]))))
    assert list(records[64]) == ["image_raw", "c", "d"]
    assert list(records[65]) == ["b", "a", "image_raw"]
    assert_same_record(records[65], reference_loader_record(swapped))
