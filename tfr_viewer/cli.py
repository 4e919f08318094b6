"""The `tfr-viewer` command: the GUI with no subcommand, headless jobs with one.

Arguments are parsed before anything imports Qt, so `--help`, `--version` and every subcommand
work on a machine without a display.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from .cli_args import PROG, SUBCOMMANDS, command_parser, gui_parser
from .core.cluster import ClusterError


class UserError(Exception):
    """A mistake in the command line or an unusable path: one line on stderr, exit 2."""


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    _tolerant_output()
    if first in SUBCOMMANDS:  # a subcommand even beside a folder of that name (open it as ./NAME)
        args = command_parser().parse_args(args_list)
        previous = _stop_on_sigterm()
        try:
            _use_storage_options(args.storage_option)
            return COMMANDS[args.command](args)
        except (UserError, ClusterError) as exc:
            return _fail(str(exc))
        except KeyboardInterrupt:
            return _fail("interrupted", 130)
        except BrokenPipeError:  # `... | head`: the reader has gone, nothing more to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except Exception as exc:  # noqa: BLE001  (whatever the data did: one line, no traceback)
            return _fail(_unexpected(exc, _paths_of(args)))
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    args = gui_parser().parse_args(args_list)
    from .core.urls import is_url  # not the storage: nothing heavy before the window paints

    for path in args.paths + ([args.annotations] if args.annotations else []):
        if not is_url(path) and not os.path.exists(path):  # a URL is checked by the window's open
            return _fail(f"no such file or folder: {path}")
    from .gui.app import run_gui

    return run_gui(
        args.paths,
        demo=args.demo,
        fresh_settings=args.fresh_settings,
        screenshot=args.screenshot,
        quit_after_load=args.quit_after_load,
        read_only=args.read_only,
        annotations=args.annotations,
    )


def _use_storage_options(options: Sequence[str]) -> None:
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


def _tolerant_output() -> None:
    """File names that are not valid in the terminal's encoding (a non-UTF-8 name under a
    strict UTF-8 locale) are printed with backslash escapes instead of failing the report."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # not a text stream we may reconfigure
            pass


def _paths_of(args: argparse.Namespace) -> list[str]:
    """The paths a subcommand was given, to name them in an error that does not."""
    names = [getattr(args, key, None) for key in ("path", "tfrecord", "src")]
    return [n for n in names if n] + list(getattr(args, "paths", None) or [])


def _unexpected(exc: BaseException, paths: Sequence[str]) -> str:
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


def _stop_on_sigterm():
    """A kill (SIGTERM) stops a subcommand the way Ctrl+C does, so partial files are removed
    and worker processes shut down; returns the handler to put back (None off the main thread)."""

    def interrupt(_signum, _frame) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return None


def _p(text: object) -> str:
    """Data (a file name, a record value) as it may go to a terminal: control and bidi
    characters escaped (see `printable`), on one line."""
    from .core.console import printable

    return printable(text)


