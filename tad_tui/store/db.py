"""Opening and closing the library database: checks, migrations, Tortoise set-up.

The entry point calls ``await open_store(path)`` before any App runs and ``await close_store()``
in ``finally``: Tortoise 1.x keeps its context per asyncio task; tasks created later inherit it.

New schema migration (after changing ``models.py``), from the repository root:
    /work/venv/bin/python -m tortoise -c tad_tui.store.db.TORTOISE_ORM makemigrations models
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib
import logging
import os
import pkgutil
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tad_tui import audit

if TYPE_CHECKING:
    from tortoise.context import TortoiseContext

# Tortoise is imported where the store opens, not here: the checks and error words of this module
# are used at start-up, and a command imports Tortoise (~0.1 s) while it connects to Telegram.

log = logging.getLogger(__name__)

APP_LABEL: Final = "models"
MODELS_MODULE: Final = "tad_tui.store.models"
MIGRATIONS_MODULE: Final = "tad_tui.store.migrations"
MIGRATIONS_TABLE: Final = "tortoise_migrations"
BUSY_TIMEOUT_MS: Final = 5000
OPEN_WAIT_SECONDS: Final = 120.0  # how long to wait for another process checking and migrating the library
SQLITE_MAGIC: Final = b"SQLite format 3\x00"
WAL_HEADER_BYTES: Final = 32  # a write-ahead log this short holds no page
TRUNCATION_CHECKS: Final = 3  # looks at a short file before it is called truncated

_TABLES_QUERY: Final = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
)

_open_context: TortoiseContext | None = None


class StoreError(Exception):
    """The database cannot be used; the message is one line meant for a person."""


DATABASE_BUSY: Final = "the library database is locked by another program"


def database_busy(error: BaseException) -> bool:
    """True when a query failed because another connection held SQLite's write lock past busy_timeout."""
    text = str(error).lower()
    return "database is locked" in text or "database is busy" in text


