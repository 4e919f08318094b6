"""decode_image and the thumbnail decoder on every image kind a TFRecord may hold."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import tfr_viewer as sf
from tfr_viewer.core.images import decode_thumbnail, image_info, sniff_format

from ..helpers import make_jpeg, make_png


def test_jpeg_rgb() -> None:
    data = make_jpeg(40, 30)
    arr = sf.io.decode_image(data)
    assert arr.shape == (30, 40, 3) and arr.dtype == np.uint8
    np.testing.assert_array_equal(arr, np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    assert sniff_format(data) == "jpeg"


def test_png_rgb_is_lossless() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, size=(20, 24, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    np.testing.assert_array_equal(sf.io.decode_image(buf.getvalue()), pixels)
    assert sniff_format(buf.getvalue()) == "png"


def test_greyscale_rgba_and_16_bit() -> None:
    grey = sf.io.decode_image(make_png(mode="L"))
    assert grey.shape == (32, 32, 3)
    assert np.array_equal(grey[:, :, 0], grey[:, :, 2])
    rgba_bytes = make_png(mode="RGBA")
    rgba = sf.io.decode_image(rgba_bytes)
    expected = np.asarray(Image.open(io.BytesIO(rgba_bytes)))[:, :, :3]
    np.testing.assert_array_equal(rgba, expected)  # alpha dropped, as tf.image with channels=3
    deep_bytes = make_png(mode="I;16")
    deep = sf.io.decode_image(deep_bytes)
    raw16 = np.asarray(Image.open(io.BytesIO(deep_bytes))).astype(np.uint16)
    assert deep.dtype == np.uint8 and deep.shape == (32, 32, 3)
    np.testing.assert_array_equal(deep[:, :, 1], (raw16 >> 8).astype(np.uint8))


def test_greyscale_jpeg_and_palette_png() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), 77, np.uint8)).save(buf, format="JPEG")
    assert sf.io.decode_image(buf.getvalue()).shape == (8, 8, 3)
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).convert("P").save(buf, format="PNG")
    assert sf.io.decode_image(buf.getvalue()).shape == (8, 8, 3)


@pytest.mark.parametrize("data", [b"", b"abc", make_jpeg()[:50], b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_undecodable_bytes(data: bytes) -> None:
    with pytest.raises(sf.TFRecordError) as error:
        sf.io.decode_image(data)
    assert "0x" not in str(error.value) and "BytesIO" not in str(error.value)  # words, not object reprs
    with pytest.raises(sf.TFRecordError):
        decode_thumbnail(data, 64)


def test_thumbnail_keeps_aspect_and_bounds() -> None:
    thumb = decode_thumbnail(make_jpeg(512, 256), 64)
    assert thumb.shape == (32, 64, 3) and thumb.dtype == np.uint8
    small = decode_thumbnail(make_png(16, 16), 64)
    assert small.shape == (16, 16, 3)


def test_image_info_reads_header_only() -> None:
    assert image_info(make_jpeg(40, 30)) == {"format": "jpeg", "width": 40, "height": 30, "mode": "RGB"}
    assert image_info(make_png(mode="RGBA"))["format"] == "png"
