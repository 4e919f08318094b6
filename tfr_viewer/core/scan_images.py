"""What a folder of image tiles holds, before converting it: layout, slides, formats, junk.

A job (yields Progress, returns `SourceScan`) so the wizard runs it on a worker and a folder of
100,000 images does not freeze the window: it stats and sniffs a few header bytes per file, it
never decodes an image. Entries are listed and judged by `tile_inputs`, as the writer does, so
the preview tells what a conversion will skip.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .images import detect_format
from .progress import CancelToken, Job, Progress
from .storage import storage_for
from .tile_inputs import (
    LOOSE_REASON,
    NOT_REGULAR_REASON,
    entry_skip_reason,
    folder_entries,
    natural_listing,
    size_skip_reason,
    slide_name_skip,
)
from .write_report import SkippedFile


@dataclass
class SlideScan:
    name: str
    folder: str
    images: int = 0
    bytes: int = 0
    formats: Counter = field(default_factory=Counter)
    sample_names: list[str] = field(default_factory=list)


@dataclass
class SourceScan:
    root: str
    layout: str  # 'single' (images in the folder), 'nested' (one sub-folder per slide) or 'empty'
    slides: list[SlideScan] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def images(self) -> int:
        return sum(s.images for s in self.slides)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.slides)

    def sample_names(self, n: int = 8) -> list[str]:
        names = [name for s in self.slides for name in s.sample_names]
        return names[:n]


SCAN_PROGRESS_EVERY = 1000  # files between running counts (a folder of 100,000 takes a while)


def _scan_folder(folder: Path, slide: SlideScan, skipped: list[SkippedFile], cancel: CancelToken | None,
                 counted: int = 0) -> Job[int]:
    """Judge each entry of `folder`; yields a running count of files looked at (from `counted`)
    and returns the count after this folder."""
    seen = 0
    storage = storage_for(folder)
    try:
        entries = natural_listing(folder)
    except OSError as exc:
        skipped.append(SkippedFile(str(folder), f"unreadable folder ({exc.strerror or exc})"))
        return counted
    for entry in entries:
        reason = entry_skip_reason(entry)  # the writer's own test, so the preview tells the truth
        if reason is not None:
            if reason:
                skipped.append(SkippedFile(entry.path, reason))
            continue
        seen += 1
        if cancel is not None and seen % 256 == 0:
            cancel.raise_if_cancelled()
        if seen % SCAN_PROGRESS_EVERY == 0:
            yield Progress(counted + seen, 0, folder.name)
        suffix = Path(entry.name).suffix.lower()
        try:
            size = storage.stat(entry.path).size
            size_reason = size_skip_reason(size)
            if size_reason is not None:
                skipped.append(SkippedFile(entry.path, size_reason))
                continue
            with storage.open(entry.path) as f:  # a pipe swapped in after the listing: no block
                head = f.read(16)
        except ValueError:
            skipped.append(SkippedFile(entry.path, NOT_REGULAR_REASON))
            continue
        except OSError as exc:
            skipped.append(SkippedFile(entry.path, f"unreadable ({exc.strerror or exc})"))
            continue
        fmt = detect_format(head)
        if fmt is None:
            expected = "a JPEG or PNG" if suffix in (".jpg", ".jpeg", ".png") else "an image convert reads"
            skipped.append(SkippedFile(entry.path, f"not {expected} despite its extension"))
            continue
        slide.images += 1
        slide.bytes += size
        slide.formats[fmt.lower()] += 1
        if len(slide.sample_names) < 8:
            slide.sample_names.append(entry.name)
    return counted + seen


def iter_scan_source(root: str | os.PathLike, cancel: CancelToken | None = None) -> Job[SourceScan]:
    """Scan `root`: sub-folders with images -> nested layout (loose files are skipped);
    otherwise the images directly inside -> single layout. Progress: folders done of all, and
    between them a running count of files looked at (`total` 0)."""
    root = Path(root)
    entries = folder_entries(root)
    folders = [Path(e.path) for e in entries if e.kind == "dir"]
    yield Progress(0, max(len(folders), 1), str(root))
    nested = SourceScan(str(root), "nested")
    counted = 0
    for i, folder in enumerate(folders):
        not_text = slide_name_skip(folder)
        if not_text is not None:
            nested.skipped.append(not_text)
            continue
        slide = SlideScan(folder.name, str(folder))
        counted = yield from _scan_folder(folder, slide, nested.skipped, cancel, counted)
        if slide.images:
            nested.slides.append(slide)
        else:
            nested.skipped.append(SkippedFile(str(folder), "no images in this folder"))
        yield Progress(i + 1, len(folders), folder.name)
    if nested.slides:
        nested.skipped.extend(SkippedFile(e.path, LOOSE_REASON) for e in entries if e.kind == "file")
        return nested
    scan = SourceScan(str(root), "single")
    slide = SlideScan(root.name, str(root))
    yield from _scan_folder(root, slide, scan.skipped, cancel, counted)
    if slide.images:
        scan.slides.append(slide)
    else:
        scan.layout = "empty"
    yield Progress(1, 1, str(root))
    return scan
