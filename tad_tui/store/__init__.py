"""Persistence: Tortoise models, built-in migrations and the FTS5 search index.

Names are loaded on first use: importing Tortoise costs about 0.1 s, which ``tad-tui --help`` and
the other quick commands should not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tad_tui.store.db import StoreError, close_store, open_store, opened_store
    from tad_tui.store.models import (
        AudioFile,
        DownloadBatch,
        FileStatus,
        Follow,
        GroupKind,
        Priority,
        QueueEntry,
        QueueState,
        TelegramGroup,
    )
    from tad_tui.store.ranks import RANK_GAP, move_entry, next_rank, rank_between

_EXPORTS: dict[str, str] = {
    "StoreError": "tad_tui.store.db",
    "open_store": "tad_tui.store.db",
    "close_store": "tad_tui.store.db",
    "opened_store": "tad_tui.store.db",
    "AudioFile": "tad_tui.store.models",
    "DownloadBatch": "tad_tui.store.models",
    "FileStatus": "tad_tui.store.models",
    "Follow": "tad_tui.store.models",
    "GroupKind": "tad_tui.store.models",
    "Priority": "tad_tui.store.models",
    "QueueEntry": "tad_tui.store.models",
    "QueueState": "tad_tui.store.models",
    "TelegramGroup": "tad_tui.store.models",
    "RANK_GAP": "tad_tui.store.ranks",
    "move_entry": "tad_tui.store.ranks",
    "next_rank": "tad_tui.store.ranks",
    "rank_between": "tad_tui.store.ranks",
}

__all__ = [
    "RANK_GAP",
    "AudioFile",
    "DownloadBatch",
    "FileStatus",
    "Follow",
    "GroupKind",
    "Priority",
    "QueueEntry",
    "QueueState",
    "StoreError",
    "TelegramGroup",
    "close_store",
    "move_entry",
    "next_rank",
    "open_store",
    "opened_store",
    "rank_between",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
