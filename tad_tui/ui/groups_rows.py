"""The Groups pane's rows (a track, a forum topic) and the cells each row, a group's too, reads as.
No Textual here: the pane is tad_tui/ui/groups.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tad_tui.api import GroupSummary, TopicSummary
from tad_tui.ui import figures

if TYPE_CHECKING:
    from tad_tui.ui.table import Cell  # the table is a widget: only its cell type is wanted here

FOLLOWED_MARK = "★ "  # before each followed group's title, once some group is followed
ALL_TOPICS = 0  # the topic list's first row: every track of the forum group


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


def track_name(track: TrackRow) -> str:
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


def by_title(groups: list[GroupSummary]) -> list[GroupSummary]:
    # Telegram lists dialogs by recent activity; a stable order keeps the cursor where the eye is.
    return sorted(groups, key=lambda g: (g.title.casefold(), g.id))
