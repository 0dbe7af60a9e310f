"""The engine facade: the only thing the TUI and the CLI talk to.

Its methods are the commands; what they return, the events it publishes and the enums they use are
in ``tad_tui.api``. Its parts (``source``, ``scheduler``, ``search_service``) are public for tests and
benchmarks only: the UI and the CLI never reach into them.

It owns no event loop of its own: whoever drives it (Textual's app, or ``asyncio.run`` in the CLI)
runs Telethon, the store and everything else on one loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tortoise.expressions import Q
from tortoise.functions import Count
from tad_tui.store.transactions import transaction

from tad_tui.api import (
    RenameOutcome,
    DownloadHistory,
    DownloadSelection,
    EntryLocation,
    GroupSummary,
    GroupTrack,
    LinkedTracks,
    QueueRow,
    TopicSummary,
    Track,
)
from tad_tui.audit import id_list, recorded
from tad_tui.config import ConfigError, Settings, save_setting
from tad_tui.download.events import EventBus
from tad_tui.library.status import track_word
from tad_tui.library.text import track_name
from tad_tui.paths import Paths
from tad_tui.sizes import format_size_exact
from tad_tui.store.models import AudioFile, FileStatus, Priority, QueueEntry, QueueState, TelegramGroup

# Scanning and the Telegram source (Telethon, ~0.15 s to import) load when a command reaches
# Telegram: read-only commands (queue, search, performance) never import them.
if TYPE_CHECKING:
    from tad_tui.library.cleanup import Removal, Verification
    from tad_tui.download.concurrency import Concurrency
    from tad_tui.download.scheduler import Enqueued, PriorityChange, Scheduler
    from tad_tui.following import Follower, FollowInfo
    from tad_tui.library.links import MessageLink
    from tad_tui.library.ranges import ScanWindow
    from tad_tui.library.desktop_export import DesktopExport
    from tad_tui.library.import_export import ExportImport, ImportItem
    from tad_tui.library.export import LibraryExport
    from tad_tui.library.playlists import GroupPlaylistKeeper, PlaylistText, PlaylistWritten
    from tad_tui.library.scan import ScanProgress, ScanResult
    from tad_tui.library.search import SearchFilters, SearchResult, SearchService
    from tad_tui.notify import Notifier
    from tad_tui.telegram.login import LoginFlow
    from tad_tui.telegram.source import GroupInfo, Source, TopicInfo
    from tad_tui.monitor import Monitor


_MATCH_CHUNK = 5000  # tracks per search of matching_tracks
# "Clear finished" takes these: done with for good. Failed entries stay, to be retried.
CLEARED_STATES = (QueueState.COMPLETED, QueueState.CANCELLED)


class Engine:
    def __init__(self, settings: Settings, paths: Paths, source: Source | None) -> None:
        self.settings = settings
        self.paths = paths
        self._source = source
        self.events = EventBus()
        self._scheduler: Scheduler | None = None
        self.monitor: Monitor | None = None
        self._search_service: SearchService | None = None
        self._online = False
        self._connecting: asyncio.Lock | None = None
        self._follower: Follower | None = None
        self._playlist_keeper: GroupPlaylistKeeper | None = None
        self._notifier: Notifier | None = None
        # Problems met and fixed while starting (a session file others could read): the CLI prints
        # them, the TUI shows them as notifications; both are in the log file too.
        self.startup_warnings: list[str] = []

    @property
    def source(self) -> Source:
        if self._source is None:
            from tad_tui.telegram.source import SourceError

            raise SourceError("this command does not talk to Telegram")
        return self._source

    async def connect(self) -> None:
        """Reach Telegram, once: later calls return at once, concurrent ones wait for the first.

        The CLI connects while opening the engine; the TUI paints its first frame and connects
        after, so a slow or unreachable Telegram never delays the library, queue and search.
        """
        if self._online:
            return
        self._connecting = self._connecting or asyncio.Lock()
        async with self._connecting:
            if not self._online:
                await self.source.start()
                self._online = True

    @property
    def online(self) -> bool:
        return self._online

    def catalogue_progress(self) -> Any:
        """How far the demo catalogue's first render is (a ``Progress``: files, bytes, share of the
        work), or None when there is nothing to render (a real account, a complete catalogue)."""
        client = getattr(self._source, "client", None)
        read = getattr(client, "catalogue_progress", None)
        return read() if read is not None else None

    async def list_groups(self, *, refresh: bool = True) -> list[GroupSummary]:
        """The account's groups and channels; ``refresh`` asks Telegram first, else the library only."""
        listed: list[int] = []
        if refresh:
            await self.connect()
            from tad_tui.library.scan import upsert_groups

            infos = await self.source.list_groups()
            listed = [row.group_id for row in await upsert_groups(infos)]
        # One query, the follows joined: a group's row says whether (and how) it is followed.
        rows = await TelegramGroup.all().order_by("title").values(*_GROUP_FIELDS)
        summaries = [_group_summary(row) for row in rows]
        if not refresh:
            return summaries
        by_id = {summary.id: summary for summary in summaries}
        return [by_id[group_id] for group_id in listed if group_id in by_id]  # Telegram's order, its groups only

    async def resolve_group(self, key: str) -> GroupInfo:
        """A group by ``@username``, ``username``, a t.me link, a numeric id or its title in any case
        and accent form (a unique prefix is enough; see ``library.finding``): the library first (an
        id, a username or the whole title), then Telegram's list of the account's groups."""
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
        await self.connect()
        return await self.source.resolve_group(key)

    async def select_linked(self, link: MessageLink) -> LinkedTracks:
        """A message link's audio, stored in the library and split into what to fetch and what is
        already here; ``error`` says in words why a link gives nothing (the chat cannot be reached,
        the message was deleted or holds no audio). Never raises for one link's failure."""
        from telethon import errors

        from tad_tui.library.scan import store_new, upsert_group
        from tad_tui.telegram.source import SourceError

        try:
            info = await self.resolve_group(link.chat)
        except SourceError as error:
            private = " (a private link works only for the channel's members)" if link.channel_id else ""
            return LinkedTracks(link.text, None, (), (), f"{link.chat_name} cannot be reached: {error}{private}")
        await self.connect()
        try:
            messages = await self.source.linked_messages(info, link.first_id, link.last_id)
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
        to_fetch, already = await _split_rows(rows)
        return LinkedTracks(link.text, info, tuple(map(_track, to_fetch)), tuple(map(_track, already)), None)

    async def scan(
        self,
        key: str,
        *,
        on_progress: Callable[[ScanProgress], None] | None = None,
        takeout: bool = False,
        window: ScanWindow | None = None,
        topic: str | None = None,
    ) -> ScanResult:
        """Scan a group into the library; ``takeout`` reads it inside a Telegram data-export session;
        ``window`` reads only that part of it (dates, message ids); ``topic`` (an id or a title, see
        ``find_topic``) only that topic of a forum group."""
        info = await self.resolve_group(key)
        await self.connect()
        found = await self.find_topic(info, topic) if topic is not None else None
        return await self.scan_info(info, on_progress=on_progress, takeout=takeout, window=window, topic=found)

    async def scan_info(
        self,
        info: GroupInfo,
        *,
        on_progress: Callable[[ScanProgress], None] | None = None,
        takeout: bool = False,
        window: ScanWindow | None = None,
        topic: TopicInfo | None = None,
    ) -> ScanResult:
        from tad_tui.library.scan import scan_group

        await self.connect()
        if topic is not None:
            info = replace(info, forum=True)  # Telegram listed its topics: a forum, whatever the library said
        topic_id = topic.id if topic is not None else None
        if not takeout:
            return await scan_group(self.source, info, on_progress=on_progress, window=window, topic=topic_id)
        async with self.source.takeout():
            return await scan_group(self.source, info, on_progress=on_progress, window=window, topic=topic_id)

    # ---- forum topics ---------------------------------------------------------------------------

    async def find_topic(self, info: GroupInfo, text: str) -> TopicInfo:
        """The topic of forum group ``info`` that ``text`` names (its id, or its title in any case and
        accent form, a unique prefix enough); TopicError in words (listing the topics) for none, more
        than one, or a group that is no forum."""
        from tad_tui.library.topics import TopicError, find_topic

        return find_topic(await self._telegram_topics(info, TopicError), text, info.title)

    async def _telegram_topics(self, info: GroupInfo, refusal: type[Exception]) -> list[TopicInfo]:
        from tad_tui.telegram.source import NotAForum

        await self.connect()
        try:
            return await self.source.list_topics(info)
        except NotAForum as error:
            raise refusal(str(error)) from None

    async def topics(self, key: str, *, refresh: bool = True) -> list[TopicSummary]:
        """A forum group's topics, each with its audio in the library: as Telegram lists them (the most
        recently active first), or with ``refresh=False`` those the library's tracks name (by id).
        TopicError for a group that is no forum."""
        from tad_tui.library.topics import TopicError

        info = await self.resolve_group(key)
        counts: dict[int | None, tuple[str | None, int]] = {}
        for topic_id, title, tracks in await AudioFile.filter(group_id=info.group_id).group_by(
            "topic_id", "topic_title"
        ).annotate(tracks=Count("id")).values_list("topic_id", "topic_title", "tracks"):
            counts[topic_id] = (title, counts.get(topic_id, (None, 0))[1] + tracks)
        if not refresh:
            return [TopicSummary(topic_id, title or str(topic_id), tracks, None, None)
                    for topic_id, (title, tracks) in sorted(counts.items()) if topic_id is not None]
        listed = await self._telegram_topics(info, TopicError)
        return [TopicSummary(t.id, t.title, counts.get(t.id, (None, 0))[1], t.last_message_id, t.last_posted_at)
                for t in listed]

    # ---- following ------------------------------------------------------------------------------

    async def follow(
        self,
        key: str,
        *,
        match: str | None = None,
        priority: Priority = Priority.NORMAL,
        output_dir: Path | None = None,
        filename_template: str | None = None,
        on_progress: Callable[[ScanProgress], None] | None = None,
    ) -> tuple[FollowInfo, bool]:
        """Follow a group: audio posted from now on (matching ``match``) is queued while the app or
        ``watch`` runs. The group is scanned first, so what it holds today is not "new". Following
        a group again changes how; returns the follow and whether it is new. FollowError for a
        match the search language cannot read."""
        from tad_tui.following import check_match, save_follow

        check_match(match)  # before any request
        info = await self.resolve_group(key)
        with recorded("follow", group_id=info.group_id, match=match, priority=priority.name.lower()) as line:
            await self.scan_info(info, on_progress=on_progress)
            follow, created = await save_follow(
                info, match=match, priority=priority, output_dir=output_dir, filename_template=filename_template
            )
            line["created"] = created
        return follow, created

    async def unfollow(self, key: str) -> FollowInfo | None:
        """Stop following a group (queued files stay queued); None if it was not followed."""
        from tad_tui.following import delete_follow, follows

        info = await self.resolve_group(key)
        found = [follow for follow in await follows() if follow.group_id == info.group_id]
        with recorded("unfollow", group_id=info.group_id, followed=bool(found)):
            await delete_follow(info.group_id)
        return found[0] if found else None

    async def follows(self) -> list[FollowInfo]:
        """The followed groups, in the order they were followed."""
        from tad_tui.following import follows

        return await follows()

    @property
    def follower(self) -> Follower | None:
        """The follower once ``start_following`` ran (its ``errors`` say what a catch-up could not do)."""
        return self._follower

    async def start_following(self) -> Follower:
        """Listen for new posts in the followed groups and catch up on what was posted meanwhile
        (the client must have been built to receive updates; see ``runtime.open_engine``)."""
        from tad_tui.following import Follower

        await self.connect()
        if self._follower is None:
            self._follower = Follower(self, check_interval=self.settings.follow.check_interval)
            await self._follower.start()
        return self._follower

    async def search(
        self, text: str, *, limit: int, fuzzy: bool = False, filters: SearchFilters | None = None
    ) -> SearchResult:
        """Search the library (the query language of README's Search section)."""
        return await self.search_service.search(text, limit=limit, fuzzy=fuzzy, filters=filters)

    async def matching_tracks(self, query: str, track_ids: Sequence[int]) -> set[int]:
        """The tracks among ``track_ids`` (Track.id) that ``query`` in the search language matches:
        every word and every filter (never the "some of the words" a search falls back to)."""
        from tad_tui.library.search import SearchFilters

        matched: set[int] = set()
        ids = sorted(set(track_ids))
        for start in range(0, len(ids), _MATCH_CHUNK):  # under SQLite's limit on bound variables
            chunk = frozenset(ids[start : start + _MATCH_CHUNK])
            result = await self.search(query, limit=len(chunk), filters=SearchFilters(ids=chunk))
            if not result.relaxed:
                matched.update(hit.id for hit in result.hits)
        return matched

    async def track_ids(self, file_ids: Sequence[str]) -> tuple[list[int], list[str]]:
        """The tracks (Track.id) of these file ids (GROUP_MESSAGE, as ``search --json`` lists them),
        and the file ids that no track of the library has."""
        asked = list(dict.fromkeys(file_ids))
        found = dict(await AudioFile.filter(file_id__in=asked).values_list("file_id", "id"))
        return [found[f] for f in asked if f in found], [f for f in asked if f not in found]

    async def all_matching(self, query: str, *, downloaded_only: bool = False) -> list[int]:
        """Every track (Track.id) ``query`` matches in full (all its words and filters); only those
        whose file is or was on disk if ``downloaded_only``."""
        from tad_tui.library.cleanup import downloaded_ids

        ids = await downloaded_ids() if downloaded_only else await AudioFile.all().values_list("id", flat=True)
        return sorted(await self.matching_tracks(query, ids)) if query.strip() else sorted(ids)

    async def remove_tracks(self, track_ids: Sequence[int], *, keep_file: bool = False, dry_run: bool = False) -> list[Removal]:
        """Take tracks out of the library and their files off the disk (see library/cleanup.py)."""
        from tad_tui.library.cleanup import remove_tracks

        removed = await remove_tracks(track_ids, keep_file=keep_file, dry_run=dry_run)
        if not dry_run:  # the groups' playlists list only what is left
            await self.refresh_group_playlists(sorted({r.group_id for r in removed if r.refused is None}))
        return removed

    async def verify_files(self, track_ids: Sequence[int]) -> Verification:
        """Re-hash these tracks' downloaded files; those gone from disk are marked missing."""
        from tad_tui.library.cleanup import verify_tracks

        verification = await verify_tracks(track_ids)
        if verification.missing:  # a playlist lists only files on disk
            gone = [file_id for file_id, _ in verification.missing]
            await self.refresh_group_playlists(
                sorted(set(await AudioFile.filter(file_id__in=gone).values_list("group_id", flat=True)))
            )
        return verification

    async def rename_files(
        self, root: Path, *, query: str | None, dry_run: bool, on_move: Callable[[Path, Path], None]
    ) -> RenameOutcome:
        """``tad-tui rename``: move the downloaded files in ``root`` to the names the filename template
        gives them (see ``library.rename``); an interrupted run's journal is finished first."""
        from tad_tui.library.rename import JOURNAL_FILE, apply_renames, downloaded_rows, finish_journal, plan_renames

        journal = self.paths.data_dir / JOURNAL_FILE
        finished = 0 if dry_run else await finish_journal(journal)
        rows = await downloaded_rows()
        if query:
            matched = await self.matching_tracks(query, [row.pk for row in rows])
            rows = [row for row in rows if row.pk in matched]
        downloads = self.settings.downloads
        plan = await plan_renames(rows, root, downloads.filename_template, downloads.unknown)
        moved = 0 if dry_run else await apply_renames(plan, root, journal, lambda move: on_move(move.old, move.new))
        if moved or finished:  # the groups' playlists name the files where they are now
            rows = AudioFile.all() if finished else AudioFile.filter(id__in=[move.audio_id for move in plan.moves])
            await self.refresh_group_playlists(sorted(set(await rows.values_list("group_id", flat=True))))
        return RenameOutcome(
            moves=tuple((move.audio_id, move.old, move.new) for move in plan.moves), moved=moved,
            in_place=plan.in_place, outside=len(plan.outside), missing=len(plan.missing), finished=finished,
        )

    async def warm_up_search(self) -> None:
        """Load the search vocabulary now, so the first search typed does not wait for it."""
        await self.search_service.warm_up()

    # ---- the Telegram account -------------------------------------------------------------------

    async def is_authorized(self) -> bool:
        return await self.source.is_authorized()

    async def account_name(self) -> str | None:
        return await self.source.account_name()

    def login_flow(self) -> LoginFlow:
        """The steps of signing in (phone, code, password), for the login screen and ``tad-tui login``."""
        return self.source.login_flow()

    async def log_out(self) -> bool:
        """End the session here and on Telegram's side; False if Telegram did not confirm it."""
        return await self.source.log_out()

    async def forget_session(self) -> bool:
        """Delete the session file; False if there was none."""
        return await self.source.forget_session()

    @property
    def search_service(self) -> SearchService:
        """Library search for the CLI and the TUI: one per engine, so its vocabulary loads once."""
        if self._search_service is None:
            from tad_tui.library.search import SearchService

            self._search_service = SearchService()
            self._time_searches()
        return self._search_service

    def _time_searches(self) -> None:
        """Searches timed by the monitor, caches shrunk under memory pressure: once both exist (a
        download never builds the search service and its fuzzy matcher only to wire it)."""
        if self.monitor is not None and self._search_service is not None:
            self._search_service.on_timing = self.monitor.search_timings.record
            self.monitor.on_pressure = self._search_service.shrink

    # ---- downloads ------------------------------------------------------------------------------

    @property
    def scheduler(self) -> Scheduler:
        """The download queue, built on first use (it needs Telegram, so writer sessions only)."""
        if self._scheduler is None:
            self._scheduler = self._build_scheduler()
        return self._scheduler

    def _build_scheduler(self) -> Scheduler:
        from tad_tui.download.job import JobContext
        from tad_tui.download.limits import ByteRateLimiter
        from tad_tui.download.pace import AccountPace
        from tad_tui.download.scheduler import Scheduler
        from tad_tui.download.transfer import ConnectionPool, Health

        source = self.source
        client = source.client
        downloads = self.settings.downloads
        context = JobContext(
            settings=self.settings,
            source=source,
            client=client,
            pool=ConnectionPool(client, downloads.parts_per_file),
            bandwidth=ByteRateLimiter(self.settings.performance.bandwidth_limit),
            health=Health(),
            pace=AccountPace(),
            events=self.events,
            default_output=self.paths.downloads_dir,
            reserved=set(),
        )
        return Scheduler(context, downloads.max_concurrent)

    async def run_downloads(self, *, until_idle: bool) -> Counter[str]:
        """Download what is queued (after start_downloads): until the queue is idle, or until cancelled.
        Returns how many entries ended each way ("downloaded", "failed"…)."""
        return await self.scheduler.run(until_idle=until_idle)

    async def enqueue(
        self,
        audio_ids: Sequence[int],
        *,
        priority: Priority = Priority.NORMAL,
        batch_name: str | None = None,
        output_dir: Path | None = None,
        filename_template: str | None = None,
    ) -> Enqueued:
        """Queue tracks (Track.id); several at once form a batch. Files already queued stay where they are."""
        return await self.scheduler.enqueue(
            audio_ids, priority=priority, batch_name=batch_name, output_dir=output_dir, filename_template=filename_template
        )

    async def queued_tracks(self, entry_ids: Sequence[int]) -> set[int]:
        """The tracks (Track.id) the given queue entries download."""
        return set(await QueueEntry.filter(id__in=list(entry_ids)).values_list("audio_id", flat=True))

    # Each writes one audit line; a caller acting on many entries passes ``audit=False`` and records
    # the whole action once. A refused operation raises QueueError, in words.

    async def move(self, entry_id: int, where: str, *, audit: bool = True) -> None:
        """Move an entry "up", "down", to the "top" or the "bottom" of its priority."""
        await self.scheduler.move(entry_id, where, audit=audit)

    async def set_priority(self, entry_id: int, priority: Priority, *, audit: bool = True) -> PriorityChange | None:
        return await self.scheduler.set_priority(entry_id, priority, audit=audit)

    async def pause(self, entry_id: int, *, audit: bool = True) -> None:
        await self.scheduler.pause(entry_id, audit=audit)

    async def resume(self, entry_id: int, *, audit: bool = True) -> None:
        await self.scheduler.resume(entry_id, audit=audit)

    async def cancel(self, entry_id: int, *, audit: bool = True) -> None:
        await self.scheduler.cancel(entry_id, audit=audit)

    async def retry(self, entry_id: int, *, audit: bool = True) -> None:
        await self.scheduler.retry(entry_id, audit=audit)

    async def pause_many(self, entry_ids: Sequence[int]) -> int:
        """Pause many entries in one write (no audit line: the caller records the action)."""
        return await self.scheduler.pause_many(entry_ids)

    async def resume_many(self, entry_ids: Sequence[int]) -> int:
        return await self.scheduler.resume_many(entry_ids)

    async def on_batch(self, batch_id: int, action: str) -> int:
        """Pause, resume, cancel or retry (``action``) every entry of a batch; returns how many it holds."""
        return await self.scheduler.on_batch(batch_id, action)

    async def batch_states(self, batch_id: int) -> list[tuple[int, str]]:
        """Each entry of a batch with its state, as stored."""
        states = await QueueEntry.filter(batch_id=batch_id).values_list("id", "state")
        return [(entry_id, QueueState(state).value) for entry_id, state in states]

    @property
    def bandwidth_limit(self) -> int:
        """The total download limit in bytes a second now (0: none)."""
        return self.scheduler.context.bandwidth.rate

    async def warm_up_downloads(self) -> None:
        """Start opening a download connection to the account's own DC, for a command that scans
        before it downloads: it opens during the scan instead of before the first byte."""
        await self.connect()
        client = self.source.client
        self.scheduler.context.pool.warm(client.session.dc_id)

    async def start_downloads(self) -> Scheduler:
        await self.connect()
        scheduler = self.scheduler
        await scheduler.load()
        if self.settings.library.group_playlists and self._playlist_keeper is None:
            from tad_tui.library.playlists import GroupPlaylistKeeper

            self._playlist_keeper = GroupPlaylistKeeper(self.events, self.paths.downloads_dir)
        return scheduler

    async def stop_downloads(self) -> None:
        if self._scheduler is not None:
            await self._scheduler.stop()
            await self._scheduler.context.pool.close()

    async def close(self) -> None:
        """Stop the monitor and the downloads (their state is saved; they resume next time)."""
        if self._follower is not None:
            await self._follower.stop()
        if self.monitor is not None:
            await self.monitor.stop()
        await self.stop_downloads()
        if self._playlist_keeper is not None:
            await self._playlist_keeper.close()  # the playlists of the last batch, written before the store closes
        if self._notifier is not None:
            await self._notifier.close()  # last: "Queue empty" is published as the downloads stop

    def start_notifier(self, fallback: Callable[[str, str], None]) -> Notifier:
        """Notify of this run's events (notify.py): on the desktop, else through ``fallback`` (the
        terminal, the app's toast), and to the configured services; closed with the engine."""
        if self._notifier is None:
            from tad_tui.notify import Notifier

            self._notifier = Notifier(self.settings.notifications, self.events, fallback)
        return self._notifier

    def start_monitor(self, *, share: bool = True) -> Monitor:
        """Sample once a second; ``share`` writes each sample for ``tad-tui performance`` to read."""
        from tad_tui.monitor import Monitor

        if self.monitor is None:
            self.monitor = Monitor(
                self.events,
                lambda: _LiveFigures(self),
                output_dir=self.paths.downloads_dir,
                shared_file=self.paths.monitor_file if share else None,
                max_memory_mb=self.settings.performance.max_memory_mb,
            )
            self._time_searches()
            if self._source is not None:
                scheduler = self.scheduler
                scheduler.admission = self.monitor.memory_hold
                scheduler.context.health.squeeze = self.monitor.under_pressure
                scheduler.single_part.pressure = self.monitor.under_pressure
                scheduler.single_part.cpu_busy = self.monitor.cpu_busy
                self.monitor.on_memory_change = scheduler.nudge
        self.monitor.start()
        return self.monitor

    async def queue_counts(self) -> dict[str, int]:
        rows = await QueueEntry.annotate(n=Count("id")).group_by("state").values_list("state", "n")
        return {str(getattr(state, "value", state)): n for state, n in rows}

    def set_bandwidth_limit(self, bytes_per_second: int, *, save_to: Path | None = None) -> None:
        """Change the total download limit: for this session, or also in ``save_to`` (a config file,
        as ``[performance] bandwidth_limit``, its comments and other keys kept).

        Saving comes first: a file that cannot be written (ConfigError) leaves the limit as it was.
        """
        bandwidth = self.scheduler.context.bandwidth
        fields: dict[str, Any] = {"key": "performance.bandwidth_limit", "old": bandwidth.rate, "new": bytes_per_second}
        fields |= {"saved": True, "file": str(save_to)} if save_to else {"saved": False}
        with recorded("config_changed", refused=(ConfigError,), **fields):
            if save_to is not None:
                text = format_size_exact(bytes_per_second)  # "512KiB" as a person would write it
                value = int(text) if text.isdigit() else text
                save_setting(save_to, "performance", "bandwidth_limit", value, what="the download limit")
            bandwidth.set_rate(bytes_per_second)

    async def clear_finished(self) -> list[int]:
        """Take completed and cancelled entries off the queue; returns their ids.

        Only queue rows go: downloaded files and the library's rows (with their status, path and
        checksums) stay. Failed entries stay to be retried, and so does a finished entry that an
        unfinished one depends on (its outcome decides whether that one may run).
        """
        with recorded("clear_finished") as line:
            needed = QueueEntry.filter(state__in=_ACTIVE, depends_on_id__not_isnull=True).values_list("depends_on_id", flat=True)
            kept = set(await needed)
            finished = await QueueEntry.filter(state__in=CLEARED_STATES).values_list("id", flat=True)
            ids = [i for i in finished if i not in kept]
            async with transaction():
                for start in range(0, len(ids), 500):  # under SQLite's limit on bound variables
                    await QueueEntry.filter(id__in=ids[start : start + 500]).delete()
            line |= {"count": len(ids), "kept_as_dependency": len(finished) - len(ids), **id_list(ids)}
        if self._scheduler is not None:
            self._scheduler.forget_batch_counts()
        return ids

    async def entry_location(self, entry_id: int) -> EntryLocation | None:
        """Where the entry's file is, or where it will go (None: no such entry)."""
        from tad_tui.download.job import PART_SUFFIX, planned_target

        entry = await QueueEntry.get_or_none(id=entry_id).prefetch_related("audio__group")
        if entry is None:
            return None
        audio = entry.audio
        if entry.state == QueueState.COMPLETED and audio.local_path:
            path = Path(audio.local_path)
            return EntryLocation(path, True, path.is_file())
        if audio.partial_file_path:  # started: the name it downloads under (decided again from its tags at the end)
            path = Path(audio.partial_file_path.removesuffix(PART_SUFFIX))
        else:
            output, relative = planned_target(
                entry, audio, self.paths.downloads_dir, self.settings.downloads.filename_template,
                self.settings.downloads.unknown,
            )
            path = output / relative
        return EntryLocation(path, False, path.is_file())

    async def select_for_download(
        self, info: GroupInfo, *, limit: int | None = None, window: ScanWindow | None = None, match: str | None = None,
        topic: int | None = None,
    ) -> DownloadSelection:
        """The group's audio in message order: what still needs fetching, and what is already here;
        only what lies in ``window``, in forum ``topic`` and what ``match`` (the search language)
        matches, if given."""
        to_fetch, already = await self._split_for_download(info, topic)
        if window is not None and window.bounded:
            to_fetch = [row for row in to_fetch if window.holds(row.message_id, row.posted_at)]
            already = [row for row in already if window.holds(row.message_id, row.posted_at)]
        if match:
            matched = await self.matching_tracks(match, [row.pk for row in to_fetch + already])
            to_fetch = [row for row in to_fetch if row.pk in matched]
            already = [row for row in already if row.pk in matched]
        if limit is not None:
            to_fetch = to_fetch[:limit]
        return DownloadSelection(info, tuple(map(_track, to_fetch)), tuple(map(_track, already)))

    async def group_tracks(self, group_id: int, topic: int | None = None) -> list[GroupTrack]:
        """A group's tracks (only forum ``topic``'s, if given) in message order, each with its word:
        downloaded, queued (its queue state), new…"""
        info = await self.resolve_group(str(group_id))
        to_fetch, already = await self._split_for_download(info, topic)
        queued = dict(await QueueEntry.filter(audio__group_id=group_id).values_list("audio_id", "state"))
        done = {row.pk for row in already}
        rows = sorted(to_fetch + already, key=lambda row: row.message_id)
        return [
            GroupTrack(
                _track(row),
                track_word(
                    downloaded=row.pk in done, failed=row.status == FileStatus.FAILED, queue_state=queued.get(row.pk),
                    missing=row.status == FileStatus.MISSING,
                ),
            )
            for row in rows
        ]

    async def _split_for_download(
        self, info: GroupInfo, topic: int | None = None
    ) -> tuple[list[AudioFile], list[AudioFile]]:
        rows = AudioFile.filter(group_id=info.group_id)
        if topic is not None:
            rows = rows.filter(topic_id=topic)
        return await _split_rows(await rows.order_by("message_id"))

    async def import_desktop_export(
        self,
        export: DesktopExport,
        *,
        output_dir: Path | None = None,
        filename_template: str | None = None,
        on_item: Callable[[ImportItem], None] | None = None,
    ) -> ExportImport:
        """Bring a Telegram Desktop export's audio into the library (``api.read_desktop_export`` reads
        it): files it holds copied into the download folder as downloaded, the others' tracks
        returned in ``to_fetch`` for ``enqueue``; ``on_item`` is told each track's outcome."""
        from tad_tui.library.import_export import import_export

        with recorded("import_export", file=str(export.path), chats=len(export.chats), audio=export.audio_count) as line:
            result = await import_export(
                export,
                self,
                output_dir=output_dir or self.paths.downloads_dir,
                template=filename_template or self.settings.downloads.filename_template,
                on_item=on_item,
            )
            line |= {outcome: result.count(outcome) for outcome in ("imported", "queued", "skipped", "failed")}
        return result

    # ---- playlists and export ---------------------------------------------------------------------

    async def query_tracks(self, query: str, *, downloaded: bool = False) -> tuple[list[int], list[str]]:
        """Every track (Track.id) ``query`` in the search language matches, with every word and filter
        (never the "some of the words" a search falls back to); ``downloaded``: only those on disk.
        Also the search's hints (filters it could not read)."""
        from tad_tui.library.search import SearchFilters, status_names

        total = await AudioFile.all().count()
        filters = SearchFilters(statuses=status_names("downloaded")) if downloaded else None
        result = await self.search(query, limit=max(total, 1), filters=filters)
        return ([] if result.relaxed else [hit.id for hit in result.hits]), result.hints

    async def write_playlist(self, target: Path, audio_ids: Sequence[int]) -> PlaylistWritten:
        """An extended M3U8 of the downloaded tracks among ``audio_ids`` (README's Playlists)."""
        from tad_tui.library.playlists import write_playlist

        with recorded("playlist_written", refused=(OSError,), file=str(target)) as line:
            written = await write_playlist(target, audio_ids)
            line |= {"tracks": written.written, "missing": written.missing}
        return written

    async def playlist_text(self, audio_ids: Sequence[int], folder: Path) -> PlaylistText:
        """The playlist ``write_playlist`` would write, as text, its paths relative to ``folder``."""
        from tad_tui.library.playlists import render_playlist

        return await render_playlist(audio_ids, folder)

    async def export_library(self, query: str, fmt: str) -> LibraryExport:
        """Every track (or those ``query`` matches) with every field, as CSV or JSON (README's Export)."""
        from tad_tui.library.export import export_library

        if not query.strip():
            return await export_library(None, fmt)
        ids, hints = await self.query_tracks(query)
        return await export_library(ids, fmt, hints)

    async def refresh_group_playlists(self, group_ids: Sequence[int]) -> list[PlaylistWritten]:
        """Rewrite these groups' playlists if ``[library] group_playlists`` is on (after files of
        theirs were downloaded, renamed or removed); nothing otherwise."""
        if not self.settings.library.group_playlists:
            return []
        from tad_tui.library.playlists import refresh_group_playlists

        return await refresh_group_playlists(group_ids, self.paths.downloads_dir)

    async def download_history(self) -> DownloadHistory:
        """Every completed download's size and times, and every failure's reason, from the library."""
        done = await AudioFile.filter(status=FileStatus.COMPLETED).values_list(
            "file_size", "downloaded_at", "last_attempt_at"
        )
        reasons = await AudioFile.filter(status=FileStatus.FAILED).values_list("error_message", flat=True)
        return DownloadHistory(tuple(done), tuple(reasons))

    async def queue_rows(self) -> list[QueueRow]:
        """The whole queue in order: by priority, then position; finished entries last.

        Read as plain values in one joined SELECT: building model objects and their relations
        took about 1 s for 10,000 entries, this a tenth of that.
        """
        values = await QueueEntry.all().order_by("-priority", "rank").values_list(*_QUEUE_FIELDS)
        rows = [_queue_row(*value) for value in values]
        return [r for r in rows if r.state in _ACTIVE] + [r for r in rows if r.state not in _ACTIVE]


