"""write_tfrecords_single/multi: bit-exact round trips, reports, atomicity, determinism."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import tfr_viewer as sf
from tfr_viewer.core.images import to_rgb_array
from tfr_viewer.core import local_storage as paths_mod
from tfr_viewer.core import example_pb2, storage, tile_encoding, write_pool, writer
from tfr_viewer.core.framing import frame_record, iter_frames, write_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.naming import natural_key, parse_location
from tfr_viewer.core.progress import Cancelled, CancelToken
from tfr_viewer.core.records import field_order, make_example, parse_example

from ..helpers import make_jpeg, make_png, read_frames_py

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _folder(root: Path, names: list[str]) -> dict[str, bytes]:
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate(names):
        data = make_png(seed=i) if name.lower().endswith(".png") else make_jpeg(seed=i)
        (root / name).write_bytes(data)
        written[name] = data
    return written


def _everything(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_single_round_trip_bit_exact(tmp_path: Path) -> None:
    names = ["t_10_256-0.jpg", "t_2_0-256.JPG", "t_1_0-0.Png", "t_3_512-512.jpeg", "t_4_x5_y-6.jpg"]
    originals = _folder(tmp_path / "src", names)
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "case", "slide_é")
    out = tmp_path / "out" / "case.tfrecords"
    assert [w.path for w in report.written] == [str(out)] and report.written[0].tiles == 5
    assert report.written[0].bytes == out.stat().st_size and not report.skipped and not report.warnings
    order = sorted(names, key=natural_key)
    assert order == ["t_1_0-0.Png", "t_2_0-256.JPG", "t_3_512-512.jpeg", "t_4_x5_y-6.jpg", "t_10_256-0.jpg"]
    payloads = read_frames_py(out)  # an independent CRC32C checks every record
    for payload, name in zip(payloads, order, strict=True):
        raw = parse_example(payload)
        assert field_order(payload) == ["image_raw", "slide", "loc_x", "loc_y"]
        assert raw["image_raw"] == [originals[name]]  # stored as they were, bit for bit
        assert raw["slide"] == ["slide_é".encode()]
        assert (raw["loc_x"][0], raw["loc_y"][0]) == parse_location(name)
    tfr = sf.TFRecord(out)
    assert [tfr[i]["image_raw"] for i in range(len(tfr))] == [originals[n] for n in order]
    assert tfr.locations == [(0, 0), (0, 256), (512, 512), (5, -6), (256, 0)]
    ours = np.load(tmp_path / "out" / "case.index.npz")
    fresh = create_index(out, index_file=tmp_path / "fresh.index.npz")
    np.testing.assert_array_equal(ours["arr_0"], fresh.offsets)
    np.testing.assert_array_equal(ours["locations"], fresh.locations)
    assert _everything(tmp_path / "out") == ["case.index.npz", "case.tfrecords"]  # no temp left


@settings(max_examples=150, deadline=None)
@given(
    image=st.one_of(st.binary(max_size=300), st.integers(0, 20000).map(lambda n: bytes([n % 251]) * n)),
    slide=st.text(max_size=20),
    x=INT64,
    y=INT64,
)
def test_tile_record_is_exactly_make_example_framed(image: bytes, slide: str, x: int, y: int) -> None:
    expected = frame_record(make_example({"image_raw": image, "slide": slide, "loc_x": x, "loc_y": y}))
    assert tile_encoding.tile_record(image, slide, x, y) == expected


names = st.text(max_size=12)
values = st.one_of(
    st.lists(INT64, max_size=5),
    st.lists(st.floats(allow_nan=False, width=32), max_size=5),
    st.lists(st.binary(max_size=40), max_size=4),
    st.lists(st.text(max_size=8), min_size=1, max_size=3),
    INT64,
    st.binary(max_size=40),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(names, values, max_size=6), min_size=1, max_size=4))
def test_examples_through_a_file_are_the_identity(records: list[dict]) -> None:
    """make_example -> write_record -> iter_frames -> parse_example gives back every value."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prop.tfrecords"
        with open(path, "wb") as f:
            for fields in records:
                write_record(f, make_example(fields))
        assert len(read_frames_py(path)) == len(records)  # framing and CRCs, independently
        with open(path, "rb") as f:
            payloads = [p for _, _, p in iter_frames(f, path)]
    for fields, payload in zip(records, payloads, strict=True):
        expected = {}
        for name, value in fields.items():
            value = value if isinstance(value, list) else [value]
            expected[name] = [v.encode() if isinstance(v, str) else v for v in value]
        assert parse_example(payload) == expected
        assert field_order(payload) == list(fields)


