"""tfr-viewer: a fast, TensorFlow-free inspector and library for Slideflow-style TFRecords.

`import tfr_viewer as sf` gives the names of Slideflow's TFRecord page: `sf.TFRecord`,
`sf.tfrecord_loader`, `sf.multi_tfrecord_loader`, `sf.io.*`, `sf.util.*`, `sf.Dataset`.

Every name loads on first use: `tfr-viewer` starts (and paints its window) without
importing numpy or protobuf, and `import tfr_viewer` costs nothing until a name is used.
"""

from __future__ import annotations

import importlib

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

# name -> (module, attribute); attribute None: the module itself
_LAZY = {
    "TFRecord": ("tfr_viewer.core.tfrecord", "TFRecord"),
    "TFRecordError": ("tfr_viewer.core.errors", "TFRecordError"),
    "tfrecord_loader": ("tfr_viewer.tfrecord", "tfrecord_loader"),
    "multi_tfrecord_loader": ("tfr_viewer.tfrecord", "multi_tfrecord_loader"),
    "io": ("tfr_viewer.io", None),
    "tfrecord": ("tfr_viewer.tfrecord", None),
    "util": ("tfr_viewer.util", None),
    "Dataset": ("tfr_viewer.core.dataset", "Dataset"),
    "verify": ("tfr_viewer.core.verify", "verify"),
    "VerifyReport": ("tfr_viewer.core.verify", "VerifyReport"),
    "salvage": ("tfr_viewer.core.verify", "salvage"),
}


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tfr-viewer")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str):
    """Load a public name on first use and keep it (later lookups are plain attributes)."""
    if name == "__version__":
        value = _version()
    elif name in _LAZY:
        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
    else:
        raise AttributeError(f"module 'tfr_viewer' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})
