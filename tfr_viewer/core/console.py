"""Plain-text tables (the seed's ╒═╕ boxes) and a stderr progress bar, for summary() and the CLI."""

from __future__ import annotations

import re
import sys
import time
from typing import Sequence, TextIO


# What a terminal acts on instead of showing: C0 and C1 controls (ESC starts colour, title and
# clipboard sequences), DEL, and the marks that reorder or hide text (bidi overrides, isolates,
# line and paragraph separators)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, keep_newlines: bool = False) -> str:
    """`text` safe for a terminal: control and reordering characters from file names or record
    values become visible escapes (`\\x1b`, `\\u202e`), so data cannot drive the terminal."""
    return (_UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE).sub(_escape, str(text))


def box_table(rows: Sequence[Sequence[object]], header: Sequence[str] | None = None) -> str:
    """Rows in a box like Slideflow's summary tables."""
    cells = [[printable(c) for c in row] for row in ([header] if header else []) + list(rows)]
    if not cells:
        return ""
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(max(map(len, cells)))]

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row_text(row: list[str]) -> str:
        padded = row + [""] * (len(widths) - len(row))
        return "│" + "│".join(f" {c:<{w}} " for c, w in zip(padded, widths)) + "│"

    out = [line("╒", "═", "╤", "╕")]
    for i, row in enumerate(cells):
        out.append(row_text(row))
        if header and i == 0:
            out.append(line("╞", "═", "╪", "╡"))
    out.append(line("╘", "═", "╧", "╛"))
    return "\n".join(out)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


class ProgressBar:
    """A one-line bar on stderr, drawn only when stderr is a terminal (never in logs or pipes)."""

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._drawn = False  # a bar never drawn (a job that read nothing) leaves no blank line

    def update(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        fraction = done / total if total else 1.0
        bar = "#" * int(fraction * 30)
        self.stream.write(f"\r{self.label} [{bar:<30}] {fraction:6.1%} {printable(message)[-40:]:<40}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
