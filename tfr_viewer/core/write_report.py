"""What a conversion of image tiles into TFRecords wrote, and what it left out and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class WrittenFile:
    path: str
    slide: str
    tiles: int
    index_path: str | None
    bytes: int = 0


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class WriteReport:
    """What a conversion wrote and what it left out, with reasons."""

    written: list[WrittenFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def tiles(self) -> int:
        return sum(w.tiles for w in self.written)

    def to_dict(self) -> dict:
        return {
            "written": [asdict(w) for w in self.written],
            "skipped": [asdict(s) for s in self.skipped],
            "warnings": list(self.warnings),
            "tiles": self.tiles,
            "elapsed": self.elapsed,
        }


class OutputsExist(FileExistsError):
    """Destination TFRecords that already exist, so nothing was written; `paths` names them
    (the command line then names its own flags)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = list(paths)
        if len(self.paths) == 1:
            text = f"{self.paths[0]} already exists (use overwrite to replace it)"
        else:
            text = f"{len(self.paths)} destination files already exist, e.g. {self.paths[0]} (use overwrite)"
        super().__init__(text)


class SkipImage(Exception):
    """An input file that cannot become a tile; its message is the reason shown to the user."""