def _fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {_p(message)}", file=sys.stderr)
    return code


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {_p(message)}", file=sys.stderr)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """`--json` (json escapes what it must), else the text with every line made printable."""
    from .core.console import printable

    if getattr(args, "json", False):
        import json

        json.dump(data, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print(printable(text, keep_newlines=True))


def _tfrecords_of(paths: Sequence[str], unreadable: list[str]) -> list[str]:
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
            _warn(f"skipped {folder}: {why}")
        else:
            _warn(f"cannot read folder {folder}: {why}; its files are left out")
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


def _file_info(path: str):
    """The `FileInfo` of `path` through its storage (a URL too). A missing file is a UserError;
    refused credentials or a dropped connection go up as they are (one line, exit 2)."""
    from .core.storage import storage_for

    try:
        return storage_for(path).stat(path)
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None


def _absolute(path: str) -> str:
    """A path as reports print it: a URL as given, a local path absolute."""
    from .core.storage import is_url

    return path if is_url(path) else os.path.abspath(path)


def _run_with_bar(job, label: str):
    from .core.console import ProgressBar
    from .core.progress import run_job

    bar = ProgressBar(label)
    try:
        return run_job(job, lambda p: bar.update(p.done, p.total, Path(p.message).name if p.message else ""))
    finally:
        bar.close()


# --- subcommands -------------------------------------------------------------------------------


def _open_tolerant(path: str):
    """A TFRecord of a possibly damaged file: its valid index, else one read with the damage
    noted (`index_info.error`), so the good records are still there to show."""
    from .core.index import find_index, iter_scan
    from .core.tfrecord import TFRecord

    index = find_index(path) or _run_with_bar(iter_scan(path, tolerate_errors=True), "reading")
    if index.error is not None and not len(index):  # nothing readable: one line, exit 2
        raise index.error
    return TFRecord(path, create_index=False, index=index)


FIRST_GOOD_RECORD_TRIES = 1000  # `info` on a file of millions of image-less records stays quick


def _first_good_record(tfr) -> tuple[int, dict, dict] | None:
    """(index, record, image info) of the first record that reads and whose image opens."""
    from .core.errors import TFRecordError
    from .core.images import image_info

    for i in range(min(len(tfr), FIRST_GOOD_RECORD_TRIES)):
        try:
            record = tfr[i]
            return i, record, image_info(record["image_raw"])
        except TFRecordError:
            continue
    return None


def cmd_info(args: argparse.Namespace) -> int:
    path = args.path
    from .core.storage import storage_for

    if storage_for(path).is_dir(path):
        raise UserError(f"{path} is a folder; use '{PROG} summary {path}'")
    size = _file_info(path).size
    from .core.images import sniff_format
    from .core.records import field_order

    problems: list[str] = []
    with _open_tolerant(path) as tfr:
        index = tfr.index_info
        if index.error is not None:
            problems.append(str(index.error))
        data: dict[str, Any] = {
            "path": _absolute(path),
            "size": size,
            "records": len(tfr),
            "fields": [],
            "img_format": None,
            "index": str(index.path) if index.path else None,
            "locations": None,
        }
        first = _first_good_record(tfr)
        if first is not None:
            i, record, image = first
            data["fields"] = field_order(tfr.read_payload(i), path, i)
            data["img_format"] = sniff_format(record["image_raw"])
            data["slide"] = record.get("slide")
            data["tile_size"] = [image["width"], image["height"]]
            if i:
                unread = "record 0" if i == 1 else f"records 0 to {i - 1}"
                problems.append(f"{path}: {unread} cannot be read (see verify); described from record {i}")
        elif len(tfr):
            problems.append(f"{path}: no record with an image that opens")
        if len(tfr) and tfr.locations is not None:  # (read from the records if the index has none)
            loc = tfr.locations_array
            data["locations"] = {
                "min_x": int(loc[:, 0].min()),
                "max_x": int(loc[:, 0].max()),
                "min_y": int(loc[:, 1].min()),
                "max_y": int(loc[:, 1].max()),
            }
    data["problems"] = problems
    lines = [
        f"File:        {_p(data['path'])}",
        f"Records:     {data['records']}",
        f"Fields:      {', '.join(_p(name) for name in data['fields'])}",
        f"Format:      {data['img_format']}",
    ]
    if "slide" in data:
        lines += [f"Slide:       {_p(data['slide'])}", f"Tile size:   {data['tile_size'][0]} x {data['tile_size'][1]} px"]
    loc = data["locations"]
    lines.append(
        f"Locations:   x {loc['min_x']}..{loc['max_x']}, y {loc['min_y']}..{loc['max_y']}" if loc else "Locations:   none"
    )
    lines.append(f"Index:       {_p(data['index'] or 'none (in memory only)')}")
    lines += [f"Problem:     {_p(problem)}" for problem in problems]
    _emit(args, data, "\n".join(lines))
    return 1 if problems else 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .core.dataset import Dataset
    from .core.naming import is_tfrecord_name
    from .core.storage import storage_for

    for path in args.paths:
        storage = storage_for(path)
        try:
            is_file = storage.stat(path).is_file
        except FileNotFoundError:
            raise UserError(f"no such file or folder: {path}") from None
        if is_file and not is_tfrecord_name(path):  # its folder would get a manifest
            raise UserError(f"not a .tfrecords file (nor .tfrecord, .tfr, or .gz of those): {path}")
    dataset = Dataset(args.paths, annotations=args.annotations)
    if args.dask:  # the files to count are counted on the cluster, the manifest written here
        from .cli_cluster import count_here_instead, on_cluster
        from .core.dataset import count_path

        stale = dataset.stale_files()
        counted = on_cluster(args.dask, count_path, stale, on_error=count_here_instead)
        dataset.take_counts(dict(zip(stale, counted)))
    manifest = dataset.manifest()
    if args.json:
        data = {
            "tfrecords": [{"path": p, "total": e["total"]} for p, e in manifest.items()],
            "num_tiles": dataset.num_tiles,
            "slides": dataset.slides(),
            "problems": [{"path": p, "message": m} for p, m in dataset.problems()],
        }
        _emit(args, data, "")
    else:
        _emit(args, None, dataset.summary(print_fn=None))
    return 1 if dataset.problems() else 0  # unreadable or empty files count, as for verify


def cmd_index(args: argparse.Namespace) -> int:
    unreadable: list[str] = []
    files = _tfrecords_of(args.paths, unreadable)
    if args.dask:
        from .cli_cluster import index_lost, on_cluster

        results = on_cluster(args.dask, _index_one, files, args.rebuild, False, on_error=index_lost)
    else:
        results = [_index_one(path, args.rebuild) for path in files]
    _emit(args, results, "\n".join(
        f"{r['status']:>8}  {_p(r['path'])}  " + (f"({r['records']} records)" if "records" in r else _p(r["error"]))
        + (f"  {r['note']}" if "note" in r else "") for r in results
    ))
    return 1 if unreadable or any(r["status"] == "error" for r in results) else 0


def _index_one(path: str, rebuild: bool, bar: bool = True) -> dict[str, Any]:
    """One file's line of `index` (on this machine with a progress bar, or as a Dask task);
    notes on ignored index files go with an index read anew."""
    from .core.index import iter_index_file
    from .core.progress import run_job

    try:
        job = iter_index_file(path, rebuild)
        result = _run_with_bar(job, "indexing") if bar else run_job(job)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # noqa: BLE001  (odd data met a bug: this file's error, the others go on)
        return {"path": path, "status": "error", "error": _unexpected(exc, [path])}
    if result.state != "indexed":  # a damaged file too
        return {"path": path, "status": "error", "error": result.error}
    if result.action == "kept":
        return {"path": path, "status": "valid", "index": result.index_path, "records": result.records}
    notes = list(result.notes)
    if result.index_path is not None:
        report = {"path": path, "status": "built", "index": result.index_path, "records": result.records}
    elif result.write_error is not None:  # a full disk, a read-only folder and cache: not compressed
        report = {"path": path, "status": "error", "error": f"{path}: no index written ({result.write_error})"}
    else:  # gzip or zlib: offsets of the decompressed stream are of no use on disk
        from .core.source import compression_of

        report = {"path": path, "status": "no index", "records": result.records}
        notes.append(f"{compression_of(path) or 'gzip or zlib'}-compressed: read sequentially, no index written")
    return {**report, "note": "; ".join(notes)} if notes else report


def cmd_verify(args: argparse.Namespace) -> int:
    from .core.catalog import iter_verify_files, verify_failure, verify_file

    unreadable: list[str] = []
    files = _tfrecords_of(args.paths, unreadable)
    if args.dask:
        from .cli_cluster import on_cluster

        reports = on_cluster(args.dask, verify_file, files, args.images, on_error=verify_failure)
    else:
        reports = _run_with_bar(iter_verify_files(files, check_images=args.images), "verifying")
    lines = []
    for report in reports:
        lines.append(_p(report))
        for problem in report.problems[1:]:
            lines.append(f"    record {problem.index}, byte offset {problem.offset}: {_p(problem.reason)}")
    bad = [r for r in reports if not r.ok]
    lines.append(f"{len(reports) - len(bad)} of {len(reports)} file(s) OK")
    _emit(args, {"ok": not bad, "files": [r.to_dict() for r in reports]}, "\n".join(lines))
    return 1 if bad or unreadable else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .core import writer
    from .core.write_report import OutputsExist

    src = Path(args.src)
    if not src.is_dir():
        raise UserError(f"source is not a folder: {args.src}")
    locations = None if args.locations.lower() == "none" else args.locations
    multi = _convert_layout(args, locations)
    options: dict[str, Any] = dict(
        locations=locations,
        reencode=args.reencode_jpeg,
        build_index=not args.no_index,
        workers=max(1, args.workers),
        compress=args.compress,
    )
    if args.dask and not multi:
        raise UserError("--dask converts one slide folder per task: use it with --multi")
    existing = "overwrite" if args.overwrite else ("skip" if args.skip_existing else "error")
    dest_was_there = os.path.lexists(args.dest)
    try:
        if args.dask:
            from .cli_cluster import convert_on_cluster

            del options["workers"]  # one process per slide on the cluster
            report = convert_on_cluster(args.dask, str(src), args.dest, existing, options)
        elif multi:
            report = _run_with_bar(writer.iter_write_tfrecords_multi(src, args.dest, existing=existing, **options),
                                   "converting")
        else:
            slide = args.slide or src.resolve().name
            report = _run_with_bar(writer.iter_write_tfrecords_single(
                src, args.dest, args.filename or slide, slide, overwrite=args.overwrite, **options), "converting")
    except OutputsExist as exc:
        what = exc.paths[0] if len(exc.paths) == 1 else f"{len(exc.paths)} TFRecords, e.g. {exc.paths[0]},"
        other = " or --skip-existing to leave them" if multi else ""
        raise UserError(f"{what} already exist{'s' if len(exc.paths) == 1 else ''}: use --overwrite to replace "
                        f"{'it' if len(exc.paths) == 1 else 'them'}{other}") from None
    lines = [f"wrote {_p(w.path)}: {w.tiles} tiles" for w in report.written]
    lines += [f"skipped {_p(s.path)}: {_p(s.reason)}" for s in report.skipped]
    lines += [f"warning: {_p(w)}" for w in report.warnings]
    rate = report.tiles / report.elapsed if report.elapsed else 0
    lines.append(f"{report.tiles} tiles in {len(report.written)} file(s), {report.elapsed:.1f} s ({rate:,.0f} images/s)")
    _emit(args, report.to_dict(), "\n".join(lines))
    if args.dask and any(s.reason.startswith("not written: ") for s in report.skipped):
        return _fail("some slides were not written (see the skipped files above)", 1)
    if report.written or (args.skip_existing and any(s.reason.endswith("already exists") for s in report.skipped)):
        return 0
    if not dest_was_there:
        _remove_empty_folder(args.dest)
    return _fail("nothing was written (see the skipped files above)", 1)


def _convert_layout(args: argparse.Namespace, locations: str | None) -> bool:
    """Whether to convert one TFRecord per sub-folder, decided from the source's layout as the
    wizard decides it; stops (exit 2) before anything is written when there is nothing to
    convert, when the layout and the flags disagree, or when an explicit `--locations` pattern
    matches none of the names."""
    from .core.write_layout import location_matches, source_layout

    layout = source_layout(args.src, args.dest)
    if layout.kind == "empty":
        raise UserError(f"no images to convert in {args.src} nor in its sub-folders")
    multi = args.multi
    if not multi and layout.kind == "nested":
        if args.slide or args.filename:
            raise UserError(f"{args.src} holds no images itself but {len(layout.slides)} slide folder(s): "
                            "use --multi (without --slide/--filename) for one TFRecord per folder")
        print(f"{PROG}: note: {_p(args.src)} holds {len(layout.slides)} slide folder(s) and no images of its own: "
              "converting one TFRecord per folder, as with --multi", file=sys.stderr)
        multi = True
    elif multi and not layout.slides:
        raise UserError(f"{args.src} has no slide sub-folders with images (its images lie in it): "
                        "leave out --multi to convert them as one slide")
    elif multi and (args.slide or args.filename):
        raise UserError("--slide and --filename are for single mode (without --multi)")
    if not multi and layout.slides:
        _warn(f"{len(layout.slides)} sub-folder(s) with images are not converted (use --multi for one TFRecord each)")
    images = layout.nested if multi else layout.loose
    if locations is not None and locations.lower() != "auto" and not location_matches(images, locations):
        raise UserError(f"--locations {locations!r} matches none of the {len(images):,} image names "
                        f"(e.g. {images[0].name}); use --locations auto, or none to store (0, 0)")
    return multi


def _remove_empty_folder(path: str) -> None:
    """The destination folder a conversion created and left empty goes again."""
    try:
        os.rmdir(path)
    except OSError:  # not empty (an index, another file), or never made
        pass


def cmd_export(args: argparse.Namespace) -> int:
    from .core.export import iter_export_tiles

    _file_info(args.tfrecord)
    with _open_tolerant(args.tfrecord) as tfr:
        for i in args.indices or []:
            if not -len(tfr) <= i < len(tfr):
                raise UserError(f"record index {i} out of range ({len(tfr)} records)")
        report = _run_with_bar(iter_export_tiles(tfr, args.outdir, args.indices, args.format), "exporting")
        damage = tfr.index_info.error
    if damage is not None and damage.index not in {i for i, _ in report.skipped}:
        report.skipped.append((damage.index if damage.index is not None else len(tfr), damage.reason))
    lines = [f"exported {len(report.written)} tile(s) to {_p(args.outdir)}"]
    lines += [f"skipped record {i}: {_p(reason)}" for i, reason in report.skipped]
    _emit(args, {"written": report.written, "skipped": [{"index": i, "reason": r} for i, r in report.skipped]},
          "\n".join(lines))
    return 1 if report.skipped else 0


def cmd_salvage(args: argparse.Namespace) -> int:
    from .core.verify import salvage

    _file_info(args.src)
    report = salvage(args.src, args.dest, overwrite=args.overwrite)
    data = {"source": report.to_dict(), "dest": _absolute(args.dest), "records_written": report.records_ok,
            "records_dropped": report.records_bad}
    _emit(args, data, f"wrote {report.records_ok} good record(s) to {_p(args.dest)}; left out {report.records_bad} "
          f"bad record(s) of {report.records_total} ({len(report.problems)} problem(s) in the source)")
    return 0


def cmd_mosaic(args: argparse.Namespace) -> int:
    from .core.mosaic import MAX_MOSAIC_SIDE, iter_render_mosaic
    from .core.storage import storage_for

    if not os.path.isfile(args.tfrecord):
        raise UserError(f"no such file: {args.tfrecord}")
    if not 1 <= args.width <= MAX_MOSAIC_SIDE:
        raise UserError(f"--width must be between 1 and {MAX_MOSAIC_SIDE} pixels, not {args.width}")
    out = args.output
    folder = os.path.dirname(os.path.abspath(out))
    if out.endswith((".tfrecords", ".tfrecord")) or os.path.abspath(out) == os.path.abspath(args.tfrecord):
        raise UserError(f"will not write the image over a TFRecord: {out}")
    if os.path.isdir(out):
        raise UserError(f"{out} is a folder; name the PNG file to write")
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UserError(f"cannot write {out}: " + ("no such folder" if not os.path.isdir(folder) else "folder not writable"))
    with _open_tolerant(args.tfrecord) as tfr:
        index = tfr.index_info
    job = iter_render_mosaic(args.tfrecord, args.width, args.color_by, args.step, index=index)
    mosaic = _run_with_bar(job, "mosaic")
    with storage_for(out).atomic_output(out) as f:  # a failure or Ctrl+C leaves no partial PNG
        mosaic.image.save(f, format="PNG", compress_level=3)
    problems = list(mosaic.problems)
    if index.error is not None:
        problems.append(str(index.error))
    data = {"path": args.tfrecord, "output": os.path.abspath(out), **mosaic.to_dict(), "problems": problems}
    lines = [
        f"wrote {_p(out)}: {mosaic.image.width} x {mosaic.image.height} px, {mosaic.drawn} tile(s) "
        f"(step {mosaic.step:g} px)" + (f", {len(mosaic.broken)} broken" if mosaic.broken else "")
        + (f", {mosaic.outlier_count} stray tile(s) left out" if mosaic.outlier_count else "")
    ]
    if mosaic.scheme is not None and mosaic.scheme.kind == "categories":
        lines += [f"  {_p(v)}: {'#%02x%02x%02x' % c}, {n} tile(s)" for v, c, n in mosaic.scheme.legend]
    elif mosaic.scheme is not None and mosaic.scheme.kind == "numbers":
        lines.append(f"  {_p(args.color_by)}: {mosaic.scheme.low:g} (violet) .. {mosaic.scheme.high:g} (yellow)")
    lines += [f"problem: {_p(p)}" for p in problems]
    _emit(args, data, "\n".join(lines))
    return 1 if problems else 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "info": cmd_info,
    "summary": cmd_summary,
    "index": cmd_index,
    "verify": cmd_verify,
    "convert": cmd_convert,
    "export": cmd_export,
    "salvage": cmd_salvage,
    "mosaic": cmd_mosaic,
}
