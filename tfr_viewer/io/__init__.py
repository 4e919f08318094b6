"""Alias of Slideflow's `sf.io`: decode_image, tfrecord2idx, write_tfrecords_single/multi/merge,
TFRecordWriter, serialized_record, get_tfrecord_parser, read_and_return_record, extract_tiles."""

from ..core import tfrecord2idx
from ..core.images import decode_image
from ..core.write_records import TFRecordWriter, serialized_record


def __getattr__(name: str):
    if name in ("write_tfrecords_single", "write_tfrecords_multi", "write_tfrecords_merge"):
        from ..core import writer

        return getattr(writer, name)
    if name in ("get_tfrecord_parser", "read_and_return_record", "extract_tiles"):
        from ..core import slideflow_io

        return getattr(slideflow_io, name)
    raise AttributeError(f"module 'tfr_viewer.io' has no attribute {name!r}")


__all__ = [
    "decode_image",
    "tfrecord2idx",
    "write_tfrecords_single",
    "write_tfrecords_multi",
    "write_tfrecords_merge",
    "TFRecordWriter",
    "serialized_record",
    "get_tfrecord_parser",
    "read_and_return_record",
    "extract_tiles",
]
