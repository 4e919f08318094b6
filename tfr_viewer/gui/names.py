"""One naming rule for the whole window: the grid caption and the viewer title use the file's
name, the record panel shows the record's `slide` field, and export writes the `slide` field.
When the two differ, the record panel says so."""

from __future__ import annotations

from typing import Any

from ..core.storage import stem


def slide_field(details: dict[str, Any]) -> str | None:
    """The record's `slide` field as text, or None when it has none (or it is not text)."""
    for field in details.get("fields", []):
        if field.get("name") == "slide" and field.get("kind") == "bytes" and field.get("values"):
            return field["values"][0].decode("utf-8", errors="replace")
    return None


def name_mismatch(details: dict[str, Any]) -> str:
    """'file flipped, slide field slideB' when the file's name and the record's `slide` field
    differ, else ''."""
    slide = slide_field(details)
    file_name = stem(details.get("path", ""))
    if slide is None or slide == file_name:
        return ""
    return f"file {file_name}, slide field {slide}"


NAMES_RULE = "The grid and the viewer name tiles by file; export names them by the slide field."
