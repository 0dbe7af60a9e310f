"""The Groups pane: the account's groups, a forum group's topics, a group's (or topic's) tracks,
scanning, queueing a selection, and following."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import ContentSwitcher, Label

from tad_tui.api import (
    FollowError,
    GroupSummary,
    NewAudio,
    Priority,
    SourceError,
    StatesChanged,
    TopicError,
    TopicSummary,
    check_match,
    status_word,
)
from tad_tui.engine import Engine
from tad_tui.ui import figures
from tad_tui.ui.dialogs import FollowChoice, FollowDialog, PriorityDialog
from tad_tui.ui.messages import EngineEvent, QueueChanged, ScanFinished, ScanProgressed
from tad_tui.ui.preview import play, seen_word
from tad_tui.ui.removal import Doomed, confirm_removal
from tad_tui.ui.table import Cell, Column, RowTable
from tad_tui.words import counted

GROUP_COLUMNS = (
    Column("Group", 0),
    Column("Username", 20),
    Column("Kind", 9),
    Column("Audio", 6, "right"),
    Column("Last scan", 11),
)
# Once a group is followed: a mark before each followed title, and what each last brought.
FOLLOWED_COLUMNS = (*GROUP_COLUMNS, Column("Last new", 0))
FOLLOWED_MARK = "★ "
TRACK_COLUMNS = (
    Column("✓", 1),
    Column("Title", 0),
    Column("Performer", 0),
    Column("Length", 7, "right"),
    Column("Size", 9, "right"),
    Column("Type", 4),
    Column("Status", 10),
)
TOPIC_COLUMNS = (
    Column("Topic", 0),
    Column("Audio", 6, "right"),
    Column("Last post", 11),
)
ALL_TOPICS = 0  # the topic list's first row: every track of the forum group
AGE_REDRAW_SECONDS = 60  # "Last scan" says minutes at its finest


@dataclass(frozen=True)
class TrackRow:
    id: int  # Track.id: what the engine queues
    title: str
    performer: str
    duration: int | None
    size: int
    format: str
    status: str  # a word of the panes (tad_tui.api.status_word): "new", "queued", "downloaded"…
    local_path: str | None = None  # its file, once downloaded


@dataclass(frozen=True)
class TopicRow:
    id: int  # the forum topic's id (1 = General), or ALL_TOPICS
    title: str
    tracks: int  # its audio in the library
    last_posted_at: datetime | None  # None: not known (offline) or the all-topics row


def topic_rows(topics: Sequence[TopicSummary]) -> list[TopicRow]:
    """The topic list: every track first, then the topics as Telegram orders them (most recent first)."""
    rows = [TopicRow(t.id, figures.clean(t.title), t.tracks, t.last_posted_at) for t in topics]
    return [TopicRow(ALL_TOPICS, "All topics", sum(t.tracks for t in rows), None), *rows]


def topic_cells(clock: Callable[[], datetime]) -> Callable[[TopicRow], Sequence[Cell]]:
    def cells(topic: TopicRow) -> Sequence[Cell]:
        posted, now = topic.last_posted_at, clock()
        # A post "after now" (a clock behind Telegram's) says its date rather than "just now".
        last = "" if posted is None else figures.age(posted, now) if posted <= now else posted.date().isoformat()
        return (topic.title, str(topic.tracks), last)

    return cells


def group_cells(
    clock: Callable[[], datetime], following: Callable[[], bool] = lambda: False
) -> Callable[[GroupSummary], Sequence[Cell]]:
    """A group's cells; while ``following()`` (some group is followed), with the mark and "Last new"."""

    def cells(group: GroupSummary) -> Sequence[Cell]:
        shown: tuple[Cell, ...] = (
            figures.clean(group.title),
            f"@{group.username}" if group.username else "",
            "forum" if group.forum else group.kind,  # a forum opens on its topics
            str(group.audio_count),
            figures.age(group.last_checked, clock()),
        )
        if not following():
            return shown
        mark = FOLLOWED_MARK if group.followed else " " * len(FOLLOWED_MARK)
        return (mark + shown[0], *shown[1:], last_new(group, clock()))

    return cells


