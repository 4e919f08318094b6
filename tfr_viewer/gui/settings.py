"""Every persisted setting, with its default and type, in one place (QSettings, INI format)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings


SCHEMA_VERSION = 1
THUMB_SIZES = (64, 96, 128, 192)  # the choices of view/thumb_size
DEFAULTS: dict[str, tuple[type, Any]] = {
    "window/geometry": (bytes, b""),
    "window/state": (bytes, b""),
    "window/splitter": (bytes, b""),
    "window/right_splitter": (bytes, b""),
    "window/left_splitter": (bytes, b""),
    "recent/paths": (list, []),
    "view/thumb_size": (int, 96),
    "view/captions": (bool, False),
    "view/theme": (str, "light"),
    "files/read_only": (bool, False),
}
MAX_RECENT = 10


def settings_path() -> Path:
    """INI file location (`TFR_VIEWER_CONFIG_DIR` overrides, e.g. for tests)."""
    base = os.environ.get("TFR_VIEWER_CONFIG_DIR")
    if base:
        return Path(base) / "tfr-viewer.ini"
    if os.name == "nt" or not os.environ.get("XDG_CONFIG_HOME") and not (Path.home() / ".config").exists():
        from ..core.paths import user_cache_dir  # rare: not before the first paint

        return user_cache_dir().parent / "tfr-viewer-settings.ini"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "tfr-viewer" / "tfr-viewer.ini"


class Settings:
    """Typed access to the declared keys; `fresh=True` starts from defaults (and clears the
    file); `Settings.for_this_run()` starts from defaults and never touches the file."""

    def __init__(self, fresh: bool = False) -> None:
        self._run_only: dict[str, Any] | None = None  # values of a run that saves nothing
        self.qsettings = QSettings(str(settings_path()), QSettings.Format.IniFormat)
        if fresh or self.qsettings.value("schema", 0, int) != SCHEMA_VERSION:
            self.qsettings.clear()
            self.qsettings.setValue("schema", SCHEMA_VERSION)

    @classmethod
    def for_this_run(cls) -> "Settings":
        """Defaults for this run only (`--fresh-settings`): the saved settings stay as they were."""
        settings = cls.__new__(cls)
        settings._run_only = {}
        settings.qsettings = None
        return settings

    def get(self, key: str) -> Any:
        kind, default = DEFAULTS[key]
        if self._run_only is not None:
            value = self._run_only.get(key, default)
        else:
            value = self.qsettings.value(key, default)
        try:
            if kind is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            if kind is list:
                if value in (None, ""):
                    return []
                return list(value) if isinstance(value, (list, tuple)) else [str(value)]
            if kind is bytes:
                return bytes(value) if value else b""
            return kind(value)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(f"undeclared setting {key!r}")
        if self._run_only is not None:
            self._run_only[key] = value
        else:
            self.qsettings.setValue(key, value)

    def add_recent(self, path: str) -> list[str]:
        recent = [p for p in self.get("recent/paths") if p != path]
        recent.insert(0, path)
        self.set("recent/paths", recent[:MAX_RECENT])
        return recent[:MAX_RECENT]

    def remove_recent(self, path: str) -> None:
        self.set("recent/paths", [p for p in self.get("recent/paths") if p != path])

    def sync(self) -> None:
        if self.qsettings is not None:
            self.qsettings.sync()
