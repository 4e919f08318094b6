"""What the `tfr-viewer` subcommands share: the one-line error, warnings, `--json` or text
output made safe for a terminal, and finding the TFRecords the user named."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .cli_args import PROG


class UserError(Exception):
    """A mistake in the command line or an unusable path: one line on stderr, exit 2."""


def for_terminal(text: object) -> str:
    """Data (a file name, a record value) as it may go to a terminal: control and bidi
    characters escaped (see `printable`), on one line."""
    from .core.console import printable

    return printable(text)


def fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {for_terminal(message)}", file=sys.stderr)
    return code


def warn(message: str) -> None:
    print(f"{PROG}: warning: {for_terminal(message)}", file=sys.stderr)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """`--json` (json escapes what it must), else the text with every line made printable."""
    from .core.console import printable

    if getattr(args, "json", False):
        import json

        json.dump(data, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print(printable(text, keep_newlines=True))


def tfrecords_of(paths: Sequence[str], unreadable: list[str]) -> list[str]:
    """TFRecord files named directly or found under folders, through the catalog's discovery
    (natural order, each file once). A folder that cannot be read, or holds no TFRecord, is an
    error; an unreadable sub-folder is a warning on stderr, added to `unreadable` so that the
    command's exit status says so."""
    from .core.catalog import discover
    from .core.storage import absolute, is_url

    try:
        opened = discover(paths)
    except FileNotFoundError as exc:
        given = next((p for p in paths if absolute(p) == exc.filename), exc.filename)
        raise UserError(f"no such file or folder: {given}") from None
    roots = set(opened.folders)
    for folder, why in opened.unreadable_folders:
        if absolute(folder) in roots:
            raise UserError(f"cannot read folder {folder}: {why}")
        if why.startswith("link leaves the folder"):
            warn(f"skipped {folder}: {why}")
        else:
            warn(f"cannot read folder {folder}: {why}; its files are left out")
        unreadable.append(folder)
    sources = {entry.source for entry in opened.files}
    for path in paths:
        if absolute(path) in opened.folders and absolute(path) not in sources:
            raise UserError(f"no .tfrecords files under {path}")
    given = {absolute(path): path if is_url(path) else str(Path(path)) for path in reversed(paths)}  # first spelling
    return [_as_given(entry.path, entry.source, given) for entry in opened.files]


def _as_given(path: str, source: str, given: dict[str, str]) -> str:
    """A file's path spelled from the path the user gave (reports then name files as typed)."""
    if path in given:
        return given[path]
    if source in given:
        from .core.storage import join, relative

        return join(given[source], relative(path, source))
    return path


def file_info(path: str):
    """The `FileInfo` of `path` through its storage (a URL too). A missing file is a UserError;
    refused credentials or a dropped connection go up as they are (one line, exit 2)."""
    from .core.storage import storage_for

    try:
        return storage_for(path).stat(path)
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None


def report_path(path: str) -> str:
    """A path as reports print it: a URL as given, a local path absolute."""
    from .core.storage import is_url

    return path if is_url(path) else os.path.abspath(path)


def run_with_bar(job, label: str):
    from .core.console import ProgressBar
    from .core.progress import run_job

    bar = ProgressBar(label)
    try:
        return run_job(job, lambda p: bar.update(p.done, p.total, Path(p.message).name if p.message else ""))
    finally:
        bar.close()


def open_tolerant(path: str):
    """A TFRecord of a possibly damaged file: its valid index, else one read with the damage
    noted (`index_info.error`), so the good records are still there to show."""
    from .core.index import find_index, iter_scan
    from .core.tfrecord import TFRecord

    index = find_index(path) or run_with_bar(iter_scan(path, tolerate_errors=True), "reading")
    if index.error is not None and not len(index):  # nothing readable: one line, exit 2
        raise index.error
    return TFRecord(path, create_index=False, index=index)


def unexpected(exc: BaseException, paths: Sequence[str]) -> str:
    """One line for an error from reading or writing data: the expected kinds say where they
    happened; anything else (a bug met through odd data) is named with the file(s) at hand."""
    from .core.errors import TFRecordError
    from .core.messages import one_line
    from .core.progress import Cancelled

    if isinstance(exc, (TFRecordError, OSError, ValueError, Cancelled)):
        return one_line(exc)
    text = one_line(exc)
    where = ", ".join(paths)
    return f"{where}: {type(exc).__name__}: {text}" if where else f"{type(exc).__name__}: {text}"


def use_storage_options(options: Sequence[str]) -> None:
    """`--storage-option KEY=VALUE`s for every fsspec file system of this run (and of the
    processes it starts)."""
    if not options:
        return
    try:
        from .core.remote_storage import parse_storage_option, set_storage_options
    except ImportError:
        raise UserError("--storage-option is for URLs: install 'tfr-viewer[remote]'") from None
    try:
        set_storage_options(dict(parse_storage_option(text) for text in options))
    except ValueError as exc:
        raise UserError(str(exc)) from None
