"""The tools on their own: export, verify, rebuild indexes, the open dialogs and the wizard."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QWizard

from tfr_viewer.gui.tools import Tools

from .conftest import write_tiles
from .parts import parts  # noqa: F401  (fixture)


@pytest.fixture
def tools(qtbot, parts, folder: Path) -> Tools:
    panel = parts.add_map_panel()
    with qtbot.waitSignal(parts.browser.recordShown, timeout=10_000):
        parts.open(qtbot, folder)
    return Tools(parts.host, parts.datasets, parts.browser, panel.map, parts.jobs)


def test_export_writes_the_chosen_tiles_and_says_where(qtbot, parts, tools, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(parts.jobs.idle, timeout=10_000):
        tools.export_tiles([(0, 0), (0, 1), (1, 3)], str(out))
    assert len(list(out.iterdir())) == 3
    assert parts.status_bar.currentMessage() == f"Exported 3 tile(s) to {out}"


def test_verify_reports_a_damaged_file_in_problems_and_the_grid_label(qtbot, parts, tools, folder: Path) -> None:
    data = bytearray((folder / "slide_b.tfrecords").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "slide_b.tfrecords").write_bytes(bytes(data))
    parts.browser.select_files([0, 1])
    with qtbot.waitSignal(parts.jobs.idle, timeout=20_000):
        tools.verify_selected()
    assert parts.status_bar.currentMessage() == "Verify: 1 of 2 file(s) OK"
    assert "slide_b.tfrecords, record" in parts.problems.list.item(0).text()
    assert parts.datasets.entries[1].error and not parts.datasets.entries[0].error
    assert parts.grid_label.text().endswith("1 file(s) with a problem (see Problems)")


def test_rebuild_indexes_indexes_the_selected_files_again(qtbot, parts, tools) -> None:
    indexed = []
    parts.datasets.fileIndexed.connect(indexed.append)
    with qtbot.waitSignal(parts.datasets.indexingFinished, timeout=20_000):
        tools.rebuild_indexes()  # the first file is selected
    assert indexed == [0]
    assert parts.datasets.entries[0].state == "indexed"


def test_the_open_dialogs_ask_for_a_path_to_open(qtbot, tools, tmp_path: Path, monkeypatch) -> None:
    write_tiles(tmp_path / "one.tfrecords", 2)
    requested = []
    tools.openRequested.connect(requested.append)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "one.tfrecords"), ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    tools.choose_file()
    tools.choose_folder()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")  # cancelled
    tools.choose_folder()
    assert requested == [str(tmp_path / "one.tfrecords"), str(tmp_path)]


def test_the_convert_wizard_opens_over_the_window(qtbot, parts, tools) -> None:
    tools.open_convert_wizard()
    found = parts.host.findChild(QWizard, "convertWizard")
    assert found is not None and found.isVisible()
    found.reject()
    found.shutdown()
