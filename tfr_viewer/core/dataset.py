"""`Dataset`: the TFRecords of one or more folders, with Slideflow's manifest, summary and filters.

Built on the dataset model (`core.catalog`): its files are the catalog's, opened by the same
function as the window's. Tile counts are cached in `manifest.json` beside the files, in Slideflow's shape
(`{"<relative path>": {"total": n}}`, plus our `size`/`mtime_ns` keys that Slideflow ignores), and
refreshed only for files whose size or modification time changed. A file that cannot be read is
reported in `problems()`; nothing here ever deletes or rewrites a TFRecord.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from . import catalog
from .console import box_table, human_size
from .errors import TFRecordError
from .images import image_info
from .index import find_index, iter_create_index
from .manifest import count_file, index_problem, manifest_total, read_manifest, write_manifest
from .naming import natural_key
from .progress import CancelToken, Job, Progress, run_job
from .storage import base_name, is_url, relative, stem, storage_for

MAX_ANNOTATIONS_BYTES = 16 << 20  # one row per slide


@dataclass(frozen=True)
class _Source:
    root: str  # folder whose manifest.json holds the entries
    files: tuple[str, ...]  # absolute paths


def _file_stats(paths: list[str]) -> dict[str, tuple[int, int] | None]:
    """(size, mtime_ns) of each file, None for one that cannot be read."""
    statuses = run_job(catalog.stat_files(paths))
    return {path: (s.size, s.mtime_ns) if s.exists else None for path, s in zip(paths, statuses)}


def _folder_key(folder: str) -> str:
    """A folder as compared with the given ones (a URL as it is, a local path normalised)."""
    return folder if is_url(folder) else os.path.abspath(folder)


def _open(sources: Sequence[str | os.PathLike]) -> tuple[list[_Source], dict[str, str]]:
    """The sources' files through the catalog, each once, grouped by the folder whose manifest
    counts them (given folders first, then the folders of files given by name), and the
    sub-folders that could not be read (path -> why). A given folder that cannot be read raises."""
    opened = run_job(catalog.open_catalog(sources, load_indexes=False))
    roots = {_folder_key(folder) for folder in opened.folders}
    unreadable: dict[str, str] = {}
    for folder, why in opened.unreadable_folders:
        if _folder_key(folder) in roots:
            raise OSError(f"cannot read folder {folder}: {why}")
        unreadable[folder] = f"cannot read folder ({why}): its TFRecords are left out"
    groups: dict[str, list[str]] = {}
    for entry in opened.files:
        groups.setdefault(entry.source, []).append(entry.path)
    found = [_Source(root, tuple(groups.pop(root, ()))) for root in dict.fromkeys(opened.folders)]
    found += [_Source(root, tuple(sorted(files, key=natural_key))) for root, files in groups.items()]
    return found, unreadable


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
        self._sources, self._unreadable_folders = _open(self._source_args)
        self.annotations_path = annotations
        self._annotations = _read_annotations(annotations) if annotations else None
        self.min_tiles = min_tiles
        self.slide_filter = sorted(set(slides)) if slides is not None else None
        self.filters = dict(filters or {})
        self.clip_to = clip
        self._manifest: dict[str, dict] | None = None
        self._manifest_stats: dict[str, tuple[int, int] | None] = {}
        self._problems: dict[str, str] = {}
        self._counted: dict[str, dict] = {}  # entries counted elsewhere (a Dask cluster): `take_counts`

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
        files = [f for f in self._all_files() if self._slide_allowed(stem(f))]
        if self.min_tiles:
            manifest = self._load_manifest()
            files = [f for f in files if manifest[f]["total"] >= self.min_tiles]
        return files

    def slides(self) -> list[str]:
        """Slide names (TFRecord file names without extension), as Slideflow names them."""
        return list(dict.fromkeys(stem(f) for f in self.tfrecords()))

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
                rel = relative(path, source.root)
                entry = stored.get(rel)
                try:
                    st = storage_for(path).stat(path)
                except OSError as exc:
                    self._problems[path] = f"cannot read the file ({exc.strerror or exc})"
                    result[path] = {"total": 0}
                    continue
                if manifest_total(entry, st) is None:
                    entry = self._counted_entry(path, st) or count_file(path, st)
                    stored[rel] = entry
                    changed = True
                elif entry.get("index_problem"):  # still there? (a rebuild or a fix removes it)
                    problem = index_problem(path)
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
                write_manifest(source.root, stored)
        return result

    def stale_files(self) -> list[str]:
        """The files whose manifest entry is missing or out of date: what counting must read
        (a cluster counts them with `count_path`, then `take_counts`)."""
        stale = []
        for source in self._sources:
            stored = read_manifest(source.root)
            for path in source.files:
                try:
                    st = storage_for(path).stat(path)
                except OSError:
                    continue  # reported when counting
                if manifest_total(stored.get(relative(path, source.root)), st) is None:
                    stale.append(path)
        return stale

    def take_counts(self, entries: dict[str, dict]) -> None:
        """Manifest entries counted elsewhere (`count_path` on a cluster), used for files whose
        size and time still match them."""
        self._counted.update(entries)
        self._manifest = None

    def _counted_entry(self, path: str, st) -> dict | None:
        entry = self._counted.get(path)
        if entry is not None and (entry.get("size"), entry.get("mtime_ns")) == (st.size, st.mtime_ns):
            return entry
        return None

    def rebuild_index(self, progress: Callable[[int, int, str], None] | None = None) -> list[tuple[str, str]]:
        """Rebuild the index of every TFRecord; returns (path, message) for files that failed."""
        failures: list[tuple[str, str]] = []

        def report(p: Progress) -> None:
            if progress is not None:
                progress(p.done, p.total, p.message)

        run_job(self.iter_rebuild_index(failures=failures), report)
        self.refresh()
        return failures

    def build_index(self, force: bool = True, *, num_workers: int | None = None) -> list[tuple[str, str]]:
        """Slideflow's name: `force=True` is `rebuild_index()`; `force=False` builds only the indexes
        that are missing or do not match their file. `num_workers` is accepted for Slideflow's
        signature (indexes are built in this process). Returns (path, message) for failures."""
        del num_workers
        if force:
            return self.rebuild_index()
        failures: list[tuple[str, str]] = []
        for path in self.tfrecords():
            if find_index(path) is None:
                try:
                    run_job(iter_create_index(path))
                except (TFRecordError, OSError) as exc:
                    failures.append((path, str(exc)))
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
                base_name(source.root) or source.root,
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


def count_path(path: str) -> dict:
    """One file's manifest entry, counted from its index or by reading it: the per-file work of
    `summary` as a plain function (what a Dask task runs)."""
    try:
        st = storage_for(path).stat(path)
    except OSError as exc:
        return {"total": 0, "error": f"cannot read the file ({exc.strerror or exc})"}
    return count_file(path, st)


def _file_size(path: str) -> int:
    try:
        return storage_for(path).stat(path).size
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
        binary = storage_for(path).open(os.fspath(path), MAX_ANNOTATIONS_BYTES)
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
