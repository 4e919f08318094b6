"""tfr-viewer: a fast, TensorFlow-free inspector and library for Slideflow-style TFRecords.

`import tfr_viewer as sf` gives the names of Slideflow's TFRecord page: `sf.TFRecord`,
`sf.tfrecord_loader`, `sf.multi_tfrecord_loader`, `sf.io.*`, `sf.util.*`, `sf.Dataset`.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from .core.errors import TFRecordError
from .core.tfrecord import TFRecord

try:
    __version__ = _metadata.version("tfr-viewer")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from . import io, tfrecord, util  # noqa: E402  (aliases need the names above)
from .tfrecord import multi_tfrecord_loader, tfrecord_loader  # noqa: E402

__all__ = [
    "TFRecord",
    "TFRecordError",
    "tfrecord_loader",
    "multi_tfrecord_loader",
    "io",
    "tfrecord",
    "util",
    "__version__",
]


def __getattr__(name: str):
    """Heavier parts load on first use, so `import tfr_viewer` stays fast for the CLI."""
    if name in ("Dataset",):
        from .core.dataset import Dataset

        return Dataset
    if name in ("verify", "VerifyReport", "salvage"):
        from .core import verify as _verify

        return getattr(_verify, name)
    raise AttributeError(f"module 'tfr_viewer' has no attribute {name!r}")
