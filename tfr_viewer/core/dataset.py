"""`Dataset`: the TFRecords of one or more folders, with Slideflow's manifest, summary and filters.

Tile counts are cached in `manifest.json` beside the files, in Slideflow's shape
(`{"<relative path>": {"total": n}}`, plus our `size`/`mtime_ns` keys that Slideflow ignores), and
refreshed only for files whose size or modification time changed. A file that cannot be read is
reported in `problems()`; nothing here ever deletes or rewrites a TFRecord.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .console import box_table, human_size
from .errors import TFRecordError
from .images import image_info
from .framing import FRAMING_SIZE
from .index import find_index, iter_create_index, iter_scan
from .naming import natural_key
from .local_storage import atomic_write_bytes, find_tfrecords, make_dirs, open_regular_file
from .paths import cache_path_for
from .storage import first_of_each_file
from .progress import CancelToken, Job, Progress, run_job

MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20  # ~100,000 entries; json.loads takes ~20x the text in memory
MAX_ANNOTATIONS_BYTES = 16 << 20  # one row per slide


@dataclass(frozen=True)
class _Source:
    root: Path  # folder whose manifest.json holds the entries
    files: tuple[str, ...]  # absolute paths


def _file_stats(paths: list[str]) -> dict[str, tuple[int, int] | None]:
    """(size, mtime_ns) of each file, None for one that cannot be read."""
    stats: dict[str, tuple[int, int] | None] = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            stats[path] = None
        else:
            stats[path] = (st.st_size, st.st_mtime_ns)
    return stats


def _discover(sources: Sequence[str | os.PathLike]) -> tuple[list[_Source], dict[str, str]]:
    """The sources' files, each once, and the sub-folders that could not be read (path -> why)."""
    found: list[_Source] = []
    loose: dict[Path, list[str]] = {}
    unreadable: dict[str, str] = {}
    for source in sources:
        path = Path(source).expanduser().absolute()
        if path.is_dir():
            files, folders = find_tfrecords(path)
            for folder, why in folders:
                if os.path.abspath(folder) == str(path):
                    raise OSError(f"cannot read folder {path}: {why}")
                unreadable[folder] = f"cannot read folder ({why}): its TFRecords are left out"
            found.append(_Source(path, tuple(files)))
        elif path.is_file():
            loose.setdefault(path.parent, []).append(str(path))
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    for root, files in loose.items():
        found.append(_Source(root, tuple(sorted(set(files), key=natural_key))))
    # overlapping sources (a folder and its sub-folder, or one folder spelled two ways, through
    # '..' or a link): each real file once, under the first name it was found by
    seen: set[str] = set()
    unique = []
    for source in found:
        files = first_of_each_file(source.files, str, seen)
        if files or not source.files:
            unique.append(_Source(source.root, tuple(files)))
    return unique, unreadable


