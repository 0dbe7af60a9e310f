"""Every path tad-tui reads or writes is decided here, and only here.

The data dir holds the database, the Telegram session, logs, the cache (demo catalogue included) and
the default download folder. ``--data-dir`` / ``TAD_DATA_DIR`` move all of it. The demo (``--demo``,
or ``d`` on the welcome screen) uses the ``demo`` sub-folder of the data dir, the default one or one
set for a real account, so demo data never mixes with a real library; only ``--demo --data-dir DIR``
together name the demo's own data dir. The demo's database and downloads always stay in its data
dir: ``db_path`` and ``output_dir`` name a real library's places (``config.build_paths``); only
``-o DIR`` on the demo's own command line sends its downloads elsewhere.
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


def resolve_data_dir(explicit: str | os.PathLike[str] | None, *, demo: bool, named_for_demo: bool = False) -> Path:
    """The data dir: an explicit one, else the platform's; the demo's is its ``demo/`` sub-folder.

    An explicit data dir (``--data-dir``, ``TAD_DATA_DIR``, ``general.data_dir``) is a real account's
    library unless ``named_for_demo``: ``--demo`` and ``--data-dir`` on one command line, where the
    user names the demo's own folder.
    """
    base = Path(explicit).expanduser().resolve() if explicit else default_data_dir()
    return base / "demo" if demo and not (explicit and named_for_demo) else base


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

    def demo_session(self, name: str) -> Path:
        """The demo's session file: named apart, so ``--demo`` on a real data dir never touches its session."""
        return self.data_dir / f"{name}.demo.session"

    @property
    def demo_server_state(self) -> Path:
        """What the simulated Telegram remembers between runs: which demo sessions are signed in."""
        return self.data_dir / "demo-telegram.json"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def audit_file(self) -> Path:
        """JSON lines of user actions, security events, files written and config changes (audit.py)."""
        return self.logs_dir / "audit.jsonl"

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
        """Create the data dir and its sub-folders, private to the user (0700).

        Every folder created here, missing parents of the data dir included, is 0700: the data
        dir holds the Telegram session. A folder that already exists keeps its mode (the user
        may share it on purpose); the session file inside is kept at 0600 whatever it is.
        """
        make_private_dirs(self.data_dir)
        for folder in (self.logs_dir, self.cache_dir):
            make_private_dirs(folder)
        make_private_dirs(self.db.parent)


def make_private_dirs(folder: Path) -> None:
    """``mkdir -p`` where each folder created is 0700 (``Path.mkdir(parents=True)`` gives parents 0777-umask)."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def env_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser() if value else None


def folder_problem(folder: Path, *, writing: bool = True) -> str | None:
    """Why ``folder`` cannot be used, or created, as a folder to write in; None if it can.

    Checked before any work starts, so that a path under a regular file or in a read-only place is
    one clear error instead of a traceback from ``mkdir`` or a failure for every downloaded file.
    ``writing=False``: only whether it can be a folder at all (no regular file in the way), for a
    setting that is checked but not used now (a real library's folders, during the demo).
    """
    probe = folder
    try:
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if not probe.is_dir():
            if probe == folder:
                return f"{folder} is a file, not a folder"
            return f"{folder} cannot be created: {probe} is a file, not a folder"
        if writing and not os.access(probe, os.W_OK | os.X_OK):
            return f"{folder} cannot be written: no permission to write in {probe}"
    except OSError as error:
        return f"{folder} cannot be used: {error.strerror or error}"
    return None
