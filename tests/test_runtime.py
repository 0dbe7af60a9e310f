"""Starting the engine: the real source's session file, logging, the lock."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import stat
from pathlib import Path

import pytest

from tad_tui.config import ConfigError, build_paths, load_settings
from tad_tui.runtime import LOG_FILE, build_source, setup_logging
from tad_tui.telegram.source import SourceError, TelethonSource

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


def test_a_session_file_others_can_read_is_corrected_with_a_warning(tmp_path: Path) -> None:
    settings, paths = _settings(tmp_path, **CREDENTIALS)
    paths.ensure()
    build_source(settings, paths, demo=False).client.session.close()
    session = paths.data_dir / "tad.session"
    os.chmod(session, 0o640)
    warnings: list[str] = []
    build_source(settings, paths, demo=False, warnings=warnings).client.session.close()
    assert stat.S_IMODE(session.stat().st_mode) == 0o600
    assert len(warnings) == 1 and "(mode 0640); it is now 0600" in warnings[0] and str(session) in warnings[0]
    warnings.clear()
    build_source(settings, paths, demo=False, warnings=warnings).client.session.close()
    assert warnings == []


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


# --- the proxy -----------------------------------------------------------------------------------

PROXY_PASSWORD = "pr0xy-s3cret"


def test_the_client_gets_the_configured_proxy_and_logs_it_without_the_password(
    tmp_path: Path, restore_logging: None
) -> None:
    settings, paths = _settings(
        tmp_path, **CREDENTIALS, TAD_PROXY=f"socks5://me:{PROXY_PASSWORD}@proxy.example:1080", LOG_LEVEL="debug"
    )
    setup_logging(settings, paths)
    source = build_source(settings, paths, demo=False)
    try:
        assert source.client._proxy == {
            "proxy_type": "socks5",
            "addr": "proxy.example",
            "port": 1080,
            "rdns": True,
            "username": "me",
            "password": PROXY_PASSWORD,
        }
        logging.getLogger("tad_tui.test").info("settings: %r", settings)
    finally:
        source.client.session.close()
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (paths.logs_dir / LOG_FILE).read_text()
    assert "socks5://me:***@proxy.example:1080" in text
    assert PROXY_PASSWORD not in text


def test_without_a_proxy_the_client_connects_directly(tmp_path: Path) -> None:
    settings, paths = _settings(tmp_path, **CREDENTIALS)
    paths.ensure()
    source = build_source(settings, paths, demo=False)
    assert source.client._proxy is None
    source.client.session.close()


class FakeSocks5:
    """A SOCKS5 proxy on loopback that checks the login, notes where the client wants to go, refuses it.

    So Telethon's real connection code runs through python-socks to a proxy with no network, and
    the test sees what a real proxy would be sent. Connecting on to Telegram is never attempted.
    """

    def __init__(self) -> None:
        self.logins: list[tuple[str, str]] = []
        self.destinations: list[tuple[str, int]] = []
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            version, count = await reader.readexactly(2)
            methods = await reader.readexactly(count)
            assert version == 5 and 2 in methods  # username/password offered
            writer.write(b"\x05\x02")
            _, length = await reader.readexactly(2)
            user = (await reader.readexactly(length)).decode()
            length = (await reader.readexactly(1))[0]
            password = (await reader.readexactly(length)).decode()
            self.logins.append((user, password))
            writer.write(b"\x01\x00")
            _, command, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif kind == 4:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            else:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            port = int.from_bytes(await reader.readexactly(2), "big")
            self.destinations.append((host, port))
            writer.write(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_telegram_is_dialled_through_the_socks5_proxy_with_its_login(
    tmp_path: Path, restore_logging: None
) -> None:
    proxy = FakeSocks5()
    await proxy.start()
    try:
        settings, paths = _settings(
            tmp_path, **CREDENTIALS, TAD_PROXY=f"socks5://tad:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}", LOG_LEVEL="debug"
        )
        setup_logging(settings, paths)
        source = build_source(settings, paths, demo=False)
        assert source.client._proxy is not None  # never dial Telegram itself from a test
        source.client._sender._retries = 0  # one attempt: the proxy refuses every time
        try:
            with pytest.raises(SourceError) as caught:
                await source.start()
        finally:
            source.client.session.close()
    finally:
        await proxy.stop()
    session = source.client.session
    assert proxy.logins == [("tad", PROXY_PASSWORD)]
    assert proxy.destinations == [(session.server_address, session.port)]  # a Telegram data centre
    assert "cannot reach Telegram" in str(caught.value) and PROXY_PASSWORD not in str(caught.value)
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (paths.logs_dir / LOG_FILE).read_text()
    assert f"socks5://tad:***@127.0.0.1:{proxy.port}" in text
    assert PROXY_PASSWORD not in text


# --- what a start costs ------------------------------------------------------------------------


async def test_connecting_asks_telegram_nothing_about_updates(server, source) -> None:
    """tad-tui never follows updates: a start sends no updates.getState / getDifference (two round trips)."""
    asked = {entry.name for entry in server.log}
    assert "GetConfigRequest" in asked and "GetUsersRequest" in asked  # connected, and signed in
    assert not asked & {"GetStateRequest", "GetDifferenceRequest"}
    assert await source.is_authorized()


_LOADED = """
import json, sys
from tad_tui.cli import main
status = main(sys.argv[1:])
heavy = ("telethon", "tortoise", "mutagen", "thefuzz", "textual")
print(json.dumps({"status": status, "loaded": [name for name in heavy if name in sys.modules]}))
"""


def _modules_loaded(*args: str) -> dict:
    import json
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"API_ID", "API_HASH", "TAD_DATA_DIR"}}
    result = subprocess.run([sys.executable, "-c", _LOADED, *args], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_command_imports_only_what_it_needs(tmp_path: Path, demo_config: Path) -> None:
    base = ("--config", str(demo_config), "--demo", "--data-dir", str(tmp_path / "data"))
    scan = _modules_loaded(*base, "scan", "@tad_demo_mixes")
    assert scan == {"status": 0, "loaded": ["telethon", "tortoise"]}  # no tagging, no fuzzy search, no UI
    queue = _modules_loaded(*base, "queue", "--json")
    assert queue == {"status": 0, "loaded": ["tortoise"]}  # read-only: never talks to Telegram