class Dataset:
    """TFRecords from folders (searched recursively) and/or files.

    `filter(min_tiles=..., slides=..., filters=...)` and `clip(n)` return new Datasets, like
    Slideflow's. `annotations` is an optional CSV with a `slide` column (and e.g. `patient`).
    """

    def __init__(
        self,
        sources: str | os.PathLike | Sequence[str | os.PathLike],
        annotations: str | os.PathLike | None = None,
        *,
        min_tiles: int = 0,
        slides: Iterable[str] | None = None,
        filters: dict[str, Sequence[str]] | None = None,
        clip: int | None = None,
    ) -> None:
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        self._source_args = list(sources)
        self._sources, self._unreadable_folders = _discover(self._source_args)
        self.annotations_path = annotations
        self._annotations = _read_annotations(annotations) if annotations else None
        self.min_tiles = min_tiles
        self.slide_filter = sorted(set(slides)) if slides is not None else None
        self.filters = dict(filters or {})
        self.clip_to = clip
        self._manifest: dict[str, dict] | None = None
        self._manifest_stats: dict[str, tuple[int, int] | None] = {}
        self._problems: dict[str, str] = {}

    # --- derived datasets ----------------------------------------------------------------------
    def _derive(self, **changes) -> "Dataset":
        options = dict(
            min_tiles=self.min_tiles, slides=self.slide_filter, filters=self.filters, clip=self.clip_to
        )
        options.update(changes)
        return Dataset(self._source_args, self.annotations_path, **options)

    def filter(
        self,
        min_tiles: int | None = None,
        slides: Iterable[str] | None = None,
        filters: dict[str, Sequence[str]] | None = None,
    ) -> "Dataset":
        """A new Dataset keeping files with at least `min_tiles` tiles / these slides / annotation values."""
        changes: dict = {}
        if min_tiles is not None:
            changes["min_tiles"] = min_tiles
        if slides is not None:
            changes["slides"] = slides
        if filters is not None:
            if self._annotations is None:
                raise ValueError("filters on annotation columns need an annotations file")
            changes["filters"] = {**self.filters, **filters}
        return self._derive(**changes)

    def clip(self, n: int | None) -> "Dataset":
        """A new Dataset that takes at most `n` tiles from each TFRecord."""
        if n is not None and n < 0:
            raise ValueError("clip must be >= 0")
        return self._derive(clip=n)

    # --- files ---------------------------------------------------------------------------------
    def _all_files(self) -> list[str]:
        return [f for s in self._sources for f in s.files]

    def _slide_allowed(self, slide: str) -> bool:
        if self.slide_filter is not None and slide not in self.slide_filter:
            return False
        if self.filters and self._annotations is not None:
            row = self._annotations.get(slide)
            if row is None:
                return False
            return all(row.get(col) in set(map(str, values)) for col, values in self.filters.items())
        return True

    def tfrecords(self) -> list[str]:
        """Paths of the TFRecords that pass the filters, in natural order."""
        files = [f for f in self._all_files() if self._slide_allowed(Path(f).stem)]
        if self.min_tiles:
            manifest = self._load_manifest()
            files = [f for f in files if manifest[f]["total"] >= self.min_tiles]
        return files

    def slides(self) -> list[str]:
        """Slide names (TFRecord file names without extension), as Slideflow names them."""
        return list(dict.fromkeys(Path(f).stem for f in self.tfrecords()))

    # --- manifest ------------------------------------------------------------------------------
    def manifest(self) -> dict[str, dict[str, int]]:
        """{path: {'total': n, 'clipped': m}} for every TFRecord that passes the filters."""
        full = self._load_manifest()
        out = {}
        for path in self.tfrecords():
            total = int(full[path]["total"])
            clipped = total if self.clip_to is None else min(total, self.clip_to)
            out[path] = {"total": total, "clipped": clipped}
        return out

    @property
    def num_tiles(self) -> int:
        """Tiles across the dataset, after clipping."""
        return sum(entry["clipped"] for entry in self.manifest().values())

    def problems(self) -> list[tuple[str, str]]:
        """(path, message) for each file that could not be fully read while counting tiles."""
        self._load_manifest()
        return sorted({**self._unreadable_folders, **self._problems}.items())

    def refresh(self) -> None:
        """Forget what was counted; the next call re-checks sizes and times on disk."""
        self._manifest = None

    def _load_manifest(self) -> dict[str, dict]:
        """The counts, re-checked against the files' sizes and times at every call (a file that
        grew or changed since is counted again), as the manifest promises."""
        stats = _file_stats(self._all_files())
        if self._manifest is None or stats != self._manifest_stats:
            self._manifest = run_job(self.iter_update_manifest())
            self._manifest_stats = stats
        return self._manifest

    def iter_update_manifest(self, cancel: CancelToken | None = None) -> Job[dict[str, dict]]:
        """Job: bring every source's manifest.json up to date; returns {abs path: entry}."""
        result: dict[str, dict] = {}
        self._problems = {}
        total = len(self._all_files())
        done = 0
        for source in self._sources:
            ignored: list[tuple[str, str]] = []
            stored = read_manifest(source.root, ignored)
            self._problems.update(ignored)
            changed = False
            for path in source.files:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                rel = os.path.relpath(path, source.root)
                entry = stored.get(rel)
                try:
                    st = os.stat(path)
                except OSError as exc:
                    self._problems[path] = f"cannot read the file ({exc.strerror or exc})"
                    result[path] = {"total": 0}
                    continue
                if manifest_total(entry, st) is None:
                    entry = _count(path, st)
                    stored[rel] = entry
                    changed = True
                elif entry.get("index_problem"):  # still there? (a rebuild or a fix removes it)
                    problem = _index_problem(path)
                    if problem != entry["index_problem"]:
                        entry = {k: v for k, v in entry.items() if k != "index_problem"}
                        entry.update({"index_problem": problem} if problem else {})
                        stored[rel] = entry
                        changed = True
                if entry.get("error") or entry.get("index_problem"):
                    self._problems[path] = "; ".join(entry[k] for k in ("error", "index_problem") if entry.get(k))
                result[path] = entry
                done += 1
                if done % 16 == 0:
                    yield Progress(done, total, path)
            if changed:
                _write_manifest(source.root, stored)
        return result

    def rebuild_index(self, progress: Callable[[int, int, str], None] | None = None) -> list[tuple[str, str]]:
        """Rebuild the index of every TFRecord; returns (path, message) for files that failed."""
        failures: list[tuple[str, str]] = []

        def report(p: Progress) -> None:
            if progress is not None:
                progress(p.done, p.total, p.message)

        run_job(self.iter_rebuild_index(failures=failures), report)
        self.refresh()
        return failures

    def iter_rebuild_index(
        self, cancel: CancelToken | None = None, failures: list[tuple[str, str]] | None = None
    ) -> Job[list[tuple[str, str]]]:
        """Job form of `rebuild_index` (progress counts files)."""
        failures = failures if failures is not None else []
        files = self.tfrecords()
        for i, path in enumerate(files):
            yield Progress(i, len(files), path)
            try:
                for _ in iter_create_index(path, cancel):
                    pass
            except (TFRecordError, OSError) as exc:
                failures.append((path, str(exc)))
        yield Progress(len(files), len(files), "")
        return failures

    # --- summary -------------------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], None] | None = print) -> str:
        """Tables like Slideflow's `Dataset.summary()`; printed and returned."""
        manifest = self.manifest()
        files = list(manifest)
        size = sum(_file_size(f) for f in files)
        fmt, tile_px = _first_image(files)
        overview = [
            ("Sources:", ", ".join(str(s.root) for s in self._sources) or "-"),
            ("TFRecords:", len(files)),
            ("Slides:", len(self.slides())),
        ]
        if self._annotations is not None:
            patients = {self._annotations.get(s, {}).get("patient") for s in self.slides()} - {None}
            overview.append(("Patients:", len(patients)))
        overview += [
            ("Tiles:", sum(e["total"] for e in manifest.values())),
            ("Size on disk:", human_size(size)),
            ("Image format:", fmt or "-"),
            ("Tile size (px):", tile_px or "-"),
        ]
        filters = [
            ("Filters:", json.dumps(self.filters) if self.filters else "{}"),
            ("Slides:", self.slide_filter if self.slide_filter is not None else "all"),
            ("Min Tiles:", self.min_tiles),
            ("Clip:", self.clip_to if self.clip_to is not None else "none"),
        ]
        parts = ["Overview:", box_table(overview), "", "Filters:", box_table(filters), "", "Sources:"]
        for source in self._sources:
            kept = [f for f in source.files if f in manifest]
            parts += [
                "",
                source.root.name or str(source.root),
                box_table(
                    [
                        ("tfrecords", source.root),
                        ("files", len(kept)),
                        ("tiles", sum(manifest[f]["total"] for f in kept)),
                    ]
                ),
            ]
        parts += ["", f"Number of tiles in TFRecords: {self.num_tiles}"]
        if self._annotations is not None:
            columns = sorted({c for row in self._annotations.values() for c in row})
            parts.append(f"Annotation columns: {columns}")
        problems = self.problems()
        if problems:
            parts += ["", f"Problems ({len(problems)}):"] + [f"  {p}: {m}" for p, m in problems]
        text = "\n".join(parts)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        return f"Dataset({[str(s.root) for s in self._sources]}, tfrecords={len(self._all_files())})"


