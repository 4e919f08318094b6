"""`tfr-viewer mosaic` on the demo slides and on TensorFlow-written fixtures: the PNG's size,
and each tile's region of it holds that tile (downscaled), compared with the tile decoded on its
own; hostile input: one line and exit 2, never a partial PNG."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfr_viewer import cli
from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.images import decode_image
from tfr_viewer.core.records import make_example
from tfr_viewer.core.tfrecord import TFRecord
from tfr_viewer.demo import generate_demo_dataset

THUMB = 8  # regions and tiles are compared as 8 x 8 thumbnails


def thumb(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((THUMB, THUMB), Image.Resampling.BOX), np.float64)


def tile_regions(path: Path, png: Path, step: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(region of the PNG, the tile decoded on its own) for every record, the regions worked out
    here from the locations: the slide spans the tiles' footprints, `width` px across."""
    with TFRecord(path, create_index=False) as tfr:
        xy = np.asarray(tfr.locations, np.float64)
        tiles = [decode_image(tfr[i]["image_raw"]) for i in range(len(tfr))]
    image = np.asarray(Image.open(png).convert("RGB"))
    x0, y0 = xy.min(axis=0) - step / 2
    x1 = xy[:, 0].max() + step / 2
    scale = (x1 - x0) / image.shape[1]
    margin = 2  # cell edges may round either way by a pixel
    pairs = []
    for (x, y), tile in zip(xy, tiles):
        left, top = int(np.ceil((x - step / 2 - x0) / scale)) + margin, int(np.ceil((y - step / 2 - y0) / scale)) + margin
        right, bottom = int((x + step / 2 - x0) / scale) - margin, int((y + step / 2 - y0) / scale) - margin
        crop = int(round(margin * tile.shape[1] / (step / scale)))  # the same margin, in tile pixels
        inner = tile[crop : tile.shape[0] - crop, crop : tile.shape[1] - crop]
        pairs.append((image[top:bottom, left:right], inner))
    return pairs


def assert_tiles_in_place(path: Path, png: Path, step: float) -> None:
    """Each region matches its own tile closely, and better than it matches the other tiles."""
    pairs = tile_regions(path, png, step)
    regions = [thumb(region) for region, _ in pairs]
    tiles = [thumb(tile) for _, tile in pairs]
    for k, region in enumerate(regions):
        distances = [np.abs(region - tile).mean() for tile in tiles]
        assert distances[k] < 8, (k, distances[k])
        assert distances[k] == min(distances), (k, distances[k], min(distances))


