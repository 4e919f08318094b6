"""Reading plain, GZIP and ZLIB TFRecords of the same tiles: records/s of `tfrecord_loader`.

Usage: python benchmarks/compressed_read_bench.py [--tiles 5000]
The files are written with `sf.io.TFRecordWriter` (options None, 'GZIP', 'ZLIB') into a
temporary folder; each figure is the best of 5 passes (warm page cache).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import tfr_viewer as sf


def jpeg(seed: int, side: int = 128) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiles", type=int, default=5000)
    args = parser.parse_args()
    images = [jpeg(i) for i in range(64)]
    with tempfile.TemporaryDirectory() as folder:
        for options in (None, "GZIP", "ZLIB"):
            path = Path(folder) / f"{options or 'plain'}.tfrecords"
            with sf.io.TFRecordWriter(path, options) as writer:
                for i in range(args.tiles):
                    writer.write(sf.io.serialized_record(b"slide", images[i % 64], i, i))
            best = float("inf")
            for _ in range(5):
                start = time.perf_counter()
                count = sum(1 for _ in sf.tfrecord_loader(str(path)))
                best = min(best, time.perf_counter() - start)
            assert count == args.tiles
            size = path.stat().st_size / 2**20
            print(f"{options or 'plain':>5}: {size:7.1f} MiB, {count / best:10,.0f} records/s")


if __name__ == "__main__":
    main()
