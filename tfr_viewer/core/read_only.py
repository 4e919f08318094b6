"""Read-only mode: nothing is written beside the user's files (indexes, manifest.json); they go
to the per-user cache, the place already used for folders that cannot be written.

For shared, archived or checksummed dataset folders. One switch, kept in the environment so
the indexing process (started by this one) inherits it: `tfr-viewer --read-only`, the window's
setting, or `TFR_VIEWER_READ_ONLY=1`.
"""

from __future__ import annotations

import os

READ_ONLY_ENV = "TFR_VIEWER_READ_ONLY"


def read_only() -> bool:
    """True when nothing may be written beside the user's files."""
    return os.environ.get(READ_ONLY_ENV, "") not in ("", "0")


def set_read_only(on: bool) -> None:
    """Switch read-only mode for this process and the processes it starts from now on."""
    os.environ[READ_ONLY_ENV] = "1" if on else "0"
