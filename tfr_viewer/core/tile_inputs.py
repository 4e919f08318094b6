"""Which files of a folder become tiles, and why the others do not.

The writer and the wizard's preview scan (`scan_images`) list folders and judge entries with
these same functions, so the preview tells exactly what a conversion will skip. Listing goes
through the storage of the folder; no entry is stat'ed where the listing tells its kind.
"""

from __future__ import annotations

import os
from pathlib import Path

from .naming import natural_key
from .storage import FolderEntry, storage_for
from .write_report import SkippedFile

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
MAX_SOURCE_BYTES = 256 * 2**20  # one tile image file; a bigger one is skipped unread

SUBFOLDER_REASON = "a folder inside the slide folder (its files are not read)"
HIDDEN_REASON = "hidden file (its name starts with a dot)"
NOT_REGULAR_REASON = "not a regular file (a pipe, a device or a broken link)"
NOT_TEXT_REASON = "its name is not valid UTF-8 text, so it cannot be a slide name (rename it)"
LOOSE_REASON = "not inside a slide folder"
ZERO_BYTE_REASON = "zero-byte file"


def natural_listing(folder: str | os.PathLike) -> list[FolderEntry]:
    """Every entry of a folder, hidden ones too, in natural order; OSError as the system says it."""
    return sorted(storage_for(folder).list_folder(os.fspath(folder)), key=lambda e: natural_key(e.name))


def folder_entries(folder: str | os.PathLike, hidden: bool = False) -> list[FolderEntry]:
    """Entries of a folder in natural order (hidden ones only when asked); OSError names the folder."""
    try:
        entries = natural_listing(folder)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot read folder {folder}: {exc.strerror or exc}") from None
    return entries if hidden else [e for e in entries if not e.name.startswith(".")]


def entry_skip_reason(entry: FolderEntry) -> str | None:
    """Why a folder entry is not a tile image ('' for hidden non-images, not worth a line), or
    None for an image file to read."""
    is_image_name = Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS
    if entry.name.startswith("."):  # e.g. macOS '._tile.jpg' copies are named; '.DS_Store' is not
        return HIDDEN_REASON if is_image_name and entry.kind != "dir" else ""
    if entry.kind == "dir":
        return SUBFOLDER_REASON
    if entry.kind == "other":  # reading a pipe would wait forever
        return NOT_REGULAR_REASON
    if entry.kind != "file":
        return entry.kind
    return None if is_image_name else "not an image file (unknown extension)"


def list_images(folder: str | os.PathLike) -> tuple[list[Path], list[SkippedFile]]:
    """Image files of one folder in natural order (extensions in any case), and the other
    entries with why they are left out (see `entry_skip_reason`); sub-folders are not entered."""
    images, skipped = [], []
    for entry in folder_entries(folder, hidden=True):
        reason = entry_skip_reason(entry)
        if reason is None:
            images.append(Path(entry.path))
        elif reason:
            skipped.append(SkippedFile(entry.path, reason))
    return images, skipped


def slide_folders(
    src_dir: str | os.PathLike, exclude: str | os.PathLike | None = None
) -> tuple[list[Path], list[SkippedFile]]:
    """Sub-folders of a nested layout (one per slide), and loose files that belong to none.

    `exclude` (the destination, when it lies inside the source) is never taken for a slide.
    """
    storage = storage_for(src_dir)
    excluded = storage.identity(os.fspath(exclude)) if exclude is not None else None
    folders, loose = [], []
    for entry in folder_entries(src_dir):
        if entry.kind == "dir":
            if excluded is None or storage.identity(entry.path) != excluded:
                folders.append(Path(entry.path))
        else:
            loose.append(SkippedFile(entry.path, entry.kind if entry.kind.startswith("unreadable") else LOOSE_REASON))
    return folders, loose


def is_text(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (Python keeps them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def slide_name_skip(folder: Path) -> SkippedFile | None:
    """The skip line for a slide folder whose name cannot be a slide name, else None."""
    return None if is_text(folder.name) else SkippedFile(str(folder), NOT_TEXT_REASON)


def too_big_reason(size: int) -> str:
    return f"file of {size:,} bytes, larger than a tile image may be ({MAX_SOURCE_BYTES >> 20} MiB)"


def size_skip_reason(size: int) -> str | None:
    """Why an image file of `size` bytes cannot be a tile (empty, or too big to read), else None."""
    if size == 0:
        return ZERO_BYTE_REASON
    return too_big_reason(size) if size > MAX_SOURCE_BYTES else None