def test_mosaic_of_a_demo_slide(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = generate_demo_dataset(tmp_path / "demo", slides=1)[0]
    out = tmp_path / "demo.png"
    assert cli.main(["mosaic", str(path), str(out), "--width", "1200", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    xy = np.asarray(TFRecord(path, create_index=False).locations)
    columns = (xy[:, 0].max() - xy[:, 0].min()) / 128 + 1
    rows = (xy[:, 1].max() - xy[:, 1].min()) / 128 + 1
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width == 1200
        assert image.height == int(np.ceil(1200 * rows / columns))
    assert report["tiles"] == report["drawn"] == len(xy) and report["step"] == 128 and not report["broken"]
    assert_tiles_in_place(path, out, 128)


@pytest.mark.parametrize("fixture, step", [("tf_jpeg/slide_000.tfrecords", 128), ("tf_png/slide_000.tfrecords", 64)])
def test_mosaic_of_tensorflow_written_files(tmp_path: Path, data_dir: Path, fixture: str, step: int) -> None:
    path = tmp_path / Path(fixture).name
    shutil.copy(data_dir / fixture, path)
    out = tmp_path / "tf.png"
    assert cli.main(["mosaic", str(path), str(out), "--width", "900"]) == 0
    with Image.open(out) as image:
        assert image.width == 900
    assert_tiles_in_place(path, out, step)


def test_mosaic_coloured_by_a_tensorflow_label(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "extra.tfrecords"
    shutil.copy(data_dir / "tf_extra" / "extra.tfrecords", path)
    out = tmp_path / "labels.png"
    code = cli.main(["mosaic", str(path), str(out), "--width", "400", "--color-by", "label", "--json"])
    report = json.loads(capsys.readouterr().out)
    records = list(TFRecord(path, create_index=False))
    labels = [record["label"].decode() for record in records]
    counts = {value: labels.count(value) for value in dict.fromkeys(labels)}
    assert code == 0 and report["colours"]["kind"] == "categories"
    classes = {c["value"]: c for c in report["colours"]["classes"]}
    assert {value: c["tiles"] for value, c in classes.items()} == counts
    plain = tmp_path / "plain.png"
    assert cli.main(["mosaic", str(path), str(plain), "--width", "400"]) == 0
    tinted, untinted = (np.asarray(Image.open(p).convert("RGB"), np.float64) for p in (out, plain))
    xy = np.array([(r["loc_x"], r["loc_y"]) for r in records], np.float64)
    scale = (np.ptp(xy[:, 0]) + report["step"]) / 400
    for (x, y), label in zip(xy, labels):
        col = int((x - xy[:, 0].min() + report["step"] / 2) / scale)
        row = int((y - xy[:, 1].min() + report["step"] / 2) / scale)
        colour = np.array([int(classes[label]["colour"][i : i + 2], 16) for i in (1, 3, 5)])
        expected = 0.55 * untinted[row, col] + 0.45 * colour
        assert np.abs(tinted[row, col] - expected).max() <= 1.5, label


def write_tiles(path: Path, tiles: list[tuple[bytes, int, int]]) -> Path:
    with open(path, "wb") as out:
        for image, x, y in tiles:
            out.write(frame_record(make_example({"image_raw": image, "slide": "s", "loc_x": x, "loc_y": y})))
    return path


def jpeg(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_broken_tile_and_stray_still_give_the_image(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tiles = [(jpeg((60, 120, 180)), 16 + 32 * (k % 4), 16 + 32 * (k // 4)) for k in range(8)]
    tiles[2] = (b"\xff\xd8\xff junk", tiles[2][1], tiles[2][2])
    tiles.append((jpeg((10, 200, 10)), 16, 1_000_000_000))
    path = write_tiles(tmp_path / "bad.tfrecords", tiles)
    out = tmp_path / "bad.png"
    assert cli.main(["mosaic", str(path), str(out), "--width", "400"]) == 1
    captured = capsys.readouterr()
    assert "1 broken" in captured.out and "1 stray tile(s) left out" in captured.out
    assert f"{path}, record 2" in captured.out
    with Image.open(out) as image:
        assert image.size == (400, 200)  # the stray at 1e9 does not stretch it
        assert image.getpixel((250, 50)) in {(205, 35, 35), (90, 0, 0)}  # the broken cell, red
        assert np.abs(np.subtract(image.getpixel((50, 50)), (60, 120, 180))).max() < 6


@pytest.mark.parametrize(
    "args, message",
    [
        (["--color-by", "nope"], "has no field 'nope'"),
        (["--width", "0"], "--width must be between 1 and 16384"),
        (["--width", "100000"], "--width must be between 1 and 16384"),
    ],
)
def test_bad_arguments_one_line_exit_2(tmp_path, data_dir, capsys, args, message) -> None:
    path = tmp_path / "s.tfrecords"
    shutil.copy(data_dir / "tf_jpeg" / "slide_000.tfrecords", path)
    out = tmp_path / "out.png"
    assert cli.main(["mosaic", str(path), str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("tfr-viewer: error:")
    assert not out.exists()


def test_no_locations_missing_file_and_unwritable_output(tmp_path, data_dir, capsys) -> None:
    noloc = tmp_path / "noloc.tfrecords"
    shutil.copy(data_dir / "tf_extra" / "noloc.tfrecords", noloc)
    assert cli.main(["mosaic", str(noloc), str(tmp_path / "a.png")]) == 2
    assert "no tile locations" in capsys.readouterr().err
    assert cli.main(["mosaic", str(tmp_path / "gone.tfrecords"), str(tmp_path / "a.png")]) == 2
    assert "no such file" in capsys.readouterr().err
    slide = tmp_path / "s.tfrecords"
    shutil.copy(data_dir / "tf_jpeg" / "slide_000.tfrecords", slide)
    assert cli.main(["mosaic", str(slide), str(tmp_path / "missing" / "a.png")]) == 2
    assert "no such folder" in capsys.readouterr().err
    before = slide.read_bytes()
    assert cli.main(["mosaic", str(slide), str(slide)]) == 2
    assert "over a TFRecord" in capsys.readouterr().err and slide.read_bytes() == before
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            assert cli.main(["mosaic", str(slide), str(locked / "a.png")]) == 2
            assert "not writable" in capsys.readouterr().err and not list(locked.iterdir())
        finally:
            locked.chmod(0o700)
    assert not list(tmp_path.glob("*.png"))


def test_failed_write_leaves_no_partial_png(tmp_path, data_dir, capsys, monkeypatch) -> None:
    slide = tmp_path / "s.tfrecords"
    shutil.copy(data_dir / "tf_jpeg" / "slide_000.tfrecords", slide)
    out = tmp_path / "out.png"
    out.write_bytes(b"the user's old image")
    real_save = Image.Image.save

    def failing_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half an image")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    assert cli.main(["mosaic", str(slide), str(out), "--width", "300"]) == 2
    assert "No space left" in capsys.readouterr().err
    assert out.read_bytes() == b"the user's old image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "s.tfrecords"]
    monkeypatch.setattr(Image.Image, "save", real_save)
    assert cli.main(["mosaic", str(slide), str(out), "--width", "300"]) == 0
    assert Image.open(out).width == 300


def test_mosaic_help_from_the_real_entry_point() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "tfr_viewer", "mosaic", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert "--width" in result.stdout and "--color-by" in result.stdout and "OUT.png" in result.stdout
