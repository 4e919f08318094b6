"""The CLI on hostile inputs of convert/export/verify: one line, no traceback, bounded memory,
no process left behind, no Ghostscript."""

from __future__ import annotations

import io
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfr_viewer.core.framing import frame_record
from tfr_viewer.core.records import make_example

from ..core.test_hostile_images import EPS, fake_gs, png_of_zeros
from ..helpers import make_jpeg, write_tfrecord_py

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes, links and limits")


def run_cli(*args: str, env: dict | None = None, limit_file_size: int | None = None) -> subprocess.CompletedProcess:
    def limits() -> None:  # in the child, before it runs: a file size limit gives EFBIG, not a signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    return subprocess.run(
        [sys.executable, "-m", "tfr_viewer", *map(str, args)], capture_output=True, text=True, errors="surrogateescape", timeout=60,
        env=env, preexec_fn=limits if limit_file_size is not None else None,
    )


def peak_rss_mb(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the CLI in a fresh helper process that reports its child's peak RSS."""
    helper = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
        "sys.exit(r.returncode)\n"
    )
    result = subprocess.run([sys.executable, "-c", helper, sys.executable, "-m", "tfr_viewer", *map(str, args)],
                            capture_output=True, text=True, timeout=60)
    return result, float(result.stdout.rsplit("PEAK", 1)[1])


