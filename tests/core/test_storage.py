"""The storage seam: readers, indexes, loaders and verify work unchanged on any registered
storage (a test-only `mem://` storage serving bytes from a dict), and LocalStorage keeps its
local guarantees (versions, non-blocking opens, ranged reads, whole-or-nothing writes)."""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import os
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import pytest

import tfr_viewer as sf
from tfr_viewer.core import storage as storage_mod
from tfr_viewer.core.export import iter_export_tiles
from tfr_viewer.core.index import cache_index_path, create_index, find_index, load_index
from tfr_viewer.core.index_files import read_index_file
from tfr_viewer.core.local_storage import atomic_write_bytes
from tfr_viewer.core.progress import run_job
from tfr_viewer.core.storage import LOCAL, FileInfo, FolderEntry, Storage, first_of_each_file, is_url, register_storage, storage_for
from tfr_viewer.core.verify import iter_verify

from ..helpers import tile_record, write_tfrecord_py


class MemoryStorage(Storage):
    """Files held in a dict, keyed by URL; counts the ranged reads readers make through it."""

    def __init__(self, writable: bool = True) -> None:
        self.files: dict[str, bytes] = {}
        self.writable = writable
        self.reads = 0

    def stat(self, path: str) -> FileInfo:
        if path in self.files:
            data = self.files[path]
            return FileInfo(path, len(data), 0, True, hashlib.sha1(data).hexdigest())
        if self.is_dir(path):
            return FileInfo(path, 0, 0, False)
        raise FileNotFoundError(errno.ENOENT, "No such file", path)

    def is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(name.startswith(prefix) for name in self.files)

    def find_tfrecords(self, folder: str, follow_links: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
        prefix = folder.rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(prefix) and p.endswith(".tfrecords")), []

    def open(self, path: str, max_size: int | None = None) -> BinaryIO:
        if path not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file", path)
        return io.BytesIO(self.files[path])

    def read_at(self, f: BinaryIO, offset: int, size: int) -> bytes:
        self.reads += 1
        f.seek(offset)
        return f.read(size)

    @contextlib.contextmanager
    def atomic_output(self, dest: str, overwrite: bool = True) -> Iterator[BinaryIO]:
        if not self.writable:
            raise PermissionError(errno.EACCES, "read-only storage", dest)
        buffer = io.BytesIO()
        yield buffer
        if not overwrite and dest in self.files:
            raise FileExistsError(dest)
        self.files[dest] = buffer.getvalue()

    def write_new(self, path: str, data: bytes) -> None:
        if path in self.files:
            raise FileExistsError(errno.EEXIST, "File exists", path)
        self.files[path] = bytes(data)

    def list_folder(self, folder: str) -> list[FolderEntry]:
        prefix = folder.rstrip("/") + "/"
        names = [p[len(prefix):] for p in self.files if p.startswith(prefix) and "/" not in p[len(prefix):]]
        return [FolderEntry(name, prefix + name, "file") for name in names]

    def make_dirs(self, folder: str) -> None:
        pass

    def remove(self, path: str) -> None:
        if self.files.pop(path, None) is None:
            raise FileNotFoundError(errno.ENOENT, "No such file", path)

    def identity(self, path: str) -> str:
        return path


@pytest.fixture
def mem(monkeypatch: pytest.MonkeyPatch) -> MemoryStorage:
    """A writable `mem://` storage, registered for this test only."""
    monkeypatch.setattr(storage_mod, "_FACTORIES", dict(storage_mod._FACTORIES))
    memory = MemoryStorage()
    register_storage("mem", lambda scheme: memory)
    return memory


URL = "mem://bucket/slides/a.tfrecords"


def _local_and_url(tmp_path: Path, mem: MemoryStorage, n: int = 12) -> tuple[Path, str]:
    local = tmp_path / "a.tfrecords"
    write_tfrecord_py(local, [tile_record(i) for i in range(n)])
    mem.files[URL] = local.read_bytes()
    return local, URL


