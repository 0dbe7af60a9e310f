"""Following groups: their new audio is put into the library and the queue as it is posted.

A follow (``store.Follow``) keeps, per group, how new audio is queued (a match in the search
language, a priority, a folder, a template) and ``last_message_id``: the audio after it has not yet
been looked at. The group's scan cursor (``TelegramGroup.last_message_id``) says up to which message
the library holds every audio message; a follow queues what lies between the two.

What moves the cursor while tad-tui runs (``Follower``):

- a message Telegram pushes (Telethon's update handling): if it is the next message after the
  cursor, it is stored at once (no request); if messages lie between (an update was lost, Telegram
  answered a gap with "too long", or the posts in between were not audio), the group is scanned
  from the cursor first — a newer-than search, one request for a quiet gap — so nothing is missed;
- on start, after each reconnection and every ``[follow] check_interval`` seconds: a newer-than scan
  of each followed group (what was posted while nothing ran, or what Telegram did not push).

Each audio message is stored once (by group and message id) and queued once; a file already
downloaded elsewhere (same document) is not queued again. An edit that adds audio to a message is
new audio; a deleted message's download is cancelled if it has not finished (Telegram no longer
serves it); a downloaded file is never deleted.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tad_tui.download.events import NewAudio, Notice
from tad_tui.download.scheduler import ACTIVE
from tad_tui.library.scan import group_info, scan_group, store_new, upsert_group
from tad_tui.library.search.query import SearchFilters, parse_query
from tad_tui.store import AudioFile, FileStatus, Follow, Priority, QueueEntry, QueueState, TelegramGroup
from tad_tui.store.transactions import transaction
from tad_tui.telegram.source import GroupInfo, MessageUpdate, SourceError

if TYPE_CHECKING:
    from tad_tui.engine import Engine

log = logging.getLogger(__name__)

RECONNECT_FIRST_S = 1.0  # after the connection is lost for good, the first new attempt…
RECONNECT_MOST_S = 60.0  # …then doubling up to this, with jitter


class FollowError(ValueError):
    """A follow that cannot be made (a bad match), in words."""


@dataclass(frozen=True)
class FollowInfo:
    """A followed group, as the CLI and the TUI show it."""

    group_id: int
    title: str
    username: str | None
    match: str | None
    priority: str  # "low", "normal", "high" or "critical"
    output_dir: str | None
    filename_template: str | None
    last_message_id: int
    last_new_title: str | None
    last_new_at: datetime | None
    created_at: datetime | None


def check_match(match: str | None) -> str | None:
    """``match`` cleaned, or FollowError if the search language cannot read all of it."""
    if match is None or not match.strip():
        return None
    parsed = parse_query(match)
    if parsed.hints:  # a follow keeps its match for good: all of it must be understood
        words = (hint.removesuffix("; ignored").replace(", searched as text", "") for hint in parsed.hints)
        raise FollowError("--match " + "; ".join(words))
    if not parsed.words and parsed.filters == SearchFilters():
        raise FollowError(f"--match {match!r} has no words or filters")
    return match.strip()


def follow_info(row: Follow, group: TelegramGroup) -> FollowInfo:
    return FollowInfo(
        group_id=group.group_id,
        title=group.title,
        username=group.username,
        match=row.match,
        priority=Priority(row.priority).name.lower(),
        output_dir=row.output_dir,
        filename_template=row.filename_template,
        last_message_id=row.last_message_id,
        last_new_title=row.last_new_title,
        last_new_at=row.last_new_at,
        created_at=row.created_at,
    )


async def follows() -> list[FollowInfo]:
    rows = await Follow.all().select_related("group").order_by("id")
    return [follow_info(row, row.group) for row in rows]


async def save_follow(
    info: GroupInfo,
    *,
    match: str | None,
    priority: Priority,
    output_dir: Path | None,
    filename_template: str | None,
) -> tuple[FollowInfo, bool]:
    """Follow the group (already scanned: what it holds now is not new), or change how it is
    followed; returns the follow and whether it is new."""
    async with transaction():
        group = await upsert_group(info)
        row = await Follow.get_or_none(group_id=group.group_id)
        created = row is None
        if row is None:
            row = Follow(group_id=group.group_id, last_message_id=group.last_message_id)
        row.match = check_match(match)
        row.priority = priority
        row.output_dir = str(output_dir) if output_dir is not None else None
        row.filename_template = filename_template
        await row.save()
    return follow_info(row, group), created


async def delete_follow(group_id: int) -> bool:
    return bool(await Follow.filter(group_id=group_id).delete())


class Follower:
    """Keeps the followed groups' new audio flowing into the queue while the app or ``watch`` runs."""

    def __init__(self, engine: Engine, *, check_interval: float) -> None:
        self.engine = engine
        self.check_interval = check_interval
        self._locks: dict[int, asyncio.Lock] = {}
        self._stops: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._context = contextvars.copy_context()

    # ---- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for new messages, then catch up on every followed group (in that order: a post
        that arrives during the catch-up is not missed)."""
        source = self.engine.source
        # Telethon calls the handlers from its update loop's task, which began before the store
        # opened: Tortoise keeps its context per task, so the work runs in a task of this context.
        self._context = contextvars.copy_context()
        self._stops.append(source.watch_messages(self._on_pushed))
        self._stops.append(source.watch_reconnects(self._on_reconnect))
        await self.catch_up_all()
        if self.check_interval > 0:
            self._spawn(self._check_every_interval())

    async def stop(self) -> None:
        for stop in self._stops:
            stop()
        self._stops.clear()
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stay_connected(self) -> None:
        """Until cancelled: when the connection is lost for good (Telethon's own reconnection gave
        up), connect again with a growing delay, then catch up on what was missed."""
        source = self.engine.source
        delay = RECONNECT_FIRST_S
        while True:
            await source.wait_disconnected()
            while True:
                wait = delay * random.uniform(0.8, 1.2)
                log.warning("lost the connection to Telegram; connecting again in %.0f s", wait)
                self.engine.events.publish(
                    Notice(f"Lost the connection to Telegram; trying again in {wait:.0f} s", title="Following", warning=True)
                )
                await asyncio.sleep(wait)
                try:
                    await source.start()
                except SourceError as error:
                    log.info("still no connection: %s", error)
                    delay = min(RECONNECT_MOST_S, delay * 2)
                    continue
                break
            delay = RECONNECT_FIRST_S
            self.engine.events.publish(Notice("Connected to Telegram again; catching up"))
            await self.catch_up_all()

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine, context=self._context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _on_pushed(self, update: MessageUpdate) -> None:
        await self._spawn(self.on_update(update))

    async def _check_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            await self.catch_up_all()

    async def _on_reconnect(self) -> None:
        self._spawn(self.catch_up_all())

    # ---- catching up ----------------------------------------------------------------------------

    async def catch_up_all(self) -> int:
        """A newer-than scan of each followed group, then its new audio queued; returns how many
        files were queued. A group that cannot be scanned now is said and tried again next time."""
        queued = 0
        for row in await Follow.all().select_related("group"):
            try:
                queued += await self.catch_up(row.group)
            except (SourceError, OSError, ConnectionError) as error:
                text = f"{row.group.title}: could not look for new audio: {error}"
                log.warning("%s", text)
                self.engine.events.publish(Notice(text, title="Following", warning=True))
        return queued

    async def catch_up(self, group: TelegramGroup) -> int:
        async with self._lock(group.group_id):
            await scan_group(self.engine.source, group_info(group))
            return await self._queue_new(group.group_id)

    # ---- live updates ---------------------------------------------------------------------------

    async def on_update(self, update: MessageUpdate) -> None:
        follow = await Follow.get_or_none(group_id=update.group_id).select_related("group")
        if follow is None:
            return
        if update.kind == "deleted":
            await self._on_deleted(update)
            return
        async with self._lock(update.group_id):
            group = await TelegramGroup.get(group_id=update.group_id)
            (message_id,) = update.message_ids
            if message_id <= group.last_message_id:
                if update.kind != "edited" or update.audio is None:
                    return  # seen already (a catch-up got there first), or an edit of no interest
                await self._store(group, update, advance=False)  # audio added to an older message
            elif message_id == group.last_message_id + 1:
                await self._store(group, update, advance=True)
            elif message_id > group.last_message_id:  # messages between: scan them rather than guess
                await scan_group(self.engine.source, group_info(group))
                group = await TelegramGroup.get(group_id=update.group_id)
                if update.audio is not None:
                    await self._store(group, update, advance=False)
                if group.last_message_id < message_id:  # the scan saw nothing newer: the gap held no audio
                    group.last_message_id = message_id
                    await group.save(update_fields=["last_message_id"])
            await self._queue_new(update.group_id, edited=update if update.kind == "edited" else None)

    async def _store(self, group: TelegramGroup, update: MessageUpdate, *, advance: bool) -> None:
        audio = update.audio
        if audio is not None and audio.topic_id is not None and audio.topic_title is None:
            audio = replace(audio, topic_title=await self._topic_title(group, audio.topic_id))
        async with transaction():
            if audio is not None:
                await store_new(group, [audio])
            if advance:
                group.last_message_id = max(group.last_message_id, *update.message_ids)
                group.audio_count = await AudioFile.filter(group_id=group.group_id).count()
                await group.save(update_fields=["last_message_id", "audio_count"])

    async def _topic_title(self, group: TelegramGroup, topic_id: int) -> str | None:
        """A forum topic's title: as the library knows it, or as Telegram lists it (a topic opened
        since the last scan); None when neither can tell (the track is filed under the id alone)."""
        known = await AudioFile.filter(group_id=group.group_id, topic_id=topic_id, topic_title__isnull=False).first()
        if known is not None:
            return known.topic_title
        try:
            topics = await self.engine.source.list_topics(group_info(group))
        except (SourceError, OSError, ConnectionError) as error:
            log.warning("%s: the title of topic %d is unknown: %s", group.title, topic_id, error)
            return None
        return next((topic.title for topic in topics if topic.id == topic_id), None)

    async def _on_deleted(self, update: MessageUpdate) -> None:
        rows = await AudioFile.filter(group_id=update.group_id, message_id__in=list(update.message_ids))
        for row in rows:
            entry = await QueueEntry.get_or_none(audio_id=row.pk)
            if entry is not None and entry.state in (QueueState.QUEUED, QueueState.WAITING, QueueState.PAUSED):
                await self.engine.cancel(entry.pk, audit=False)
                log.info("message %s of %s was deleted on Telegram: its download is cancelled", row.message_id, update.group_id)

    # ---- queueing -------------------------------------------------------------------------------

    async def _queue_new(self, group_id: int, *, edited: MessageUpdate | None = None) -> int:
        """Queue the group's audio after the follow's last message (and an edited message's),
        as the follow says; the follow then starts after the group's cursor."""
        follow = await Follow.get_or_none(group_id=group_id).select_related("group")
        if follow is None:  # unfollowed meanwhile
            return 0
        group = follow.group
        rows = list(
            await AudioFile.filter(
                group_id=group_id, message_id__gt=follow.last_message_id, message_id__lte=group.last_message_id
            ).order_by("message_id")
        )
        if edited is not None and edited.message_ids[0] <= follow.last_message_id:
            rows += await AudioFile.filter(group_id=group_id, message_id__in=list(edited.message_ids))
        chosen = await self._worth_queueing(follow, rows)
        if chosen:
            enqueued = await self.engine.enqueue(
                [row.pk for row in chosen],
                priority=Priority(follow.priority),
                batch_name=f"{group.title} (new)" if len(chosen) > 1 else None,
                output_dir=Path(follow.output_dir) if follow.output_dir else None,
                filename_template=follow.filename_template,
            )
            queued = set(await QueueEntry.filter(id__in=enqueued.entry_ids).values_list("audio_id", flat=True))
            for row in chosen:
                if row.pk in queued:
                    self.engine.events.publish(NewAudio(group.group_id, group.title, row.pk, row.file_id, _name(row)))
            follow.last_new_title = _name(chosen[-1])
            follow.last_new_at = datetime.now(UTC)
        follow.last_message_id = max(follow.last_message_id, group.last_message_id)
        await follow.save(update_fields=["last_message_id", "last_new_title", "last_new_at"])
        return len(chosen)

    async def _worth_queueing(self, follow: Follow, rows: Sequence[AudioFile]) -> list[AudioFile]:
        """The rows the follow's match takes whose document is neither downloaded here already nor
        queued (from this group or another: the same file posted twice is one file)."""
        if not rows:
            return []
        if follow.match:
            matched = await self.engine.matching_tracks(follow.match, [row.pk for row in rows])
            rows = [row for row in rows if row.pk in matched]
        documents = [row.file_unique_id for row in rows]
        done = set(
            await AudioFile.filter(file_unique_id__in=documents, status=FileStatus.COMPLETED).values_list("file_unique_id", flat=True)
        )
        queued = set(
            await QueueEntry.filter(audio__file_unique_id__in=documents, state__in=ACTIVE).values_list(
                "audio__file_unique_id", flat=True
            )
        )
        return [row for row in rows if row.file_unique_id not in done | queued and row.status != FileStatus.COMPLETED]

    def _lock(self, group_id: int) -> asyncio.Lock:
        return self._locks.setdefault(group_id, asyncio.Lock())


def _name(row: AudioFile) -> str:
    if row.performer and row.title:
        return f"{row.performer} – {row.title}"
    return row.title or row.file_name or row.file_id
