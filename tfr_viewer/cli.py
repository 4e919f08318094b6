"""The `tfr-viewer` command: the GUI with no subcommand, headless jobs with one.

Arguments are parsed before anything imports Qt, so `--help`, `--version` and every subcommand
work on a machine without a display. The GUI path imports nothing but the argument parser
before the window (the subcommands live in `cli_commands`, loaded only for a subcommand).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Sequence

from .cli_args import SUBCOMMANDS, command_parser, gui_parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    _tolerant_output()
    if first in SUBCOMMANDS:  # a subcommand even beside a folder of that name (open it as ./NAME)
        from .cli_commands import COMMANDS
        from .cli_common import UserError, fail, unexpected, use_storage_options
        from .core.cluster import ClusterError

        args = command_parser().parse_args(args_list)
        previous = _stop_on_sigterm()
        try:
            use_storage_options(args.storage_option)
            return COMMANDS[args.command](args)
        except (UserError, ClusterError) as exc:
            return fail(str(exc))
        except KeyboardInterrupt:
            return fail("interrupted", 130)
        except BrokenPipeError:  # `... | head`: the reader has gone, nothing more to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except Exception as exc:  # noqa: BLE001  (whatever the data did: one line, no traceback)
            return fail(unexpected(exc, _paths_of(args)))
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    args = gui_parser().parse_args(args_list)
    from .cli_common import fail
    from .core.urls import is_url  # not the storage: nothing heavy before the window paints

    for path in args.paths + ([args.annotations] if args.annotations else []):
        if not is_url(path) and not os.path.exists(path):  # a URL is checked by the window's open
            return fail(f"no such file or folder: {path}")
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


def _stop_on_sigterm():
    """A kill (SIGTERM) stops a subcommand the way Ctrl+C does, so partial files are removed
    and worker processes shut down; returns the handler to put back (None off the main thread)."""

    def interrupt(_signum, _frame) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return None