# --- the seam: readers on a storage that is not the local disk --------------------------------------


def test_tfrecord_reads_a_url_as_it_reads_the_local_file(tmp_path: Path, mem: MemoryStorage) -> None:
    local, url = _local_and_url(tmp_path, mem)
    theirs, ours = sf.TFRecord(local), sf.TFRecord(url)
    assert (ours.fields, ours.img_format, ours.length, ours.locations) == (
        theirs.fields, theirs.img_format, theirs.length, theirs.locations)
    assert [ours[i] for i in range(len(ours))] == [theirs[i] for i in range(len(theirs))]
    assert ours[-1] == theirs[-1] and list(ours) == list(theirs)
    assert ours.get_record_by_xy(*theirs.locations[3]) == theirs.get_record_by_xy(*theirs.locations[3])
    before = mem.reads
    ours[5]
    assert mem.reads == before + 1  # one ranged read per record, through the storage
    with pytest.raises(IndexError):
        ours[len(ours)]


def test_index_is_written_into_a_writable_storage(tmp_path: Path, mem: MemoryStorage) -> None:
    local, url = _local_and_url(tmp_path, mem)
    sf.TFRecord(url)
    written = "mem://bucket/slides/a.index.npz"
    assert written in mem.files
    local_info = create_index(local)
    assert mem.files[written] == Path(local_info.path).read_bytes()  # the same file, byte for byte
    found = find_index(url)
    assert found is not None and found.path == written  # a URL stays a URL (no Path folding '//')
    assert np.array_equal(load_index(url), local_info.offsets)
    assert np.array_equal(found.locations, local_info.locations)
    assert not Path(cache_index_path(url)).exists()


def test_index_of_a_read_only_storage_goes_to_the_cache_keyed_by_url(
    tmp_path: Path, mem: MemoryStorage, private_cache: Path
) -> None:
    local, url = _local_and_url(tmp_path, mem)
    mem.writable = False
    before = dict(mem.files)
    info = create_index(url)
    assert mem.files == before  # nothing written to the storage
    assert info.path == cache_index_path(url) and private_cache in Path(info.path).parents
    offsets, locations = read_index_file(info.path)
    assert np.array_equal(offsets, create_index(local).offsets)
    assert find_index(url).path == info.path
    other = "mem://bucket/slides/b/../a.tfrecords"  # another URL: another cache entry
    assert cache_index_path(other) != cache_index_path(url)


def test_a_stale_index_beside_a_url_is_rebuilt(tmp_path: Path, mem: MemoryStorage) -> None:
    local, url = _local_and_url(tmp_path, mem, n=6)
    sf.TFRecord(url)
    write_tfrecord_py(local, [tile_record(i) for i in range(9)])
    mem.files[url] = local.read_bytes()  # the file changed; its index did not
    assert find_index(url) is None
    assert len(sf.TFRecord(url)) == 9 and len(find_index(url)) == 9


def test_loaders_give_the_same_records_from_a_url(tmp_path: Path, mem: MemoryStorage) -> None:
    local, url = _local_and_url(tmp_path, mem)
    index = create_index(local).offsets

    def records(path, **kwargs):
        return [{k: v.tolist() for k, v in r.items()} for r in sf.tfrecord_loader(path, **kwargs)]

    assert records(url) == records(local)
    assert records(url, index=index, shard=(1, 3)) == records(local, index=index, shard=(1, 3))
    assert records(url, clip=4, description=["slide", "loc_x"]) == records(local, clip=4, description=["slide", "loc_x"])
    multi = sf.multi_tfrecord_loader([url, local], [index, index], infinite=False, seed=3)
    assert len(list(multi)) == 2 * len(index)
    with pytest.raises(FileNotFoundError):
        sf.tfrecord_loader("mem://bucket/missing.tfrecords")


