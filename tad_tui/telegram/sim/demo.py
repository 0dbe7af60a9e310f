"""The built-in demo: the simulated Telegram serving the demo catalogue, no account, no network."""

from __future__ import annotations

import sys

from tad_tui.config import Settings
from tad_tui.paths import Paths
from tad_tui.telegram.sim.catalogue import load_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram


def demo_client(settings: Settings, paths: Paths) -> SimulatedClient:
    root = paths.demo_catalogue_dir
    if not (root / "manifest.json").exists():
        print(f"Generating the demo catalogue in {root} (first run only)…", file=sys.stderr, flush=True)
    server = SimulatedTelegram(load_catalogue(root))
    return SimulatedClient(
        server,
        latency=settings.demo.latency_ms / 1000,
        bandwidth_per_connection=settings.demo.bandwidth_per_connection,
        flood_sleep_threshold=settings.telegram.flood_sleep_threshold,
    )
