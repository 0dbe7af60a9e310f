"""Shared fixtures: one demo catalogue per test run, simulated Telegram servers and clients."""

from __future__ import annotations

import fcntl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import textual.constants

from notify_support import Receiver
from tad_tui.telegram.sim.catalogue import Catalogue, load_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource


@pytest.fixture(autouse=True)
def truecolor_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps draw for a truecolor terminal whatever TERM the tests run under (TERM=xterm means 16
    colours to Textual, which changes the cursor row); snapshots are truecolor SVGs."""
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "truecolor")


@pytest.fixture(scope="session")
def demo_catalogue(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Catalogue:
    """The full demo catalogue, generated once per test run (about 8 s) and shared by the xdist
    workers: the first renders it into their common temporary folder while the others wait."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base  # xdist: .../pytest-N/popen-gw0
    folder = shared / "shared-catalogue"
    folder.mkdir(exist_ok=True)
    with (folder / "render.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return load_catalogue(folder / "demo")


@pytest.fixture
def server(demo_catalogue: Catalogue) -> SimulatedTelegram:
    return SimulatedTelegram(demo_catalogue)


@pytest.fixture
async def source(server: SimulatedTelegram) -> AsyncIterator[TelethonSource]:
    client = SimulatedClient(server)
    source = TelethonSource(client)
    await source.start()
    try:
        yield source
    finally:
        await source.stop()


@pytest.fixture
def demo_config(tmp_path: Path, demo_catalogue: Catalogue) -> Path:
    """A config file that points the demo at the shared catalogue and makes the link fast."""
    path = tmp_path / "config.toml"
    path.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 0\nbandwidth_per_connection = 0\npremium = true\nrequest_flood_limit = 0\n')
    return path


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A notification service on 127.0.0.1 (notify_support.py) that keeps what it is sent."""
    service = Receiver()
    try:
        yield service
    finally:
        service.close()
