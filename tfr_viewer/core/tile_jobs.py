"""Jobs over the tiles of catalog files, as the window runs them: the values of one field for
the map's colours (the export of chosen tiles is `export_selection`). File ids are positions in
the catalog's list of files."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .catalog import FileEntry
from .errors import TFRecordError
from .loaders import tfrecord_loader
from .progress import CancelToken, Job, Progress

CANCEL_EVERY = 512  # records read between checks of the cancel token


def iter_read_field(
    entries: list[FileEntry], file_ids: list[int], name: str, cancel: CancelToken
) -> Job[tuple[np.ndarray, list[str]]]:
    """Job: one numeric field of every record of these files, in tile order (NaN where absent or
    unreadable), and the problems met: a damaged file leaves NaN from its bad record on."""
    total = sum(entries[f].count for f in file_ids)
    out = np.full(total, np.nan)
    problems: list[str] = []
    pos = 0
    for f in file_ids:
        entry = entries[f]
        offsets = entry.index.offsets if entry.index is not None else None
        try:
            for i, record in enumerate(tfrecord_loader(entry.path, offsets, clip=entry.count)):
                if i % CANCEL_EVERY == 0:
                    cancel.raise_if_cancelled()
                value = record.get(name)
                if value is not None and getattr(value, "size", 0) == 1 and value.dtype.kind in "iuf":
                    out[pos + i] = float(value[0])
        except (TFRecordError, OSError) as exc:
            problems.append(str(exc))
        pos += entry.count
        yield Progress(pos, total, entry.path)
    return out, problems


def read_field_job(
    entries: list[FileEntry], file_ids: list[int], name: str
) -> Callable[[CancelToken], Job[tuple[np.ndarray, list[str]]]]:
    """`iter_read_field` as a job factory for a worker."""
    return lambda token: iter_read_field(entries, file_ids, name, token)
