"""`convert --multi --dask` with a bucket as destination: each worker uploads its slide's
TFRecord in one put (a real S3 API: moto_server behind the counting proxy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfr_viewer import cli

from ..cluster.test_dask_convert import SLIDES, make_tiles
from .conftest import BUCKET
from .s3_server import MotoServer

pytest.importorskip("distributed")  # the cluster extra: `--dask local:1`
pytestmark = pytest.mark.usefixtures("fresh_storage")


def test_convert_dask_writes_each_slide_to_the_bucket(dataset: Path, moto: MotoServer, tmp_path: Path,
                                                      capsys) -> None:
    src = make_tiles(tmp_path / "tiles")
    out = f"s3://{BUCKET}/converted-on-dask"
    assert cli.main(["convert", str(src), str(tmp_path / "local"), "--multi", "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert cli.main(["convert", str(src), out, "--multi", "--dask", "local:1", "--json"]) == 0  # workers upload
    remote = json.loads(capsys.readouterr().out)
    assert [w["slide"] for w in remote["written"]] == [w["slide"] for w in local["written"]] == sorted(SLIDES)
    assert [w["path"] for w in remote["written"]] == [f"{out}/{slide}.tfrecords" for slide in sorted(SLIDES)]
    assert remote["skipped"] == local["skipped"] and remote["tiles"] == local["tiles"]
    client = moto.client()
    for slide in SLIDES:
        body = client.get_object(Bucket=BUCKET, Key=f"converted-on-dask/{slide}.tfrecords")["Body"].read()
        assert body == (tmp_path / "local" / f"{slide}.tfrecords").read_bytes()
    assert not [key for key in moto.objects(BUCKET) if key.startswith("converted-on-dask/.")]  # no temporary