class _LiveFigures:
    """What the monitor reads from the engine at each sample."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._scheduler = engine._scheduler

    async def queue_counts(self) -> dict[str, int]:
        return await self._engine.queue_counts()

    def active_downloads(self) -> int:
        return len(self._scheduler.running) if self._scheduler else 0

    def connections(self) -> int:
        return self._scheduler.context.pool.in_use() if self._scheduler else 0

    def parts_in_flight(self) -> int:
        return self._scheduler.context.pool.requests_in_flight if self._scheduler else 0

    def flood_wait_seconds(self) -> float:
        source = self._engine._source
        return source.client.flood_wait_remaining() if source is not None else 0.0

    def premium_wait_seconds(self) -> float:
        return self._scheduler.context.pace.waiting() if self._scheduler else 0.0

    def account_pace_bps(self) -> int:
        return self._scheduler.context.pace.rate if self._scheduler else 0

    def bandwidth_limit(self) -> int:
        return self._scheduler.context.bandwidth.rate if self._scheduler else 0

    def request_pace(self) -> dict[str, float]:
        source = self._engine._source
        return source.client.pace.paces() if source is not None else {}

    def concurrency(self) -> Concurrency | None:
        return self._scheduler.concurrency() if self._scheduler else None


_ACTIVE = ("queued", "waiting", "running", "paused")
_QUEUE_FIELDS = (
    "id",
    "priority",
    "state",
    "batch_id",
    "error_message",
    "note",
    "audio__file_id",
    "audio__title",
    "audio__performer",
    "audio__file_name",
    "audio__downloaded_bytes",
    "audio__file_size",
    "audio__group__title",
)


def _queue_row(
    entry_id: int,
    priority: int,
    state: object,
    batch_id: int | None,
    error: str | None,
    note: str | None,
    file_id: str,
    title: str | None,
    performer: str | None,
    file_name: str | None,
    downloaded: int,
    size: int,
    group: str,
) -> QueueRow:
    name = track_name(title, performer, file_name, file_id)
    return QueueRow(
        id=entry_id,
        file_id=file_id,
        file=name,
        group=group,
        priority=Priority(priority).name.lower(),
        state=str(getattr(state, "value", state)),
        downloaded_bytes=downloaded,
        file_size=size,
        batch_id=batch_id,
        error_message=error,
        note=note,
    )


_GROUP_FIELDS = (
    "group_id", "title", "username", "kind", "audio_count", "last_checked", "forum",
    "follow__id", "follow__match", "follow__last_new_title", "follow__last_new_at",
)


def _group_summary(row: dict[str, Any]) -> GroupSummary:
    return GroupSummary(
        row["group_id"],
        row["title"],
        row["username"],
        str(getattr(row["kind"], "value", row["kind"])),
        row["audio_count"],
        row["last_checked"],
        followed=row["follow__id"] is not None,
        follow_match=row["follow__match"],
        last_new_title=row["follow__last_new_title"],
        last_new_at=row["follow__last_new_at"],
        forum=bool(row["forum"]),
    )


def _track(row: AudioFile) -> Track:
    return Track(
        id=row.pk,
        file_id=row.file_id,
        message_id=row.message_id,
        title=row.title,
        performer=row.performer,
        file_name=row.file_name,
        duration=row.duration,
        file_size=row.file_size,
        mime_type=row.mime_type,
        status=str(getattr(row.status, "value", row.status)),
        local_path=row.local_path,
        checksum_md5=row.checksum_md5,
        source_md5=row.source_md5,
    )


async def _split_rows(rows: list[AudioFile]) -> tuple[list[AudioFile], list[AudioFile]]:
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
