"""The mosaic's core on real files: the grid step and robust framing of hostile locations, the
overview (each tile's cell holds that tile), its disk cache (used, invalidated, never trusted
when damaged) and broken tiles marked while the rest is drawn."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfr_viewer.core import overview as overview_module
from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.mosaic import (
    build_overview,
    grid_step,
    load_or_build_overview,
    outlier_mask,
    render_mosaic,
    robust_bounds,
)
from tfr_viewer.core.mosaic_colours import CATEGORY_COLOURS, colour_values, ramp
from tfr_viewer.core.overview_cache import cache_location
from tfr_viewer.core.progress import CancelToken, Cancelled
from tfr_viewer.core.records import make_example
from tfr_viewer.core.tfrecord import TFRecord

STEP = 256


def solid_jpeg(colour: tuple[int, int, int], px: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (px, px), colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def tile_colour(k: int) -> tuple[int, int, int]:
    """Distinct, mid-range colours (no JPEG clipping at 0 or 255)."""
    return (40 + (k * 53) % 180, 40 + (k * 97) % 180, 40 + (k * 31) % 180)


def write_slide(path: Path, tiles: list[tuple[bytes, float, float]], extra: list[dict] | None = None) -> Path:
    """A TFRecord whose record k holds image k at location (x, y), its index written beside."""
    with open(path, "wb") as out:
        for k, (image, x, y) in enumerate(tiles):
            fields = {"image_raw": image, "slide": path.stem, "loc_x": int(x), "loc_y": int(y)}
            fields.update((extra or [{}] * len(tiles))[k])
            out.write(frame_record(make_example(fields)))
    TFRecord(path).close()  # writes the index
    return path


def grid(cols: int, rows: int, step: float = STEP) -> np.ndarray:
    cx, cy = np.meshgrid(np.arange(cols), np.arange(rows))
    return np.stack([cx.ravel(), cy.ravel()], axis=1) * step + step / 2


# --- geometry ------------------------------------------------------------------------------------


def test_grid_step_of_exact_sparse_and_jittered_grids() -> None:
    points = grid(40, 30)
    assert grid_step(points) == STEP
    rng = np.random.default_rng(3)
    sparse = points[rng.random(len(points)) < 0.4]  # tissue with holes: many gaps of 2-3 steps
    assert grid_step(sparse) == STEP
    jittered = points + rng.integers(-5, 6, points.shape)
    assert abs(grid_step(jittered) - STEP) <= 0.04 * STEP
    assert grid_step(grid(30, 30, 512.0)) == 512
    assert grid_step(np.stack([np.arange(50) * 100.0, np.zeros(50)], axis=1)) == 100  # one row


def test_grid_step_ignores_duplicates_and_outliers() -> None:
    points = grid(20, 20)
    doubled = np.concatenate([points, points, points[:100]])
    assert grid_step(doubled) == STEP
    strays = np.array([[0, 1e9], [1e7, 5], [-3e6, -3e6]])
    assert grid_step(np.concatenate([points, strays])) == STEP


def test_grid_step_fallback_for_no_or_one_location() -> None:
    assert grid_step(np.zeros((0, 2))) == 1.0
    assert grid_step(np.array([[10, 10]]), default=299) == 299
    assert grid_step(np.array([[10, 10], [10, 10]]), default=64) == 64  # one place, twice
    assert grid_step(np.array([[np.nan, 3], [10, 10]]), default=8) == 8


def test_robust_bounds_leave_out_a_tile_at_1e9() -> None:
    points = grid(30, 20)
    with_stray = np.concatenate([points, [[128, 1e9]]])
    assert robust_bounds(with_stray, STEP) == (0, 0, 30 * STEP, 20 * STEP)
    mask = outlier_mask(with_stray, STEP)
    assert mask.tolist() == [False] * len(points) + [True]
    assert robust_bounds(points, STEP) == (0, 0, 30 * STEP, 20 * STEP)
    assert not outlier_mask(points, STEP).any()


def test_robust_bounds_keep_two_pieces_of_tissue_far_apart() -> None:
    left = grid(10, 10)
    right = grid(10, 10) + [200 * STEP, 0]  # a second piece, as big as the first, far right
    both = np.concatenate([left, right])
    assert robust_bounds(both, STEP) == (0, 0, 210 * STEP, 10 * STEP)
    assert not outlier_mask(both, STEP).any()


# --- overview ------------------------------------------------------------------------------------


def coloured_slide(tmp_path: Path, cols: int = 6, rows: int = 4, name: str = "slide") -> tuple[Path, np.ndarray]:
    locations = grid(cols, rows)
    tiles = [(solid_jpeg(tile_colour(k)), x, y) for k, (x, y) in enumerate(locations)]
    return write_slide(tmp_path / f"{name}.tfrecords", tiles), locations


def cell_pixels(overview, x: float, y: float) -> np.ndarray:
    """The inner pixels of the overview cell of the tile centred at (x, y) (edges left out)."""
    col, row = overview.slide_to_pixel(x, y)
    half = overview.step / overview.scale / 2
    inner = max(int(half * 0.6), 1)
    return overview.pixels[int(row) - inner : int(row) + inner, int(col) - inner : int(col) + inner]


def test_overview_cells_hold_their_tiles(tmp_path: Path) -> None:
    path, locations = coloured_slide(tmp_path)
    overview = build_overview(str(path), locations)
    assert overview.step == STEP and overview.tile_count == len(locations) and not len(overview.broken)
    assert overview.pixels.dtype == np.uint8 and overview.pixels.shape[2] == 4
    # 64 px tiles decoded at 1/8: 8 overview px per 256 slide px
    assert overview.scale == STEP / 8 and overview.pixels.shape[:2] == (4 * 8, 6 * 8)
    for k, (x, y) in enumerate(locations):
        cell = cell_pixels(overview, x, y)
        assert (cell[..., 3] == 255).all()
        assert np.abs(cell[..., :3].reshape(-1, 3).mean(axis=0) - tile_colour(k)).max() < 6, k


def test_overview_leaves_gaps_transparent_and_strays_out(tmp_path: Path) -> None:
    locations = np.concatenate([grid(5, 5), [[128, 1_000_000_000]]])
    keep = np.ones(len(locations), bool)
    keep[12] = False  # a hole in the middle
    tiles = [(solid_jpeg(tile_colour(k)), x, y) for k, (x, y) in enumerate(locations) if keep[k]]
    path = write_slide(tmp_path / "holes.tfrecords", tiles)
    xy = TFRecord(path).locations_array
    overview = build_overview(str(path), xy)
    assert overview.outlier_count == 1 and overview.tile_count == len(xy)
    assert overview.pixels.shape[:2] == (40, 40)  # the stray does not stretch the framing
    assert (cell_pixels(overview, *locations[12])[..., 3] == 0).all()


def test_overview_marks_broken_tiles_and_draws_the_rest(tmp_path: Path) -> None:
    locations = grid(4, 3)
    tiles = [(solid_jpeg(tile_colour(k)), x, y) for k, (x, y) in enumerate(locations)]
    tiles[5] = (b"\xff\xd8\xff\xe0 not a jpeg at all" * 4, *locations[5])
    tiles[7] = (tiles[7][0][:200], *locations[7])  # cut short
    path = write_slide(tmp_path / "broken.tfrecords", tiles)
    overview = build_overview(str(path), locations)
    assert overview.broken.tolist() == [5, 7]
    assert len(overview.problems) == 2 and all(str(path) in p for p in overview.problems)
    assert "record 5" in overview.problems[0] and "record 7" in overview.problems[1]
    red = cell_pixels(overview, *locations[5])[..., :3].reshape(-1, 3)
    fill = (red == overview_module.BROKEN_FILL[:3]).all(axis=1)
    cross = (red == overview_module.BROKEN_CROSS[:3]).all(axis=1)
    assert (fill | cross).all() and fill.any() and cross.any()
    for k in (0, 4, 6, 11):
        assert np.abs(cell_pixels(overview, *locations[k])[..., :3].reshape(-1, 3).mean(0) - tile_colour(k)).max() < 6


def test_overview_of_png_tiles_and_the_size_cap(tmp_path: Path) -> None:
    locations = grid(30, 20)
    tiles = []
    for k, (x, y) in enumerate(locations):
        buf = io.BytesIO()
        Image.new("RGB", (32, 32), tile_colour(k)).save(buf, format="PNG")
        tiles.append((buf.getvalue(), x, y))
    path = write_slide(tmp_path / "png.tfrecords", tiles)
    overview = build_overview(str(path), locations, max_side=60)
    assert max(overview.pixels.shape[:2]) <= 60 and overview.pixels.shape[1] == 60
    assert overview.scale == 30 * STEP / 60  # 2 px per tile
    for k in (0, 31, 599):
        col, row = overview.slide_to_pixel(*locations[k])
        assert tuple(overview.pixels[int(row), int(col), :3]) == tile_colour(k)


def test_overview_reports_progress_and_cancels(tmp_path: Path) -> None:
    path, locations = coloured_slide(tmp_path, 40, 20)
    seen = []
    build_overview(str(path), locations, progress=seen.append)
    assert seen[-1].done == seen[-1].total == 800 and len(seen) >= 4
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        load_or_build_overview(str(path), locations, cancel=token)
    assert not os.path.exists(cache_location(str(path)))


# --- the disk cache ------------------------------------------------------------------------------


@pytest.fixture
def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = overview_module.decode_cell

    def counting(data, width, height):
        calls.append(1)
        return real(data, width, height)

    monkeypatch.setattr(overview_module, "decode_cell", counting)
    return calls


def test_cached_overview_is_reused_without_decoding(tmp_path: Path, private_cache: Path, count_decodes) -> None:
    path, locations = coloured_slide(tmp_path)
    first = load_or_build_overview(str(path), locations)
    assert len(count_decodes) == len(locations)
    entry = Path(cache_location(str(path)))
    assert entry.is_file() and private_cache in entry.parents
    assert not list(tmp_path.glob("*overview*"))  # nothing written beside the user's file
    again = load_or_build_overview(str(path), locations)
    assert len(count_decodes) == len(locations)  # no tile decoded the second time
    assert np.array_equal(again.pixels, first.pixels)
    assert (again.x0, again.y0, again.scale, again.step, again.tile_count) == (
        first.x0, first.y0, first.scale, first.step, first.tile_count)
    load_or_build_overview(str(path), locations, max_side=16)  # other arguments: built anew
    assert len(count_decodes) == 2 * len(locations)


def test_changed_file_never_gets_the_old_overview(tmp_path: Path, count_decodes) -> None:
    path, locations = coloured_slide(tmp_path)
    old = load_or_build_overview(str(path), locations)
    tiles = [(solid_jpeg((200, 60, 60)), x, y) for x, y in locations]
    write_slide(path, tiles)  # same name, same size class, new content
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    new = load_or_build_overview(str(path), locations)
    assert len(count_decodes) == 2 * len(locations)
    assert not np.array_equal(new.pixels, old.pixels)
    assert np.abs(cell_pixels(new, *locations[3])[..., :3].reshape(-1, 3).mean(0) - (200, 60, 60)).max() < 6


@pytest.mark.parametrize(
    "damage",
    ["truncate", "garbage", "header", "size", "empty", "broken_index"],
)
def test_damaged_cache_entry_is_rebuilt(tmp_path: Path, count_decodes, damage: str) -> None:
    path, locations = coloured_slide(tmp_path)
    good = load_or_build_overview(str(path), locations)
    entry = Path(cache_location(str(path)))
    data = bytearray(entry.read_bytes())
    start = data.index(b"{")
    if damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "garbage":
        data = bytearray(os.urandom(len(data)))
    elif damage == "header":
        data[start : start + 8] = b"\x00\xff{{[[\x80\x81"
    elif damage == "size":
        data = data.replace(b'"width": ', b'"width": 9', 1)
    elif damage == "empty":
        data = bytearray()
    elif damage == "broken_index":  # claims a broken record the file does not have
        data = data.replace(b'"broken": 0', b'"broken": 1', 1) + (10**6).to_bytes(8, "little")
    entry.write_bytes(bytes(data))
    again = load_or_build_overview(str(path), locations)
    assert len(count_decodes) == 2 * len(locations)  # rebuilt
    assert np.array_equal(again.pixels, good.pixels) and not len(again.broken)
    assert load_or_build_overview(str(path), locations).tile_count == len(locations)
    assert len(count_decodes) == 2 * len(locations)  # and the entry written again is used


def test_unwritable_cache_still_gives_the_overview(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, locations = coloured_slide(tmp_path)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("TFR_VIEWER_CACHE_DIR", str(blocker))
    overview = load_or_build_overview(str(path), locations)
    assert overview.tile_count == len(locations) and blocker.read_text() == "x"


# --- render and colours --------------------------------------------------------------------------


def test_render_mosaic_places_each_tile_in_its_region(tmp_path: Path) -> None:
    path, locations = coloured_slide(tmp_path, 5, 3)
    image = render_mosaic(str(path), 500)
    assert image.size == (500, 300) and image.mode == "RGB"
    pixels = np.asarray(image)
    for k, (x, y) in enumerate(locations):
        col, row = int(x / STEP * 100), int(y / STEP * 100)  # 100 px per tile
        region = pixels[row - 35 : row + 35, col - 35 : col + 35].reshape(-1, 3)
        assert np.abs(region.mean(axis=0) - tile_colour(k)).max() < 6, k


def test_render_mosaic_colour_by_a_label(tmp_path: Path) -> None:
    locations = grid(4, 1)
    grey = (128, 128, 128)
    tiles = [(solid_jpeg(grey), x, y) for x, y in locations]
    labels = [{"label": b"tumour"}, {"label": b"normal"}, {"label": b"tumour"}, {"label": b"tumour"}]
    path = write_slide(tmp_path / "labels.tfrecords", tiles, labels)
    image = np.asarray(render_mosaic(str(path), 400, color_by="label"))
    first, second = CATEGORY_COLOURS[0], CATEGORY_COLOURS[1]
    expected = [first, second, first, first]
    for k in range(4):
        seen = image[50, k * 100 + 50].astype(float)
        assert np.abs(seen - (0.55 * np.array(grey) + 0.45 * np.array(expected[k]))).max() < 6
    with pytest.raises(ValueError, match="no field 'nope'"):
        render_mosaic(str(path), 400, color_by="nope")


def test_render_mosaic_refuses_sizes_above_the_cap_and_files_without_locations(tmp_path: Path) -> None:
    path, _ = coloured_slide(tmp_path, 2, 40)  # tall: 40 tiles high, 2 wide
    with pytest.raises(ValueError, match="smaller width"):
        render_mosaic(str(path), 1000)
    with pytest.raises(ValueError, match="16384"):
        render_mosaic(str(path), 20000)
    with pytest.raises(ValueError):
        render_mosaic(str(path), 0)
    plain = tmp_path / "noloc.tfrecords"
    with open(plain, "wb") as out:
        out.write(frame_record(make_example({"image_raw": solid_jpeg((1, 2, 3)), "slide": "s"})))
    with pytest.raises(ValueError, match="no tile locations"):
        render_mosaic(str(plain), 100)


def test_colours_categories_and_numbers() -> None:
    scheme, colours, present = colour_values(["a", None, "b", "a"])
    assert scheme.kind == "categories" and present.tolist() == [True, False, True, True]
    assert [(v, n) for v, _, n in scheme.legend] == [("a", 2), ("b", 1)]
    assert tuple(colours[0]) == CATEGORY_COLOURS[0] == tuple(colours[3])
    scheme, _, _ = colour_values([1, 2, 1, 3])
    assert scheme.kind == "categories"  # few distinct integers: classes
    scheme, colours, present = colour_values([0.0, 0.5, 1.0, float("nan")])
    assert scheme.kind == "numbers" and (scheme.low, scheme.high) == (0.0, 1.0)
    assert present.tolist() == [True, True, True, False]
    assert np.array_equal(colours[:3], ramp(np.array([0.0, 0.5, 1.0])))
    for colour in list(CATEGORY_COLOURS) + [tuple(ramp(np.array([0.0]))[0])]:
        luminance = 0.2126 * colour[0] + 0.7152 * colour[1] + 0.0722 * colour[2]
        assert 60 < luminance < 225, colour  # neither lost on a dark theme nor on a light one


def test_threads_give_the_same_overview(tmp_path: Path) -> None:
    locations = grid(30, 25)  # 750 tiles: three chunks of work, the last one short
    tiles = [(solid_jpeg(tile_colour(k)), x, y) for k, (x, y) in enumerate(locations)]
    for k in (3, 300, 749):
        tiles[k] = (b"\x89PNG\r\n\x1a\n broken", *locations[k])
    path = write_slide(tmp_path / "threads.tfrecords", tiles)
    one = build_overview(str(path), locations, threads=1)
    several = build_overview(str(path), locations, threads=3)
    assert np.array_equal(one.pixels, several.pixels)
    assert one.broken.tolist() == several.broken.tolist() == [3, 300, 749]
    assert one.problems == several.problems and "record 300" in one.problems[1]


def test_cancel_mid_build_stops_the_decoding_threads(tmp_path: Path, count_decodes) -> None:
    path, locations = coloured_slide(tmp_path, 40, 40)  # 1,600 tiles: seven chunks
    token = CancelToken()

    def cancel_at_first_chunk(progress) -> None:
        if progress.done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        build_overview(str(path), locations, cancel=token, progress=cancel_at_first_chunk, threads=2)
    decoded = len(count_decodes)
    # seen at the next chunk: the chunks reported, the one pasted and the one in flight
    assert overview_module.CHUNK <= decoded <= 4 * overview_module.CHUNK < len(locations)
    assert not [t for t in threading.enumerate() if t.name.startswith("overview")]  # joined


def test_decode_cell_uses_the_largest_dct_scale_that_covers_the_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import JpegImagePlugin

    sizes: list[tuple[int, int]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spying_draft(self, mode, size):
        result = real_draft(self, mode, size)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spying_draft)
    data = solid_jpeg((90, 140, 200), px=256)
    for cell, decoded in ((29, (32, 32)), (32, (32, 32)), (33, (64, 64)), (100, (128, 128)), (200, (256, 256))):
        pixels = overview_module.decode_cell(data, cell, cell)
        assert pixels.shape == (cell, cell, 3) and sizes[-1] == decoded, cell
        assert np.abs(pixels.reshape(-1, 3).mean(axis=0) - (90, 140, 200)).max() < 4