def test_junk_is_skipped_with_reasons(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _folder(src, ["a_0-0.jpg"])
    jpeg = make_jpeg(seed=5)
    (src / "notes.txt").write_text("hello")
    (src / "empty.jpg").write_bytes(b"")
    (src / "text.jpg").write_text("not an image")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (src / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (src / "really_jpeg_64-0.png").write_bytes(jpeg)  # bytes decide, not the extension
    (src / ".hidden.jpg").write_bytes(jpeg)
    (src / "sub").mkdir()
    (src / ".DS_Store").write_bytes(b"finder")  # hidden and not an image: not worth a line
    os.mkfifo(src / "pipe_9-9.jpg")  # opening it to read would wait for a writer forever
    (src / "gone_8-8.jpg").symlink_to(src / "missing.jpg")
    report = sf.io.write_tfrecords_single(src, tmp_path / "out", "x", "x")
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {
        "notes.txt", "empty.jpg", "text.jpg", "broken.png", "cut.jpg", ".hidden.jpg", "sub", "pipe_9-9.jpg", "gone_8-8.jpg"
    }
    assert reasons["pipe_9-9.jpg"] == reasons["gone_8-8.jpg"] == "not a regular file (a pipe, a device or a broken link)"
    assert reasons[".hidden.jpg"] == "hidden file (its name starts with a dot)"
    assert reasons["sub"] == "a folder inside the slide folder (its files are not read)"
    assert reasons["notes.txt"] == "not an image file (unknown extension)"
    assert reasons["empty.jpg"] == "zero-byte file"
    assert reasons["text.jpg"].startswith("not a decodable image")
    assert reasons["broken.png"].startswith("not a decodable image")
    assert reasons["cut.jpg"] == "truncated JPEG (no end-of-image marker)"
    tfr = sf.TFRecord(report.written[0].path)
    assert len(tfr) == 2 and tfr[1]["image_raw"] == jpeg and tfr.img_format == "jpeg"
    assert tfr.locations == [(0, 0), (64, 0)]


def test_other_formats_become_png_and_reencode_to_jpeg(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(src / "t_0-0.bmp")
    deep = np.random.default_rng(1).integers(0, 65535, (8, 8), dtype=np.uint16)
    Image.fromarray(deep).save(src / "t_0-8.tif")
    Image.fromarray(pixels).convert("CMYK").save(src / "t_0-16.TIFF")
    report = sf.io.write_tfrecords_single(src, tmp_path / "out", "bmp", "s")
    tfr = sf.TFRecord(report.written[0].path)
    assert len(tfr) == 3 and all(tfr[i]["image_raw"].startswith(b"\x89PNG") for i in range(3))
    np.testing.assert_array_equal(sf.io.decode_image(tfr[0]["image_raw"]), pixels)  # lossless
    tiff = to_rgb_array(Image.open(src / "t_0-8.tif"))  # records hold no TIFF: decode_image refuses it
    np.testing.assert_array_equal(sf.io.decode_image(tfr[1]["image_raw"]), tiff)
    assert sf.io.decode_image(tfr[2]["image_raw"]).shape == (16, 16, 3)
    report = sf.io.write_tfrecords_single(src, tmp_path / "out", "jpg", "s", reencode=80)
    tfr = sf.TFRecord(report.written[0].path)
    assert all(tfr[i]["image_raw"].startswith(b"\xff\xd8\xff") for i in range(3))
    assert Image.open(io.BytesIO(tfr[0]["image_raw"])).size == (16, 16)
    with pytest.raises(ValueError, match="quality"):
        sf.io.write_tfrecords_single(src, tmp_path / "out", "q", "s", reencode=0)


def test_names_without_location_warn_and_store_zero(tmp_path: Path) -> None:
    _folder(tmp_path / "src", ["plain.jpg", "t_64-128.jpg"])
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "w", "w")
    assert sf.TFRecord(report.written[0].path).locations == [(0, 0), (64, 128)]
    assert report.warnings == ["w: 1 file name(s) did not match the location pattern; stored location (0, 0)"]
    report = sf.io.write_tfrecords_single(
        tmp_path / "src", tmp_path / "out2", "w", "w", locations=r"t_(?P<y>\d+)-(?P<x>\d+)"
    )
    assert sf.TFRecord(report.written[0].path).locations == [(0, 0), (128, 64)]
    with pytest.raises(ValueError, match="groups named x and y"):
        sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out3", "w", "w", locations=r"(\d+)")
    assert not (tmp_path / "out3").exists()  # a bad pattern fails before anything is created
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out4", "w", "w", locations=None)
    assert sf.TFRecord(report.written[0].path).locations == [(0, 0), (0, 0)] and not report.warnings


def test_filenames(tmp_path: Path) -> None:
    _folder(tmp_path / "src", ["a_0-0.jpg"])
    for name, expected in [("plain", "plain.tfrecords"), ("done.tfrecords", "done.tfrecords"), ("v1.2", "v1.2.tfrecords")]:
        report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", name, "s")
        assert Path(report.written[0].path).name == expected
    for bad in ["", "../up", "a/b", ".."]:
        with pytest.raises(ValueError, match="plain file name"):
            sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", bad, "s")


def test_never_overwrites_unless_asked(tmp_path: Path) -> None:
    _folder(tmp_path / "src", ["a_0-0.jpg"])
    out = tmp_path / "out"
    sf.io.write_tfrecords_single(tmp_path / "src", out, "same", "s")
    before = (out / "same.tfrecords").read_bytes()
    _folder(tmp_path / "src", ["b_0-64.jpg"])
    with pytest.raises(FileExistsError, match="same.tfrecords"):
        sf.io.write_tfrecords_single(tmp_path / "src", out, "same", "s")
    assert (out / "same.tfrecords").read_bytes() == before
    sf.io.write_tfrecords_single(tmp_path / "src", out, "same", "s", overwrite=True)
    assert len(sf.TFRecord(out / "same.tfrecords")) == 2
    assert np.load(out / "same.index.npz")["arr_0"].shape == (2, 2)  # the index follows the new file


def test_overwriting_removes_the_old_files_indexes(tmp_path: Path) -> None:
    """Same sizes, other places: an old index would fit the new file's offsets by chance and
    give it the old locations. Overwriting without an index leaves none; with one, only ours."""
    src, out = tmp_path / "src", tmp_path / "out"
    _folder(src, ["t_10-20.jpg", "t_30-40.jpg"])
    sf.io.write_tfrecords_single(src, out, "same", "s")
    np.savetxt(out / "same.index", np.load(out / "same.index.npz")["arr_0"], fmt="%d")  # another tool's
    for path in src.iterdir():
        path.rename(path.with_name(path.name.replace("t_10-20", "t_0-0").replace("t_30-40", "t_64-0")))
    sf.io.write_tfrecords_single(src, out, "same", "s", overwrite=True, build_index=False)
    assert sorted(p.name for p in out.iterdir()) == ["same.tfrecords"]
    assert sf.TFRecord(out / "same.tfrecords").locations == [(0, 0), (64, 0)]
    np.savetxt(out / "same.index", np.load(out / "same.index.npz")["arr_0"], fmt="%d")
    sf.io.write_tfrecords_single(src, out, "same", "s", overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["same.index.npz", "same.tfrecords"]


def test_file_that_appears_while_writing_is_not_replaced(tmp_path: Path) -> None:
    _folder(tmp_path / "src", [f"t_{i}-0.jpg" for i in range(100)])
    out = tmp_path / "out"
    job = writer.iter_write_tfrecords_single(tmp_path / "src", out, "race", "s")
    next(job)
    (out / "race.tfrecords").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        for _ in job:
            pass
    assert (out / "race.tfrecords").read_bytes() == b"someone else's"
    assert _everything(out) == ["race.tfrecords"]


def test_multi_one_file_per_folder_and_policies(tmp_path: Path) -> None:
    src = tmp_path / "nested"
    _folder(src / "slide_B", ["t_0-0.jpg", "t_0-64.jpg"])
    _folder(src / "slide_A", ["t_0-0.png"])
    _folder(src / "slide_10", ["t_0-0.png"])
    (src / "loose.jpg").write_bytes(make_jpeg())
    report = sf.io.write_tfrecords_multi(src, tmp_path / "out")
    assert [(Path(w.path).name, w.slide, w.tiles) for w in report.written] == [
        ("slide_10.tfrecords", "slide_10", 1),
        ("slide_A.tfrecords", "slide_A", 1),
        ("slide_B.tfrecords", "slide_B", 2),
    ]
    assert sf.TFRecord(tmp_path / "out" / "slide_B.tfrecords")[1]["slide"] == "slide_B"
    assert [s.reason for s in report.skipped] == ["not inside a slide folder"]
    with pytest.raises(FileExistsError):
        sf.io.write_tfrecords_multi(src, tmp_path / "out")
    skipped = sf.io.write_tfrecords_multi(src, tmp_path / "out", existing="skip")
    assert skipped.written == [] and sum("already exists" in s.reason for s in skipped.skipped) == 3
    again = sf.io.write_tfrecords_multi(src, tmp_path / "out", overwrite=True, slides=["slide_A"])
    assert [w.slide for w in again.written] == ["slide_A"]
    with pytest.raises(ValueError):
        sf.io.write_tfrecords_multi(src, tmp_path / "out", existing="merge")


@pytest.mark.parametrize("existing", ["error", "overwrite"])
def test_multi_folders_that_would_share_an_output_file(tmp_path: Path, existing: str) -> None:
    """Folders 'x' and 'x.tfrecords' (or 'A' and 'a' where case is ignored) would write one file:
    the first in natural order is written, the other skipped with the reason, before any write."""
    src = tmp_path / "nested"
    _folder(src / "x", ["t_0-0.jpg"])
    _folder(src / "x.tfrecords", ["t_0-0.jpg", "t_0-64.jpg"])
    _folder(src / "X", ["t_64-0.jpg"])
    _folder(src / "y", ["t_0-0.png"])
    report = sf.io.write_tfrecords_multi(src, tmp_path / "out", existing=existing)
    assert [(w.slide, w.tiles) for w in report.written] == [("X", 1), ("y", 1)]  # 'X' sorts before 'x'
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"x", "x.tfrecords"}
    assert all("would be the file of folder X" in r for r in reasons.values())
    assert _everything(tmp_path / "out") == ["X.index.npz", "X.tfrecords", "y.index.npz", "y.tfrecords"]
    assert sf.TFRecord(tmp_path / "out" / "X.tfrecords").locations == [(64, 0)]


def test_create_index_names_the_file_by_its_stem_as_slideflow_does(tmp_path: Path) -> None:
    """Slideflow calls create_index(path, '<name>.index'); numpy's savez adds '.npz'."""
    src = tmp_path / "s1"
    _folder(src, ["t_0-0.jpg", "t_64-0.jpg"])
    out = tmp_path / "out"
    sf.io.write_tfrecords_single(src, out, "s1", "s1", build_index=False)
    tfr = out / "s1.tfrecords"
    sf.io.tfrecord2idx.create_index(str(tfr), str(out / "s1.index"))
    assert _everything(out) == ["s1.index.npz", "s1.tfrecords"]
    with np.load(out / "s1.index.npz") as npz:
        assert npz["arr_0"].tolist() == sf.io.tfrecord2idx.load_index(str(tfr)).tolist()
        assert npz["locations"].tolist() == [[0, 0], [64, 0]]
    sf.io.tfrecord2idx.create_index(str(tfr), str(out / "again.index.npz"))  # a full name stays as it is
    assert _everything(out) == ["again.index.npz", "s1.index.npz", "s1.tfrecords"]


def test_multi_destination_inside_the_source_is_not_a_slide(tmp_path: Path) -> None:
    src = tmp_path / "nested"
    _folder(src / "s1", ["t_0-0.jpg"])
    sf.io.write_tfrecords_multi(src, src / "out")
    report = sf.io.write_tfrecords_multi(src, src / "out", existing="overwrite")
    assert [w.slide for w in report.written] == ["s1"]
    assert _everything(src / "out") == ["s1.index.npz", "s1.tfrecords"]


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    monkeypatch.setattr(write_pool, "POOL_MIN_IMAGES", 8)
    _folder(tmp_path / "src" / "a", [f"t_{i}-0.jpg" for i in range(200)])
    _folder(tmp_path / "src" / "b", [f"t_{i}-0.jpg" for i in range(300)])
    out = tmp_path / "out"
    token = CancelToken()
    job = writer.iter_write_tfrecords_multi(tmp_path / "src", out, cancel=token, workers=workers)
    progress = [next(job) for _ in range(5)]
    assert [(p.done, p.total, p.message) for p in progress] == [
        (64, 500, "a"), (128, 500, "a"), (192, 500, "a"), (200, 500, "a"), (264, 500, "b")
    ]
    assert any(p.name.startswith(".b.tfrecords.partial") for p in out.iterdir())  # b is half written
    token.cancel()
    with pytest.raises(Cancelled):
        for _ in job:
            pass
    assert _everything(out) == ["a.index.npz", "a.tfrecords"]  # the finished file stays, whole
    assert len(sf.TFRecord(out / "a.tfrecords")) == 200


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _folder(tmp_path / "src", [f"t_{i}-0.jpg" for i in range(10)])
    out = tmp_path / "out"

    class DiskFull(paths_mod.AtomicOutput):
        def __enter__(self):
            real = super().__enter__()
            written = {"n": 0}

            class File:
                def write(self, data: bytes) -> int:
                    written["n"] += len(data)
                    if written["n"] > 20_000:
                        raise OSError(28, "No space left on device")
                    return real.write(data)

                def __getattr__(self, name):
                    return getattr(real, name)

            return File()

    monkeypatch.setattr(storage.LocalStorage, "atomic_output", lambda self, dest, overwrite=True: DiskFull(dest, overwrite))
    with pytest.raises(OSError, match=r"cannot write .*f.tfrecords: No space left on device") as info:
        sf.io.write_tfrecords_single(tmp_path / "src", out, "f", "f")
    assert info.value.errno == 28
    assert _everything(out) == []
    monkeypatch.undo()

    def rename_fails(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(paths_mod.os, "replace", rename_fails)
    with pytest.raises(PermissionError):
        sf.io.write_tfrecords_single(tmp_path / "src", out, "f", "f")
    assert _everything(out) == []


def test_unwritable_destination_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _folder(tmp_path / "src", ["t_0-0.jpg"])
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="cannot create folder"):
        sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "file" / "out", "f", "f")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self.tmp))

    monkeypatch.setattr(paths_mod.AtomicOutput, "__enter__", refuse)
    with pytest.raises(PermissionError, match=r"cannot write .*g.tfrecords: Permission denied"):
        sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "g", "g")
    assert _everything(tmp_path / "out") == []


