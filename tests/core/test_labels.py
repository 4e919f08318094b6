"""Label fields of records and annotations CSVs: kinds decided from values, counts, bounds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tfr_viewer.core.annotations import MAX_ANNOTATIONS_BYTES, AnnotationsError, read_annotations
from tfr_viewer.core.catalog import open_catalog
from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.index import create_index
from tfr_viewer.core.labels import (
    CATEGORICAL_MAX_INTS,
    MAX_CLASSES,
    MAX_LABEL_CHARS,
    OTHER,
    iter_discover_fields,
    iter_read_field_values,
)
from tfr_viewer.core.navigation import nearest_record
from tfr_viewer.core.progress import CancelToken, run_job
from tfr_viewer.core.records import make_example

from ..helpers import make_jpeg

LABELS = ["tumor", "stroma", "necrosis"]


def write_labelled(path: Path, n: int, label_of=lambda i: LABELS[(i * 7) % 3 if i % 5 else 0]) -> list[dict]:
    records = []
    with open(path, "wb") as f:
        for i in range(n):
            fields = {"image_raw": make_jpeg(8, 8, seed=i), "slide": path.stem, "loc_x": 10 * i, "loc_y": 2000,
                      "label": label_of(i), "tissue": i % 4, "score": i / 10.0, "big": i * 1000}
            records.append(fields)
            f.write(frame_record(make_example(fields)))
    create_index(path)
    return records


def opened(*paths: Path):
    dataset = run_job(open_catalog([str(p) for p in paths]))
    return dataset.files, list(range(len(dataset.files)))


def test_fields_are_discovered_with_kinds_decided_from_the_values(tmp_path):
    write_labelled(tmp_path / "a.tfrecords", 80)
    entries, ids = opened(tmp_path / "a.tfrecords")
    fields = {f.name: f.kind for f in run_job(iter_discover_fields(entries, ids, CancelToken()))}
    assert "image_raw" not in fields
    assert fields["label"] == "categorical" and fields["slide"] == "categorical"
    assert fields["tissue"] == "categorical"  # 4 distinct integers
    assert fields["score"] == "numeric" and fields["big"] == "numeric"  # floats; 80 distinct ints
    assert fields["loc_x"] == "numeric" and fields["loc_y"] == "numeric"  # coordinates, even one row's
    assert CATEGORICAL_MAX_INTS < 80


def test_string_label_codes_and_counts_match_the_records(tmp_path):
    a = write_labelled(tmp_path / "a.tfrecords", 37)
    b = write_labelled(tmp_path / "b.tfrecords", 23, label_of=lambda i: "stroma" if i < 20 else "fat")
    entries, ids = opened(tmp_path / "a.tfrecords", tmp_path / "b.tfrecords")
    values = run_job(iter_read_field_values(entries, ids, "label", CancelToken()))
    expected = [r["label"] for r in a + b]
    assert values.kind == "categorical"
    assert values.names == sorted(set(expected))
    assert [values.names[c] for c in values.codes] == expected
    assert dict(zip(values.names, values.counts.tolist())) == dict(Counter(expected))
    numbers = run_job(iter_read_field_values(entries, ids, "score", CancelToken()))
    assert numbers.kind == "numeric"
    np.testing.assert_allclose(numbers.numbers, [r["score"] for r in a + b], rtol=1e-6)


def test_a_damaged_file_leaves_its_tiles_missing_and_is_named(tmp_path):
    path = tmp_path / "a.tfrecords"
    write_labelled(path, 30)
    data = bytearray(path.read_bytes())
    entries, ids = opened(path)
    offset = int(entries[0].index.offsets[12][0])
    data[offset + 20] ^= 0xFF  # inside record 12's payload: its CRC no longer matches
    path.write_bytes(bytes(data))
    values = run_job(iter_read_field_values(entries, ids, "label", CancelToken()))
    assert (values.codes[:12] >= 0).all() and (values.codes[12:] == -1).all()
    assert values.problems and values.problems[0][0] == str(path) and values.problems[0][1] == 12
    assert "record 12" in values.problems[0][2]


def test_labels_are_bounded(tmp_path):
    write_labelled(tmp_path / "a.tfrecords", MAX_CLASSES + 30, label_of=lambda i: f"class {i} " + "x" * 500)
    entries, ids = opened(tmp_path / "a.tfrecords")
    values = run_job(iter_read_field_values(entries, ids, "label", CancelToken()))
    assert len(values.names) == MAX_CLASSES and values.names[-1] == OTHER
    assert max(len(n) for n in values.names) <= MAX_LABEL_CHARS
    assert values.counts.sum() == MAX_CLASSES + 30 and values.counts[-1] == 31


def test_cancel_stops_reading(tmp_path):
    write_labelled(tmp_path / "a.tfrecords", 10)
    entries, ids = opened(tmp_path / "a.tfrecords")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Exception, match="[Cc]ancel"):
        run_job(iter_read_field_values(entries, ids, "label", token))


# --- annotations -------------------------------------------------------------------------------
def test_annotations_join_by_slide_with_kinds_and_first_row_winning(tmp_path):
    csv_path = tmp_path / "annotations.csv"
    csv_path.write_text("patient,slide,label,age\np1,a,tumor,61\np2,b,normal,\np3,a,normal,70\n", encoding="utf-8")
    notes = read_annotations(csv_path)
    assert notes.columns == ["patient", "label", "age"]
    assert notes.kinds == {"patient": "categorical", "label": "categorical", "age": "numeric"}
    assert notes.duplicates == ["a"] and notes.rows["a"]["label"] == "tumor"
    values = notes.values("label", [("a", 3), ("c", 2), ("b", 1)])
    assert [values.names[c] if c >= 0 else None for c in values.codes] == ["tumor"] * 3 + [None] * 2 + ["normal"]
    assert dict(zip(values.names, values.counts.tolist())) == {"normal": 1, "tumor": 3}
    ages = notes.values("age", [("a", 2), ("b", 1)])
    assert ages.numbers[:2].tolist() == [61.0, 61.0] and np.isnan(ages.numbers[2])


@pytest.mark.parametrize("content, message", [
    (b"patient,label\np1,tumor\n", "no 'slide' column"),
    (b"slide,label\n\xff\xfe\xfa,tumor\n", "not UTF-8"),
    (b"slide,label,label\na,b,c\n", "twice"),
    (b"", "no 'slide' column"),
])
def test_hostile_annotations_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "annotations.csv"
    path.write_bytes(content)
    with pytest.raises(AnnotationsError, match=message) as caught:
        read_annotations(path)
    assert str(path) in str(caught.value)


def test_annotations_too_big_or_not_a_file(tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(MAX_ANNOTATIONS_BYTES + 1)
    with pytest.raises(AnnotationsError, match="cannot be read"):
        read_annotations(big)
    with pytest.raises(AnnotationsError, match="cannot be read"):
        read_annotations(tmp_path)
    with pytest.raises(AnnotationsError, match="cannot be read"):
        read_annotations(tmp_path / "missing.csv")


def test_annotation_with_bom_and_long_cells(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("\ufeffslide,label\na,".encode() + b"y" * 5000 + b"\n")
    notes = read_annotations(path)
    values = notes.values("label", [("a", 1)])
    assert len(values.names[0]) <= MAX_LABEL_CHARS


def test_nearest_record():
    locs = np.array([[0, 0], [100, 0], [0, 100], [10**9, 10**9]], np.int64)
    assert nearest_record(locs, 100, 0) == (1, True)
    assert nearest_record(locs, 40, 80) == (2, False)
    assert nearest_record(locs, 10**9, 10**9 - 1) == (3, False)


def test_a_record_with_thousands_of_fields_offers_a_bounded_list(tmp_path):
    from tfr_viewer.core.labels import MAX_FIELDS

    path = tmp_path / "wide.tfrecords"
    with open(path, "wb") as f:
        for i in range(5):
            fields = {"image_raw": make_jpeg(8, 8, seed=i), "slide": "wide"}
            fields.update({f"f{k:05d}": k for k in range(3000)})
            f.write(frame_record(make_example(fields)))
    create_index(path)
    entries, ids = opened(path)
    fields = run_job(iter_discover_fields(entries, ids, CancelToken()))
    assert len(fields) == MAX_FIELDS and "image_raw" not in {f.name for f in fields}
