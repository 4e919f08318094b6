"""A small synthetic dataset that looks like H&E tiles, for `tfr-viewer --demo` and screenshots.

Pure numpy + Pillow (no Qt): pink eosin stroma, purple-dark nuclei, white gaps, on tissue-shaped
slides (unions of noisy ellipses on a tile grid). Generated once into the user's cache folder.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable, Generator

import numpy as np
from PIL import Image

from .core.framing import frame_record
from .core.index import IndexInfo, save_index
from .core.paths import user_cache_dir
from .core.progress import CancelToken, Job, Progress, run_job
from .core.records import make_example
from .core.storage import LOCAL

DEMO_VERSION = 1


def demo_dataset_dir() -> Path:
    return user_cache_dir() / "demo" / f"v{DEMO_VERSION}"


def _tissue_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A blobby tissue outline on a size x size tile grid."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    mask = np.zeros((size, size), bool)
    for _ in range(rng.integers(2, 5)):
        cx, cy = rng.uniform(0.25, 0.75, 2) * size
        rx, ry = rng.uniform(0.15, 0.35, 2) * size
        angle = rng.uniform(0, np.pi)
        dx, dy = xx - cx, yy - cy
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        wobble = 1 + 0.15 * np.sin(3 * np.arctan2(v, u) + rng.uniform(0, 6))
        mask |= (u / rx) ** 2 + (v / ry) ** 2 < wobble
    return mask


def _smooth_noise(rng: np.random.Generator, px: int, scale: int) -> np.ndarray:
    small = rng.random((px // scale + 2, px // scale + 2)).astype(np.float32)
    img = Image.fromarray((small * 255).astype(np.uint8)).resize((px, px), Image.Resampling.BICUBIC)
    return np.asarray(img, np.float32) / 255.0


def make_tile(rng: np.random.Generator, px: int = 128, density: float = 0.5) -> np.ndarray:
    """One H&E-like RGB tile (uint8)."""
    stroma = _smooth_noise(rng, px, 16)
    fibres = _smooth_noise(rng, px, 4)
    white = np.array([245, 240, 242], np.float32)
    eosin = np.array([236, 150, 190], np.float32)
    deep = np.array([205, 95, 150], np.float32)
    t = np.clip(0.45 * stroma + 0.55 * fibres, 0, 1)[..., None]
    img = eosin * (1 - t) + deep * t
    gaps = _smooth_noise(rng, px, 24) > 0.78 - 0.1 * (1 - density)
    img[gaps] = white * 0.95 + img[gaps] * 0.05
    yy, xx = np.mgrid[0:px, 0:px].astype(np.float32)
    nuclei = np.zeros((px, px), np.float32)
    for _ in range(int(rng.integers(8, 30) * density + 4)):
        cx, cy = rng.uniform(0, px, 2)
        rx, ry = rng.uniform(2.5, 6.5, 2) * px / 128
        angle = rng.uniform(0, np.pi)
        dx, dy = xx - cx, yy - cy
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        nuclei = np.maximum(nuclei, np.clip(1.3 - ((u / rx) ** 2 + (v / ry) ** 2), 0, 1))
    hematoxylin = np.array([75, 45, 120], np.float32)
    n = np.clip(nuclei * (0.8 + 0.2 * fibres), 0, 1)[..., None]
    img = img * (1 - n) + hematoxylin * n
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


PROGRESS_STEPS = 1000  # progress units per slide (its tile count is known only when it starts)
DEMO_TITLE = "demo"  # how the window names the demo folder (in Recent and the title)


def is_demo_folder(path: str | os.PathLike) -> bool:
    return os.path.abspath(path) == os.path.abspath(demo_dataset_dir())


def path_title(path: str) -> str:
    """A path as the window names it: "demo" for the generated demo folder (not a cache path)."""
    return DEMO_TITLE if is_demo_folder(path) else path


def iter_generate_demo_dataset(
    dest: str | os.PathLike, slides: int = 4, seed: int = 0, tile_px: int = 128, cancel: CancelToken | None = None
) -> Job[list[Path]]:
    """Job: write `slides` TFRecords (+ indexes) of H&E-like JPEG tiles into `dest`; progress
    per tile ("demo_slide_02: 120 of 302 tiles"), each file written whole or not at all."""
    dest = Path(dest)
    LOCAL.make_dirs(str(dest))
    rng = np.random.default_rng(seed)
    written = []
    for s in range(slides):
        name = f"demo_slide_{s + 1:02d}"
        grid = int(rng.integers(18, 26))
        mask = _tissue_mask(rng, grid)
        ys, xs = np.nonzero(mask)
        records, offsets, locations, position = [], [], [], 0
        for k, (gx, gy) in enumerate(zip(xs.tolist(), ys.tolist())):
            if k % 16 == 0:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                yield Progress(s * PROGRESS_STEPS + PROGRESS_STEPS * k // len(xs), slides * PROGRESS_STEPS,
                               f"{name}: {k:,} of {len(xs):,} tiles (slide {s + 1} of {slides})")
            buf = io.BytesIO()
            Image.fromarray(make_tile(rng, tile_px, rng.uniform(0.3, 1.0))).save(buf, format="JPEG", quality=88)
            x, y = gx * tile_px + tile_px // 2, gy * tile_px + tile_px // 2
            framed = frame_record(make_example({"image_raw": buf.getvalue(), "slide": name, "loc_x": x, "loc_y": y}))
            records.append(framed)
            offsets.append((position, len(framed)))
            locations.append((x, y))
            position += len(framed)
        path = dest / f"{name}.tfrecords"
        with LOCAL.atomic_output(str(path)) as out:
            out.write(b"".join(records))
        save_index(IndexInfo(np.asarray(offsets, np.int64), np.asarray(locations, np.int64)), path)
        written.append(path)
    yield Progress(slides * PROGRESS_STEPS, slides * PROGRESS_STEPS, "")
    return written


def generate_demo_dataset(dest: str | os.PathLike, slides: int = 4, seed: int = 0, tile_px: int = 128) -> list[Path]:
    """`iter_generate_demo_dataset` run through."""
    return run_job(iter_generate_demo_dataset(dest, slides, seed, tile_px))


def iter_ensure_demo_dataset(cancel: CancelToken | None = None) -> Generator[Progress, None, Path]:
    """Job: the demo folder, generated on first use (a marker file says it is complete)."""
    folder = demo_dataset_dir()
    marker = folder / ".complete"
    if not marker.exists():
        yield from iter_generate_demo_dataset(folder, cancel=cancel)
        marker.write_text("ok\n")
    return folder


def ensure_demo_dataset() -> Path:
    """The demo folder, generated on first use."""
    return run_job(iter_ensure_demo_dataset())


def demo_dataset_job() -> Callable[[CancelToken], Job[Path]]:
    """Job factory: the demo dataset folder, generated on first use, with progress per tile."""
    return lambda token: iter_ensure_demo_dataset(token)
