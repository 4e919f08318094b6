"""Alias of Slideflow's `sf.io`: decode_image, tfrecord2idx, write_tfrecords_single/multi."""

from ..core import tfrecord2idx
from ..core.images import decode_image


def __getattr__(name: str):
    if name in ("write_tfrecords_single", "write_tfrecords_multi"):
        from ..core import writer

        return getattr(writer, name)
    raise AttributeError(f"module 'tfr_viewer.io' has no attribute {name!r}")


__all__ = ["decode_image", "tfrecord2idx", "write_tfrecords_single", "write_tfrecords_multi"]
