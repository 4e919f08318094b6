"""The overview of a slide: one small image composed from every tile at its location, for the
zoomed-out mosaic. Built from JPEG DCT-scaled decodes (draft mode at 1/8 reads little more than
the DC coefficients, several times cheaper than a thumbnail decode), bounded in size whatever
the tile count, and cached per file in the per-user cache (see `overview_cache`).
"""

from __future__ import annotations

import os
from contextlib import closing
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from .errors import TFRecordError
from .images import image_info, open_image, readable_reason, to_rgb_array
from .index import IndexInfo
from .mosaic_layout import cell_boxes, grid_step, outlier_mask, robust_bounds
from .progress import CancelToken, Job, Progress, run_job
from .records import image_bytes, image_first_span, parse_example
from .tfrecord import TFRecord

DCT_REDUCTION = 8  # the smallest JPEG decode: 1/8 of each side
MAX_OVERVIEW_SIDE = 16384  # whatever the caller asks: 16384^2 RGBA is 1 GiB, the most we allow
CHUNK = 256  # tiles between progress reports and cancel checks
MAX_THREADS = 4
BROKEN_FILL = (205, 35, 35, 255)
BROKEN_CROSS = (90, 0, 0, 255)
SIZE_PROBES = 16  # records tried to learn the tiles' pixel size


@dataclass
class Overview:
    """An image of the whole slide and where it sits.

    `pixels`: (H, W, 4) uint8 RGBA; alpha 0 where no tile is (the window's background shows
    through), 255 on tiles. Pixel (col, row) covers slide pixels x0 + col * scale .. + scale
    (y down, like `loc_y`). `broken`: record indexes whose tile did not read or decode (their
    cells are filled red with a dark cross). `tile_count`: tiles with a location;
    `outlier_count`: those left out of the framing as strays (see `mosaic_layout.robust_bounds`).
    `problems`: one line per broken tile, naming file and record (at most a few hundred).
    """

    pixels: np.ndarray
    x0: float
    y0: float
    scale: float
    step: float
    broken: np.ndarray
    tile_count: int
    outlier_count: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def slide_to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """Overview pixel coordinates of slide point (x, y)."""
        return (x - self.x0) / self.scale, (y - self.y0) / self.scale


MAX_PROBLEMS = 200


def tile_image_bytes(tfr: TFRecord, i: int) -> bytes:
    """Record `i`'s image bytes: cut straight out of the payload in the usual layout (image
    first), else through protobuf. TFRecordError for a damaged record or one without an image."""
    payload = tfr.read_payload(i)
    span = image_first_span(payload, len(payload))
    if span is not None:
        return payload[span[0] : span[1]]
    return image_bytes(parse_example(payload, tfr.path, i), tfr.path, i)


def decode_cell(data: bytes, width: int, height: int) -> np.ndarray:
    """The tile resized to a (height, width, 3) uint8 cell, decoded at the smallest scale that
    still covers the cell (JPEG: DCT scaling down to 1/8; other formats: `reduce`).
    TFRecordError, and nothing else, for bytes that do not decode."""
    img = open_image(data)
    try:
        if img.format == "JPEG":
            img.draft("RGB", (width, height))
        img.load()
        if img.mode not in ("RGB", "L", "RGBA", "P", "LA"):
            img = Image.fromarray(to_rgb_array(img))
        if img.mode != "RGB":
            img = img.convert("RGB")
        factor = min(img.width // max(width, 1), img.height // max(height, 1))
        if factor >= 2:
            img = img.reduce(factor)
        if img.size != (width, height):
            img = img.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8)
    except TFRecordError:
        raise
    except Exception as exc:  # noqa: BLE001  (hostile bytes make Pillow raise anything)
        raise TFRecordError(f"image bytes do not decode ({readable_reason(exc)})") from None


def _decode_slice(tfr: TFRecord, rows: list[int], boxes: list[list[int]]) -> list[np.ndarray | TFRecordError | None]:
    """Each tile decoded into its box: the cell's pixels, the error naming file and record, or
    None for a box of no pixels."""
    out: list[np.ndarray | TFRecordError | None] = []
    for i, (left, top, right, bottom) in zip(rows, boxes):
        if right <= left or bottom <= top:
            out.append(None)
            continue
        try:
            out.append(decode_cell(tile_image_bytes(tfr, i), right - left, bottom - top))
        except TFRecordError as exc:
            out.append(exc.located(tfr.path, i))
    return out


def default_threads() -> int:
    """Decoding threads: the machine's cores, at most `MAX_THREADS`."""
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


