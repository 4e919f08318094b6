"""Alias of Slideflow's `sf.tfrecord`: tfrecord_loader, multi_tfrecord_loader."""


def tfrecord_loader(*args, **kwargs):
    """See `tfr_viewer.core.loaders.tfrecord_loader`."""
    from ..core.loaders import tfrecord_loader as _loader

    return _loader(*args, **kwargs)


def multi_tfrecord_loader(*args, **kwargs):
    """See `tfr_viewer.core.loaders.multi_tfrecord_loader`."""
    from ..core.loaders import multi_tfrecord_loader as _loader

    return _loader(*args, **kwargs)


__all__ = ["tfrecord_loader", "multi_tfrecord_loader"]
