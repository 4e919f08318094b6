"""Thumbnail decoding: the cheapest scale that still fills the size, the same on processes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tfr_viewer.core.images import decode_draft, decode_image
from tfr_viewer.core.thumb_decode import MAX_HELPER_SHARE, ThumbnailDecoder, decode_items

from ..helpers import make_jpeg, make_png


@pytest.mark.parametrize(("width", "height", "size", "expected"), [
    (256, 256, 96, (128, 128)),  # JPEG 1/2
    (512, 256, 96, (128, 64)),  # JPEG 1/4 on the larger side, aspect kept
    (256, 256, 64, (64, 64)),  # JPEG 1/4
    (256, 256, 192, (256, 256)),  # no scale >= 192 but the full one
    (40, 30, 96, (40, 30)),  # smaller than asked: as it is
    (4000, 4000, 96, (100, 100)),  # JPEG 1/8 (500), then reduced by 5
])
def test_jpeg_draft_sizes(width: int, height: int, size: int, expected: tuple[int, int]) -> None:
    pixels = decode_draft(make_jpeg(width, height), size)
    assert (pixels.shape[1], pixels.shape[0]) == expected and pixels.dtype == np.uint8
    assert max(pixels.shape[:2]) < 2 * size or max(width, height) < size


def test_other_formats_are_reduced_by_whole_numbers_and_look_the_same() -> None:
    pixels = decode_draft(make_png(300, 150), 96)
    assert pixels.shape == (50, 100, 3)  # reduced by 3
    full = decode_image(make_png(300, 150))
    expected = np.asarray(Image.fromarray(full).reduce(3))
    assert np.array_equal(pixels, expected)


def test_a_draft_looks_like_the_full_image_scaled() -> None:
    img = Image.new("RGB", (256, 256), (200, 40, 90))
    img.paste((10, 220, 30), (0, 0, 128, 256))  # left half green
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95)
    pixels = decode_draft(buf.getvalue(), 96).astype(int)
    assert pixels.shape == (128, 128, 3)
    assert np.abs(pixels[64, 20] - (10, 220, 30)).max() < 12 and np.abs(pixels[64, 110] - (200, 40, 90)).max() < 12


@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_decoding_on_helpers_gives_the_same_pixels_and_reasons_in_order(mode: str) -> None:
    items = [(make_jpeg(256, 128 + 8 * i, seed=i), 96) for i in range(20)] + [(b"\xff\xd8\xff broken", 96)]
    items.insert(7, (b"not an image", 96))
    here = decode_items(items)
    decoder = ThumbnailDecoder(workers=2, mode=mode)
    try:
        assert decoder.wait_ready(60)
        there = decoder.decode(items)
        again = decoder.decode(items)  # the helpers serve the next batch too
    finally:
        decoder.close()
    assert len(there) == len(items) == len(again)
    for i, (a, b) in enumerate(zip(here, there)):
        if isinstance(a, str):
            assert isinstance(b, str) and a == b and i in (7, len(items) - 1)
        else:  # the same tile in the same place: shapes differ from tile to tile
            assert isinstance(b, np.ndarray) and 96 <= max(b.shape[:2]) < 192 and np.array_equal(a, b)
            assert np.array_equal(a, again[i])


def test_a_killed_helper_process_leaves_the_caller_decoding_everything() -> None:
    items = [(make_jpeg(256, 256, seed=i), 96) for i in range(16)]
    decoder = ThumbnailDecoder(workers=2, mode="processes")
    try:
        assert decoder.wait_ready(60)
        helper = decoder._processes[0].process
        helper.kill()
        helper.join(10)
        answers = decoder.decode(items)
        assert not decoder.ready()  # given up; the next batch starts a new helper
    finally:
        decoder.close()
    assert all(np.array_equal(a, b) for a, b in zip(answers, decode_items(items)))


def test_a_second_caller_decodes_alone_while_the_helpers_are_busy() -> None:
    import threading

    items = [(make_jpeg(256, 256, seed=i), 96) for i in range(64)]
    expected = decode_items(items)
    decoder = ThumbnailDecoder(workers=2, mode="threads")
    results: list[list] = []
    try:
        assert decoder.wait_ready(10)
        callers = [threading.Thread(target=lambda: results.append(decoder.decode(items))) for _ in range(3)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(60)
    finally:
        decoder.close()
    assert len(results) == 3
    for result in results:
        assert all(np.array_equal(a, b) for a, b in zip(result, expected))


def test_a_helper_process_that_dies_while_starting_is_never_waited_for() -> None:
    items = [(make_jpeg(256, 256, seed=i), 96) for i in range(16)]
    decoder = ThumbnailDecoder(workers=2, mode="processes")
    try:
        decoder.warm()
        helper = decoder._processes[0].process
        helper.kill()
        helper.join(10)
        assert not decoder.wait_ready(5)
        answers = decoder.decode(items)  # the caller alone
    finally:
        decoder.close()
    assert all(np.array_equal(a, b) for a, b in zip(answers, decode_items(items)))


def test_any_split_between_caller_and_helper_process_keeps_every_answer_in_place() -> None:
    items = [(make_jpeg(200 + 8 * i, 256, seed=i), 96) for i in range(19)]
    items.insert(4, (b"\xff\xd8 nothing", 96))
    here = decode_items(items)
    decoder = ThumbnailDecoder(workers=2, mode="processes")
    try:
        assert decoder.wait_ready(60)
        for share in (1 - MAX_HELPER_SHARE, 0.5, MAX_HELPER_SHARE):
            decoder._helper_share = share
            there = decoder.decode(items)
            assert there[4] == here[4] and isinstance(there[4], str)
            assert all(np.array_equal(a, b) for i, (a, b) in enumerate(zip(here, there)) if i != 4)
            assert 1 - MAX_HELPER_SHARE <= decoder._helper_share <= MAX_HELPER_SHARE  # kept within bounds
            assert abs(decoder._helper_share - share) <= 1 / len(items) + 1e-9  # by one tile at most
    finally:
        decoder.close()
