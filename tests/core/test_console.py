"""The CLI's progress bar on a terminal."""

from __future__ import annotations

import io

from tfr_viewer.core.console import ProgressBar


def test_a_bar_never_drawn_leaves_no_blank_line() -> None:
    stream = io.StringIO()
    bar = ProgressBar("indexing", stream, enabled=True)
    bar.close()  # a job that read nothing (a valid index kept) drew nothing
    assert stream.getvalue() == ""


def test_a_drawn_bar_ends_its_line() -> None:
    stream = io.StringIO()
    bar = ProgressBar("indexing", stream, enabled=True)
    bar.update(5, 10, "a.tfrecords")
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\rindexing [###############") and "50.0%" in text and text.endswith("\n")