def _expected_tile(image: bytes, slide: str, x: int, y: int) -> bytes:
    """A framed tile record built with protobuf's own encoder, independently of the writer's:
    each feature is one single-entry `Features` message, joined in the writer's field order
    (protobuf would reorder a whole map), then wrapped as an Example."""
    features = [
        ("image_raw", example_pb2.Feature(bytes_list=example_pb2.BytesList(value=[image]))),
        ("slide", example_pb2.Feature(bytes_list=example_pb2.BytesList(value=[slide.encode()]))),
        ("loc_x", example_pb2.Feature(int64_list=example_pb2.Int64List(value=[x]))),
        ("loc_y", example_pb2.Feature(int64_list=example_pb2.Int64List(value=[y]))),
    ]
    body = b"".join(example_pb2.Features(feature={k: v}).SerializeToString() for k, v in features)
    example = example_pb2.Example()
    example.features.MergeFromString(body)
    whole = example.SerializeToString()  # same length whatever the order: its head is the wrapper
    payload = whole[: len(whole) - len(body)] + body
    assert example_pb2.Example.FromString(payload) == example
    return frame_record(payload)


def test_output_bytes_do_not_depend_on_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One, three worker processes and the CLI's --multi write the bytes an independent encoder
    expects, and the index beside each file points at them."""
    from tfr_viewer import cli

    monkeypatch.setattr(write_pool, "POOL_MIN_IMAGES", 8)
    monkeypatch.setattr(write_pool, "CHUNK", 7)  # chunks and the in-flight window cross file boundaries
    contexts = []
    real_context = write_pool.pool_context
    monkeypatch.setattr(write_pool, "pool_context", lambda: contexts.append(1) or real_context())
    src = tmp_path / "src"
    s1 = _folder(src / "s1", [f"t_{i}-{i}.jpg" for i in range(150)])
    s2 = _folder(src / "s2", [f"t_{i}-0.png" for i in range(40)])
    (src / "s2" / "t_bad.jpg").write_bytes(b"junk")
    s3 = _folder(src / "s3", ["only_3-3.jpg"])
    expected = {
        "s1": [_expected_tile(s1[f"t_{i}-{i}.jpg"], "s1", i, i) for i in range(150)],
        "s2": [_expected_tile(s2[f"t_{i}-0.png"], "s2", i, 0) for i in range(40)],
        "s3": [_expected_tile(s3["only_3-3.jpg"], "s3", 3, 3)],
    }
    one = sf.io.write_tfrecords_multi(src, tmp_path / "w1", workers=1)
    assert contexts == []
    three = sf.io.write_tfrecords_multi(src, tmp_path / "w3", workers=3)
    assert contexts == [1]  # the pool really ran
    assert cli.main(["convert", str(src), str(tmp_path / "cli"), "--multi", "--workers", "3", "--json"]) == 0
    assert contexts == [1, 1]
    assert [w.tiles for w in one.written] == [w.tiles for w in three.written] == [150, 40, 1]
    assert [(Path(s.path).name, s.reason) for s in one.skipped] == [(Path(s.path).name, s.reason) for s in three.skipped]
    assert [Path(s.path).name for s in one.skipped] == ["t_bad.jpg"]
    for out in ("w1", "w3", "cli"):
        for name, records in expected.items():
            assert (tmp_path / out / f"{name}.tfrecords").read_bytes() == b"".join(records), (out, name)
            index = np.load(tmp_path / out / f"{name}.index.npz")
            lengths = [len(r) for r in records]
            starts = np.cumsum([0] + lengths[:-1])
            np.testing.assert_array_equal(index["arr_0"], np.stack([starts, lengths], axis=1))


def test_empty_folder_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "junk.txt").write_text("x")
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "e", "e")
    assert report.written == [] and report.warnings == ["e: no images could be written; no TFRecord created"]
    assert _everything(tmp_path / "out") == []


def test_unreadable_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="cannot read folder"):
        sf.io.write_tfrecords_single(tmp_path / "missing", tmp_path / "out", "e", "e")
    with pytest.raises(OSError, match="cannot read folder"):
        sf.io.write_tfrecords_multi(tmp_path / "missing", tmp_path / "out")


def test_report_is_json_ready(tmp_path: Path) -> None:
    _folder(tmp_path / "src", ["t_0-0.jpg"])
    report = sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "out", "j", "j")
    data = json.loads(json.dumps(report.to_dict()))
    assert data["tiles"] == 1 and data["written"][0]["slide"] == "j" and data["elapsed"] > 0
    assert os.path.basename(data["written"][0]["index_path"]) == "j.index.npz"


def _pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(write_pool, "POOL_MIN_IMAGES", 8)
    monkeypatch.setattr(write_pool, "CHUNK", 7)


def test_pool_write_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pooled(monkeypatch)
    _folder(tmp_path / "src" / "s1", [f"t_{i}-0.jpg" for i in range(60)])
    calls = {"n": 0}
    real = os.copy_file_range

    def disk_full(*args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(28, "No space left on device")
        return real(*args)

    monkeypatch.setattr(storage.os, "copy_file_range", disk_full)
    with pytest.raises(OSError, match=r"cannot write .*s1.tfrecords: No space left on device"):
        sf.io.write_tfrecords_multi(tmp_path / "src", tmp_path / "out", workers=2)
    assert _everything(tmp_path / "out") == []  # no temp, no chunk file, no index


def test_pool_without_in_kernel_copy_gives_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pooled(monkeypatch)
    _folder(tmp_path / "src", [f"t_{i}-{i}.jpg" for i in range(30)])
    sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "w1", "x", "x", workers=1)

    def cross_device(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(storage.os, "copy_file_range", cross_device)
    sf.io.write_tfrecords_single(tmp_path / "src", tmp_path / "w2", "x", "x", workers=2)
    assert (tmp_path / "w1" / "x.tfrecords").read_bytes() == (tmp_path / "w2" / "x.tfrecords").read_bytes()
    assert _everything(tmp_path / "w2") == ["x.index.npz", "x.tfrecords"]
