"""Read-path figures: loader iteration, random access, index build, thumbnail decode.

Usage: python benchmarks/read_bench.py [--files 10] [--tiles 2000]
Prints records/s, best of 5 runs (warm page cache: every file is read once before timing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tfr_viewer as sf  # noqa: E402
from _data import tfrecord_dataset  # noqa: E402
from tfr_viewer.core import index as index_mod  # noqa: E402
from tfr_viewer.core.example_pb2 import Example  # noqa: E402
from tfr_viewer.core.framing import iter_frames  # noqa: E402
from tfr_viewer.core.images import decode_thumbnail  # noqa: E402
from tfr_viewer.core.progress import run_job  # noqa: E402


def timed(label: str, count: int, fn, repeats: int = 5) -> float:
    """Best of `repeats` runs: the steady-state rate, less the noise of a shared machine."""
    elapsed = min(_run_once(fn) for _ in range(repeats))
    rate = count / elapsed
    print(f"{label:<44} {count:>8} records  {elapsed:7.3f} s  {rate:>10,.0f} records/s")
    return rate


def _run_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--tiles", type=int, default=2000)
    args = parser.parse_args()
    root = tfrecord_dataset(args.files, args.tiles)
    paths = sorted(str(p) for p in root.glob("*.tfrecords"))
    total = args.files * args.tiles
    size_mb = sum(os.path.getsize(p) for p in paths) / 1e6
    print(f"dataset: {len(paths)} files x {args.tiles} tiles, {size_mb:.0f} MB, "
          f"{size_mb * 1e3 / total:.1f} KB/record")
    for p in paths:  # warm the page cache
        Path(p).read_bytes()

    def baseline() -> None:  # framing + CRC + bare protobuf parse in one thread (no read-ahead)
        for p in paths:
            with open(p, "rb") as f:
                for _, _, payload in iter_frames(f, p):
                    Example().ParseFromString(payload)  # a reused message grows its upb arena

    timed("baseline: framing + CRC + protobuf parse", total, baseline)

    def build_indexes() -> None:  # from scratch each run: the index files are removed first
        for p in paths:
            candidate = p[: -len(".tfrecords")] + ".index.npz"
            if os.path.exists(candidate):
                os.remove(candidate)
            run_job(index_mod.iter_create_index(p))

    timed("index build with locations (CRC on)", total, build_indexes)
    indices = [sf.io.tfrecord2idx.load_index(p) for p in paths]

    def loader_all() -> None:
        n = 0
        for p, idx in zip(paths, indices):
            for _ in sf.tfrecord_loader(p, idx):
                n += 1
        assert n == total

    timed("tfrecord_loader, all files (CRC on)", total, loader_all)

    def loader_nocrc() -> None:
        for p, idx in zip(paths, indices):
            for _ in sf.tfrecord_loader(p, idx, verify_crc=False):
                pass

    timed("tfrecord_loader, all files (CRC off)", total, loader_nocrc)

    tfrs = [sf.TFRecord(p) for p in paths]
    rng = np.random.default_rng(0)
    picks = [(int(f), int(i)) for f, i in zip(rng.integers(0, len(tfrs), 50_000), rng.integers(0, args.tiles, 50_000))]

    def random_access() -> None:
        for f, i in picks:
            tfrs[f][i]

    timed("TFRecord[i] random access (CRC on)", len(picks), random_access)

    def payload_access() -> None:
        for f, i in picks:
            tfrs[f].read_payload(i)

    timed("TFRecord.read_payload(i) random access", len(picks), payload_access)

    images = [tfrs[0][i]["image_raw"] for i in range(500)]

    def thumbnails() -> None:
        for data in images:
            decode_thumbnail(data, 96)

    timed("thumbnail decode 96 px (JPEG draft mode)", len(images), thumbnails)

    def full_decode() -> None:
        for data in images:
            sf.io.decode_image(data)

    timed("full decode_image (for comparison)", len(images), full_decode)


if __name__ == "__main__":
    main()
