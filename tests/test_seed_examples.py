"""Every example of Slideflow's "TFRecords: Reading and Writing" page, with `import tfr_viewer as sf`.

The page's paths become small real folders; `project.dataset(...)` becomes `sf.Dataset(folder)`.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tfr_viewer as sf


def _tile(x: int, y: int, px: int = 256) -> bytes:
    rng = np.random.default_rng(x * 7 + y)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (px, px, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for x, y in [(768, 256), (768, 512), (1024, 256), (1024, 512)]:
        (folder / f"tile_{x}-{y}.jpg").write_bytes(_tile(x, y))
    return folder


@pytest.fixture
def nested_images(tmp_path: Path) -> Path:
    root = tmp_path / "nested_images"
    for slide in ("slide_A", "slide_B"):
        (root / slide).mkdir(parents=True)
        for i in range(3):
            (root / slide / f"tile_{i * 256}-0.jpg").write_bytes(_tile(i, len(slide)))
    return root


def test_creating_tfrecords_from_directories(images: Path, nested_images: Path, tmp_path: Path) -> None:
    dest = tmp_path / "destination"
    sf.io.write_tfrecords_single(str(images), str(dest), filename="filename", slide="slide")
    sf.io.write_tfrecords_multi(str(nested_images), str(dest))
    assert sorted(p.name for p in dest.glob("*.tfrecords")) == [
        "filename.tfrecords",
        "slide_A.tfrecords",
        "slide_B.tfrecords",
    ]
    assert sorted(p.name for p in dest.glob("*.index.npz")) == [
        "filename.index.npz",
        "slide_A.index.npz",
        "slide_B.index.npz",
    ]


@pytest.fixture
def tfrecord(images: Path, tmp_path: Path) -> str:
    dest = tmp_path / "tfrecords"
    sf.io.write_tfrecords_single(str(images), str(dest), filename="SLIDE_NAME", slide="SLIDE_NAME")
    path = dest / "SLIDE_NAME.tfrecords"
    path.with_name("SLIDE_NAME.index.npz").unlink()  # the page: "created if one is not found"
    return str(path)


def test_inspecting_individual_tfrecords(tfrecord: str, images: Path) -> None:
    tfr = sf.TFRecord(tfrecord)
    assert Path(tfrecord).with_name("SLIDE_NAME.index.npz").is_file()
    assert tfr.fields == ["image_raw", "slide", "loc_x", "loc_y"]
    assert tfr.img_format == "jpeg"
    assert tfr.length == 4
    assert tfr.locations == [(768, 256), (768, 512), (1024, 256), (1024, 512)]


def test_reading_a_single_image_tile(tfrecord: str, images: Path) -> None:
    tfr = sf.TFRecord(tfrecord)
    assert tfr[0] == {
        "image_raw": (images / "tile_768-256.jpg").read_bytes(),
        "slide": "SLIDE_NAME",
        "loc_x": 768,
        "loc_y": 256,
    }
    slide, image = tfr.get_record_by_xy(768, 256)
    assert slide == "SLIDE_NAME" and type(image) is bytes
    decoded = sf.io.decode_image(image)
    assert decoded.shape == (256, 256, 3) and decoded.dtype == np.uint8


def test_reading_from_a_single_tfrecord(tfrecord: str) -> None:
    tfr = tfrecord
    sf.io.tfrecord2idx.create_index(tfr)
    index = sf.io.tfrecord2idx.load_index(tfr)
    loader = sf.tfrecord.tfrecord_loader(tfr, index)
    record = next(iter(loader))
    assert isinstance(record["image_raw"], np.ndarray) and isinstance(record["slide"], np.ndarray)
    assert list(record["loc_x"]) == [768] and list(record["loc_y"]) == [256]
    image = sf.io.decode_image(bytes(record["image_raw"]))
    slide = bytes(record["slide"]).decode("utf-8")
    assert image.shape == (256, 256, 3) and slide == "SLIDE_NAME"
    seen = 0
    for record in loader:  # as on the page: the same loader, read from the first record again
        image = sf.io.decode_image(bytes(record["image_raw"]))
        slide = bytes(record["slide"]).decode("utf-8")
        seen += 1
    assert seen == 4
    shard0 = list(sf.tfrecord.tfrecord_loader(tfr, index, shard=(0, 2)))
    shard1 = list(sf.tfrecord.tfrecord_loader(tfr, index, shard=(1, 2)))
    keys = sorted((int(r["loc_x"][0]), int(r["loc_y"][0])) for r in shard0 + shard1)
    assert keys == sorted(sf.TFRecord(tfr).locations)


def test_interleaving_multiple_tfrecords(nested_images: Path, tmp_path: Path) -> None:
    dest = tmp_path / "multi"
    sf.io.write_tfrecords_multi(str(nested_images), str(dest))
    tfrs = [str(dest / "slide_A.tfrecords"), str(dest / "slide_B.tfrecords")]
    indices = [sf.io.tfrecord2idx.load_index(tfr) for tfr in tfrs]
    loader = sf.tfrecord.multi_tfrecord_loader(tfrs, indices)
    record = next(iter(loader))
    assert set(record) >= {"image_raw", "slide", "loc_x", "loc_y"}
    loader = sf.tfrecord.multi_tfrecord_loader(tfrs, indices, weights=[0.5, 0.5])
    assert len(list(itertools.islice(loader, 50))) == 50  # infinite by default
    finite = list(sf.multi_tfrecord_loader(tfrs, indices, infinite=False))
    assert len(finite) == 6


def test_inspecting_datasets(nested_images: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    dest = tmp_path / "dataset"
    sf.io.write_tfrecords_multi(str(nested_images), str(dest))
    dataset = sf.Dataset(str(dest))
    text = dataset.summary()
    assert "Number of tiles in TFRecords: 6" in capsys.readouterr().out
    assert "Number of tiles in TFRecords: 6" in text
    tfrecords = dataset.tfrecords()
    assert len(tfrecords) == 2 and tfrecords[0].endswith("slide_A.tfrecords")
    assert dataset.num_tiles == 6
    manifest = dataset.manifest()
    assert manifest[tfrecords[0]]["total"] == 3
    assert dataset.clip(2).manifest()[tfrecords[0]] == {"total": 3, "clipped": 2}
