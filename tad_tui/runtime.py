"""Starting and stopping the engine: lock, store, Telegram, in that order, and back.

Called from the entry point before any App runs (Tortoise keeps its context per asyncio task, so it
must be initialised by the task that will use it, not inside a Textual handler).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tad_tui import audit
from tad_tui.config import ConfigError, Settings
from tad_tui.lock import WriterLock
from tad_tui.paths import Paths
from tad_tui.redact import ScrubFilter
from tad_tui.store.db import check_store, close_store, open_store

# Telethon (~0.15 s to import) and the engine with Tortoise (~0.15 s) are imported when needed: a
# read-only command needs no Telethon, and a command that connects loads the engine meanwhile.
if TYPE_CHECKING:
    from tad_tui.engine import Engine
    from tad_tui.telegram.client import TadClient
    from tad_tui.telegram.source import TelethonSource

log = logging.getLogger("tad_tui")
LOG_FILE = "tad-tui.log"


def setup_logging(settings: Settings, paths: Paths) -> None:
    """Log to a rotated file in the data dir; never to the terminal the user is reading."""
    paths.ensure()  # the data dir first, so it is created private (0700) and not by the log's mkdir
    handler = RotatingFileHandler(paths.logs_dir / LOG_FILE, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubFilter())  # the notification URLs' tokens, whoever logs them
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.general.log_level)
    # Telethon logs every reconnect and flood wait at INFO: useful in the file, only from WARNING.
    logging.getLogger("telethon").setLevel(max(logging.WARNING, root.level))
    # Apprise logs a webhook's URL and payload, urllib3 each request's path, below WARNING.
    for name in ("apprise", "urllib3", "requests"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def build_source(
    settings: Settings,
    paths: Paths,
    *,
    demo: bool,
    warnings: list[str] | None = None,
    in_app: bool = False,
    receive_updates: bool = False,
) -> TelethonSource:
    """The Telegram source; problems fixed on the way (a session file others could read) go to ``warnings``.

    ``in_app``: the demo catalogue's first render shows its progress in the app, not on stderr.
    ``receive_updates``: Telegram pushes new messages (for following groups); it costs two round
    trips at connect (updates.getState, getDifference), which commands that only ask never pay.
    """
    from tad_tui.download.limits import RequestRateLimiter
    from tad_tui.telegram.source import TelethonSource

    warnings = [] if warnings is None else warnings
    source = TelethonSource(
        _client(settings, paths, demo=demo, warnings=warnings, in_app=in_app, receive_updates=receive_updates)
    )
    performance = settings.performance
    source.client.request_limiter = RequestRateLimiter(
        performance.rate_limit_requests_per_second, performance.rate_limit_burst_size
    )
    return source


def session_file(settings: Settings, paths: Paths, *, demo: bool) -> Path:
    """The Telegram session file in the data dir (the demo's is named apart from a real one)."""
    name = settings.telegram.session_name
    return paths.demo_session(name) if demo else paths.session(name)


def secure_session_file(path: Path) -> str | None:
    """Keep the session file private (0600): create it so, or correct it and say so.

    The file holds the account's authorization key: anyone who can read it is signed in as the
    user. A new file is created empty with mode 0600 before Telethon opens it (SQLite takes an
    empty file as a new database, and gives its journal the database's mode), so it is never
    readable by others, not even for a moment. Returns a one-line warning when it had to correct.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        os.close(fd)
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return None
    try:
        os.chmod(path, 0o600)
    except OSError as error:
        reason = error.strerror or str(error)
        audit.record("session_mode_corrected", "failed", reason, path=str(path), old_mode=f"{mode:04o}")
        return (
            f"the Telegram session file {path} can be read by other users (mode {mode:04o}) and could not "
            f"be made private ({error.strerror or error}): fix it with chmod 600"
        )
    audit.record("session_mode_corrected", path=str(path), old_mode=f"{mode:04o}", new_mode="0600")
    return (
        f"the Telegram session file {path} could be read by other users (mode {mode:04o}); it is now 0600. "
        "If someone may have copied it, run `tad-tui logout` and sign in again"
    )


def _client(
    settings: Settings, paths: Paths, *, demo: bool, warnings: list[str], in_app: bool, receive_updates: bool
) -> TadClient:
    session = session_file(settings, paths, demo=demo)
    if demo:
        from tad_tui.telegram.sim.demo import demo_client

        _note(warnings, secure_session_file(session))
        return demo_client(settings, paths, session, in_app=in_app, receive_updates=receive_updates)
    telegram = settings.telegram
    if not telegram.has_credentials:
        raise ConfigError(
            "Telegram API credentials are not set: get api_id and api_hash at https://my.telegram.org "
            "(API development tools), then set API_ID and API_HASH or [telegram] api_id / api_hash "
            "in config.toml; or try the built-in demo with --demo"
        )
    _note(warnings, secure_session_file(session))
    from tad_tui.telegram.client import TadClient

    proxy = telegram.proxy_url
    if proxy is not None:
        log.info("reaching Telegram through the proxy %s", proxy.redacted)
    return TadClient(
        str(session),
        telegram.api_id,
        telegram.api_hash,
        flood_sleep_threshold=telegram.flood_sleep_threshold,
        receive_updates=receive_updates,
        proxy=proxy.telethon() if proxy is not None else None,
    )


def _note(warnings: list[str], warning: str | None) -> None:
    if warning is not None:
        log.warning("%s", warning)
        warnings.append(warning)


@asynccontextmanager
async def open_engine(
    settings: Settings,
    paths: Paths,
    *,
    demo: bool,
    writer: bool,
    connect: bool = True,
    print_warnings: bool = True,
    in_app: bool = False,
    receive_updates: bool = False,
) -> AsyncIterator[Engine]:
    """The engine for one command or one TUI session.

    ``writer`` commands (anything that talks to Telegram or changes the library) take the data dir's
    lock; read-only ones (search, queue, performance) open the store beside a running writer.
    ``connect=False`` leaves reaching Telegram to the caller (``Engine.connect``): the TUI paints
    first and connects after. Start-up warnings (already in the log file) are kept in
    ``engine.startup_warnings``; ``print_warnings`` also writes each as one line to stderr, for the
    CLI (the TUI shows them as notifications instead). The demo catalogue's first render runs
    while the engine works: a command (not ``in_app``) shows its progress on stderr and finishes it
    before the process exits; the app shows it itself and leaves the rest to the next run.
    """
    async with AsyncExitStack() as stack:
        paths.ensure()
        if writer:
            stack.enter_context(WriterLock(paths.lock_file))
        # A database tad-tui must refuse is refused now, not after (or beside) the demo catalogue's render.
        check_store(paths.db)
        warnings: list[str] = []
        source = (
            build_source(settings, paths, demo=demo, warnings=warnings, in_app=in_app, receive_updates=receive_updates)
            if writer
            else None
        )
        if print_warnings:
            for warning in warnings:
                print(f"tad-tui: warning: {warning}", file=sys.stderr)
        connecting: asyncio.Task[None] | None = None
        if source is not None:
            stack.push_async_exit(_leave_catalogue_if_interrupted(source))
            stack.push_async_callback(source.stop)
            if connect:
                # Telegram's round trips (connection, config, the account) go on while the engine's
                # modules load and the store opens. A task of its own, not gather(): Tortoise keeps
                # its context per task, so the store must open in this one.
                connecting = asyncio.create_task(source.start())
                stack.push_async_callback(_settle, connecting)
        engine_module = await _import_engine(beside=connecting)
        await open_store(paths.db)
        stack.push_async_callback(close_store)
        engine = engine_module.Engine(settings, paths, source)
        engine.startup_warnings.extend(warnings)
        stack.push_async_callback(engine.close)
        if connecting is not None:
            await connecting
            await engine.connect()  # connected already: this only marks the engine online
        if source is not None:  # again, to run first: engine.close waits for downloads that wait for the render
            stack.push_async_exit(_leave_catalogue_if_interrupted(source))
        yield engine


def _leave_catalogue_if_interrupted(source: Any) -> Any:
    """An exit callback: a command stopped by Ctrl-C or SIGTERM (its task cancelled) at any point
    stops the demo catalogue's render too, leaving the rest to the next run."""

    async def leave(exc_type: type[BaseException] | None, *_: object) -> bool:
        if exc_type is not None and issubclass(exc_type, (asyncio.CancelledError, KeyboardInterrupt)):
            leave_catalogue = getattr(source.client, "leave_catalogue", None)
            if leave_catalogue is not None:
                leave_catalogue()
        return False

    return leave


async def _import_engine(*, beside: asyncio.Task[None] | None) -> Any:
    """``tad_tui.engine``; while ``beside`` (the connection) runs, in a thread with the scan it will
    need, so the connection's replies are read as they come instead of after ~0.15 s of imports."""
    if beside is None:
        return importlib.import_module("tad_tui.engine")
    await asyncio.sleep(0)  # let the connection send its first packet

    def load() -> Any:
        importlib.import_module("tad_tui.library.scan")
        return importlib.import_module("tad_tui.engine")

    return await asyncio.to_thread(load)


async def _settle(task: asyncio.Task[None]) -> None:
    """Leaving early (the store refused, an error): stop a connection still being made."""
    if not task.done():
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
