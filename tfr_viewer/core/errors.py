"""The one error type for bad data, so callers catch a single class and users read one shape of message."""

from __future__ import annotations

import os


class TFRecordError(ValueError):
    """Bad TFRecord data: framing, CRC, protobuf, missing field or undecodable image.

    The message always names the file and, where known, the record index and byte offset,
    so a user can find the damage and a tool can report the rest of the data as good.
    """

    def __init__(
        self,
        reason: str,
        path: str | os.PathLike | None = None,
        index: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.reason = reason
        self.path = os.fspath(path) if path is not None else None
        self.index = index
        self.offset = offset
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.index is not None:
            where.append(f"record {self.index}")
        if self.offset is not None:
            where.append(f"byte offset {self.offset}")
        return f"{': '.join([', '.join(where), self.reason]) if where else self.reason}"

    def located(
        self,
        path: str | os.PathLike | None = None,
        index: int | None = None,
        offset: int | None = None,
    ) -> "TFRecordError":
        """A copy with missing location details filled in (callers know more than the parser)."""
        return TFRecordError(
            self.reason,
            self.path if self.path is not None else path,
            self.index if self.index is not None else index,
            self.offset if self.offset is not None else offset,
        )
