"""Slideflow's `sf.io` helpers that scripts call beside the readers: `get_tfrecord_parser`,
`read_and_return_record` and `extract_tiles`, with Slideflow 3.0's signatures, no TensorFlow.

Where Slideflow's two backends differ, the TensorFlow backend's behaviour is followed:
`read_and_return_record` returns serialized Example bytes (what `sf.io.TFRecordWriter.write`
takes), and a missing `loc_x`/`loc_y` parses to None.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .errors import TFRecordError
from .export import ExportReport, iter_export_tiles
from .images import decode_image
from .progress import run_job
from .framing import iter_frames
from .records import field_order, make_example, parse_example, to_public
from .source import open_source
from .tfrecord import TFRecord

OPTIONAL_FEATURES = ("loc_x", "loc_y")  # missing in a record: None, as Slideflow's parser gives


def get_tfrecord_parser(
    tfrecord_path: str | os.PathLike,
    features_to_return: Iterable[str] | Mapping[str, str] | None = None,
    decode_images: bool = True,
    *,
    to_numpy: bool = False,
    img_size: int | None = None,
    error_if_invalid: bool = True,
    standardize: bool = False,
    normalizer: Any = None,
    augment: bool | str = False,
) -> Callable[[Any], list[Any] | dict[str, Any]]:
    """A function that parses one record of this TFRecord, as Slideflow's `sf.io.get_tfrecord_parser`.

    The parser takes a serialized Example (`TFRecord.read_payload(i)`, bytes of a framed record's
    payload) or a record dict (from `tfrecord_loader` or `TFRecord[i]`). `features_to_return`: a
    list of names (the parser returns a list in that order), a dict label -> name (returns a dict
    by label) or None (every field of the file, as a dict by name). `slide` comes back as str,
    `image_raw` as an (H, W, 3) uint8 array when `decode_images` (else the bytes), `loc_x`/`loc_y`
    as int (None when the record has none), other fields unwrapped as `TFRecord[i]` gives them.

    Names the file does not have raise `TFRecordError` here, not at the first record. A record
    without a requested field raises when `error_if_invalid`, else gives None. `img_size` checks
    that decoded tiles are that many pixels a side. `to_numpy` is accepted (values are never
    tensors here). Stain normalisation, augmentation and standardisation are not provided:
    asking for them raises ValueError rather than returning different pixels.
    """
    if normalizer is not None or augment or standardize:
        raise ValueError("normalizer, augment and standardize are not provided by tfr-viewer (Slideflow only)")
    del to_numpy  # accepted for Slideflow's signature: values are numpy or Python already
    path = os.fsdecode(os.fspath(tfrecord_path))
    fields = _first_record_fields(path)
    if features_to_return is None:
        wanted: list[str] | dict[str, str] = {name: name for name in fields}
    elif isinstance(features_to_return, Mapping):
        wanted = dict(features_to_return)
    else:
        wanted = list(features_to_return)
    names = list(wanted.values()) if isinstance(wanted, dict) else wanted
    absent = [n for n in names if n not in fields and n not in OPTIONAL_FEATURES]
    if absent:
        raise TFRecordError(f"features {absent} are not in this TFRecord (it has {fields})", path)

    def feature(record: dict[str, Any], name: str) -> Any:
        if name not in record:
            if name in OPTIONAL_FEATURES or not error_if_invalid:
                return None
            raise TFRecordError(f"record has no feature {name!r}", path)
        value = record[name]
        if name == "image_raw" and decode_images:
            image = decode_image(value)
            if img_size is not None and image.shape[:2] != (img_size, img_size):
                raise TFRecordError(f"tile is {image.shape[1]}x{image.shape[0]} px, not {img_size}x{img_size}", path)
            return image
        return value

    def parser(record: Any) -> list[Any] | dict[str, Any]:
        values = _as_record(record, fields)
        if isinstance(wanted, dict):
            return {label: feature(values, name) for label, name in wanted.items()}
        return [feature(values, name) for name in wanted]

    return parser


def _first_record_fields(path: str) -> list[str]:
    """The feature names of the first record (what Slideflow's `detect_tfrecord_format` reads):
    one record, not a scan of the whole file."""
    with open_source(path) as f:
        for _, _, payload in iter_frames(f, path):
            return field_order(payload, path, 0)
    raise TFRecordError("empty file: holds no records", path)


def _as_record(record: Any, order: list[str]) -> dict[str, Any]:
    """A record as `TFRecord[i]` gives it, from a payload or from a loader's dict of arrays."""
    if isinstance(record, (bytes, bytearray, memoryview)):
        return to_public(parse_example(bytes(record)), order)
    if not isinstance(record, Mapping):
        raise TypeError(f"a parser takes a serialized record or a record dict, not {type(record).__name__}")
    out = {}
    for name, value in record.items():
        if isinstance(value, np.ndarray):  # tfrecord_loader's arrays: uint8 = bytes, else numbers
            if value.dtype == np.uint8 and value.ndim == 1:
                value = value.tobytes()
            else:
                value = value.item() if value.size == 1 else value.tolist()
        if name == "slide" and isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                pass
        out[name] = value
    return out


def read_and_return_record(record: Any, parser: Callable[[Any], Any], assign_slide: str | bytes | None = None) -> bytes:
    """The record parsed by `parser` (made with a dict or None `features_to_return` and
    `decode_images=False`), its slide replaced by `assign_slide` when given, serialized again:
    bytes for `TFRecordWriter.write`, as Slideflow's TensorFlow backend returns. Features are
    written in name order (TensorFlow's); a feature parsed to None is left out."""
    features = parser(record)
    if not isinstance(features, dict):
        raise TypeError("read_and_return_record needs a parser that returns a dict (features_to_return=None or a dict)")
    if assign_slide:
        features["slide"] = assign_slide
    if isinstance(features.get("image_raw"), np.ndarray):
        raise ValueError("the parser decodes images: make it with decode_images=False to write records again")
    return make_example({name: features[name] for name in sorted(features) if features[name] is not None})


def extract_tiles(tfrecord: str | os.PathLike, destination: str | os.PathLike) -> ExportReport:
    """Every tile of a TFRecord as an image file under `destination/<slide>/` (Slideflow's
    `sf.io.extract_tiles`): the image bytes as stored, named `<slide>_<x>-<y>.<ext>` (names
    `convert` reads back; Slideflow names them `tile<i>.<ext>`). Existing files are never
    replaced; a record whose image does not decode is skipped and listed in the report."""
    report = ExportReport()
    with TFRecord(tfrecord) as tfr:
        by_slide: dict[str, list[int]] = {}
        for i in range(len(tfr)):
            try:
                slide = tfr[i].get("slide", "")
            except TFRecordError as exc:
                report.skipped.append((i, exc.reason))
                continue
            by_slide.setdefault(folder_name(slide), []).append(i)
        for folder, indices in by_slide.items():
            part = run_job(iter_export_tiles(tfr, os.path.join(os.fspath(destination), folder), indices))
            report.written += part.written
            report.skipped += part.skipped
    report.skipped.sort()
    return report


def folder_name(slide: Any) -> str:
    """A slide name from the data made safe as one folder name (no separators, no '..')."""
    text = slide if isinstance(slide, str) else repr(slide)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).lstrip(".")
    return safe or "slide"
