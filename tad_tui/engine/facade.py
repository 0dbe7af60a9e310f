"""The ``Engine`` class: every command the TUI and the CLI give, in one place.

A method that is more than a call does its work in the package's module for that concern
(``groups``, ``tracks``, ``files``, ``queue``, ``downloads``; ``results`` turns rows into what
``tad_tui.api`` defines); the method's docstring is the command's contract.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
)
from tad_tui.audit import recorded
from tad_tui.config import Settings
from tad_tui.download.events import EventBus
from tad_tui.engine import downloads, files, groups, queue, tracks
from tad_tui.paths import Paths
from tad_tui.store.models import Priority

# Scanning and the Telegram source (Telethon, ~0.15 s to import) load when a command reaches
# Telegram: read-only commands (queue, search, performance) never import them.
if TYPE_CHECKING:
    from tad_tui.library.cleanup import Removal, Verification
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

    # ---- groups (groups.py) -----------------------------------------------------------------------

    async def list_groups(self, *, refresh: bool = True) -> list[GroupSummary]:
        """The account's groups and channels; ``refresh`` asks Telegram first, else the library only."""
        return await groups.list_groups(self, refresh=refresh)

    async def resolve_group(self, key: str) -> GroupInfo:
        """A group by ``@username``, ``username``, a t.me link, a numeric id or its title in any case
        and accent form (a unique prefix is enough; see ``library.finding``): the library first (an
        id, a username or the whole title), then Telegram's list of the account's groups."""
        return await groups.resolve_group(self, key)

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
        return await groups.scan_info(self, info, on_progress=on_progress, takeout=takeout, window=window, topic=topic)

    async def find_topic(self, info: GroupInfo, text: str) -> TopicInfo:
        """The topic of forum group ``info`` that ``text`` names (its id, or its title in any case and
        accent form, a unique prefix enough); TopicError in words (listing the topics) for none, more
        than one, or a group that is no forum."""
        return await groups.find_topic(self, info, text)

    async def topics(self, key: str, *, refresh: bool = True) -> list[TopicSummary]:
        """A forum group's topics, each with its audio in the library: as Telegram lists them (the most
        recently active first), or with ``refresh=False`` those the library's tracks name (by id).
        TopicError for a group that is no forum."""
        return await groups.topics(self, key, refresh=refresh)

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

    # ---- choosing tracks (tracks.py) and searching ---------------------------------------------

    async def select_linked(self, link: MessageLink) -> LinkedTracks:
        """A message link's audio, stored in the library and split into what to fetch and what is
        already here; ``error`` says in words why a link gives nothing (the chat cannot be reached,
        the message was deleted or holds no audio). Never raises for one link's failure."""
        return await tracks.select_linked(self, link)

    async def select_for_download(
        self, info: GroupInfo, *, limit: int | None = None, window: ScanWindow | None = None, match: str | None = None,
        topic: int | None = None,
    ) -> DownloadSelection:
        """The group's audio in message order: what still needs fetching, and what is already here;
        only what lies in ``window``, in forum ``topic`` and what ``match`` (the search language)
        matches, if given."""
        return await tracks.select_for_download(self, info, limit=limit, window=window, match=match, topic=topic)

    async def group_tracks(self, group_id: int, topic: int | None = None) -> list[GroupTrack]:
        """A group's tracks (only forum ``topic``'s, if given) in message order, each with its word:
        downloaded, queued (its queue state), new…"""
        return await tracks.group_tracks(self, group_id, topic)

    async def track_ids(self, file_ids: Sequence[str]) -> tuple[list[int], list[str]]:
        """The tracks (Track.id) of these file ids (GROUP_MESSAGE, as ``search --json`` lists them),
        and the file ids that no track of the library has."""
        return await tracks.track_ids(file_ids)

    async def search(
        self, text: str, *, limit: int, fuzzy: bool = False, filters: SearchFilters | None = None
    ) -> SearchResult:
        """Search the library (the query language of README's Search section)."""
        return await self.search_service.search(text, limit=limit, fuzzy=fuzzy, filters=filters)

    async def matching_tracks(self, query: str, track_ids: Sequence[int]) -> set[int]:
        """The tracks among ``track_ids`` (Track.id) that ``query`` in the search language matches:
        every word and every filter (never the "some of the words" a search falls back to)."""
        return await tracks.matching_tracks(self, query, track_ids)

    async def all_matching(self, query: str, *, downloaded_only: bool = False) -> list[int]:
        """Every track (Track.id) ``query`` matches in full (all its words and filters); only those
        whose file is or was on disk if ``downloaded_only``."""
        return await tracks.all_matching(self, query, downloaded_only=downloaded_only)

    async def query_tracks(self, query: str, *, downloaded: bool = False) -> tuple[list[int], list[str]]:
        """Every track (Track.id) ``query`` in the search language matches, with every word and filter
        (never the "some of the words" a search falls back to); ``downloaded``: only those on disk.
        Also the search's hints (filters it could not read)."""
        return await tracks.query_tracks(self, query, downloaded=downloaded)

    async def warm_up_search(self) -> None:
        """Load the search vocabulary now, so the first search typed does not wait for it."""
        await self.search_service.warm_up()

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

    # ---- downloaded files (files.py), import, playlists and export ------------------------------

    async def remove_tracks(self, track_ids: Sequence[int], *, keep_file: bool = False, dry_run: bool = False) -> list[Removal]:
        """Take tracks out of the library and their files off the disk (see library/cleanup.py)."""
        return await files.remove_tracks(self, track_ids, keep_file=keep_file, dry_run=dry_run)

    async def verify_files(self, track_ids: Sequence[int]) -> Verification:
        """Re-hash these tracks' downloaded files; those gone from disk are marked missing."""
        return await files.verify_files(self, track_ids)

    async def rename_files(
        self, root: Path, *, query: str | None, dry_run: bool, on_move: Callable[[Path, Path], None]
    ) -> RenameOutcome:
        """``tad-tui rename``: move the downloaded files in ``root`` to the names the filename template
        gives them (see ``library.rename``); an interrupted run's journal is finished first."""
        return await files.rename_files(self, root, query=query, dry_run=dry_run, on_move=on_move)

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

    # ---- the queue (queue.py; changing entries is the scheduler's) ------------------------------

    async def queue_rows(self) -> list[QueueRow]:
        """The whole queue in order: by priority, then position; finished entries last."""
        return await queue.queue_rows()

    async def queue_counts(self) -> dict[str, int]:
        return await queue.queue_counts()

    async def queued_tracks(self, entry_ids: Sequence[int]) -> set[int]:
        """The tracks (Track.id) the given queue entries download."""
        return await queue.queued_tracks(entry_ids)

    async def batch_states(self, batch_id: int) -> list[tuple[int, str]]:
        """Each entry of a batch with its state, as stored."""
        return await queue.batch_states(batch_id)

    async def entry_location(self, entry_id: int) -> EntryLocation | None:
        """Where the entry's file is, or where it will go (None: no such entry)."""
        return await queue.entry_location(self, entry_id)

    async def clear_finished(self) -> list[int]:
        """Take completed and cancelled entries off the queue; returns their ids.

        Only queue rows go: downloaded files and the library's rows (with their status, path and
        checksums) stay. Failed entries stay to be retried, and so does a finished entry that an
        unfinished one depends on (its outcome decides whether that one may run).
        """
        return await queue.clear_finished(self._scheduler)

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

    # ---- downloads (downloads.py) ---------------------------------------------------------------

    @property
    def scheduler(self) -> Scheduler:
        """The download queue, built on first use (it needs Telegram, so writer sessions only)."""
        if self._scheduler is None:
            self._scheduler = downloads.build_scheduler(self)
        return self._scheduler

    async def run_downloads(self, *, until_idle: bool) -> Counter[str]:
        """Download what is queued (after start_downloads): until the queue is idle, or until cancelled.
        Returns how many entries ended each way ("downloaded", "failed"…)."""
        return await self.scheduler.run(until_idle=until_idle)

    @property
    def bandwidth_limit(self) -> int:
        """The total download limit in bytes a second now (0: none)."""
        return self.scheduler.context.bandwidth.rate

    def set_bandwidth_limit(self, bytes_per_second: int, *, save_to: Path | None = None) -> None:
        """Change the total download limit: for this session, or also in ``save_to`` (a config file,
        as ``[performance] bandwidth_limit``, its comments and other keys kept).

        Saving comes first: a file that cannot be written (ConfigError) leaves the limit as it was.
        """
        downloads.set_bandwidth_limit(self.scheduler.context.bandwidth, bytes_per_second, save_to=save_to)

    async def download_history(self) -> DownloadHistory:
        """Every completed download's size and times, and every failure's reason, from the library."""
        return await downloads.download_history()

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

    def start_monitor(self, *, share: bool = True) -> Monitor:
        """Sample once a second; ``share`` writes each sample for ``tad-tui performance`` to read."""
        if self.monitor is None:
            self.monitor = downloads.build_monitor(self, share=share)
            self._time_searches()
        self.monitor.start()
        return self.monitor

    def start_notifier(self, fallback: Callable[[str, str], None]) -> Notifier:
        """Notify of this run's events (notify.py): on the desktop, else through ``fallback`` (the
        terminal, the app's toast), and to the configured services; closed with the engine."""
        if self._notifier is None:
            from tad_tui.notify import Notifier

            self._notifier = Notifier(self.settings.notifications, self.events, fallback)
        return self._notifier

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
