"""Why `decode_image` offers no fast IDCT: the one way Pillow has to ask libjpeg for it.

Pillow exposes no `dct_method`; its decoder's internal "draft" flag selects libjpeg's fast IDCT
but also turns fancy upsampling off. This prints, for a 512 px tile stored 4:4:4 and 4:2:0,
how far those pixels are from the accurate decode and how long each takes.

    python benchmarks/jpeg_idct_bench.py
"""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image

ROUNDS = 50


def decode(data: bytes, fast: bool) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    if fast:
        img.decoderconfig = (1, 1)  # (scale, draft): draft selects JDCT_FASTEST, no fancy upsampling
    img.load()
    return np.asarray(img.convert("RGB"))


def best_ms(data: bytes, fast: bool, repeats: int = 5) -> float:
    """Milliseconds a decode, best of `repeats` runs of ROUNDS (less the noise of a shared machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            decode(data, fast)
        best = min(best, (time.perf_counter() - start) / ROUNDS * 1000)
    return best


def tile(side: int = 512) -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = (np.add.outer(np.arange(side), np.arange(side)) % 256).astype(np.uint8)
    rgb = np.stack([ramp, ramp[::-1], ramp.T], -1).astype(int) + rng.integers(-20, 20, (side, side, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def main() -> None:
    pixels = tile()
    for subsampling, name in ((0, "4:4:4"), (2, "4:2:0")):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=90, subsampling=subsampling)
        data = buf.getvalue()
        diff = np.abs(decode(data, False).astype(int) - decode(data, True))
        times = {fast: best_ms(data, fast) for fast in (False, True)}
        print(f"{name}: fast IDCT differs by up to {diff.max()} grey levels (mean {diff.mean():.2f}); "
              f"accurate {times[False]:.2f} ms, fast {times[True]:.2f} ms per 512 px tile")


if __name__ == "__main__":
    main()