def decoded_chunks(
    tfr: TFRecord, rows: np.ndarray, boxes: np.ndarray, threads: int | None = None
) -> Iterator[tuple[int, list[np.ndarray | TFRecordError | None]]]:
    """(start, cells) for consecutive chunks of `CHUNK` tiles (`rows[start:]` in `boxes[start:]`),
    decoded by `threads` threads, the next chunk decoding while the caller pastes this one."""
    threads = threads or default_threads()
    starts = range(0, len(rows), CHUNK)

    def work(start: int, end: int) -> list[np.ndarray | TFRecordError | None]:
        return _decode_slice(tfr, rows[start:end].tolist(), boxes[start:end].tolist())

    if threads <= 1:
        for start in starts:
            yield start, work(start, start + CHUNK)
        return

    def submit(start: int) -> list[Future]:
        end = min(start + CHUNK, len(rows))
        size = -(-(end - start) // threads)
        return [pool.submit(work, a, min(a + size, end)) for a in range(start, end, size)]

    with ThreadPoolExecutor(threads, thread_name_prefix="overview") as pool:
        pending = submit(0) if len(rows) else []
        for start in starts:
            following = submit(start + CHUNK) if start + CHUNK < len(rows) else []
            yield start, [cell for future in pending for cell in future.result()]
            pending = following


def tile_side(tfr: TFRecord, rows: np.ndarray) -> int | None:
    """The larger side in pixels of the first tile (among the first few) whose header reads."""
    for i in rows[:SIZE_PROBES].tolist():
        try:
            info = image_info(tile_image_bytes(tfr, i))
        except TFRecordError:
            continue
        return max(int(info["width"]), int(info["height"]))
    return None


def slide_layout(
    tfr: TFRecord, xy: np.ndarray, step: float | None
) -> tuple[float, np.ndarray, tuple[float, float, float, float], int | None]:
    """(step, stray mask, robust bounds, tile side in px or None) of the tiles at `xy`: the
    step given, else the grid step of the locations (the tile's pixel size for a lone tile)."""
    side = tile_side(tfr, np.arange(min(len(xy), SIZE_PROBES)))
    step = float(step) if step else grid_step(xy, default=float(side or 1))
    if not (step > 0 and np.isfinite(step)):
        raise ValueError(f"{tfr.path}: the grid step must be a positive number of pixels, not {step:g}")
    strays = outlier_mask(xy, step)
    return step, strays, robust_bounds(xy, step), side


def mark_broken(canvas: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Fill a cell red, with a dark cross when it is big enough to see one."""
    left, top, right, bottom = box
    cell = canvas[top:bottom, left:right]
    cell[...] = BROKEN_FILL[: canvas.shape[2]]
    side = min(cell.shape[0], cell.shape[1])
    if side >= 5:
        diagonal = np.arange(side)
        cell[diagonal, diagonal] = BROKEN_CROSS[: canvas.shape[2]]
        cell[diagonal, side - 1 - diagonal] = BROKEN_CROSS[: canvas.shape[2]]


def _check_locations(locations: np.ndarray, count: int, path: str) -> np.ndarray:
    xy = np.asarray(locations)
    if xy.ndim != 2 or xy.shape[1:] != (2,) or xy.dtype.kind not in "iuf":
        raise ValueError(f"{path}: locations must be an (n, 2) array of numbers, got shape {xy.shape}")
    if len(xy) > count:
        raise ValueError(f"{path}: {len(xy)} locations for {count} records")
    return xy.astype(np.float64)


def iter_build_overview(
    path: str | os.PathLike,
    locations: np.ndarray,
    step: float | None = None,
    max_side: int = 4096,
    cancel: CancelToken | None = None,
    index: IndexInfo | None = None,
    threads: int | None = None,
) -> Job[Overview]:
    """Job: the overview of one file whose record i is at `locations[i]` (tile centres).

    The slide's extent leaves stray tiles out (`robust_bounds`); a cell is at most 1/8 of a
    tile's pixels a side and the image at most `max_side` pixels a side, so memory stays
    bounded at any tile count (a million tiles: cells of a few pixels). A tile that does not
    read or decode is marked and listed; the build goes on. `threads`: decoding threads
    (default `default_threads()`; Pillow decodes without holding the GIL)."""
    path = os.fspath(path)
    max_side = int(min(max(max_side, 1), MAX_OVERVIEW_SIDE))
    with TFRecord(path, create_index=False, index=index) as tfr:
        xy = _check_locations(locations, len(tfr), path)
        step, strays, (x0, y0, x1, y1), side = slide_layout(tfr, xy, step)
        rows = np.flatnonzero(~strays)
        cell = max((side or DCT_REDUCTION) / DCT_REDUCTION, 1.0)  # overview px per step at 1/8 decode
        scale = max(step / cell, (x1 - x0) / max_side, (y1 - y0) / max_side)
        width = min(max(int(np.ceil((x1 - x0) / scale)), 1), max_side)
        height = min(max(int(np.ceil((y1 - y0) / scale)), 1), max_side)
        canvas = np.zeros((height, width, 4), np.uint8)
        boxes = cell_boxes(xy[rows], step, x0, y0, scale)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        broken: list[int] = []
        problems: list[str] = []
        total = len(rows)
        with closing(decoded_chunks(tfr, rows, boxes, threads)) as chunks:  # a cancel stops its threads
            for start, cells in chunks:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                yield Progress(start, total, path)
                end = start + len(cells)
                for i, box, cell in zip(rows[start:end].tolist(), boxes[start:end].tolist(), cells):
                    left, top, right, bottom = box
                    if isinstance(cell, np.ndarray):
                        canvas[top:bottom, left:right, :3] = cell
                        canvas[top:bottom, left:right, 3] = 255
                    elif isinstance(cell, TFRecordError):
                        broken.append(i)
                        if len(problems) < MAX_PROBLEMS:
                            problems.append(str(cell))
                        mark_broken(canvas, box)
        yield Progress(total, total, path)
    return Overview(
        canvas, x0, y0, scale, step, np.asarray(broken, np.int64), len(xy), int(strays.sum()), problems
    )


def build_overview(
    path: str | os.PathLike,
    locations: np.ndarray,
    step: float | None = None,
    max_side: int = 4096,
    cancel: CancelToken | None = None,
    progress: Callable[[Progress], None] | None = None,
    index: IndexInfo | None = None,
    threads: int | None = None,
) -> Overview:
    """`iter_build_overview` run to its end; `progress` gets each `Progress`."""
    return run_job(iter_build_overview(path, locations, step, max_side, cancel, index, threads), progress)
