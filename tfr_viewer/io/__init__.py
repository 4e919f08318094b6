"""Alias of Slideflow's `sf.io`: decode_image, tfrecord2idx, write_tfrecords_single/multi,
TFRecordWriter, serialized_record."""

from ..core import tfrecord2idx
from ..core.images import decode_image
from ..core.write_records import TFRecordWriter, serialized_record


def __getattr__(name: str):
    if name in ("write_tfrecords_single", "write_tfrecords_multi"):
        from ..core import writer

        return getattr(writer, name)
    raise AttributeError(f"module 'tfr_viewer.io' has no attribute {name!r}")


__all__ = [
    "decode_image",
    "tfrecord2idx",
    "write_tfrecords_single",
    "write_tfrecords_multi",
    "TFRecordWriter",
    "serialized_record",
]