def manifest_total(entry: object, st: os.stat_result) -> int | None:
    """The cached tile count of a manifest entry when it still matches the file on disk.

    Only entries this tool can check are trusted: ours carry the file's size and mtime (a
    Slideflow entry has only `total`, and is counted again), and a count the file cannot hold
    (more than one record per 16 bytes), or none for a file with bytes and no error noted,
    means the entry was not written by a count of this file.
    """
    if not isinstance(entry, dict) or entry.get("size") != st.st_size or entry.get("mtime_ns") != st.st_mtime_ns:
        return None
    total = entry.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or not 0 <= total <= st.st_size // FRAMING_SIZE:
        return None
    if total == 0 and st.st_size and not entry.get("error"):
        return None
    return total


def _count(path: str, st: os.stat_result) -> dict:
    """A manifest entry for one file: from a valid index, else by reading it (nothing written)."""
    entry: dict = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        if st.st_size == 0:
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


def _index_problem(path: str) -> str | None:
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


def _manifest_paths(root: Path) -> list[Path]:
    return [root / MANIFEST, cache_path_for(root, "manifest", MANIFEST)]


def read_manifest(root: Path, problems: list[tuple[str, str]] | None = None) -> dict[str, dict]:
    """Entries from manifest.json beside the files, overlaid by our cache copy when there is one.

    Only a regular file of sane size is read (a FIFO would block, /dev/zero never ends); one
    that cannot be used is ignored (the counts are taken again) and, with `problems`, noted.
    """
    merged: dict[str, dict] = {}
    for path in _manifest_paths(root):
        try:
            with open_regular_file(path, MAX_MANIFEST_BYTES) as f:
                data = json.loads(f.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError, RecursionError) as exc:
            if problems is not None:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                reason = "nested too deeply" if isinstance(exc, RecursionError) else reason
                problems.append((str(path), f"manifest ignored ({reason}): tiles counted from the files"))
            continue
        if isinstance(data, dict):
            merged.update({k: v for k, v in data.items() if isinstance(v, dict)})
    return merged


