"""`tfr-viewer convert`: a folder of images (or of slide folders) into TFRecords."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .cli_args import PROG
from .cli_common import UserError, emit, fail, for_terminal, run_with_bar, warn


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
            report = run_with_bar(writer.iter_write_tfrecords_multi(src, args.dest, existing=existing, **options),
                                   "converting")
        else:
            slide = args.slide or src.resolve().name
            report = run_with_bar(writer.iter_write_tfrecords_single(
                src, args.dest, args.filename or slide, slide, overwrite=args.overwrite, **options), "converting")
    except OutputsExist as exc:
        what = exc.paths[0] if len(exc.paths) == 1 else f"{len(exc.paths)} TFRecords, e.g. {exc.paths[0]},"
        other = " or --skip-existing to leave them" if multi else ""
        raise UserError(f"{what} already exist{'s' if len(exc.paths) == 1 else ''}: use --overwrite to replace "
                        f"{'it' if len(exc.paths) == 1 else 'them'}{other}") from None
    lines = [f"wrote {for_terminal(w.path)}: {w.tiles} tiles" for w in report.written]
    lines += [f"skipped {for_terminal(s.path)}: {for_terminal(s.reason)}" for s in report.skipped]
    lines += [f"warning: {for_terminal(w)}" for w in report.warnings]
    rate = report.tiles / report.elapsed if report.elapsed else 0
    lines.append(f"{report.tiles} tiles in {len(report.written)} file(s), {report.elapsed:.1f} s ({rate:,.0f} images/s)")
    emit(args, report.to_dict(), "\n".join(lines))
    if args.dask and any(s.reason.startswith("not written: ") for s in report.skipped):
        return fail("some slides were not written (see the skipped files above)", 1)
    if report.written or (args.skip_existing and any(s.reason.endswith("already exists") for s in report.skipped)):
        return 0
    if not dest_was_there:
        _remove_empty_folder(args.dest)
    return fail("nothing was written (see the skipped files above)", 1)


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
        print(f"{PROG}: note: {for_terminal(args.src)} holds {len(layout.slides)} slide folder(s) and no images of its own: "
              "converting one TFRecord per folder, as with --multi", file=sys.stderr)
        multi = True
    elif multi and not layout.slides:
        raise UserError(f"{args.src} has no slide sub-folders with images (its images lie in it): "
                        "leave out --multi to convert them as one slide")
    elif multi and (args.slide or args.filename):
        raise UserError("--slide and --filename are for single mode (without --multi)")
    if not multi and layout.slides:
        warn(f"{len(layout.slides)} sub-folder(s) with images are not converted (use --multi for one TFRecord each)")
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
