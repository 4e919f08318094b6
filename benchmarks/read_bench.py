"""Read-path figures: loader iteration, random access, index build, thumbnail decode.

Usage: python benchmarks/read_bench.py [--files 10] [--tiles 2000] [--thumbnails-only]
Prints records/s, best of 5 runs (warm page cache: every file is read once before timing);
thumbnails per size on one core and on every core (helper threads, helper processes), as medians
of alternating rounds with the load average, and from the persistent cache.
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
    parser.add_argument("--thumbnails-only", action="store_true")
    args = parser.parse_args()
    root = tfrecord_dataset(args.files, args.tiles)
    if args.thumbnails_only:
        tfr = sf.TFRecord(str(sorted(root.glob("*.tfrecords"))[0]))
        thumbnail_figures([tfr[i]["image_raw"] for i in range(800)])
        return
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

    thumbnail_figures([tfrs[0][i]["image_raw"] for i in range(800)])


def thumbnail_figures(images: list[bytes], rounds: int = 5) -> None:
    """Thumbnails of 256 px tiles per size (JPEG DCT scaling picks 1/2, 1/4, 1/8 >= the size)
    on one core and on every core with helper threads or helper processes, in batches of 16 as
    the window's loader hands them over. The variants alternate within each round (a shared
    machine's load hits them alike); the figures are medians over the rounds, the ratios
    medians of each round's ratio. The caller's CPU per tile shows what handing tiles over
    costs it (with helper processes: pickling and piping bytes and pixels). Then the helpers'
    start-up, the share of a tile's time that holds the GIL, and the persistent cache."""
    import statistics

    from tfr_viewer.core.thumb_decode import ThumbnailDecoder, default_workers
    from tfr_viewer.core.thumbnail_cache import ThumbnailCache

    def batches(size: int) -> list[list[tuple[bytes, int]]]:
        items = [(data, size) for data in images]
        return [items[i:i + 16] for i in range(0, len(items), 16)]

    cores = default_workers()
    start = time.perf_counter()
    processes = ThumbnailDecoder(mode="processes")
    processes.wait_ready(60)
    started = time.perf_counter() - start
    print(f"helper processes ({cores - 1}) up in {started * 1000:.0f} ms (until then the caller decodes alone)")
    variants = {"1 core": ThumbnailDecoder(workers=1), f"{cores} threads": ThumbnailDecoder(mode="threads"),
                f"{cores} processes": processes}
    for decoder in variants.values():
        decoder.wait_ready(60)
    print(f"{len(images)} tiles of 256 px, {sum(map(len, images)) // len(images) // 1024} KB each; {cores} cores; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    for size in (48, 96, 192, 256):
        work = batches(size)
        times: dict[str, list[float]] = {name: [] for name in ["full decode (1 core)", *variants]}
        cpu: dict[str, list[float]] = {name: [] for name in times}  # the calling thread's CPU time
        for _ in range(rounds):
            for name, work_fn in [("full decode (1 core)", lambda: [sf.io.decode_image(data) for data in images])] + [
                    (name, lambda d=decoder, w=work: [d.decode(b) for b in w]) for name, decoder in variants.items()]:
                began = time.thread_time()
                times[name].append(_run_once(work_fn))
                cpu[name].append(time.thread_time() - began)
        one = times["1 core"]
        for name, runs in times.items():
            ratio = statistics.median(a / b for a, b in zip(one, runs))
            print(f"thumbnail {size:>3} px, {name:<22} {len(images) / statistics.median(runs):>8,.0f} tiles/s  "
                  f"{ratio:.2f}x one core  (caller's CPU {statistics.median(cpu[name]) / len(images) * 1e6:.0f} us/tile)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for decoder in variants.values():
        decoder.close()
    python_share(images)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        cache = ThumbnailCache(Path(folder) / "thumbs.sqlite3")
        pixels = [p for b in batches(96) for p in variants["1 core"].decode(b)]
        cache.put("/bench/a.tfrecords", "1:1:1", list(enumerate(pixels)), 96)
        records = list(range(len(pixels)))
        timed("thumbnail 96 px from the persistent cache", len(records),
              lambda: [cache.get("/bench/a.tfrecords", "1:1:1", records[i:i + 16], 96) for i in range(0, len(records), 16)])
        cache.close()


def python_share(images: list[bytes]) -> None:
    """Why threads stop short of two cores: the part of a thumbnail's CPU time spent in Python
    around Pillow (parsing the JPEG header, copying the pixels out), which holds the GIL, by
    the thread's own CPU clock (the machine's load does not change it). With a share p held,
    n threads decode at most 1 / (p + (1 - p) / n) times one thread's rate (Pillow's load()
    holds it a little too, so this is an upper bound)."""
    from tfr_viewer.core.images import open_image, to_rgb_array

    for size in (48, 96, 192, 256):
        held = free = 0.0
        for data in images:
            t0 = time.thread_time()
            img = open_image(data)
            img.draft("RGB", (size, size))
            t1 = time.thread_time()
            img.load()
            t2 = time.thread_time()
            to_rgb_array(img)
            t3 = time.thread_time()
            held += (t1 - t0) + (t3 - t2)
            free += t2 - t1
        share = held / (held + free)
        print(f"thumbnail {size:>3} px: {share:.0%} of a tile's CPU in Python holding the GIL "
              f"({held / len(images) * 1e6:.0f} of {(held + free) / len(images) * 1e6:.0f} us): "
              f"2 threads at most {1 / (share + (1 - share) / 2):.2f}x")


if __name__ == "__main__":
    main()
