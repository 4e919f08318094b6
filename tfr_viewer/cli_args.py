"""The `tfr-viewer` command line's arguments: the window's, and each subcommand's.

Kept apart from the commands so that parsing imports nothing but argparse: `--help`,
`--version` and every subcommand answer before anything heavy (or Qt) is imported.
"""

from __future__ import annotations

import argparse

SUBCOMMANDS = ("info", "summary", "index", "verify", "convert", "export", "salvage", "mosaic")
PROG = "tfr-viewer"


class _Version(argparse.Action):
    """`--version`: the installed version, looked up only when asked (importlib.metadata costs
    ~25 ms of every start otherwise)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from . import __version__

        print(f"{PROG} {__version__}")
        parser.exit()


def gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fast inspector for TFRecord datasets of image tiles (Slideflow format). "
        f"With no subcommand, opens the window. Subcommands: {', '.join(SUBCOMMANDS)} "
        f"(see '{PROG} SUBCOMMAND --help'). To open a path named like a subcommand, write ./NAME.",
    )
    parser.add_argument("paths", nargs="*", help="TFRecord files or folders to open")
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument("--demo", action="store_true", help="open a generated sample dataset")
    parser.add_argument("--annotations", metavar="CSV",
                        help="annotations CSV with a slide column: its columns colour and filter the tiles")
    parser.add_argument("--fresh-settings", action="store_true",
                        help="start with default settings for this run (the saved ones are kept)")
    parser.add_argument("--read-only", action="store_true",
                        help="write nothing beside the files: indexes and manifests go to the per-user cache")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window once loaded")
    parser.add_argument("--quit-after-load", action="store_true", help="quit once loaded (with --screenshot)")
    return parser


def command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG)
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="fields, image format, record count and location bounds of a TFRecord")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("summary", help="Slideflow-style summary of a folder of TFRecords")
    p.add_argument("paths", nargs="+", metavar="DIR")
    p.add_argument("--annotations", help="CSV with a slide column (and patient, labels...)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("index", help="build missing or stale .index.npz files")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--rebuild", action="store_true", help="rebuild valid indexes too")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("verify", help="check every record (CRCs, protobuf, fields); exit 1 if anything is bad")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--images", action="store_true", help="also decode every image")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("convert", help="folder(s) of image tiles -> TFRecords")
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument("--multi", action="store_true", help="one TFRecord per sub-folder (slide = folder name)")
    p.add_argument("--slide", help="slide name (single mode; default: the folder name)")
    p.add_argument("--filename", help="output file name (single mode; default: the slide name)")
    p.add_argument("--overwrite", action="store_true", help="replace existing TFRecords")
    p.add_argument("--skip-existing", action="store_true", help="multi mode: leave existing TFRecords")
    p.add_argument("--workers", type=int, default=1, help="processes reading images (default 1)")
    p.add_argument(
        "--locations",
        default="auto",
        help="how to read tile locations from file names: auto, none, '*_X-Y.ext', '*x123_y456*' "
        "or a regex with groups (?P<x>...) and (?P<y>...)",
    )
    p.add_argument("--reencode-jpeg", type=int, metavar="QUALITY", help="store every tile as JPEG")
    p.add_argument("--no-index", action="store_true", help="do not write .index.npz files")
    p.add_argument("--compress", choices=["gzip", "zlib"], help="write compressed TFRecords, as TensorFlow's "
                   "TFRecordOptions do (no index is written)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("export", help="tiles of a TFRecord -> image files <slide>_<x>-<y>.<ext>")
    p.add_argument("tfrecord")
    p.add_argument("outdir")
    p.add_argument("--format", choices=["png", "jpeg"], help="re-encode to this format (default: keep bytes)")
    p.add_argument("--indices", nargs="+", type=int, help="record indices to export (default: all)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("salvage", help="copy the good records of a damaged TFRecord into a new file")
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("mosaic", help="the slide reconstructed from its tiles at their locations -> PNG")
    p.add_argument("tfrecord")
    p.add_argument("output", metavar="OUT.png")
    p.add_argument("--width", type=int, default=4000, help="image width in pixels (default 4000; at most 16384)")
    p.add_argument("--color-by", metavar="FIELD", help="tint each tile by the value of this record field")
    p.add_argument("--step", type=float, help="tile footprint in slide pixels (default: the grid step of the locations)")
    p.add_argument("--json", action="store_true")
    _add_remote_options(sub.choices)
    return parser


DASK_COMMANDS = ("index", "verify", "summary", "convert")


def _add_remote_options(commands: dict[str, argparse.ArgumentParser]) -> None:
    """Options for paths that are URLs (every subcommand) and for running on a Dask cluster."""
    for name, p in commands.items():
        p.add_argument(
            "--storage-option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="an option for the fsspec file system of URLs (repeatable), e.g. endpoint_url=http://...",
        )
        if name in DASK_COMMANDS:
            p.add_argument(
                "--dask",
                metavar="ADDRESS",
                help="run the per-file work on a Dask scheduler (tcp://host:8786) or on 'local:N' worker processes",
            )
