"""The Groups pane: the account's groups, a forum group's topics, a group's (or topic's) tracks,
scanning, queueing a selection, and following.

Built in parts: groups_rows.py (the rows and their cells, no Textual) and groups_view.py (the
lists, moving between them, kept up to date); this module binds the keys and does what they ask.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual import work
from textual.binding import Binding, BindingType

from tad_tui.api import FollowError, GroupSummary, Priority, SourceError, check_match
from tad_tui.ui import figures
from tad_tui.ui.dialogs import FollowChoice, FollowDialog, PriorityDialog
from tad_tui.ui.groups_rows import ALL_TOPICS, TrackRow, track_name
from tad_tui.ui.groups_view import GroupsView
from tad_tui.ui.messages import QueueChanged, ScanFinished, ScanProgressed
from tad_tui.ui.preview import play
from tad_tui.ui.removal import Doomed, confirm_removal
from tad_tui.words import counted

__all__ = ["ALL_TOPICS", "GroupsPane"]


class GroupsPane(GroupsView):
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
        doomed = [Doomed(t.id, track_name(t), t.local_path if t.status in ("downloaded", "missing") else None) for t in chosen]

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
