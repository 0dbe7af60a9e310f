"""Every path tad-tui reads or writes is decided here, and only here.

The data dir holds the database, the Telegram session, logs, the cache (demo catalogue included) and
the default download folder. ``--data-dir`` / ``TAD_DATA_DIR`` move all of it; ``--demo`` without
an explicit data dir uses a ``demo`` sub-folder of the default one, so demo data never mixes with a
real library.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "tad-tui"
DB_FILE = "library.sqlite3"


def default_data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_config_file() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def user_themes_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "themes"


def resolve_data_dir(explicit: str | os.PathLike[str] | None, *, demo: bool) -> Path:
    """The data dir: an explicit one as given, else the platform's, with ``demo/`` for the demo."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = default_data_dir()
    return base / "demo" if demo else base


@dataclass(frozen=True)
class Paths:
    """The files and folders of one data dir (``db_override`` is the seed's ``DB_PATH``)."""

    data_dir: Path
    db_override: Path | None = None
    output_override: Path | None = None
    catalogue_override: Path | None = None

    @property
    def db(self) -> Path:
        return self.db_override or self.data_dir / DB_FILE

    def session(self, name: str) -> Path:
        return self.data_dir / f"{name}.session"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def downloads_dir(self) -> Path:
        return self.output_override or self.data_dir / "downloads"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "writer.lock"

    @property
    def monitor_file(self) -> Path:
        return self.data_dir / "monitor.json"

    @property
    def demo_catalogue_dir(self) -> Path:
        return self.catalogue_override or self.cache_dir / "demo-catalogue"

    def ensure(self) -> None:
        """Create the data dir (private to the user) and its sub-folders."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in (self.logs_dir, self.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.db.parent.mkdir(parents=True, exist_ok=True)


def env_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser() if value else None
