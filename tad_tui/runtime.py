"""Starting and stopping the engine: lock, store, Telegram, in that order, and back.

Called from the entry point before any App runs (Tortoise keeps its context per asyncio task, so it
must be initialised by the task that will use it, not inside a Textual handler).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from logging.handlers import RotatingFileHandler

from tad_tui.config import ConfigError, Settings
from tad_tui.engine import Engine
from tad_tui.lock import WriterLock
from tad_tui.paths import Paths
from tad_tui.store.db import close_store, open_store
from tad_tui.download.limits import RequestRateLimiter
from tad_tui.telegram.client import TadClient
from tad_tui.telegram.source import TelethonSource

log = logging.getLogger("tad_tui")
LOG_FILE = "tad-tui.log"


def setup_logging(settings: Settings, paths: Paths) -> None:
    """Log to a rotated file in the data dir; never to the terminal the user is reading."""
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(paths.logs_dir / LOG_FILE, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.general.log_level)
    # Telethon logs every reconnect and flood wait at INFO: useful in the file, only from WARNING.
    logging.getLogger("telethon").setLevel(max(logging.WARNING, root.level))


def build_source(settings: Settings, paths: Paths, *, demo: bool) -> TelethonSource:
    source = TelethonSource(_client(settings, paths, demo=demo))
    performance = settings.performance
    source.client.request_limiter = RequestRateLimiter(
        performance.rate_limit_requests_per_second, performance.rate_limit_burst_size
    )
    return source


def _client(settings: Settings, paths: Paths, *, demo: bool) -> TadClient:
    if demo:
        from tad_tui.telegram.sim.demo import demo_client

        return demo_client(settings, paths)
    telegram = settings.telegram
    if not telegram.has_credentials:
        raise ConfigError(
            "Telegram API credentials are not set: get api_id and api_hash at https://my.telegram.org "
            "(API development tools), then set API_ID and API_HASH or [telegram] api_id / api_hash "
            "in config.toml; or try the built-in demo with --demo"
        )
    session = paths.session(telegram.session_name)
    client = TadClient(
        str(session.with_suffix("")),
        telegram.api_id,
        telegram.api_hash,
        flood_sleep_threshold=telegram.flood_sleep_threshold,
        receive_updates=False,
    )
    if session.exists():
        os.chmod(session, 0o600)
    return client


@asynccontextmanager
async def open_engine(
    settings: Settings, paths: Paths, *, demo: bool, writer: bool, connect: bool = True
) -> AsyncIterator[Engine]:
    """The engine for one command or one TUI session.

    ``writer`` commands (anything that talks to Telegram or changes the library) take the data dir's
    lock; read-only ones (search, queue, performance) open the store beside a running writer.
    ``connect=False`` leaves reaching Telegram to the caller (``Engine.connect``): the TUI paints
    first and connects after.
    """
    async with AsyncExitStack() as stack:
        paths.ensure()
        if writer:
            stack.enter_context(WriterLock(paths.lock_file))
        # Built before the store opens its thread: generating the demo catalogue forks workers.
        source = build_source(settings, paths, demo=demo) if writer else None
        await open_store(paths.db)
        stack.push_async_callback(close_store)
        engine = Engine(settings, paths, source)
        if source is not None:
            stack.push_async_callback(source.stop)
        stack.push_async_callback(engine.close)
        if source is not None and connect:
            await engine.connect()
        yield engine
