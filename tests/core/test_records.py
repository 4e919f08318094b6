"""Example serialisation: our hand-written writer agrees with the protobuf runtime both ways."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tfr_viewer.core.example_pb2 import Example
from tfr_viewer.core.framing import frame_record, iter_frames
from tfr_viewer.core.records import field_order, make_example, parse_example, to_public

from ..helpers import example_py, frame_py, read_frames_py

names = st.text(min_size=1, max_size=12)
int_lists = st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=5)
float_lists = st.lists(
    st.floats(allow_nan=False, width=32), min_size=1, max_size=5
)
bytes_lists = st.lists(st.binary(max_size=64), min_size=1, max_size=4)
features = st.dictionaries(names, st.one_of(int_lists, float_lists, bytes_lists), max_size=6)


@settings(max_examples=200, deadline=None)
@given(features)
def test_write_then_read_is_identity(fields: dict) -> None:
    payload = make_example(fields)
    raw = parse_example(payload)
    assert raw == {k: list(v) for k, v in fields.items()}
    assert field_order(payload) == list(fields)
    # the protobuf runtime parses our bytes the same way
    ex = Example()
    ex.ParseFromString(payload)
    assert set(ex.features.feature.keys()) == set(fields)


@settings(max_examples=100, deadline=None)
@given(features, st.integers(min_value=1, max_value=4))
def test_frames_round_trip_and_crcs_are_valid(fields: dict, copies: int) -> None:
    import io
    import tempfile

    payload = make_example(fields)
    framed = frame_record(payload) * copies
    assert framed == frame_py(payload) * copies  # independent CRC implementation agrees
    got = [p for _, _, p in iter_frames(io.BytesIO(framed))]
    assert got == [payload] * copies
    with tempfile.NamedTemporaryFile(suffix=".tfrecords") as f:
        f.write(framed)
        f.flush()
        assert read_frames_py(f.name) == [payload] * copies


def test_protobuf_runtime_examples_parse() -> None:
    payload = example_py({"image_raw": b"\xff\xd8x", "slide": "s", "loc_x": -5, "probs": [0.5, 0.25]})
    assert parse_example(payload) == {
        "image_raw": [b"\xff\xd8x"],
        "slide": [b"s"],
        "loc_x": [-5],
        "probs": [0.5, 0.25],
    }


def test_numpy_values_and_public_shape() -> None:
    payload = make_example(
        {
            "image_raw": np.frombuffer(b"abc", np.uint8),
            "slide": "slide é",
            "loc_x": np.int64(3),
            "vec": np.array([1.5, 2.5], np.float32),
        }
    )
    assert to_public(parse_example(payload), field_order(payload)) == {
        "image_raw": b"abc",
        "slide": "slide é",
        "loc_x": 3,
        "vec": [1.5, 2.5],
    }


@pytest.mark.parametrize(
    "bad", [{"b": True}, {"o": object()}, {"m": [1, b"x"]}, {"big": 2**63}, {"small": -(2**63) - 1}]
)
def test_unsupported_values_are_refused(bad: dict) -> None:
    with pytest.raises((TypeError, OverflowError)):
        make_example(bad)


def test_float_precision_is_float32() -> None:
    raw = parse_example(make_example({"f": [math.pi]}))
    assert raw["f"][0] == pytest.approx(math.pi, rel=1e-6)


def test_sequence_example_feature_lists_are_returned_not_lost() -> None:
    from tfr_viewer.core.example_pb2 import SequenceExample
    from tfr_viewer.core.records import feature_lists, has_feature_lists, parse_example

    sequence = SequenceExample()
    sequence.context.feature["slide"].bytes_list.value.append(b"s")
    lists = sequence.feature_lists.feature_list
    lists["ids"].feature.add().int64_list.value.extend([1, -2])
    lists["ids"].feature.add()  # an empty step
    lists["text"].feature.add().bytes_list.value.append(b"a")
    payload = sequence.SerializeToString()
    assert has_feature_lists(payload)
    assert parse_example(payload) == {"slide": [b"s"]}  # the context, read as an Example's features
    assert feature_lists(payload) == [
        {"name": "ids", "kind": "int", "steps": [[1, -2], []]},
        {"name": "text", "kind": "bytes", "steps": [[b"a"]]},
    ]
    only_lists = SequenceExample()
    only_lists.feature_lists.feature_list["v"].feature.add().float_list.value.append(1.5)
    payload = only_lists.SerializeToString()  # no context at all: still a record, not an error
    assert parse_example(payload) == {}
    assert feature_lists(payload) == [{"name": "v", "kind": "float", "steps": [[1.5]]}]
    example = Example()
    example.features.feature["x"].int64_list.value.append(1)
    assert not has_feature_lists(example.SerializeToString()) and feature_lists(example.SerializeToString()) == []
    assert not has_feature_lists(b"\xff\xff")  # not protobuf: no lists, and no exception