def tortoise_config(db_path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> dict[str, Any]:
    """The one Tortoise config of tad-tui: every connection gets the same PRAGMAs."""
    return {
        "connections": {
            "default": {
                "engine": "tortoise.backends.sqlite",
                "credentials": {
                    "file_path": str(db_path),
                    # First, so that the journal_mode switch below already waits on a lock.
                    "busy_timeout": busy_timeout_ms,
                    # WAL: read-only commands (search, queue) read beside the running writer.
                    "journal_mode": "WAL",
                    # NORMAL is durable enough in WAL mode and avoids an fsync per commit.
                    "synchronous": "NORMAL",
                    "foreign_keys": "ON",
                },
            }
        },
        "apps": {
            APP_LABEL: {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For Tortoise's own CLI only (makemigrations reads models, not a database).
TORTOISE_ORM: Final = tortoise_config(Path(":memory:"))


async def open_store(db_path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """Check the file (read-only), initialise Tortoise on it, then apply pending migrations.

    Raises StoreError (one line, naming the file) for a corrupt, foreign, newer or locked database;
    each refusal is a security event in the audit log.
    """
    try:
        await _open_store(Path(db_path), busy_timeout_ms)
    except StoreError as error:
        audit.record("open_database", "refused", str(error), path=str(db_path))
        raise


def check_store(db_path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """The read-only checks of ``open_store`` alone, without Tortoise and without threads.

    For a caller about to do long work before opening the library (the demo's first run renders its
    catalogue): a corrupt, foreign or newer database is refused at once, not after that work.
    Blocking (at most a few reads, or waiting for another process checking the same library).
    """
    db_path = Path(db_path)
    try:
        if not db_path.exists():
            return
        folder = _lock_folder(db_path.parent)
        try:
            _check_existing(db_path, busy_timeout_ms)
        finally:
            fcntl.flock(folder, fcntl.LOCK_UN)
            os.close(folder)
    except StoreError as error:
        audit.record("open_database", "refused", str(error), path=str(db_path))
        raise


async def _open_store(db_path: Path, busy_timeout_ms: int) -> None:
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder of {db_path}: {exc.strerror}") from exc
    folder = await asyncio.to_thread(_lock_folder, db_path.parent)
    try:
        await asyncio.to_thread(_check_existing, db_path, busy_timeout_ms)
        await _init_and_migrate(db_path, busy_timeout_ms)
    finally:
        fcntl.flock(folder, fcntl.LOCK_UN)
        os.close(folder)


def _lock_folder(folder: Path) -> int:
    """Hold an exclusive ``flock`` on the database's folder while the library is checked and migrated.

    Read-only commands open the library beside a writer: two processes opening it at once (a
    download and ``performance`` started with it; the first start after an upgrade) would otherwise
    both apply the same migration, and one of them fail, or find the other's half-made schema and
    refuse it. The folder, not a lock file, so nothing is created beside a file tad-tui refuses.
    Blocking: run it in a thread.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise StoreError(f"cannot open the folder {folder}: {exc.strerror}") from exc
    deadline = time.monotonic() + OPEN_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise StoreError(
                    f"another tad-tui has been opening the library in {folder} for {OPEN_WAIT_SECONDS:.0f} s; "
                    "try again when it is done"
                ) from None
            time.sleep(0.02)
        except OSError:  # a file system without flock: open it unguarded, as before
            return fd


async def _init_and_migrate(db_path: Path, busy_timeout_ms: int) -> None:
    from tortoise import Tortoise
    from tortoise.config import TortoiseConfig
    from tortoise.migrations.executor import MigrationExecutor

    global _open_context
    config = TortoiseConfig.resolve_args(tortoise_config(db_path, busy_timeout_ms=busy_timeout_ms))
    try:
        context = await Tortoise.init(config=config)
        client = context.db()
        # Connect before any query: the migrate() API connects lazily inside Tortoise's per-query
        # lock, and a connect that fails there (locked or bad file) leaves the lock held forever.
        await client.create_connection(with_db=True)
        # The same executor tortoise.migrations.api.migrate() runs, on this connection.
        await MigrationExecutor(client, config.to_dict()["apps"]).migrate()
        _, rows = await client.execute_query("PRAGMA journal_mode")
    except Exception as exc:
        await _close_current()
        raise _explain(db_path, exc, busy_timeout_ms) from exc
    except BaseException:  # cancelled (Ctrl-C as the library opens): its thread would keep the process alive
        await _close_current()
        raise
    if rows and str(rows[0][0]).lower() != "wal":
        log.warning("%s: WAL journal unavailable; readers will wait for the writer", db_path)
    _open_context = context


async def close_store() -> None:
    """Close every connection (and so every aiosqlite thread) that open_store opened."""
    global _open_context
    context, _open_context = _open_context, None
    if context is not None:
        await context.close_connections()
    await _close_current()


@asynccontextmanager
async def opened_store(
    db_path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> AsyncIterator[None]:
    """``async with opened_store(path):`` — open_store, then close_store whatever happens."""
    await open_store(db_path, busy_timeout_ms=busy_timeout_ms)
    try:
        yield
    finally:
        await close_store()


async def _close_current() -> None:
    from tortoise import Tortoise

    # The current task's context: after a failed open it may hold a half-opened connection.
    await Tortoise.close_connections()


def known_migrations() -> set[str]:
    """Names of the migrations shipped with this version (the loader's own naming rule)."""
    package = importlib.import_module(MIGRATIONS_MODULE)
    return {
        name
        for _, name, is_pkg in pkgutil.iter_modules(package.__path__)
        if not is_pkg and name[0] not in "_~"
    }


def _check_existing(db_path: Path, busy_timeout_ms: int) -> None:
    """Refuse a file tad-tui must not migrate, reading it only (never writing, never renaming)."""
    if not db_path.exists():
        return
    if not db_path.is_file():
        raise StoreError(f"{db_path} is not a file; point the database path at a file")
    for attempt in range(TRUNCATION_CHECKS):
        size, header = _size_and_header(db_path)
        if size == 0:
            return  # SQLite treats an empty file as a new database
        if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
            raise _unusable(db_path, "it is not an SQLite database")
        expected = _expected_size(header)
        if not expected or size >= expected or _wal_holds_frames(db_path):
            break
        # Short, and no write-ahead log to complete it. Another process's checkpoint writes page 1
        # (the new page count) before the pages after it: look again before calling it truncated.
        if attempt == TRUNCATION_CHECKS - 1:
            raise _unusable(db_path, f"truncated: {size} of {expected} bytes")
        time.sleep(0.1)
    uri = f"{db_path.resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=busy_timeout_ms / 1000)) as conn:
            tables = {row[0] for row in conn.execute(_TABLES_QUERY)}
            applied: set[str] = set()
            if MIGRATIONS_TABLE in tables:
                query = f"SELECT name FROM {MIGRATIONS_TABLE} WHERE app = ?"  # nosec B608
                applied = {row[0] for row in conn.execute(query, (APP_LABEL,))}
    except sqlite3.Error as exc:
        raise _explain(db_path, exc, busy_timeout_ms) from exc
    if not applied and tables - {MIGRATIONS_TABLE}:
        raise _unusable(db_path, "it holds tables of another program")
    if unknown := sorted(applied - known_migrations()):
        raise StoreError(
            f"{db_path} was written by a newer tad-tui (unknown migrations: {', '.join(unknown)}); "
            "upgrade tad-tui, or move the file away (keep a backup) to start a new library"
        )


def _size_and_header(db_path: Path) -> tuple[int, bytes]:
    try:
        size = db_path.stat().st_size
        with db_path.open("rb") as fh:
            return size, fh.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read the database {db_path}: {exc.strerror}") from exc


def _wal_holds_frames(db_path: Path) -> bool:
    """True when a write-ahead log beside the file holds pages: SQLite reads those before the main
    file's, so a main file shorter than its header says is a checkpoint under way (or one a killed
    process left), not damage."""
    try:
        return os.path.getsize(f"{db_path}-wal") > WAL_HEADER_BYTES
    except OSError:
        return False


def _expected_size(header: bytes) -> int:
    """Bytes the header says the file holds, 0 when the header's page count is not valid."""
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The page count is trusted only when written by the same change as the header (SQLite's rule).
    if header[92:96] != header[24:28]:
        return 0
    return page_size * pages


def _unusable(db_path: Path, why: str) -> StoreError:
    return StoreError(
        f"{db_path} is corrupt or not a tad-tui database ({why}); tad-tui left it untouched: "
        "move it away (keep a backup) and start again"
    )


def _explain(db_path: Path, exc: BaseException, busy_timeout_ms: int) -> StoreError:
    """Turn an SQLite/Tortoise failure at open time into a StoreError a person can act on."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreError(
            f"{db_path} is locked (busy for more than {busy_timeout_ms} ms) by another program, "
            "probably another tad-tui; close it or try again"
        )
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return _unusable(db_path, text)
    if "unable to open" in lowered or "readonly" in lowered or "permission" in lowered:
        return StoreError(f"cannot open the database {db_path}: {text}")
    return StoreError(f"cannot open the database {db_path}: {type(exc).__name__}: {text}")