def test_verify_gives_the_same_report_for_a_url(tmp_path: Path, mem: MemoryStorage) -> None:
    local, url = _local_and_url(tmp_path, mem)
    data = bytearray(local.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte mid-file
    local.write_bytes(bytes(data))
    mem.files[url] = bytes(data)

    def report(path):
        found = run_job(iter_verify(path)).to_dict()
        found.pop("path")
        return found

    assert report(url) == report(local) and not report(url)["ok"]
    missing = run_job(iter_verify("mem://bucket/none.tfrecords"))
    assert not missing.ok and "cannot read the file" in missing.problems[0].reason


def test_gzip_tfrecord_on_a_storage(tmp_path: Path, mem: MemoryStorage) -> None:
    local, url = _local_and_url(tmp_path, mem)
    mem.files[url] = gzip.compress(local.read_bytes())
    assert [r["loc_x"] for r in sf.TFRecord(url)] == [r["loc_x"] for r in sf.TFRecord(local)]
    assert "mem://bucket/slides/a.index.npz" not in mem.files  # gzip offsets are not Slideflow's


def test_export_writes_tiles_into_a_storage(tmp_path: Path, mem: MemoryStorage) -> None:
    _local_and_url(tmp_path, mem, n=3)
    mem.files["mem://out/taken.png"] = b"x"
    report = run_job(iter_export_tiles(URL, "mem://out"))
    assert len(report.written) == 3 and all(p.startswith("mem://out/") for p in report.written)
    assert [mem.files[p][:2] for p in report.written] == [b"\xff\xd8"] * 3  # the JPEG bytes as stored
    assert mem.files["mem://out/taken.png"] == b"x"


# --- choosing a storage ------------------------------------------------------------------------------


def test_storage_for_chooses_by_scheme(mem: MemoryStorage, tmp_path: Path) -> None:
    assert storage_for(tmp_path) is LOCAL and storage_for(str(tmp_path / "x.tfrecords")) is LOCAL
    assert storage_for("mem://bucket/x") is mem and storage_for("MEM://bucket/x") is mem
    with pytest.raises(ValueError, match="nosuch:// URLs are not supported"):
        storage_for("nosuch://bucket/x.tfrecords")
    assert is_url("gs://b/k") and not is_url("C://data") and not is_url("data/a://b")
    assert not is_url(tmp_path / "x")


def test_first_of_each_file_by_identity(tmp_path: Path, mem: MemoryStorage) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    spellings = [str(tmp_path / "a"), str(tmp_path / "sub" / ".." / "a"), str(tmp_path / "link"), "mem://b/a", "mem://b/a"]
    assert first_of_each_file(spellings, str) == [str(tmp_path / "a"), "mem://b/a"]


# --- LocalStorage ------------------------------------------------------------------------------------


def test_local_stat_version_changes_when_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "a.tfrecords"
    path.write_bytes(b"1234")
    first = LOCAL.stat(str(path))
    assert (first.size, first.is_file) == (4, True) and first.version
    atomic_write_bytes(path, b"5678")  # same size, a new file renamed over it
    os.utime(path, ns=(first.mtime_ns, first.mtime_ns))  # and the same time
    second = LOCAL.stat(str(path))
    assert (second.size, second.mtime_ns) == (first.size, first.mtime_ns) and second.version != first.version
    assert LOCAL.stat(str(tmp_path)).is_file is False and LOCAL.is_dir(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        LOCAL.stat(str(tmp_path / "missing"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_local_open_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.tfrecords"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def try_open() -> None:
        try:
            LOCAL.open(str(fifo))
        except BaseException as exc:  # noqa: BLE001 - the test reads what was raised
            outcome.append(exc)

    opener = threading.Thread(target=try_open, daemon=True)
    opener.start()
    opener.join(timeout=10)
    assert not opener.is_alive(), "opening a FIFO blocked"
    assert len(outcome) == 1 and isinstance(outcome[0], ValueError) and "not a regular file" in str(outcome[0])
    with pytest.raises(ValueError, match="not a regular file"):
        LOCAL.open(str(tmp_path))
    (tmp_path / "big").write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="more than the 10 allowed"):
        LOCAL.open(str(tmp_path / "big"), max_size=10)
    with pytest.raises(sf.TFRecordError, match="not a regular file"):
        sf.TFRecord(fifo)


def test_local_read_at_on_a_real_and_an_in_memory_file(tmp_path: Path) -> None:
    path = tmp_path / "bytes"
    path.write_bytes(bytes(range(256)))
    with LOCAL.open(str(path)) as f:
        f.seek(7)
        assert LOCAL.read_at(f, 100, 4) == bytes([100, 101, 102, 103])
        assert f.tell() == 7  # pread: the position is left alone
        assert LOCAL.read_at(f, 250, 100) == bytes(range(250, 256))  # short at the end
    memory = io.BytesIO(bytes(range(256)))
    assert LOCAL.read_at(memory, 10, 3) == bytes([10, 11, 12])
    assert LOCAL.read_ranges(str(path), [(0, 2), (254, 2)]) == [b"\x00\x01", b"\xfe\xff"]


def test_local_atomic_output_leaves_nothing_on_failure(tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with LOCAL.atomic_output(str(dest)) as f:
            f.write(b"half")
            raise RuntimeError("cancelled")
    assert list(tmp_path.iterdir()) == []
    dest.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        with LOCAL.atomic_output(str(dest), overwrite=False) as f:
            f.write(b"ours")
    assert dest.read_bytes() == b"theirs" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    with LOCAL.atomic_output(str(dest)) as f:
        f.write(b"ours")
    assert dest.read_bytes() == b"ours" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_local_write_new_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "tile.png"
    LOCAL.write_new(str(target), b"first")
    with pytest.raises(FileExistsError):
        LOCAL.write_new(str(target), b"second")
    assert target.read_bytes() == b"first" and [e.name for e in LOCAL.list_folder(str(tmp_path))] == ["tile.png"]
    LOCAL.remove(str(target))
    assert LOCAL.list_folder(str(tmp_path)) == []
    LOCAL.make_dirs(str(tmp_path / "x" / "y"))
    assert LOCAL.is_dir(str(tmp_path / "x" / "y"))


def test_local_identity_of_a_symlinked_spelling(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.tfrecords").write_bytes(b"")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    real = LOCAL.identity(str(tmp_path / "real" / "a.tfrecords"))
    assert LOCAL.identity(str(tmp_path / "alias" / "a.tfrecords")) == real
    assert LOCAL.identity(str(tmp_path / "alias" / ".." / "real" / "a.tfrecords")) == real
    assert LOCAL.identity(str(tmp_path / "alias")) != LOCAL.identity(str(tmp_path))


# --- the dataset model on a storage: the catalog, manifest, Dataset and the CLI ----------------------


FOLDER = "mem://bucket/slides"


def _local_and_url_folder(tmp_path: Path, mem: MemoryStorage) -> Path:
    """A folder with an indexed file, one without an index and an empty one, copied into `mem`."""
    local = tmp_path / "slides"
    local.mkdir()
    write_tfrecord_py(local / "a.tfrecords", [tile_record(i) for i in range(7)])
    create_index(local / "a.tfrecords")
    write_tfrecord_py(local / "b.tfrecords", [tile_record(i) for i in range(4)])
    (local / "c.tfrecords").write_bytes(b"")
    for path in sorted(local.iterdir()):
        mem.files[f"{FOLDER}/{path.name}"] = path.read_bytes()
    return local


def _by_name(opened) -> list[tuple[str, str, int]]:
    return [(os.path.basename(e.path), e.state, e.count) for e in opened.files]


def test_the_catalog_opens_a_url_folder_as_the_local_one(tmp_path: Path, mem: MemoryStorage) -> None:
    from tfr_viewer.core import catalog
    from tfr_viewer.core.index import index_file

    local = _local_and_url_folder(tmp_path, mem)
    theirs, ours = run_job(catalog.open_catalog([local])), run_job(catalog.open_catalog([FOLDER]))
    assert _by_name(ours) == _by_name(theirs) == [("a.tfrecords", "indexed", 7), ("b.tfrecords", "pending", 0),
                                                  ("c.tfrecords", "error", 0)]
    assert [e.path for e in ours.files] == [f"{FOLDER}/{n}" for n in ("a.tfrecords", "b.tfrecords", "c.tfrecords")]
    assert {e.source for e in ours.files} == {FOLDER} and ours.folders == [FOLDER]
    assert [e.slide for e in ours.files] == ["a", "b", "c"]

    pending = ours.files[1]
    pending.apply(index_file(pending.path))  # what the window's indexing process does
    assert (pending.state, pending.count) == ("indexed", 4) and f"{FOLDER}/b.index.npz" in mem.files

    write_tfrecord_py(local / "b.tfrecords", [tile_record(i) for i in range(5)])
    mem.files[pending.path] = (local / "b.tfrecords").read_bytes()  # the object grew
    del mem.files[f"{FOLDER}/a.tfrecords"]
    statuses = run_job(catalog.stat_files([e.path for e in ours.files]))
    changes = catalog.disk_changes(ours.files, statuses)
    assert [s.file_id for s in changes.deleted] == [0] and [s.file_id for s in changes.changed] == [1]


def test_a_dataset_of_a_url_folder_counts_as_the_local_one(tmp_path: Path, mem: MemoryStorage) -> None:
    local = _local_and_url_folder(tmp_path, mem)
    theirs, ours = sf.Dataset(local), sf.Dataset(FOLDER)
    assert [os.path.basename(p) for p in ours.tfrecords()] == [os.path.basename(p) for p in theirs.tfrecords()]
    assert ours.slides() == theirs.slides() and ours.num_tiles == theirs.num_tiles == 11
    names = lambda manifest: {os.path.basename(k): v for k, v in manifest.items()}  # noqa: E731
    assert names(ours.manifest()) == names(theirs.manifest())
    assert f"{FOLDER}/manifest.json" in mem.files  # the manifest goes beside the files, as locally
    def cells(text: str) -> list[list[str]]:  # the table's cells: its borders widen with the path
        return [[cell.strip() for cell in line.split("│")] for line in text.splitlines() if "│" in line]

    assert cells(ours.summary(print_fn=None).replace(FOLDER, "X")) == cells(
        theirs.summary(print_fn=None).replace(str(local), "X"))


def test_a_read_only_url_folder_keeps_its_manifest_in_the_cache(
    tmp_path: Path, mem: MemoryStorage, private_cache: Path
) -> None:
    _local_and_url_folder(tmp_path, mem)
    mem.writable = False
    before = dict(mem.files)
    attempts = []
    real = mem.atomic_output
    mem.atomic_output = lambda dest, overwrite=True: attempts.append(dest) or real(dest, overwrite)
    assert sf.Dataset(FOLDER).num_tiles == 11
    assert attempts == []  # not even tried: a reading command never writes to the storage
    assert mem.files == before  # nothing written into the storage
    assert list(private_cache.rglob("manifest.json"))


def test_cli_summary_and_index_of_a_url_folder(tmp_path: Path, mem: MemoryStorage, capsys) -> None:
    from tfr_viewer import cli

    local = _local_and_url_folder(tmp_path, mem)
    for command in (["summary", "--json"], ["index", "--json"]):
        answers = []
        for where in (str(local), FOLDER):
            code = cli.main([command[0], where, *command[1:]])
            out, err = capsys.readouterr()
            answers.append((code, out.replace(where, "X"), err.replace(where, "X")))
        assert answers[0] == answers[1], command
