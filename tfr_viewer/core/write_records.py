"""`TFRecordWriter` and `serialized_record`: Slideflow's (and TensorFlow's) names for writing
records one by one, for scripts that build their own Examples.

The files are byte-identical to TensorFlow's `tf.io.TFRecordWriter` (same framing, and
`serialized_record` orders features by name as TensorFlow's serializer does).
"""

from __future__ import annotations

import os
from typing import Any

from .framing import frame_record
from .records import make_example
from .source import check_compression
from .storage import storage_for
from .write_compress import CompressedOutput


def serialized_record(slide: bytes | str, image_raw: bytes, loc_x: int | None = 0, loc_y: int | None = 0) -> bytes:
    """A tile's serialized `tf.train.Example`, as Slideflow 3.0's `sf.io.serialized_record`:
    `slide` (bytes or str, stored as UTF-8), `image_raw` (the image bytes), `loc_x`/`loc_y`
    (int64; None leaves the field out, as Slideflow's `tfrecord_example` does). Bytes equal to
    what TensorFlow serializes for the same fields."""
    fields: dict[str, Any] = {"image_raw": bytes(image_raw)}
    if loc_x is not None:
        fields["loc_x"] = int(loc_x)
    if loc_y is not None:
        fields["loc_y"] = int(loc_y)
    fields["slide"] = slide.encode("utf-8") if isinstance(slide, str) else bytes(slide)
    return make_example(fields)  # keys in sorted order: TensorFlow's


class TFRecordWriter:
    """Writes framed records to `path`, like `tf.io.TFRecordWriter(path, options)`.

    Unlike TensorFlow's writer, the file appears only when `close()` is called (or the `with`
    block ends without an exception): records go to a hidden temporary file beside `path` that
    is renamed into place on close. An exception inside the `with` block, or a writer dropped
    without `close()`, leaves no file at `path` (an existing file there stays as it was);
    `flush()` pushes buffered bytes to that temporary file, not to `path`. An existing file is
    replaced on close, as TensorFlow's writer replaces it. `options`: None or '' (plain),
    'GZIP' or 'ZLIB' (TensorFlow's compressions; any case), or an object with a
    `compression_type` attribute (`tf.io.TFRecordOptions`).
    """

    def __init__(self, path: str | os.PathLike, options: Any = None) -> None:
        self.path = os.fsdecode(os.fspath(path))
        compression = check_compression(getattr(options, "compression_type", options))
        storage = storage_for(self.path)
        self._output = storage.atomic_output(self.path, overwrite=True)
        self._file = self._output.__enter__()
        self._compressed = None if compression is None else CompressedOutput(self._file, compression)
        self._closed = False

    def write(self, record: bytes | bytearray | memoryview | str) -> None:
        """Append one record (a serialized Example, or any payload bytes; str as UTF-8, as
        TensorFlow's writer takes it)."""
        if self._closed:
            raise ValueError(f"write to a closed TFRecordWriter ({self.path})")
        framed = frame_record(record.encode("utf-8") if isinstance(record, str) else bytes(record))
        (self._compressed or self._file).write(framed)

    def flush(self) -> None:
        """Push buffered records to the temporary file (the file at `path` appears on close)."""
        if not self._closed:
            self._file.flush()

    def close(self) -> None:
        """Finish the file and put it in place at `path`. Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._compressed is not None:
                self._compressed.finish()
        except BaseException as exc:
            self._output.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._output.__exit__(None, None, None)

    def discard(self) -> None:
        """Drop what was written: no file appears at `path`."""
        if not self._closed:
            self._closed = True
            error = RuntimeError("TFRecordWriter discarded")
            self._output.__exit__(RuntimeError, error, None)

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def __del__(self) -> None:  # never closed: the temporary file goes, nothing appears at `path`
        if not getattr(self, "_closed", True):
            self.discard()
