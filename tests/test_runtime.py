"""Starting the engine: the real source's session file, logging, the lock."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from tad_tui.config import ConfigError, build_paths, load_settings
from tad_tui.runtime import LOG_FILE, build_source, setup_logging
from tad_tui.telegram.source import TelethonSource

CREDENTIALS = {"API_ID": "12345", "API_HASH": "0123456789abcdef0123456789abcdef"}


def _settings(tmp_path: Path, **env: str):
    settings = load_settings(None, env={"TAD_DATA_DIR": str(tmp_path / "data"), **env})
    return settings, build_paths(settings, demo=False)


def test_real_source_keeps_its_session_in_the_data_dir_private(tmp_path: Path) -> None:
    settings, paths = _settings(tmp_path, **CREDENTIALS, SESSION_NAME="work")
    paths.ensure()
    source = build_source(settings, paths, demo=False)
    assert isinstance(source, TelethonSource)
    session = paths.data_dir / "work.session"
    assert session.exists()
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    source.client.session.close()


def test_without_credentials_the_real_source_explains_what_to_do(tmp_path: Path) -> None:
    settings, paths = _settings(tmp_path)
    with pytest.raises(ConfigError, match="my.telegram.org"):
        build_source(settings, paths, demo=False)


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_logs_go_to_the_data_dir_without_the_api_hash(tmp_path: Path, restore_logging: None) -> None:
    settings, paths = _settings(tmp_path, **CREDENTIALS, LOG_LEVEL="debug")
    setup_logging(settings, paths)
    logging.getLogger("tad_tui.test").info("settings: %r", settings)
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (paths.logs_dir / LOG_FILE).read_text()
    assert "settings:" in text
    assert CREDENTIALS["API_HASH"] not in text
