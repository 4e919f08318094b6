"""Which layout a folder of image tiles has, told from its listing alone (nothing is read): the
command line's `convert` decides with it what the conversion wizard decides with its scan."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .naming import location_parser
from .tile_inputs import list_images, slide_folders, slide_name_skip


@dataclass
class SourceLayout:
    """What a source folder holds: `loose` images directly in it, `slides` (sub-folders holding
    images, one per slide) and `nested`, the images of those sub-folders."""

    loose: list[Path] = field(default_factory=list)
    slides: list[Path] = field(default_factory=list)
    nested: list[Path] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """'single' (images directly in the folder), 'nested' (none there, but slide folders
        hold some) or 'empty'."""
        return "single" if self.loose else "nested" if self.nested else "empty"


def source_layout(src_dir: str | os.PathLike, dest_dir: str | os.PathLike | None = None) -> SourceLayout:
    """The layout of `src_dir` (`dest_dir`, when inside it, is no slide folder)."""
    layout = SourceLayout(loose=list_images(src_dir)[0])
    folders, _ = slide_folders(src_dir, exclude=dest_dir)
    for folder in folders:
        if slide_name_skip(folder) is not None:
            continue
        try:
            images, _ = list_images(folder)
        except OSError:
            continue
        if images:
            layout.slides.append(folder)
            layout.nested += images
    return layout


def location_matches(images: list[Path], pattern: str | None) -> int:
    """How many of these images' names the location pattern finds a location in."""
    parse = location_parser(pattern)
    return sum(parse(image.name) is not None for image in images)
