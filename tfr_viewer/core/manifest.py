"""`manifest.json`: tile counts cached beside the TFRecords, shared with Slideflow.

Slideflow's shape is `{"<relative path>": {"total": n}}`; we add `size`/`mtime_ns` (and notes of
an `error` or an `index_problem`), keys Slideflow ignores, so that an entry is trusted only while
the file it counted is unchanged. The dataset model reads it for counts of files still waiting
for their index; `Dataset` keeps it up to date.
"""

from __future__ import annotations

import json

from .errors import TFRecordError
from .framing import FRAMING_SIZE
from .index import find_index, iter_scan
from .paths import cache_path_for, in_user_cache
from .progress import run_job
from .read_only import read_only
from .storage import FileInfo, join, parent, storage_for

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20  # ~100,000 entries; json.loads takes ~20x the text in memory


def manifest_total(entry: object, st: FileInfo) -> int | None:
    """The cached tile count of a manifest entry when it still matches the file on disk.

    Only entries this tool can check are trusted: ours carry the file's size and mtime (a
    Slideflow entry has only `total`, and is counted again), and a count the file cannot hold
    (more than one record per 16 bytes), or none for a file with bytes and no error noted,
    means the entry was not written by a count of this file.
    """
    if not isinstance(entry, dict) or entry.get("size") != st.size or entry.get("mtime_ns") != st.mtime_ns:
        return None
    total = entry.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or not 0 <= total <= st.size // FRAMING_SIZE:
        return None
    if total == 0 and st.size and not entry.get("error"):
        return None
    return total


def count_file(path: str, st: FileInfo) -> dict:
    """A manifest entry for one file: from a valid index, else by reading it (nothing written)."""
    entry: dict = {"size": st.size, "mtime_ns": st.mtime_ns}
    try:
        if st.size == 0:
            entry.update(total=0, error="empty file: holds no records")
            return entry
        notes: list[str] = []
        info = find_index(path, notes)
        if notes:  # a bad index is this file's problem only: the records are counted instead
            entry["index_problem"] = _notes_text(notes)
        if info is None:
            info = run_job(iter_scan(path, tolerate_errors=True))
        entry["total"] = len(info.offsets)
        if info.error is not None:
            entry["error"] = _without_path(info.error)
    except TFRecordError as exc:
        entry.update(total=0, error=_without_path(exc))
    except OSError as exc:
        entry.update(total=0, error=f"cannot read the file ({exc.strerror or exc})")
    return entry


def _notes_text(notes: list[str]) -> str:
    return "; ".join(notes) + " (counted from the records)"


def index_problem(path: str) -> str | None:
    """Why an index of this file was ignored, or None: checked again for a cached count (a
    few header reads), so a bad index that was removed or rebuilt is no longer reported."""
    notes: list[str] = []
    try:
        find_index(path, notes)
    except (TFRecordError, OSError):
        return None
    return _notes_text(notes) if notes else None


def _without_path(error: TFRecordError) -> str:
    """The error's message without the file name (problems are listed under their file)."""
    return str(TFRecordError(error.reason, None, error.index, error.offset))


def _manifest_paths(root: str) -> list[str]:
    return [join(root, MANIFEST), str(cache_path_for(root, "manifest", MANIFEST))]


def read_manifest(root: str, problems: list[tuple[str, str]] | None = None) -> dict[str, dict]:
    """Entries from manifest.json beside the files, overlaid by our cache copy when there is one.

    Only a regular file of sane size is read (a FIFO would block, /dev/zero never ends); one
    that cannot be used is ignored (the counts are taken again) and, with `problems`, noted.
    """
    merged: dict[str, dict] = {}
    for path in _manifest_paths(root):
        try:
            with storage_for(path).open(path, MAX_MANIFEST_BYTES) as f:
                data = json.loads(f.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError, RecursionError) as exc:
            if problems is not None:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                reason = "nested too deeply" if isinstance(exc, RecursionError) else reason
                problems.append((path, f"manifest ignored ({reason}): tiles counted from the files"))
            continue
        if isinstance(data, dict):
            merged.update({k: v for k, v in data.items() if isinstance(v, dict)})
    return merged


def manifest_hint(root: str) -> dict[str, dict]:
    """The folder's manifest.json entries, or none when it cannot be read: only a hint for the
    count of a file that waits for its index."""
    try:
        return read_manifest(root)
    except Exception:  # noqa: BLE001  (counts then come from the indexes)
        return {}


def write_manifest(root: str, entries: dict[str, dict]) -> None:
    """manifest.json beside the files, else in the cache; never in place of a FIFO or device,
    and never into a storage that is only to be read (a remote bucket a viewer looks at)."""
    data = json.dumps(entries, indent=1, sort_keys=True).encode("utf-8")
    for path in _manifest_paths(root):
        storage = storage_for(path)
        if not storage.writable or (read_only() and not in_user_cache(path)):
            continue
        try:
            if not storage.stat(path).is_file:
                continue
        except OSError:  # missing, or a dangling link: written as before
            pass
        try:
            storage.make_dirs(parent(path))
            with storage.atomic_output(path) as f:
                f.write(data)
            return
        except OSError:
            continue
