"""Files on this machine: the local implementation behind `storage.LocalStorage`.

Everything here touches the local file system, and nothing else in the core does (the seam
test holds that line): non-blocking opens checked on the descriptor, write-then-rename with
full-disk handling, the sweep of temporaries a killed run left, the folder walk that finds
TFRecords, private folders and files inside the per-user cache.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import time
import uuid
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from .naming import is_tfrecord_name, natural_key
from .paths import in_user_cache, user_cache_dir
from .processes import pid_alive


def make_dirs(folder: str | os.PathLike) -> None:
    """`folder` and the folders above it, created where missing. Inside the per-user cache every
    folder created is private (0700), and the default cache folder itself is made so if an
    older version left it open (an override, `TFR_VIEWER_CACHE_DIR`, is the user's to set)."""
    folder = Path(os.path.abspath(os.fspath(folder)))
    if not in_user_cache(folder):
        folder.mkdir(parents=True, exist_ok=True)
        return
    cache = Path(os.path.abspath(user_cache_dir()))
    cache.parent.mkdir(parents=True, exist_ok=True)
    chain = [cache] + [cache.joinpath(*folder.relative_to(cache).parts[: i + 1])
                       for i in range(len(folder.relative_to(cache).parts))]
    for part in chain:
        try:
            part.mkdir(mode=0o700)
        except FileExistsError:
            pass
    if not os.environ.get("TFR_VIEWER_CACHE_DIR") and hasattr(os, "getuid"):
        st = cache.stat()
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            cache.chmod(0o700)


def make_private_file(path: str | os.PathLike) -> None:
    """A file written into the per-user cache made readable by its owner only (0600)."""
    if in_user_cache(path):
        os.chmod(path, 0o600)


def open_regular_file(path: str | os.PathLike, max_size: int | None = None) -> io.BufferedReader:
    """`path` opened for reading when it is a regular file (of at most `max_size` bytes).

    A FIFO would block a plain open() and a device (/dev/zero) never ends: it is opened without
    blocking and checked on the open descriptor, so a swap between check and open cannot fool it.
    Raises ValueError for anything that is not a regular file, or is too big.
    """
    try:
        f = open(path, "rb", opener=_open_without_blocking)
    except IsADirectoryError:
        raise ValueError("not a regular file") from None
    try:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if max_size is not None and st.st_size > max_size:
            raise ValueError(f"{st.st_size:,} bytes, more than the {max_size:,} allowed")
        return f
    except BaseException:
        f.close()
        raise


def _open_without_blocking(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


class AtomicOutput:
    """A file written under a hidden temporary name beside `dest` and renamed into place on a
    clean exit; an exception (a failure, a cancel) or `discard()` removes it instead.

    Readers never see a half-written file, and two writers racing leave one whole file.
    With `overwrite=False` an existing `dest` (even one that appeared meanwhile) is never replaced.
    A full disk is one clear OSError naming `dest` ("cannot write <dest>: No space left on
    device") and the temporary file is removed whatever closing it raises. Temporary files that
    a killed run left in the folder are removed on the first write into it.
    """

    def __init__(self, dest: str | os.PathLike, overwrite: bool = True) -> None:
        self.dest = Path(dest)
        self.overwrite = overwrite
        self.tmp = self.dest.with_name(f".{self.dest.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        self._discarded = False

    def __enter__(self) -> BinaryIO:
        remove_stale_partials(self.dest.parent)
        try:
            mode = 0o600 if in_user_cache(self.dest) else 0o666  # cache files: the owner's only
            self.file = open(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb")
        except OSError as exc:  # name the file the user asked for, not our temporary name
            raise OSError(exc.errno, f"cannot write {self.dest}: {exc.strerror or exc}") from None
        return self.file

    def discard(self) -> None:
        self._discarded = True

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None and not self._discarded:
                self.file.flush()
                os.fsync(self.file.fileno())
                self.file.close()
                if not self.overwrite and self.dest.exists():
                    raise FileExistsError(f"{self.dest} already exists (use overwrite to replace it)")
                os.replace(self.tmp, self.dest)
                return
        except BaseException as error:
            self._remove()
            if isinstance(error, OSError) and _is_full(error):
                raise full_disk_error(error, self.dest) from None
            raise
        self._remove()
        if isinstance(exc, OSError) and _is_full(exc):
            raise full_disk_error(exc, self.dest) from None

    def _remove(self) -> None:
        """Close (a full disk makes the buffered file's close flush, and fail, again) and unlink."""
        try:
            self.file.close()  # the descriptor is closed even when the flush fails
        except OSError:
            pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def atomic_write_bytes(dest: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `dest` through a temporary file in the same folder and a rename."""
    with AtomicOutput(dest) as f:
        f.write(data)


def _is_full(exc: OSError) -> bool:
    """A full disk, a quota or a file size limit: the write of the whole file failed."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def full_disk_error(exc: OSError, dest: str | os.PathLike) -> OSError:
    """The OSError (errno kept) naming the file the user asked for: 'cannot write <dest>: No
    space left on device', not our temporary name or another layer's guess."""
    return OSError(exc.errno, f"cannot write {os.fspath(dest)}: {os.strerror(exc.errno)}")


# `.NAME.partial-PID-HEX8` (AtomicOutput) and `.NAME.chunk-PID-HEX8-N` (the writer's pool)
_OUR_TEMPORARY = r"\..+\.(?:partial-(?P<p>[0-9]+)-[0-9a-f]{8}|chunk-(?P<c>[0-9]+)-[0-9a-f]{8}-[0-9]+)"
STALE_AFTER_SECONDS = 30.0  # a live writer on another machine (same pid, other host) keeps its file fresh
_swept: set[str] = set()  # folders swept by this process (two threads sweeping one is harmless)


def remove_stale_partials(folder: str | os.PathLike) -> list[str]:
    """Remove the temporary files of killed runs in `folder` (once per folder per process);
    returns their paths. Only names of our exact pattern whose writing process has ended and
    that nobody wrote to for `STALE_AFTER_SECONDS`: never a live writer's file, never a user's."""
    key = os.path.abspath(os.fspath(folder))
    if key in _swept:
        return []
    _swept.add(key)
    removed = []
    try:
        entries = list(os.scandir(key))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = re.fullmatch(_OUR_TEMPORARY, entry.name, re.DOTALL)
        if match is None:
            continue
        pid = int(match.group("p") or match.group("c"))
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < STALE_AFTER_SECONDS:
                continue
            if pid == os.getpid() or pid_alive(pid):
                continue
            os.unlink(entry.path)
            removed.append(entry.path)
        except OSError:
            continue
    return removed


def find_tfrecords(
    folder: str | os.PathLike, follow_links: bool = False
) -> tuple[list[str], list[tuple[str, str]]]:
    """TFRecord files under `folder` (names `naming.is_tfrecord_name` accepts: `.tfrecords`,
    `.tfrecord`, `.tfr` in any case, also `.gz`; recursively, natural order of their paths) and the
    folders that could not be read, each with why: a folder we may not list is reported, it
    must not look empty.

    Links are followed while they stay inside `folder` (each real folder and file once). A link
    that leads out of it (a link to `/` would walk the whole disk, and `index` would write
    beside files out there) is listed with why and not followed, unless `follow_links`.
    """
    unreadable: list[tuple[str, str]] = []

    def note(exc: OSError) -> None:
        unreadable.append((exc.filename or os.fspath(folder), exc.strerror or str(exc)))

    top = os.path.realpath(folder)

    def leaves(path: str) -> str | None:
        """Where the link `path` leads when that is outside the chosen folder, else None."""
        if follow_links or not os.path.islink(path):
            return None
        real = os.path.realpath(path)
        inside = real == top or real.startswith(top.rstrip(os.sep) + os.sep)
        return None if inside else real

    files: list[str] = []
    seen: set[str] = set()
    for root, dirs, names in os.walk(folder, onerror=note, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree, or a folder reached twice
            dirs[:] = []
            continue
        seen.add(real)
        kept = []
        for name in dirs:
            target = leaves(os.path.join(root, name))
            if target is None:
                kept.append(name)
            else:
                unreadable.append((os.path.join(root, name), f"link leaves the folder (to {target}): not followed"))
        dirs[:] = kept
        for name in names:
            if not is_tfrecord_name(name):
                continue
            path = os.path.join(root, name)
            try:
                is_file = stat.S_ISREG(os.stat(path).st_mode)
            except PermissionError as exc:  # a folder we may list but not enter
                if not unreadable or unreadable[-1][0] != root:
                    unreadable.append((root, exc.strerror or str(exc)))
                continue
            except OSError:  # a broken link
                continue
            if not is_file:
                continue
            target = leaves(path)
            if target is not None:
                unreadable.append((path, f"link leaves the folder (to {target}): not followed"))
                continue
            files.append(path)
    files.sort(key=natural_key)
    return _once_each(files), unreadable


def _once_each(files: list[str]) -> list[str]:
    """`files` without those met before by their real path (a folder reached through a link)."""
    seen: set[str] = set()
    unique = []
    for path in files:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return unique


def write_new(path: str | os.PathLike, data: bytes) -> None:
    """Create `path` holding `data`; FileExistsError when a file of that name exists (it is
    never replaced). A write that fails part-way removes the file: no half file is left."""
    f = open(path, "xb")
    try:
        with f:
            f.write(data)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM}


def list_folder(folder: str | os.PathLike) -> list[tuple[str, str, str]]:
    """The entries of one folder, in the order the system lists them, not entered. The kinds
    come from the listing itself where the system tells them (no stat per entry); OSError when
    the folder cannot be read."""
    entries = []
    with os.scandir(folder) as listing:
        for entry in listing:
            try:
                kind = "dir" if entry.is_dir() else "file" if entry.is_file() else "other"
            except OSError as exc:
                kind = f"unreadable ({exc.strerror or exc})"
            entries.append((entry.name, entry.path, kind))
    return entries


def write_scratch_file(path: str, parts: Iterable[bytes]) -> None:
    """Write a local scratch file that the caller reads back and removes within the same run
    (the tile writer's chunk files): no temporary name and no fsync, it never outlives the run."""
    with open(path, "wb") as f:
        for part in parts:
            f.write(part)


def append_scratch_file(out: BinaryIO, path: str, size: int) -> None:
    """Append the scratch file `path`, which must hold exactly `size` bytes, to the open file
    `out`: an in-kernel copy where the system has one, a buffered copy where it has not."""
    out.flush()
    with open(path, "rb") as src:
        held = os.fstat(src.fileno()).st_size
        if held != size:
            raise OSError(errno.EIO, f"chunk file {path} holds {held} bytes, expected {size}")
        left = size
        try:
            while left > 0:
                copied = os.copy_file_range(src.fileno(), out.fileno(), left)
                if copied == 0:
                    break
                left -= copied
        except (AttributeError, OSError) as exc:  # no copy_file_range here, or not across these files
            if isinstance(exc, OSError) and exc.errno not in _NO_COPY_RANGE:
                raise  # a real write error (disk full...), not a missing feature
            src.seek(size - left)
            out.seek(0, os.SEEK_END)
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            left = 0
        if left:
            raise OSError(errno.EIO, f"chunk file {path} ended early")
