"""Bounded fuzzing of the framing reader and the Example parser.

Any input gives records or a TFRecordError: no other exception, no hang, no allocation larger
than the file. Longer runs: `TFR_VIEWER_FUZZ_EXAMPLES=100000 pytest tests/core/test_fuzz.py`.
"""

from __future__ import annotations

import io
import os
import tracemalloc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfr_viewer.core.errors import TFRecordError
from tfr_viewer.core.framing import iter_frames
from tfr_viewer.core.index import iter_scan
from tfr_viewer.core.progress import run_job
from tfr_viewer.core.records import field_order, parse_example, parse_public, to_public

from ..helpers import example_py, frame_py, tile_record

EXAMPLES = int(os.environ.get("TFR_VIEWER_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = b"".join(frame_py(example_py(tile_record(i))) for i in range(3))


def _consume(data: bytes) -> int:
    """Read everything the way the library does; return the number of good records."""
    good = 0
    try:
        for _, _, payload in iter_frames(io.BytesIO(data)):
            raw = parse_example(payload)
            assert parse_public(payload, None) == to_public(raw, field_order(payload))
            good += 1
    except TFRecordError:
        pass
    return good


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    _consume(data)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_valid_file(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(VALID)
    for pos, value in mutations:
        data[pos] = value
    tracemalloc.start()
    try:
        _consume(bytes(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(VALID) + 1_000_000  # a corrupt length never turns into a big allocation


@FUZZ
@given(st.binary(max_size=512))
def test_payloads_that_pass_the_crc(payload: bytes) -> None:
    """Garbage inside valid framing reaches the Example parser: only TFRecordError may come out."""
    data = frame_py(payload)
    try:
        for _, _, p in iter_frames(io.BytesIO(data)):
            parse_example(p)
            field_order(p)
    except TFRecordError:
        pass
    try:
        parse_public(payload, ["image_raw", "slide"])
    except TFRecordError:
        pass


@FUZZ
@given(cut=st.integers(0, len(VALID)))
def test_truncation_anywhere(cut: int, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "cut.tfrecords"
    path.write_bytes(VALID[:cut])
    info = run_job(iter_scan(path, tolerate_errors=True))
    boundaries = [0]
    for _, length, _ in iter_frames(io.BytesIO(VALID)):
        boundaries.append(boundaries[-1] + length)
    whole = sum(1 for b in boundaries[1:] if b <= cut)
    assert len(info.offsets) == whole
    assert (info.error is None) == (cut in boundaries)