def _write_manifest(root: Path, entries: dict[str, dict]) -> None:
    """manifest.json beside the files, else in the cache; never in place of a FIFO or device."""
    data = json.dumps(entries, indent=1, sort_keys=True).encode("utf-8")
    for path in _manifest_paths(root):
        try:
            if os.path.lexists(path) and not stat.S_ISREG(os.stat(path).st_mode):
                continue
        except OSError:  # a dangling link: written as before
            pass
        try:
            make_dirs(path.parent)
            atomic_write_bytes(path, data)
            return
        except OSError:
            continue


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _first_image(files: list[str]) -> tuple[str | None, int | None]:
    """Image format and tile size from the first readable image of the dataset."""
    from .tfrecord import TFRecord

    for path in files:
        try:
            with TFRecord(path, create_index=False, index=find_index(path)) as tfr:
                if not len(tfr):
                    continue
                info = image_info(tfr[0].get("image_raw"))
                return info["format"], info["width"]
        except (TFRecordError, OSError):
            continue
    return None, None


def _read_annotations(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """slide -> row of an annotations CSV (Slideflow's layout: columns patient, slide, labels...)."""
    try:
        binary = open_regular_file(path, MAX_ANNOTATIONS_BYTES)
    except ValueError as exc:  # a FIFO or device would block or never end
        raise ValueError(f"annotations file {path} cannot be used ({exc})") from None
    try:
        with io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "slide" not in reader.fieldnames:
                raise ValueError(f"annotations file {path} needs a 'slide' column")
            return {row["slide"]: row for row in reader if row.get("slide")}
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"annotations file {path} is not a UTF-8 CSV file ({exc})") from None
