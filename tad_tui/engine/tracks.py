"""Which tracks a command acts on: a message link's, a group's (what to fetch, what is already
here), those a query in the search language matches, those file ids name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tad_tui.api import DownloadSelection, GroupTrack, LinkedTracks
from tad_tui.engine import results
from tad_tui.library.status import track_word
from tad_tui.store.models import AudioFile, FileStatus, QueueEntry
from tad_tui.store.transactions import transaction

if TYPE_CHECKING:
    from tad_tui.engine.facade import Engine
    from tad_tui.library.links import MessageLink
    from tad_tui.library.ranges import ScanWindow
    from tad_tui.telegram.source import GroupInfo


_MATCH_CHUNK = 5000  # tracks per search of matching_tracks


async def select_linked(engine: Engine, link: MessageLink) -> LinkedTracks:
    from telethon import errors

    from tad_tui.library.scan import store_new, upsert_group
    from tad_tui.telegram.source import SourceError

    try:
        info = await engine.resolve_group(link.chat)
    except SourceError as error:
        private = " (a private link works only for the channel's members)" if link.channel_id else ""
        return LinkedTracks(link.text, None, (), (), f"{link.chat_name} cannot be reached: {error}{private}")
    await engine.connect()
    try:
        messages = await engine.source.linked_messages(info, link.first_id, link.last_id)
    except errors.ChannelPrivateError:
        return LinkedTracks(link.text, info, (), (), f"{info.title} is private and this account is not a member")
    except (errors.RPCError, SourceError) as error:
        return LinkedTracks(link.text, info, (), (), f"Telegram refused {link.describe()}: {error}")
    audio = [found for found in messages.values() if found is not None]
    if not audio:
        if link.is_range:
            why = "hold no audio"
        else:
            why = "holds no audio" if messages else "was deleted (or was never posted)"
        return LinkedTracks(link.text, info, (), (), f"{link.describe()} ({info.title}) {why}")
    async with transaction():
        group = await upsert_group(info)
        await store_new(group, audio)
        group.audio_count = await AudioFile.filter(group_id=info.group_id).count()
        await group.save(update_fields=["audio_count"])
    rows = await AudioFile.filter(group_id=info.group_id, message_id__in=[a.message_id for a in audio]).order_by(
        "message_id"
    )
    to_fetch, already = await split_rows(rows)
    return LinkedTracks(link.text, info, tuple(map(results.track, to_fetch)), tuple(map(results.track, already)), None)


async def select_for_download(
    engine: Engine, info: GroupInfo, *, limit: int | None, window: ScanWindow | None, match: str | None,
    topic: int | None,
) -> DownloadSelection:
    to_fetch, already = await split_for_download(info, topic)
    if window is not None and window.bounded:
        to_fetch = [row for row in to_fetch if window.holds(row.message_id, row.posted_at)]
        already = [row for row in already if window.holds(row.message_id, row.posted_at)]
    if match:
        matched = await engine.matching_tracks(match, [row.pk for row in to_fetch + already])
        to_fetch = [row for row in to_fetch if row.pk in matched]
        already = [row for row in already if row.pk in matched]
    if limit is not None:
        to_fetch = to_fetch[:limit]
    return DownloadSelection(info, tuple(map(results.track, to_fetch)), tuple(map(results.track, already)))


async def group_tracks(engine: Engine, group_id: int, topic: int | None) -> list[GroupTrack]:
    info = await engine.resolve_group(str(group_id))
    to_fetch, already = await split_for_download(info, topic)
    queued = dict(await QueueEntry.filter(audio__group_id=group_id).values_list("audio_id", "state"))
    done = {row.pk for row in already}
    rows = sorted(to_fetch + already, key=lambda row: row.message_id)
    return [
        GroupTrack(
            results.track(row),
            track_word(
                downloaded=row.pk in done, failed=row.status == FileStatus.FAILED, queue_state=queued.get(row.pk),
                missing=row.status == FileStatus.MISSING,
            ),
        )
        for row in rows
    ]


async def split_for_download(info: GroupInfo, topic: int | None = None) -> tuple[list[AudioFile], list[AudioFile]]:
    rows = AudioFile.filter(group_id=info.group_id)
    if topic is not None:
        rows = rows.filter(topic_id=topic)
    return await split_rows(await rows.order_by("message_id"))


async def split_rows(rows: list[AudioFile]) -> tuple[list[AudioFile], list[AudioFile]]:
    """Rows still to fetch, and rows already here (downloaded, skipped, or the same file downloaded
    from another message)."""
    done_elsewhere = set(
        await AudioFile.filter(
            file_unique_id__in=[row.file_unique_id for row in rows], status=FileStatus.COMPLETED
        ).values_list("file_unique_id", flat=True)
    )
    to_fetch, already = [], []
    for row in rows:
        if row.status in (FileStatus.COMPLETED, FileStatus.SKIPPED) or row.file_unique_id in done_elsewhere:
            already.append(row)
        else:
            to_fetch.append(row)
    return to_fetch, already


# ---- by query -----------------------------------------------------------------------------------


async def matching_tracks(engine: Engine, query: str, track_ids: Sequence[int]) -> set[int]:
    from tad_tui.library.search import SearchFilters

    matched: set[int] = set()
    ids = sorted(set(track_ids))
    for start in range(0, len(ids), _MATCH_CHUNK):  # under SQLite's limit on bound variables
        chunk = frozenset(ids[start : start + _MATCH_CHUNK])
        result = await engine.search(query, limit=len(chunk), filters=SearchFilters(ids=chunk))
        if not result.relaxed:
            matched.update(hit.id for hit in result.hits)
    return matched


async def track_ids(file_ids: Sequence[str]) -> tuple[list[int], list[str]]:
    asked = list(dict.fromkeys(file_ids))
    found = dict(await AudioFile.filter(file_id__in=asked).values_list("file_id", "id"))
    return [found[f] for f in asked if f in found], [f for f in asked if f not in found]


async def all_matching(engine: Engine, query: str, *, downloaded_only: bool) -> list[int]:
    from tad_tui.library.cleanup import downloaded_ids

    ids = await downloaded_ids() if downloaded_only else await AudioFile.all().values_list("id", flat=True)
    return sorted(await engine.matching_tracks(query, ids)) if query.strip() else sorted(ids)


async def query_tracks(engine: Engine, query: str, *, downloaded: bool) -> tuple[list[int], list[str]]:
    from tad_tui.library.search import SearchFilters, status_names

    total = await AudioFile.all().count()
    filters = SearchFilters(statuses=status_names("downloaded")) if downloaded else None
    result = await engine.search(query, limit=max(total, 1), filters=filters)
    return ([] if result.relaxed else [hit.id for hit in result.hits]), result.hints
