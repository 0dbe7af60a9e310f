"""The engine facade: the only thing the TUI and the CLI talk to.

It owns no event loop of its own: whoever drives it (Textual's app, or ``asyncio.run`` in the CLI)
runs Telethon, the store and everything else on one loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from tad_tui.config import Settings
from tad_tui.library.scan import ScanProgress, ScanResult, group_info, scan_group, upsert_groups
from tad_tui.paths import Paths
from tad_tui.store.models import TelegramGroup
from tad_tui.telegram.source import GroupInfo, Source, SourceError


@dataclass(frozen=True)
class GroupSummary:
    id: int
    title: str
    username: str | None
    kind: str
    audio_count: int
    last_checked: datetime | None

    @classmethod
    def from_row(cls, row: TelegramGroup) -> GroupSummary:
        return cls(row.group_id, row.title, row.username, str(row.kind), row.audio_count, row.last_checked)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "username": self.username,
            "kind": self.kind,
            "audio_count": self.audio_count,
            "last_checked": self.last_checked.isoformat() if self.last_checked else None,
        }


class Engine:
    def __init__(self, settings: Settings, paths: Paths, source: Source | None) -> None:
        self.settings = settings
        self.paths = paths
        self._source = source

    @property
    def source(self) -> Source:
        if self._source is None:
            raise SourceError("this command does not talk to Telegram")
        return self._source

    async def list_groups(self, *, refresh: bool = True) -> list[GroupSummary]:
        """The account's groups and channels; ``refresh`` asks Telegram first, else the library only."""
        if refresh:
            infos = await self.source.list_groups()
            rows = await upsert_groups(infos)
        else:
            rows = await TelegramGroup.all().order_by("title")
        return [GroupSummary.from_row(row) for row in rows]

    async def resolve_group(self, key: str) -> GroupInfo:
        """A group by ``@username``, numeric id or exact title: the library first, then Telegram."""
        key = key.strip()
        condition = Q(title=key)
        if key.lstrip("-").isdigit():
            condition = Q(group_id=int(key)) | Q(group_id=int("-100" + key.lstrip("-")))
        elif key.startswith("@"):
            condition = Q(username__iexact=key[1:])
        row = await TelegramGroup.filter(condition).first()
        if row is not None and (row.access_hash or row.kind == "chat"):
            return group_info(row)
        return await self.source.resolve_group(key)

    async def scan(self, key: str, *, on_progress: Callable[[ScanProgress], None] | None = None) -> ScanResult:
        info = await self.resolve_group(key)
        return await scan_group(self.source, info, on_progress=on_progress)
