"""The engine's work on groups: listing and finding them, scanning them, a forum's topics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from tortoise.functions import Count

from tad_tui.api import GroupSummary, TopicSummary
from tad_tui.engine import results
from tad_tui.store.models import AudioFile, TelegramGroup

if TYPE_CHECKING:
    from tad_tui.engine.facade import Engine
    from tad_tui.library.ranges import ScanWindow
    from tad_tui.library.scan import ScanProgress, ScanResult
    from tad_tui.telegram.source import GroupInfo, TopicInfo


async def list_groups(engine: Engine, *, refresh: bool) -> list[GroupSummary]:
    listed: list[int] = []
    if refresh:
        await engine.connect()
        from tad_tui.library.scan import upsert_groups

        infos = await engine.source.list_groups()
        listed = [row.group_id for row in await upsert_groups(infos)]
    # One query, the follows joined: a group's row says whether (and how) it is followed.
    rows = await TelegramGroup.all().order_by("title").values(*results.GROUP_FIELDS)
    summaries = [results.group_summary(row) for row in rows]
    if not refresh:
        return summaries
    by_id = {summary.id: summary for summary in summaries}
    return [by_id[group_id] for group_id in listed if group_id in by_id]  # Telegram's order, its groups only


async def resolve_group(engine: Engine, key: str) -> GroupInfo:
    from tad_tui.library import finding
    from tad_tui.library.scan import group_info
    from tad_tui.telegram.source import SourceError

    try:
        wanted = finding.read_key(key)
        rows = await TelegramGroup.all()
        known = [group_info(row) for row in rows if row.access_hash or row.kind == "chat"]
        found = finding.find(
            known, wanted, group_id=lambda g: g.group_id, title=lambda g: g.title, username=lambda g: g.username,
            loose=False,
        )
    except (finding.GroupNotFound, finding.AmbiguousGroup, finding.LinkError) as error:
        raise SourceError(str(error)) from None
    if found is not None:
        return found
    await engine.connect()
    return await engine.source.resolve_group(key)


async def scan_info(
    engine: Engine,
    info: GroupInfo,
    *,
    on_progress: Callable[[ScanProgress], None] | None,
    takeout: bool,
    window: ScanWindow | None,
    topic: TopicInfo | None,
) -> ScanResult:
    from tad_tui.library.scan import scan_group

    await engine.connect()
    if topic is not None:
        info = replace(info, forum=True)  # Telegram listed its topics: a forum, whatever the library said
    topic_id = topic.id if topic is not None else None
    if not takeout:
        return await scan_group(engine.source, info, on_progress=on_progress, window=window, topic=topic_id)
    async with engine.source.takeout():
        return await scan_group(engine.source, info, on_progress=on_progress, window=window, topic=topic_id)


# ---- forum topics -------------------------------------------------------------------------------


async def find_topic(engine: Engine, info: GroupInfo, text: str) -> TopicInfo:
    from tad_tui.library.topics import TopicError, find_topic

    return find_topic(await _telegram_topics(engine, info, TopicError), text, info.title)


async def _telegram_topics(engine: Engine, info: GroupInfo, refusal: type[Exception]) -> list[TopicInfo]:
    from tad_tui.telegram.source import NotAForum

    await engine.connect()
    try:
        return await engine.source.list_topics(info)
    except NotAForum as error:
        raise refusal(str(error)) from None


async def topics(engine: Engine, key: str, *, refresh: bool) -> list[TopicSummary]:
    from tad_tui.library.topics import TopicError

    info = await engine.resolve_group(key)
    counts: dict[int | None, tuple[str | None, int]] = {}
    for topic_id, title, tracks in await AudioFile.filter(group_id=info.group_id).group_by(
        "topic_id", "topic_title"
    ).annotate(tracks=Count("id")).values_list("topic_id", "topic_title", "tracks"):
        counts[topic_id] = (title, counts.get(topic_id, (None, 0))[1] + tracks)
    if not refresh:
        return [TopicSummary(topic_id, title or str(topic_id), tracks, None, None)
                for topic_id, (title, tracks) in sorted(counts.items()) if topic_id is not None]
    listed = await _telegram_topics(engine, info, TopicError)
    return [TopicSummary(t.id, t.title, counts.get(t.id, (None, 0))[1], t.last_message_id, t.last_posted_at)
            for t in listed]
