"""Transactions a cancelled task cannot leave holding the library.

Tortoise's SQLite ``in_transaction()`` takes the connection's lock, then awaits ``BEGIN``; a task
cancelled during that await (a download paused, stopped by Ctrl+C or the app quitting just as a file
finishes) leaves ``__aenter__`` by the exception, so ``__aexit__`` never runs: the lock stays taken
and every later query of the process waits for it forever (CI saw a download test hang so). Here a
failed or cancelled start is undone at once: the half-begun transaction rolled back, then the lock
released, in a task of its own that a second cancellation cannot stop half-way.

Use ``async with transaction():`` wherever ``in_transaction()`` would go.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import SqliteTransactionContext
from tortoise.connection import get_connections
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)


class _CancelSafeTransaction(SqliteTransactionContext):
    __slots__ = ()

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()  # a cancelled acquire takes nothing (asyncio.Lock's rule)
        token = None
        try:
            await self.ensure_connection()
            token = self.token = get_connections().set(self.connection_name, self.connection)
            await self.connection.begin()
        except BaseException:
            if token is not None:
                get_connections().reset(token)
            undo = asyncio.ensure_future(_roll_back_then_release(self.connection, self._trxlock))
            await asyncio.shield(undo)
            raise
        return self.connection


async def _roll_back_then_release(connection: Any, lock: asyncio.Lock) -> None:
    try:
        raw = connection._connection
        if raw is not None:
            # Queued behind the BEGIN the cancelled task was waiting for: it ends that transaction.
            await raw.rollback()
    except Exception:  # the connection is closing or broken: nothing of ours is left to undo
        log.debug("rolling back a transaction that never started failed", exc_info=True)
    finally:
        lock.release()


def transaction() -> TransactionContext:
    """``in_transaction()`` for the library, safe against cancellation while it starts."""
    context = in_transaction()
    if type(context) is SqliteTransactionContext:  # not nested (that one is a savepoint)
        return _CancelSafeTransaction(context.connection, context._trxlock)
    return context
