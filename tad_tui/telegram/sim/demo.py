"""The built-in demo: the simulated Telegram serving the demo catalogue, no account, no network.

The demo keeps a real Telethon session file in the data dir (``<session_name>.demo.session``, named
apart from a real account's) and the simulated server remembers which demo sessions are signed in
(``demo-telegram.json``), so a ``tad-tui --demo login`` or ``logout`` holds for the next run, as
with a real account. ``[demo] signed_in`` decides whether a data dir's first demo session starts
signed in; ``[demo] password`` gives the simulated account a two-step verification password.
The same state file keeps the schedule of the live channel ``@tad_demo_live`` (a new track every
``[demo] live_interval`` seconds), so its history goes on between runs.
"""

from __future__ import annotations

import atexit
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from tad_tui.config import Settings
from tad_tui.paths import Paths
from tad_tui.telegram.sim.catalogue import CatalogueRender, open_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.limits import AccountLimits
from tad_tui.telegram.sim.live import LiveChannel
from tad_tui.telegram.sim.catalogue.render import Progress
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE, SimulatedTelegram

EXIT_FAILED, EXIT_INTERRUPTED = 1, 130  # as the CLI's
DEMO_ACCOUNT_HINT = f"demo account: phone {DEMO_PHONE}, code {DEMO_LOGIN_CODE}"


class ProgressLine:
    """The catalogue's render progress on stderr. Not on a terminal: a line every few seconds and
    the last one. On a terminal: one line redrawn in place (10 times a second at most) once it is
    ``live``, which ``finish_at_exit`` makes it after the command's own output, so the two never
    share a line; until then the render goes on silently behind the command."""

    def __init__(self, stream: TextIO, root: Path) -> None:
        self.stream = stream
        self.terminal = stream.isatty()
        self.live = not self.terminal
        self._interval = 0.1 if self.terminal else 3.0
        self._last = 0.0
        self._ended = False
        self._latest: Progress | None = None
        self._lock = threading.Lock()
        print(f"Rendering the demo catalogue in {root} (first run only)…", file=stream, flush=True)

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        with self._lock:
            self._latest = progress
            if self._ended or not self.live or (not progress.complete and now - self._last < self._interval):
                return
            self._last = now
            self._ended = progress.complete
            line = f"demo catalogue {progress.line()}"
            try:
                if self.terminal:
                    self.stream.write(f"\r\x1b[2K{line}" + ("\n" if progress.complete else ""))
                else:
                    self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed or gone: the render goes on regardless
                self._ended = True

    def go_live(self) -> None:
        """From now on draw (the command's output is out): at once, then as the render goes."""
        with self._lock:
            self.live, latest = True, self._latest
        if latest is not None:
            self(latest)


def finish_at_exit(rendering: CatalogueRender, line: ProgressLine | None) -> None:
    """A command finishes the catalogue it started before the process ends (its output first);
    Ctrl-C leaves the rest to the next run, which keeps every file already rendered."""
    if rendering.abandoned:  # interrupted (Ctrl-C, SIGTERM): the render stopped with the command
        print("tad-tui: the next run finishes the demo catalogue", file=sys.stderr, flush=True)
        return
    if rendering.finished and rendering.error is None:
        return
    try:
        sys.stdout.flush()
        if line is not None:
            line.go_live()
        rendering.wait()
    except KeyboardInterrupt:
        rendering.stop()
        print("\ntad-tui: interrupted; the next run finishes the demo catalogue", file=sys.stderr, flush=True)
        os._exit(EXIT_INTERRUPTED)
    except Exception as error:  # noqa: BLE001 - one line, never a traceback
        print(f"tad-tui: the demo catalogue could not be rendered: {error}", file=sys.stderr, flush=True)
        os._exit(EXIT_FAILED)


def demo_client(
    settings: Settings, paths: Paths, session: Path, *, in_app: bool = False, receive_updates: bool = False
) -> SimulatedClient:
    """The demo's client (``receive_updates``: Telethon's update loop runs, as for ``watch``). A
    catalogue still to render renders in the background while it serves:
    ``in_app``, the app shows how far (``client.catalogue_progress()``) and quitting leaves the rest
    to the next run; else the progress goes to stderr and the process finishes it before it exits."""
    root = paths.demo_catalogue_dir
    on_progress = None
    if not in_app and not (root / "manifest.json").exists():
        on_progress = ProgressLine(sys.stderr, root)
    state = paths.demo_server_state
    first_run = not state.exists()
    demo = settings.demo
    catalogue = open_catalogue(root, on_progress=on_progress)
    if catalogue.rendering is not None and not in_app:
        atexit.register(finish_at_exit, catalogue.rendering, on_progress)
    server = SimulatedTelegram(
        catalogue,
        authorized=False,
        password=demo.password or None,
        state_file=state,
        other_dcs=demo.other_dcs,
        live=LiveChannel.every(paths.demo_live_dir, demo.live_interval),
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
        receive_updates=receive_updates,
    )
    if first_run and settings.demo.signed_in:
        server.authorize_key(client.session.auth_key.key)
    return client
