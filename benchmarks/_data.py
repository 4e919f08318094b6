"""Generated benchmark datasets, cached between runs in the system temp folder.

Importing this module byte-compiles tfr_viewer (`compile_package`): every benchmark measures the
package as installed, not a source tree recompiled in each new process.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from tfr_viewer.core.framing import frame_record, write_record
from tfr_viewer.core.records import make_example


def tile_jpegs(count: int = 32, px: int = 256, target_kb: int = 20, seed: int = 0) -> list[bytes]:
    """Distinct tissue-like JPEG tiles of about `target_kb` KB each."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        base = rng.normal(0, 1, size=(px // 8, px // 8, 3))
        smooth = np.kron(base, np.ones((8, 8, 1)))
        noise = rng.normal(0, 18, size=(px, px, 3))
        img = np.clip(np.array([220, 150, 190]) + 25 * smooth + noise, 0, 255).astype(np.uint8)
        quality = 85
        while True:
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=quality)
            if buf.tell() <= target_kb * 1024 * 1.1 or quality <= 30:
                break
            quality -= 5
        out.append(buf.getvalue())
    return out


def tfrecord_dataset(files: int = 10, tiles: int = 2000, name: str = "read") -> Path:
    """A folder of `files` TFRecords x `tiles` ~20 KB JPEG tiles (no index files)."""
    root = Path(os.environ.get("TFR_BENCH_DIR", tempfile.gettempdir())) / f"tfr-bench-{name}-{files}x{tiles}"
    marker = root / ".complete"
    if marker.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    images = tile_jpegs()
    for f in range(files):
        slide = f"slide_{f:03d}"
        with open(root / f"{slide}.tfrecords", "wb") as out:
            for t in range(tiles):
                write_record(
                    out,
                    make_example(
                        {
                            "image_raw": images[(f * 7 + t) % len(images)],
                            "slide": slide,
                            "loc_x": 128 + 256 * (t % 50),
                            "loc_y": 128 + 256 * (t // 50),
                        }
                    ),
                )
    marker.touch()
    return root


def small_tile_dataset(
    root: Path, files: int, tiles: int, px: int = 16, indexed: int | None = None, stride: int = 128
) -> Path:
    """`files` TFRecords of `tiles` small JPEG tiles on a square grid; the first `indexed` files
    (default: all) get their index. Cached: a marker file says the folder is complete."""
    from tfr_viewer.core.index import IndexInfo, save_index

    marker = root / ".complete"
    if marker.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    images = []
    for _ in range(16):
        buf = io.BytesIO()
        pixels = np.clip(rng.normal([220, 150, 190], 25, (px, px, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(buf, format="JPEG", quality=80)
        images.append(buf.getvalue())
    side = int(np.ceil(np.sqrt(tiles)))
    indexed = files if indexed is None else indexed
    for f in range(files):
        slide = f"slide_{f:04d}"
        chunks, offsets, locations, pos = [], [], [], 0
        for t in range(tiles):
            x, y = stride * (t % side) + stride // 2, stride * (t // side) + stride // 2
            framed = frame_record(make_example({"image_raw": images[(t + f) % 16], "slide": slide, "loc_x": x, "loc_y": y}))
            chunks.append(framed)
            offsets.append((pos, len(framed)))
            locations.append((x, y))
            pos += len(framed)
        path = root / f"{slide}.tfrecords"
        path.write_bytes(b"".join(chunks))
        if f < indexed:
            save_index(IndexInfo(np.array(offsets, np.int64), np.array(locations, np.int64)), path)
    marker.touch()
    return root


def compile_package() -> None:
    """Byte-compile tfr_viewer, as installing a wheel does. Without it (a source tree, with
    PYTHONDONTWRITEBYTECODE set), every new process (the app, the indexing and decoding
    processes, Dask workers) compiles each module it imports, which is not what users run."""
    import compileall

    import tfr_viewer

    compileall.compile_dir(os.path.dirname(tfr_viewer.__file__), quiet=1)


compile_package()
