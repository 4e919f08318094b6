"""`--fresh-settings` starts clean for one run and keeps the saved settings; `--read-only` writes
nothing beside the files. Through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tfr_viewer.gui.settings import Settings

from .conftest import write_tiles


def test_settings_for_this_run_start_from_defaults_and_save_nothing() -> None:
    saved = Settings(fresh=True)
    saved.set("view/thumb_size", 192)
    saved.add_recent("/data/kept")
    saved.sync()
    run = Settings.for_this_run()
    assert run.get("view/thumb_size") == 96 and run.get("recent/paths") == []
    run.set("view/thumb_size", 64)
    run.add_recent("/data/this_run")
    run.sync()
    assert run.get("view/thumb_size") == 64
    again = Settings()
    assert again.get("view/thumb_size") == 192 and again.get("recent/paths") == ["/data/kept"]


def test_fresh_settings_and_read_only_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    write_tiles(folder / "a.tfrecords", 15, index=False)
    config = tmp_path / "config"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TFR_VIEWER_CONFIG_DIR": str(config),
           "TFR_VIEWER_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("TFR_VIEWER_READ_ONLY", None)
    saved = subprocess.run([sys.executable, "-c", (
        "from tfr_viewer.gui.settings import Settings; s = Settings(); s.add_recent('/data/kept');"
        "s.set('view/thumb_size', 128); s.sync()")], env=env, capture_output=True, text=True, timeout=60)
    assert saved.returncode == 0, saved.stderr
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "-m", "tfr_viewer", str(folder), "--fresh-settings", "--read-only",
         "--screenshot", str(shot), "--quit-after-load"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert shot.is_file()
    assert sorted(p.name for p in folder.iterdir()) == ["a.tfrecords"]  # the index went to the cache
    assert list((tmp_path / "cache").rglob("a.index.npz"))
    check = subprocess.run([sys.executable, "-c", (
        "from tfr_viewer.gui.settings import Settings; s = Settings();"
        "print(s.get('recent/paths'), s.get('view/thumb_size'))")], env=env, capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == "['/data/kept'] 128"  # the saved settings survived the fresh run
