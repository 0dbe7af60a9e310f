"""The built-in demo: the simulated Telegram serving the demo catalogue, no account, no network.

The demo keeps a real Telethon session file in the data dir (``<session_name>.demo.session``, named
apart from a real account's) and the simulated server remembers which demo sessions are signed in
(``demo-telegram.json``), so a ``tad-tui --demo login`` or ``logout`` holds for the next run, as
with a real account. ``[demo] signed_in`` decides whether a data dir's first demo session starts
signed in; ``[demo] password`` gives the simulated account a two-step verification password.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from tad_tui.config import Settings
from tad_tui.paths import Paths
from tad_tui.telegram.sim.catalogue import load_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.limits import AccountLimits
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE, SimulatedTelegram

DEMO_ACCOUNT_HINT = f"demo account: phone {DEMO_PHONE}, code {DEMO_LOGIN_CODE}"


def demo_client(settings: Settings, paths: Paths, session: Path) -> SimulatedClient:
    root = paths.demo_catalogue_dir
    if not (root / "manifest.json").exists():
        print(f"Generating the demo catalogue in {root} (first run only)…", file=sys.stderr, flush=True)
    state = paths.demo_server_state
    first_run = not state.exists()
    demo = settings.demo
    server = SimulatedTelegram(
        load_catalogue(root),
        authorized=False,
        password=demo.password or None,
        state_file=state,
        other_dcs=demo.other_dcs,
        limits=AccountLimits(
            premium=demo.premium,
            download_limit=demo.account_download_limit,
            requests_per_second=demo.request_flood_limit,
            server_error_rate=demo.server_error_rate,
            drop_rate=demo.connection_drop_rate,
            seed=secrets.randbits(32),
        ),
    )
    client = SimulatedClient(
        server,
        str(session),
        latency=settings.demo.latency_ms / 1000,
        bandwidth_per_connection=settings.demo.bandwidth_per_connection,
        flood_sleep_threshold=settings.telegram.flood_sleep_threshold,
    )
    if first_run and settings.demo.signed_in:
        server.authorize_key(client.session.auth_key.key)
    return client
