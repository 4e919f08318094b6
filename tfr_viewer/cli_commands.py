"""The headless `tfr-viewer` subcommands (`convert` is in `cli_convert`): each takes the parsed
arguments and returns the exit status; `COMMANDS` maps the names to them."""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable

from .cli_args import PROG
from .cli_common import (
    UserError,
    emit,
    file_info,
    for_terminal,
    open_tolerant,
    report_path,
    run_with_bar,
    tfrecords_of,
    unexpected,
)
from .cli_convert import cmd_convert


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
    size = file_info(path).size
    from .core.images import sniff_format
    from .core.records import field_order

    problems: list[str] = []
    with open_tolerant(path) as tfr:
        index = tfr.index_info
        if index.error is not None:
            problems.append(str(index.error))
        data: dict[str, Any] = {
            "path": report_path(path),
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
        f"File:        {for_terminal(data['path'])}",
        f"Records:     {data['records']}",
        f"Fields:      {', '.join(for_terminal(name) for name in data['fields'])}",
        f"Format:      {data['img_format']}",
    ]
    if "slide" in data:
        lines += [f"Slide:       {for_terminal(data['slide'])}", f"Tile size:   {data['tile_size'][0]} x {data['tile_size'][1]} px"]
    loc = data["locations"]
    lines.append(
        f"Locations:   x {loc['min_x']}..{loc['max_x']}, y {loc['min_y']}..{loc['max_y']}" if loc else "Locations:   none"
    )
    lines.append(f"Index:       {for_terminal(data['index'] or 'none (in memory only)')}")
    lines += [f"Problem:     {for_terminal(problem)}" for problem in problems]
    emit(args, data, "\n".join(lines))
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
        emit(args, data, "")
    else:
        emit(args, None, dataset.summary(print_fn=None))
    return 1 if dataset.problems() else 0  # unreadable or empty files count, as for verify


def cmd_index(args: argparse.Namespace) -> int:
    unreadable: list[str] = []
    files = tfrecords_of(args.paths, unreadable)
    if args.dask:
        from .cli_cluster import index_lost, on_cluster

        results = on_cluster(args.dask, _index_one, files, args.rebuild, False, on_error=index_lost)
    else:
        results = [_index_one(path, args.rebuild) for path in files]
    emit(args, results, "\n".join(
        f"{r['status']:>8}  {for_terminal(r['path'])}  " + (f"({r['records']} records)" if "records" in r else for_terminal(r["error"]))
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
        result = run_with_bar(job, "indexing") if bar else run_job(job)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # noqa: BLE001  (odd data met a bug: this file's error, the others go on)
        return {"path": path, "status": "error", "error": unexpected(exc, [path])}
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
    files = tfrecords_of(args.paths, unreadable)
    if args.dask:
        from .cli_cluster import on_cluster

        reports = on_cluster(args.dask, verify_file, files, args.images, on_error=verify_failure)
    else:
        reports = run_with_bar(iter_verify_files(files, check_images=args.images), "verifying")
    lines = []
    for report in reports:
        lines.append(for_terminal(report))
        for problem in report.problems[1:]:
            lines.append(f"    record {problem.index}, byte offset {problem.offset}: {for_terminal(problem.reason)}")
    bad = [r for r in reports if not r.ok]
    lines.append(f"{len(reports) - len(bad)} of {len(reports)} file(s) OK")
    emit(args, {"ok": not bad, "files": [r.to_dict() for r in reports]}, "\n".join(lines))
    return 1 if bad or unreadable else 0


def cmd_export(args: argparse.Namespace) -> int:
    from .core.export import iter_export_tiles

    file_info(args.tfrecord)
    with open_tolerant(args.tfrecord) as tfr:
        for i in args.indices or []:
            if not -len(tfr) <= i < len(tfr):
                raise UserError(f"record index {i} out of range ({len(tfr)} records)")
        report = run_with_bar(iter_export_tiles(tfr, args.outdir, args.indices, args.format), "exporting")
        damage = tfr.index_info.error
    if damage is not None and damage.index not in {i for i, _ in report.skipped}:
        report.skipped.append((damage.index if damage.index is not None else len(tfr), damage.reason))
    lines = [f"exported {len(report.written)} tile(s) to {for_terminal(args.outdir)}"]
    lines += [f"skipped record {i}: {for_terminal(reason)}" for i, reason in report.skipped]
    emit(args, {"written": report.written, "skipped": [{"index": i, "reason": r} for i, r in report.skipped]},
          "\n".join(lines))
    return 1 if report.skipped else 0


def cmd_salvage(args: argparse.Namespace) -> int:
    from .core.verify import salvage

    file_info(args.src)
    report = salvage(args.src, args.dest, overwrite=args.overwrite)
    data = {"source": report.to_dict(), "dest": report_path(args.dest), "records_written": report.records_ok,
            "records_dropped": report.records_bad}
    emit(args, data, f"wrote {report.records_ok} good record(s) to {for_terminal(args.dest)}; left out {report.records_bad} "
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
    with open_tolerant(args.tfrecord) as tfr:
        index = tfr.index_info
    job = iter_render_mosaic(args.tfrecord, args.width, args.color_by, args.step, index=index)
    mosaic = run_with_bar(job, "mosaic")
    with storage_for(out).atomic_output(out) as f:  # a failure or Ctrl+C leaves no partial PNG
        mosaic.image.save(f, format="PNG", compress_level=3)
    problems = list(mosaic.problems)
    if index.error is not None:
        problems.append(str(index.error))
    data = {"path": args.tfrecord, "output": os.path.abspath(out), **mosaic.to_dict(), "problems": problems}
    lines = [
        f"wrote {for_terminal(out)}: {mosaic.image.width} x {mosaic.image.height} px, {mosaic.drawn} tile(s) "
        f"(step {mosaic.step:g} px)" + (f", {len(mosaic.broken)} broken" if mosaic.broken else "")
        + (f", {mosaic.outlier_count} stray tile(s) left out" if mosaic.outlier_count else "")
    ]
    if mosaic.scheme is not None and mosaic.scheme.kind == "categories":
        lines += [f"  {for_terminal(v)}: {'#%02x%02x%02x' % c}, {n} tile(s)" for v, c, n in mosaic.scheme.legend]
    elif mosaic.scheme is not None and mosaic.scheme.kind == "numbers":
        lines.append(f"  {for_terminal(args.color_by)}: {mosaic.scheme.low:g} (violet) .. {mosaic.scheme.high:g} (yellow)")
    lines += [f"problem: {for_terminal(p)}" for p in problems]
    emit(args, data, "\n".join(lines))
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