def one_clean_run(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Warning" not in result.stderr, result.stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if ".partial-" in p.name or ".chunk-" in p.name)


def test_postscript_never_reaches_ghostscript(tmp_path: Path) -> None:
    marker, path = fake_gs(tmp_path / "bin")
    env = dict(os.environ, PATH=path)
    tfr = tmp_path / "eps.tfrecords"
    write_tfrecord_py(tfr, [{"image_raw": EPS, "slide": "s", "loc_x": 1, "loc_y": 2},
                            {"image_raw": make_jpeg(), "slide": "s", "loc_x": 3, "loc_y": 4}])
    src = tmp_path / "tiles"
    src.mkdir()
    (src / "x_1-2.png").write_bytes(EPS)
    (src / "y_1-3.png").write_bytes(b"%!PS-Adobe-3.0\nshowpage\n")
    (src / "z_1-4.jpg").write_bytes(make_jpeg())

    verify = run_cli("verify", "--images", tfr, env=env)
    assert verify.returncode == 1 and "record 0" in verify.stdout and "do not decode" in verify.stdout
    export = run_cli("export", tfr, tmp_path / "out", env=env)
    assert export.returncode == 1 and "skipped record 0" in export.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s_3-4.jpg"]
    convert = run_cli("convert", src, tmp_path / "tfr", env=env)
    assert convert.returncode == 0 and "1 tiles in 1 file(s)" in convert.stdout
    assert "x_1-2.png: not a decodable image" in convert.stdout and "y_1-3.png" in convert.stdout
    for result in (verify, export, convert):
        one_clean_run(result)
    assert not marker.exists(), marker.read_text()  # the unfixed code ran `gs --version` here


def test_sparse_giant_source_is_skipped_unread(tmp_path: Path) -> None:
    src = tmp_path / "tiles"
    src.mkdir()
    (src / "a_0-0.jpg").write_bytes(make_jpeg())
    with open(src / "b_1-1.tif", "wb") as f:
        f.write(b"II*\0")
        f.truncate(3 * 2**30)  # sparse: no disk used; the unfixed convert read all of it (3.1 GB)
    started = time.perf_counter()
    result, peak = peak_rss_mb("convert", src, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    one_clean_run(result)
    assert "b_1-1.tif: file of 3,221,225,472 bytes, larger than a tile image may be" in result.stdout
    assert "1 tiles in 1 file(s)" in result.stdout
    assert peak < 200, peak
    assert time.perf_counter() - started < 10


def test_giant_dimensions_are_skipped_before_decoding(tmp_path: Path) -> None:
    src = tmp_path / "tiles"
    src.mkdir()
    (src / "a_0-0.png").write_bytes(png_of_zeros(9400, 9400, 2))  # 89 Mpx in 260 KB
    (src / "b_1-1.jpg").write_bytes(make_jpeg())
    for extra in ((), ("--reencode-jpeg", "80")):
        result, peak = peak_rss_mb("convert", src, tmp_path / f"out{len(extra)}", *extra)
        assert result.returncode == 0, result.stderr
        one_clean_run(result)
        assert "a_0-0.png: image is 9400 x 9400 pixels, larger than a tile may be" in result.stdout
        assert "1 tiles in 1 file(s)" in result.stdout
        assert peak < 200, peak  # 381 MB re-encoding it before (and 884 MB decoding it afterwards)


def test_bad_names_and_link_loops_are_skipped(tmp_path: Path) -> None:
    src = tmp_path / "slides"
    (src / "good").mkdir(parents=True)
    (src / "good" / "t_1-2.jpg").write_bytes(make_jpeg())
    os.symlink("loop", src / "good" / "loop")
    os.symlink("here", src / "here")
    bad = os.fsencode(src) + b"/bad\xff"
    os.mkdir(bad)
    with open(bad + b"/t_1-2.jpg", "wb") as f:
        f.write(make_jpeg())
    result = run_cli("convert", "--multi", src, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    one_clean_run(result)
    assert "wrote" in result.stdout and "good.tfrecords: 1 tiles" in result.stdout
    assert "/here: unreadable (Too many levels of symbolic links)" in result.stdout
    assert "/good/loop: unreadable (Too many levels of symbolic links)" in result.stdout
    assert "its name is not valid UTF-8 text" in result.stdout
    single = run_cli("convert", src / "good", tmp_path / "single")
    assert single.returncode == 0 and "1 tiles in 1 file(s)" in single.stdout
    one_clean_run(single)


def test_long_slide_names_export_and_convert_back(tmp_path: Path) -> None:
    tfr = tmp_path / "long.tfrecords"
    long_a, long_b = "A" * 299 + "a", "A" * 299 + "b"  # the same first 200 characters
    write_tfrecord_py(tfr, [{"image_raw": make_jpeg(seed=i), "slide": slide, "loc_x": i, "loc_y": 2 * i}
                            for i, slide in enumerate(["s", long_a, long_b, long_a])])
    result = run_cli("export", tfr, tmp_path / "out")
    assert result.returncode == 0, result.stderr + result.stdout
    one_clean_run(result)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(names) == 4 and all(len(n.encode()) <= 255 for n in names)
    back = run_cli("convert", tmp_path / "out", tmp_path / "tfr", "--locations", "*_X-Y.ext")
    assert back.returncode == 0 and "4 tiles in 1 file(s)" in back.stdout and "warning" not in back.stdout


def _processes() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, state, start time) of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            table[int(entry)] = (int(fields[1]), fields[0].decode(), int(fields[19]))
    return table


def _descendants(pid: int) -> dict[int, int]:
    table = _processes()
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _, started) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                todo.append(child)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_killed_convert_takes_its_workers_along_and_its_files_go_later(tmp_path: Path) -> None:
    src = tmp_path / "tiles"
    src.mkdir()
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (512, 512, 3), np.uint8)).save(buf, "PNG")
    (src / "t_0-0.png").write_bytes(buf.getvalue())
    for i in range(1, 1500):  # enough re-encoding work to outlast the test by far
        os.link(src / "t_0-0.png", src / f"t_{i}-0.png")
    out = tmp_path / "out"
    cli = subprocess.Popen([sys.executable, "-m", "tfr_viewer", "convert", src, out, "--workers", "2",
                            "--reencode-jpeg", "80"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    workers: dict[int, int] = {}
    while time.monotonic() < deadline and len(workers) < 3 and cli.poll() is None:  # fork server + 2 workers
        workers = _descendants(cli.pid)
        time.sleep(0.02)
    running = cli.poll() is None
    cli.kill()
    try:
        cli.communicate(timeout=10)  # ends once no process holds the CLI's stdout any more
        released = True
    except subprocess.TimeoutExpired:
        released = False
    deadline = time.monotonic() + 10
    alive = list(workers)
    while alive and time.monotonic() < deadline:
        table = _processes()
        alive = [pid for pid, started in workers.items()
                 if pid in table and table[pid][2] == started and table[pid][1] != "Z"]
        time.sleep(0.02)
    for pid in alive:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert running and len(workers) >= 3, workers
    assert alive == [] and released

    stale = leftovers(out)
    assert any(".partial-" in name for name in stale)  # what the killed run left
    past = time.time() - 120
    for name in stale:
        os.utime(out / name, (past, past))
    (out / ".x.tfrecords.partial-1-0123abcd").write_bytes(b"pid 1 is alive: not ours to remove")
    (out / "y.tfrecords.partial-99999999-0123abcd").write_bytes(b"a user's file of a similar name")
    small = tmp_path / "small"
    small.mkdir()
    (small / "t_0-0.jpg").write_bytes(make_jpeg())
    later = run_cli("convert", small, out)  # the next write into that folder
    assert later.returncode == 0, later.stderr
    assert leftovers(out) == [".x.tfrecords.partial-1-0123abcd"]
    assert (out / "y.tfrecords.partial-99999999-0123abcd").exists()


def test_file_size_limit_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "tiles"
    src.mkdir()
    for i in range(40):
        (src / f"t_{i}-0.jpg").write_bytes(make_jpeg(128, 128, seed=i))
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("convert", src, out, limit_file_size=100_000)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == f"tfr-viewer: error: cannot write {out / 'tiles.tfrecords'}: File too large", lines
    assert list(out.iterdir()) == []


def test_index_that_cannot_be_written_is_an_error_not_a_gzip_note(tmp_path: Path) -> None:
    """A full disk (here a file size limit) beside the file and in the cache: `index` says it
    wrote nothing and why, leaves no temporary file, and does not call a plain file gzip."""
    tfrecord = tmp_path / "data" / "a.tfrecords"
    tfrecord.parent.mkdir()
    with open(tfrecord, "wb") as f:
        for i in range(300):
            f.write(frame_record(make_example({"image_raw": make_jpeg(16, 16, seed=i), "loc_x": i, "loc_y": 0})))
    cache = tmp_path / "cache"
    result = run_cli("index", tfrecord, limit_file_size=1_000, env={**os.environ, "TFR_VIEWER_CACHE_DIR": str(cache)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "gzip" not in result.stdout
    assert f"{tfrecord}: no index written (cannot write " in result.stdout
    assert "a.index.npz: File too large)" in result.stdout
    assert sorted(p.name for p in tfrecord.parent.iterdir()) == ["a.tfrecords"]
    assert not [p for p in cache.rglob("*") if p.is_file()]
