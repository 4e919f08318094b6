"""What a folder of image tiles holds, before converting it: layout, slides, formats, junk.

A job (yields Progress, returns `SourceScan`) so the wizard runs it on a worker and a folder of
100,000 images does not freeze the window: it stats and sniffs a few header bytes per file, it
never decodes an image.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .images import detect_format
from .naming import natural_key
from .progress import CancelToken, Job, Progress
from .local_storage import open_regular_file
from .writer import MAX_SOURCE_BYTES, NOT_REGULAR_REASON, NOT_TEXT_REASON, SkippedFile, is_text, entry_kind, entry_skip_reason, too_big_reason


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


def _scan_folder(folder: Path, slide: SlideScan, skipped: list[SkippedFile], cancel: CancelToken | None) -> int:
    seen = 0
    try:
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError as exc:
        skipped.append(SkippedFile(str(folder), f"unreadable folder ({exc.strerror or exc})"))
        return 0
    for entry in entries:
        reason = entry_skip_reason(entry)  # the writer's own test, so the preview tells the truth
        if reason is not None:
            if reason:
                skipped.append(SkippedFile(entry.path, reason))
            continue
        seen += 1
        if cancel is not None and seen % 256 == 0:
            cancel.raise_if_cancelled()
        suffix = Path(entry.name).suffix.lower()
        try:
            size = entry.stat().st_size
            if size == 0:
                skipped.append(SkippedFile(entry.path, "zero-byte file"))
                continue
            if size > MAX_SOURCE_BYTES:
                skipped.append(SkippedFile(entry.path, too_big_reason(size)))
                continue
            with open_regular_file(entry.path) as f:  # a pipe swapped in after the listing: no block
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
    return seen


def iter_scan_source(root: str | os.PathLike, cancel: CancelToken | None = None) -> Job[SourceScan]:
    """Scan `root`: sub-folders with images -> nested layout (loose files are skipped);
    otherwise the images directly inside -> single layout."""
    root = Path(root)
    try:
        entries = sorted(os.scandir(root), key=lambda e: natural_key(e.name))
    except OSError as exc:
        raise OSError(f"cannot read folder {root}: {exc.strerror or exc}") from None
    folders = [Path(e.path) for e in entries if entry_kind(e) == "dir" and not e.name.startswith(".")]
    yield Progress(0, max(len(folders), 1), str(root))
    nested = SourceScan(str(root), "nested")
    for i, folder in enumerate(folders):
        if not is_text(folder.name):
            nested.skipped.append(SkippedFile(str(folder), NOT_TEXT_REASON))
            continue
        slide = SlideScan(folder.name, str(folder))
        _scan_folder(folder, slide, nested.skipped, cancel)
        if slide.images:
            nested.slides.append(slide)
        else:
            nested.skipped.append(SkippedFile(str(folder), "no images in this folder"))
        yield Progress(i + 1, len(folders), folder.name)
    if nested.slides:
        for e in entries:
            if entry_kind(e) == "file" and not e.name.startswith("."):
                nested.skipped.append(SkippedFile(e.path, "not inside a slide folder"))
        return nested
    scan = SourceScan(str(root), "single")
    slide = SlideScan(root.name, str(root))
    _scan_folder(root, slide, scan.skipped, cancel)
    if slide.images:
        scan.slides.append(slide)
    else:
        scan.layout = "empty"
    yield Progress(1, 1, str(root))
    return scan
