"""What the Groups pane shows: the list of groups, a forum group's topics and a group's (or
topic's) tracks, moving between them (Enter, Escape), read from the engine and kept up to date
as scans, downloads and followed groups change them; and the status line above them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import ContentSwitcher, Label

from tad_tui.api import GroupSummary, NewAudio, SourceError, StatesChanged, TopicError, status_word
from tad_tui.engine import Engine
from tad_tui.ui import figures
from tad_tui.ui.groups_rows import (
    ALL_TOPICS,
    TopicRow,
    TrackRow,
    by_title,
    group_cells,
    topic_cells,
    topic_rows,
    track_cells,
)
from tad_tui.ui.messages import EngineEvent
from tad_tui.ui.preview import seen_word
from tad_tui.ui.table import Column, RowTable
from tad_tui.words import counted

GROUP_COLUMNS = (
    Column("Group", 0),
    Column("Username", 20),
    Column("Kind", 9),
    Column("Audio", 6, "right"),
    Column("Last scan", 11),
)
# Once a group is followed: what each followed group last brought (and a mark before its title).
FOLLOWED_COLUMNS = (*GROUP_COLUMNS, Column("Last new", 0))
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
AGE_REDRAW_SECONDS = 60  # "Last scan" says minutes at its finest


class GroupsView(Vertical):
    """The Groups pane without the keys that act on what it shows (tad_tui/ui/groups.py)."""

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
        self._groups.set_rows(by_title(groups))  # repaints every line, the header too

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