def last_new(group: GroupSummary, now: datetime) -> str:
    """What a followed group last brought: "Bill Evans – Peace Piece · 5 min ago" (a long name
    pushes the age out: the name is the news)."""
    if not group.followed:
        return ""
    if group.last_new_title is None:
        return "nothing new yet"
    return f"{figures.clean(group.last_new_title)} · {figures.age(group.last_new_at, now)}"


def _track_name(track: TrackRow) -> str:
    return f"{track.title} – {track.performer}" if track.performer else track.title


def track_cells(track: TrackRow) -> Sequence[Cell]:
    return (
        "✓" if track.status == "downloaded" else "",
        track.title,
        track.performer,
        figures.duration(track.duration),
        figures.format_size(track.size),
        track.format,
        figures.state(track.status),
    )


class GroupsPane(Vertical):
    """Groups first; Enter opens a group's tracks (a forum group's topics, then a topic's tracks),
    Escape goes back a level."""

    HELP_TITLE = "Groups pane"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "scan", "Scan", tooltip="Scan the group for new audio (live progress)", id="groups.scan"),
        Binding("space", "toggle_mark", "Select", tooltip="Select or unselect the track", id="groups.select"),
        Binding("a", "mark_new", "Select new", show=False, tooltip="Select every track not downloaded or queued", id="groups.select_new"),
        Binding("e", "enqueue", "Queue", tooltip="Queue the selected tracks (or this one) at normal priority", id="groups.enqueue"),
        Binding("E", "enqueue_with_priority", "Queue as…", tooltip="Queue the selected tracks with a priority you choose", id="groups.enqueue_priority"),
        Binding("o", "play", "Play", tooltip="Play the downloaded track (the player in config.toml, else the system's), or show its path", id="groups.play"),
        Binding(
            "d", "remove", "Remove", tooltip="Remove the selected tracks (or this one) from the library and their files from disk (asks first)",
            id="groups.remove",
        ),
        # Two bindings of one key: the one enabled (check_action) is the one shown and run.
        Binding(
            "escape,backspace", "back_to_topics", "Topics", tooltip="Back to the forum group's topics",
            id="groups.topics",
        ),
        Binding("escape,backspace", "back", "Groups", tooltip="Back to the list of groups", id="groups.back"),
        Binding(
            "f", "follow", "Follow",
            tooltip="Follow the group (its new audio is queued as it is posted), or stop following it",
            id="groups.follow",
        ),
        Binding("ctrl+r", "reload", "Refresh", show=False, tooltip="Ask Telegram for the groups again", id="groups.refresh"),
    ]
    # Keys of an open group (its tracks; the two "back" keys at its topics too), never of the list of groups.
    TRACK_ACTIONS: ClassVar[set[str]] = {
        "toggle_mark", "mark_new", "enqueue", "enqueue_with_priority", "play", "remove", "back", "back_to_topics",
    }
    GROUP_ACTIONS: ClassVar[set[str]] = {"follow"}  # on the list of groups only
    NEW_AUDIO_RELOAD_S = 0.5  # a burst of new audio (a catch-up) reads the groups once

    def __init__(self, engine: Engine, clock: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.group: GroupSummary | None = None  # the group whose tracks (or topics) are open
        self.topic: TopicRow | None = None  # the forum topic whose tracks are open
        self._scanning: set[int] = set()
        self._status_group: int | None = None  # the group the status line speaks of
        self._clock = clock
        self._following = False  # some group is followed: the list shows the mark and "Last new"
        self._busy_follows: set[int] = set()  # groups being followed or unfollowed now
        self._reload_pending = False
        self._groups = RowTable[GroupSummary](
            GROUP_COLUMNS, group_cells(clock, lambda: self._following), lambda g: g.id,
            empty_text="Loading groups…", id="group-list",
        )
        self._tracks = RowTable[TrackRow](
            TRACK_COLUMNS, track_cells, lambda t: t.id, empty_text="No audio yet: press s to scan",
            markable=True,
            id="track-list",
        )
        self._topics = RowTable[TopicRow](
            TOPIC_COLUMNS, topic_cells(clock), lambda t: t.id, empty_text="Loading topics…", id="topic-list",
        )

    def compose(self) -> ComposeResult:
        status = Label("", id="groups-status")
        status.display = False
        yield status
        with ContentSwitcher(initial="group-list", id="groups-switcher"):
            yield self._groups
            with Vertical(id="topics-view"):
                yield Label("", id="topics-title")
                yield self._topics
            with Vertical(id="tracks-view"):
                yield Label("", id="tracks-title")
                yield self._tracks

    def on_mount(self) -> None:
        self.load_groups(refresh=False)  # the library's; the app refreshes them once it is online
        self.set_interval(AGE_REDRAW_SECONDS, self.refresh_ages)

    def refresh_ages(self) -> None:
        """Redraw the group rows: "Last scan" is an age, and a drawn line is cached until its row changes."""
        self._groups.set_rows(self._groups.rows)

    @property
    def _at_topics(self) -> bool:
        """The open group is a forum and no topic of it is open: its topic list shows."""
        return self.group is not None and self.group.forum and self.topic is None

    def focus_list(self) -> None:
        # At once, not at the next message (Widget.focus): a key typed right after F1 must land here.
        self.screen.set_focus(self._groups if self.group is None else self._topics if self._at_topics else self._tracks)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back_to_topics":
            return self.topic is not None
        if action == "back":
            return self.group is not None and self.topic is None
        if action in self.TRACK_ACTIONS:
            return self.group is not None and not self._at_topics
        if action in self.GROUP_ACTIONS:
            return self.group is None
        return True

    def _status(self, text: str, group_id: int | None = None) -> None:
        """The status line, about ``group_id`` if given: it goes when another group is opened."""
        status = self.query_one("#groups-status", Label)
        status.update(Content(text))  # holds group titles: "[/]" in one is text, not markup
        status.display = bool(text)
        self._status_group = group_id

    # ---- groups -------------------------------------------------------------------------------

    @work(group="groups", exclusive=True, exit_on_error=False)
    async def load_groups(self, *, refresh: bool) -> None:
        self._show_groups(await self.engine.list_groups(refresh=False))
        if not refresh:
            return
        try:
            self._show_groups(await self.engine.list_groups(refresh=True))
        except SourceError as error:
            self._status(f"Could not ask Telegram for groups: {error}")
        if not self._groups.rows:
            self._groups.empty_text = "No groups or channels in this account"
            self._groups.refresh()

    def _show_groups(self, groups: list[GroupSummary]) -> None:
        following = any(group.followed for group in groups)
        if following != self._following:
            self._following = following
            self._groups.columns = list(FOLLOWED_COLUMNS if following else GROUP_COLUMNS)
        self._groups.set_rows(_by_title(groups))  # repaints every line, the header too

    def on_row_table_chosen(self, event: RowTable.Chosen) -> None:
        if event.table is self._groups:
            event.stop()
            self.open_group(event.row)
        elif event.table is self._topics:
            event.stop()
            self.open_topic(event.row)

    def open_group(self, group: GroupSummary) -> None:
        """Open a group: its tracks, or a forum group's topics."""
        self.group, self.topic = group, None
        if self._status_group is not None and self._status_group != group.id:
            self._status("")  # "DJ Mixes: 5 new" is not news about the group now open
        if not group.forum:
            self._open_tracks()
            return
        self._topics.set_rows([], keep_cursor=False)
        self._topics.empty_text = "Loading topics…"
        self.query_one("#topics-title", Label).update(Content(f"{figures.clean(group.title)} · topics"))
        self._show("topics-view", self._topics)
        self.load_topics(group)

    def open_topic(self, topic: TopicRow) -> None:
        """Open one topic of the forum group open: its tracks only (every track for "All topics")."""
        if self.group is None:
            return
        self.topic = topic
        self._open_tracks()

    def _open_tracks(self) -> None:
        self._tracks.set_rows([], keep_cursor=False)
        self._tracks.marked.clear()
        self._show_tracks_title()
        self._show("tracks-view", self._tracks)
        self._load_open_tracks()

    def _show(self, view: str, table: RowTable) -> None:  # type: ignore[type-arg]
        self.query_one(ContentSwitcher).current = view
        table.focus()
        self.refresh_bindings()

    def action_back(self) -> None:
        if self.group is None:
            return
        self._groups.go_to_key(self.group.id)
        self.group, self.topic = None, None
        self._show("group-list", self._groups)

    def action_back_to_topics(self) -> None:
        if self.group is None or self.topic is None:
            return
        self._topics.go_to_key(self.topic.id)
        self.topic = None
        self._show("topics-view", self._topics)
        self.load_topics(self.group)  # the counts may have changed (a scan, downloads)

    def action_reload(self) -> None:
        self.load_groups(refresh=True)
        self._reload_open()

    def _reload_open(self) -> None:
        """Read again what the open group shows: its topics or its tracks."""
        if self.group is None:
            return
        if self._at_topics:
            self.load_topics(self.group)
        else:
            self._load_open_tracks()

    def _load_open_tracks(self) -> None:
        if self.group is not None:
            self.load_tracks(self.group, self.topic.id if self.topic and self.topic.id != ALL_TOPICS else None)

    # ---- topics -------------------------------------------------------------------------------

    @work(group="topics", exclusive=True, exit_on_error=False)
    async def load_topics(self, group: GroupSummary) -> None:
        """A forum group's topics as Telegram lists them; the library's when Telegram cannot be asked."""
        try:
            topics = await self.engine.topics(str(group.id))
        except TopicError as error:
            self._topics.empty_text = str(error)
            topics = []
        except (SourceError, ConnectionError, OSError) as error:
            self._status(f"Could not ask Telegram for the topics of {figures.clean(group.title)}: {error}", group.id)
            topics = await self.engine.topics(str(group.id), refresh=False)
        if self.group is not None and self.group.id == group.id:
            self._topics.set_rows(topic_rows(topics))

    # ---- tracks -------------------------------------------------------------------------------

    def _show_tracks_title(self) -> None:
        if self.group is None:
            return
        marked = len(self._tracks.marked)
        downloaded = sum(1 for t in self._tracks.rows if t.status == "downloaded")
        where = figures.clean(self.group.title) + (f" › {self.topic.title}" if self.topic is not None else "")
        text = f"{where} · {counted(len(self._tracks.rows), 'track')}, {downloaded} downloaded"
        self.query_one("#tracks-title", Label).update(Content(text + (f" · {marked} selected" if marked else "")))

    @work(group="tracks", exclusive=True, exit_on_error=False)
    async def load_tracks(self, group: GroupSummary, topic: int | None = None) -> None:
        tracks = [
            TrackRow(
                id=listed.track.id,
                title=figures.clean(listed.track.title or listed.track.file_name) or "(untitled)",
                performer=figures.clean(listed.track.performer),
                duration=listed.track.duration,
                size=listed.track.file_size,
                format=figures.audio_format(listed.track.mime_type, listed.track.file_name),
                status=seen_word(listed.word, listed.track.local_path),
                local_path=listed.track.local_path,
            )
            for listed in await self.engine.group_tracks(group.id, topic)
        ]
        if self.group is not None and self.group.id == group.id and not self._at_topics:
            self._tracks.set_rows(tracks)
            self._show_tracks_title()

    def on_engine_event(self, message: EngineEvent) -> None:
        """A queue entry changed state: its track's row and the header follow, wherever it is scrolled.
        A followed group brought new audio: its row says so at once, its count follows."""
        if isinstance(message.event, NewAudio):
            self._on_new_audio(message.event)
            return
        if not isinstance(message.event, StatesChanged) or self.group is None:
            return
        states = message.event.states
        changed = False
        for audio_id, state in states.items():
            index = self._tracks.index_of(audio_id)
            if index is not None:
                track = self._tracks.rows[index]
                word = status_word(state)
                if track.status != word:
                    self._tracks.update_row(replace(track, status=word))
                    changed = True
        if changed:
            self._show_tracks_title()

    def _on_new_audio(self, event: NewAudio) -> None:
        index = self._groups.index_of(event.group_id)
        if index is not None:
            row = self._groups.rows[index]
            self._groups.update_row(replace(row, followed=True, last_new_title=event.name, last_new_at=self._clock()))
        self._reload_soon()

    def _reload_soon(self) -> None:
        """The groups (their audio counts) and the open group's tracks read again shortly: once for a
        burst of new audio, not once per file."""
        if self._reload_pending:
            return
        self._reload_pending = True

        def reload() -> None:
            self._reload_pending = False
            self.load_groups(refresh=False)
            self._reload_open()

        self.set_timer(self.NEW_AUDIO_RELOAD_S, reload)

    def action_toggle_mark(self) -> None:
        self._tracks.toggle_mark()
        self._tracks.action_move_cursor(1)
        self._show_tracks_title()

    def action_mark_new(self) -> None:
        """Select every track not downloaded nor queued (or clear the selection if all are)."""
        fresh = {t.id for t in self._tracks.rows if t.status in ("new", "missing", "failed", "cancelled")}
        self._tracks.marked = set() if fresh <= self._tracks.marked else fresh
        self._tracks.refresh()
        self._show_tracks_title()

    def action_enqueue(self) -> None:
        self.enqueue(Priority.NORMAL)

    def action_enqueue_with_priority(self) -> None:
        def chosen(priority: Priority | None) -> None:
            if priority is not None:
                self.enqueue(priority)

        self.app.push_screen(PriorityDialog("Queue the selected tracks with priority"), chosen)

    def _chosen_tracks(self) -> list[TrackRow]:
        marked = self._tracks.marked_rows()
        current = self._tracks.current
        return marked or ([current] if current is not None else [])

    def action_play(self) -> None:
        track = self._tracks.current
        if track is not None:
            play(self, self.engine.settings.ui.player, track.local_path, track.title)

    def action_remove(self) -> None:
        chosen = self._chosen_tracks()
        doomed = [Doomed(t.id, _track_name(t), t.local_path if t.status in ("downloaded", "missing") else None) for t in chosen]

        def removed(ids: set[int]) -> None:
            self._tracks.marked -= ids
            self._tracks.set_rows([row for row in self._tracks.rows if row.id not in ids])
            self._show_tracks_title()
            self.load_groups(refresh=False)  # their audio counts

        confirm_removal(self, self.engine, doomed, removed)

    @work(group="enqueue", exit_on_error=False)
    async def enqueue(self, priority: Priority) -> None:
        group = self.group
        chosen = self._chosen_tracks()
        wanted = [t for t in chosen if t.status != "downloaded"]
        if group is None or not chosen:
            return
        if not wanted:
            self.notify("Those tracks are already downloaded", severity="warning")
            return
        batch = group.title + (f" › {self.topic.title}" if self.topic and self.topic.id != ALL_TOPICS else "")
        if gone := [t.id for t in wanted if t.status == "missing"]:  # marked in the library: fetched again
            await self.engine.verify_files(gone)
        result = await self.engine.enqueue([t.id for t in wanted], priority=priority, batch_name=batch)
        queued = await self.engine.queued_tracks(result.entry_ids)
        for track in wanted:
            if track.id in queued:
                self._tracks.update_row(replace(track, status="queued"))
        self._tracks.marked.clear()
        self._tracks.refresh()
        self._show_tracks_title()
        parts = [f"Queued {counted(len(result.entry_ids), 'track')} ({priority.name.lower()})"]
        if result.already_queued:
            parts.append(f"{result.already_queued} were already queued")
        if len(wanted) < len(chosen):
            parts.append(f"{len(chosen) - len(wanted)} already downloaded")
        self.notify("; ".join(parts))
        self.post_message(QueueChanged())

    # ---- following ----------------------------------------------------------------------------

    def action_follow(self) -> None:
        """Not followed: ask for the optional match, then follow (a scan first). Followed: unfollow."""
        group = self._groups.current
        if group is None or self.group is not None:
            return
        title = figures.clean(group.title)
        if group.id in self._busy_follows or group.id in self._scanning:
            self.notify(f"{title} is being scanned or followed: press f again when it is done", markup=False)
            return
        if group.followed:
            self._busy_follows.add(group.id)
            self.unfollow(group)
            return

        def chosen(choice: FollowChoice | None) -> None:
            if choice is not None and group.id not in self._busy_follows:
                self._busy_follows.add(group.id)
                self.follow(group, choice.match)

        self.app.push_screen(FollowDialog(title, check_match), chosen)

    @work(group="follow", exit_on_error=False)
    async def follow(self, group: GroupSummary, match: str | None) -> None:
        """Follow ``group``: it is scanned first (what it holds now is not new), with the scan's progress."""
        title = figures.clean(group.title)
        self._scanning.add(group.id)
        self._status(f"Following {title}: scanning it first…", group.id)
        try:
            follow, _ = await self.engine.follow(
                str(group.id),
                match=match,
                on_progress=lambda p: self.post_message(ScanProgressed(group.id, title, p.new)),
            )
        except FollowError as error:  # the dialog checked it: only a change of the language gets here
            self._status("")
            self.notify(f"{title} is not followed: {error}", severity="error", markup=False)
            return
        except (SourceError, ConnectionError, OSError) as error:
            self._status(f"Following {title} failed: {error}", group.id)
            return
        finally:
            self._scanning.discard(group.id)
            self._busy_follows.discard(group.id)
        what = f"new audio matching {follow.match}" if follow.match else "its new audio"
        self._status(f"Following {title}: {what} is queued as it is posted", group.id)
        self.load_groups(refresh=False)

    @work(group="follow", exit_on_error=False)
    async def unfollow(self, group: GroupSummary) -> None:
        title = figures.clean(group.title)
        try:
            await self.engine.unfollow(str(group.id))
        finally:
            self._busy_follows.discard(group.id)
        if self._status_group == group.id:
            self._status("")
        self.notify(f"No longer following {title} (queued files stay queued); f follows it again", markup=False)
        self.load_groups(refresh=False)

    # ---- scanning -----------------------------------------------------------------------------

    def action_scan(self) -> None:
        group = self.group or self._groups.current
        if group is None:
            return
        if group.id in self._scanning:
            self.notify(f"{figures.clean(group.title)} is being scanned already", markup=False)
            return
        # Marked here, not in the worker: a second key handled before the worker runs must see it.
        self._scanning.add(group.id)
        self.scan(group)

    @work(group="scan", exit_on_error=False)
    async def scan(self, group: GroupSummary) -> None:
        self._scanning.add(group.id)  # already there when started by the key
        title = figures.clean(group.title)
        self._status(f"Scanning {title}…", group.id)
        try:
            result = await self.engine.scan(
                str(group.id), on_progress=lambda p: self.post_message(ScanProgressed(group.id, title, p.new))
            )
        except SourceError as error:
            self._status(f"Scanning {title} failed: {error}", group.id)
            return
        finally:
            self._scanning.discard(group.id)
        self.post_message(ScanFinished(group.id, title, result.new, result.total))

    def on_scan_progressed(self, message: ScanProgressed) -> None:
        if message.group_id in self._scanning:
            self._status(f"Scanning {message.title}… {counted(message.new, 'new audio message')}", message.group_id)

    def on_scan_finished(self, message: ScanFinished) -> None:
        self._status(f"{message.title}: {message.new} new, {message.total} in the library", message.group_id)
        self.load_groups(refresh=False)
        if self.group is not None and self.group.id == message.group_id:
            self._reload_open()


def _by_title(groups: list[GroupSummary]) -> list[GroupSummary]:
    # Telegram lists dialogs by recent activity; a stable order keeps the cursor where the eye is.
    return sorted(groups, key=lambda g: (g.title.casefold(), g.id))
