"""What the TUI and the CLI see of the engine: its results, events, enums, errors and text helpers.

The UI and the CLI (``tad_tui.cli``) import from here and call ``tad_tui.engine.Engine``'s methods, never
the store, the downloader, the library or Telegram themselves (tests/test_import_hygiene.py checks).
Results are frozen dataclasses of plain values, never Tortoise model objects.

Names defined elsewhere are loaded on first use (as in ``tad_tui.store``): ``tad-tui --help`` and
an error line must not pay for importing Tortoise or Telethon.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tad_tui.download.concurrency import concurrency_words
    from tad_tui.download.events import (
        BatchProgress,
        EntryFinished,
        EntryProgress,
        EntryResumed,
        EntryStarted,
        EntryWaiting,
        Event,
        EventBus,
        NewAudio,
        Notice,
        QueueIdle,
        StatesChanged,
        wait_words,
    )
    from tad_tui.download.scheduler import YIELDED, Enqueued, PriorityChange, QueueError
    from tad_tui.following import FollowError, FollowInfo, check_match
    from tad_tui.library.links import (
        LinkError,
        MessageLink,
        is_chat_link,
        looks_like_link,
        parse_link,
        parse_links,
        read_link_file,
        split_links,
    )
    from tad_tui.library.ranges import ScanWindow, parse_id_range, parse_period
    from tad_tui.library.ranges import window as scan_window
    from tad_tui.library.desktop_export import DesktopExport, ExportError, read_export as read_desktop_export
    from tad_tui.library.cleanup import Removal, Verification
    from tad_tui.library.export import LibraryExport
    from tad_tui.library.import_export import ExportImport, ImportItem
    from tad_tui.library.playlists import PlaylistWritten, write_atomically
    from tad_tui.library.scan import ScanProgress, ScanResult
    from tad_tui.library.search import SearchFilters, SearchHit, SearchResult, status_names
    from tad_tui.library.status import track_word
    from tad_tui.library.status import word as status_word
    from tad_tui.library.text import escape_unsafe, printable, track_name
    from tad_tui.library.topics import TopicError
    from tad_tui.store.db import DATABASE_BUSY, StoreError, database_busy
    from tad_tui.store.models import FileStatus, Priority, QueueState
    from tad_tui.telegram.login import LoginError, LoginFlow, LoginStep
    from tad_tui.telegram.sim.demo import DEMO_ACCOUNT_HINT
    from tad_tui.telegram.source import GroupInfo, SourceError, explain_takeout


@dataclass(frozen=True)
class GroupSummary:
    id: int
    title: str
    username: str | None
    kind: str
    audio_count: int
    last_checked: datetime | None
    followed: bool = False  # its new audio is queued as it is posted (``Engine.follow``)
    follow_match: str | None = None  # only new audio this search matches (None: every new file)
    last_new_title: str | None = None  # the last new file a follow queued, and when
    last_new_at: datetime | None = None
    forum: bool = False  # a forum group: its tracks are sorted into topics (``Engine.topics``)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "username": self.username,
            "kind": self.kind,
            "forum": self.forum,
            "audio_count": self.audio_count,
            "last_checked": self.last_checked.isoformat() if self.last_checked else None,
            "followed": self.followed,
            "follow_match": self.follow_match,
            "last_new": self.last_new_title,
            "last_new_at": self.last_new_at.isoformat() if self.last_new_at else None,
        }


@dataclass(frozen=True)
class RenameOutcome:
    """What ``tad-tui rename`` did or, dry, would do: the moves as (AudioFile id, old, new)."""

    moves: tuple[tuple[int, Path, Path], ...]
    moved: int
    in_place: int  # files already named as the template says
    outside: int  # downloaded files outside the download folder, left alone
    missing: int  # recorded as downloaded, not on disk
    finished: int  # rows updated from an interrupted run's journal


@dataclass(frozen=True)
class TopicSummary:
    """One topic of a forum group, with its audio in the library."""

    id: int  # 1 = General
    title: str
    tracks: int  # audio files of this topic in the library (scanned)
    last_message_id: int | None  # the topic's newest message, as Telegram last said (None: offline)
    last_posted_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "tracks": self.tracks,
            "last_message_id": self.last_message_id,
            "last_posted_at": self.last_posted_at.isoformat() if self.last_posted_at else None,
        }


@dataclass(frozen=True)
class Track:
    """One audio file of the library."""

    id: int  # what the queue takes (engine.enqueue)
    file_id: str
    message_id: int
    title: str | None
    performer: str | None
    file_name: str | None
    duration: int | None
    file_size: int
    mime_type: str | None
    status: str  # a FileStatus value: "pending", "completed", "failed", "skipped"
    local_path: str | None
    checksum_md5: str | None
    source_md5: str | None

    @property
    def pk(self) -> int:
        """The store's name for ``id``: scripts written against the model rows (bench/) still work."""
        return self.id

    @property
    def name(self) -> str:
        """What a person calls it, as in every list: "title – performer", else the title, the file name…"""
        from tad_tui.library import text

        return text.track_name(self.title, self.performer, self.file_name, self.file_id)


@dataclass(frozen=True)
class GroupTrack:
    """A track of an open group, with the word the panes show for it ("new", "queued"…)."""

    track: Track
    word: str


@dataclass(frozen=True)
class DownloadSelection:
    """A group's files split into those to fetch and those already on disk."""

    group: GroupInfo
    to_fetch: tuple[Track, ...]
    already_downloaded: tuple[Track, ...]


@dataclass(frozen=True)
class LinkedTracks:
    """What one message link (or range) gives: its group's files to fetch and those already on
    disk, or ``error``, in words, when it gives nothing (chat unreachable, message deleted, no audio)."""

    link: str
    group: GroupInfo | None
    to_fetch: tuple[Track, ...]
    already_downloaded: tuple[Track, ...]
    error: str | None = None


@dataclass(frozen=True)
class QueueRow:
    id: int
    file_id: str
    file: str
    group: str
    priority: str
    state: str
    downloaded_bytes: int
    file_size: int
    batch_id: int | None
    error_message: str | None
    note: str | None  # why a queued entry that had started is not running ("paused for a critical download")

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EntryLocation:
    """Where a queue entry's file is (``downloaded``) or will be saved."""

    path: Path
    downloaded: bool
    on_disk: bool

    @property
    def folder(self) -> Path:
        return self.path.parent


@dataclass(frozen=True)
class DownloadHistory:
    """What the library says about past downloads (``tad-tui performance`` without a live instance)."""

    completed: tuple[tuple[int, datetime | None, datetime | None], ...]  # size, finished, started
    failure_reasons: tuple[str | None, ...]


# Name -> (module, name there), loaded on first use.
_EXPORTS: dict[str, tuple[str, str]] = {
    **{
        name: ("tad_tui.download.events", name)
        for name in (
            "BatchProgress", "EntryFinished", "EntryProgress", "EntryResumed", "EntryStarted", "EntryWaiting",
            "Event", "EventBus", "NewAudio", "Notice", "QueueIdle", "StatesChanged", "wait_words",
        )
    },
    **{name: ("tad_tui.download.scheduler", name) for name in ("YIELDED", "Enqueued", "PriorityChange", "QueueError")},
    "concurrency_words": ("tad_tui.download.concurrency", "concurrency_words"),
    **{name: ("tad_tui.following", name) for name in ("FollowError", "FollowInfo", "check_match")},
    **{name: ("tad_tui.library.ranges", name) for name in ("ScanWindow", "parse_id_range", "parse_period")},
    "scan_window": ("tad_tui.library.ranges", "window"),
    **{name: ("tad_tui.library.desktop_export", name) for name in ("DesktopExport", "ExportError")},
    "read_desktop_export": ("tad_tui.library.desktop_export", "read_export"),
    **{name: ("tad_tui.library.cleanup", name) for name in ("Removal", "Verification")},
    **{name: ("tad_tui.library.import_export", name) for name in ("ExportImport", "ImportItem")},
    "LibraryExport": ("tad_tui.library.export", "LibraryExport"),
    **{name: ("tad_tui.library.playlists", name) for name in ("PlaylistWritten", "write_atomically")},
    "ScanProgress": ("tad_tui.library.scan", "ScanProgress"),
    "TopicError": ("tad_tui.library.topics", "TopicError"),
    "ScanResult": ("tad_tui.library.scan", "ScanResult"),
    **{name: ("tad_tui.library.search", name) for name in ("SearchFilters", "SearchHit", "SearchResult", "status_names")},
    "status_word": ("tad_tui.library.status", "word"),
    "track_word": ("tad_tui.library.status", "track_word"),
    **{name: ("tad_tui.library.text", name) for name in ("escape_unsafe", "printable", "track_name")},
    **{name: ("tad_tui.store.db", name) for name in ("DATABASE_BUSY", "StoreError", "database_busy")},
    **{name: ("tad_tui.store.models", name) for name in ("FileStatus", "Priority", "QueueState")},
    **{name: ("tad_tui.telegram.login", name) for name in ("LoginError", "LoginFlow", "LoginStep")},
    "DEMO_ACCOUNT_HINT": ("tad_tui.telegram.sim.demo", "DEMO_ACCOUNT_HINT"),
    **{
        name: ("tad_tui.library.links", name)
        for name in (
            "LinkError", "MessageLink", "is_chat_link", "looks_like_link", "parse_link", "parse_links", "read_link_file",
            "split_links",
        )
    },
    **{name: ("tad_tui.telegram.source", name) for name in ("GroupInfo", "SourceError", "explain_takeout")},
}


__all__ = [
    "DATABASE_BUSY",
    "DEMO_ACCOUNT_HINT",
    "YIELDED",
    "BatchProgress",
    "DownloadHistory",
    "DownloadSelection",
    "Enqueued",
    "EntryFinished",
    "EntryLocation",
    "EntryProgress",
    "EntryResumed",
    "EntryStarted",
    "EntryWaiting",
    "DesktopExport",
    "Event",
    "EventBus",
    "ExportError",
    "ExportImport",
    "FileStatus",
    "FollowError",
    "FollowInfo",
    "GroupInfo",
    "GroupSummary",
    "GroupTrack",
    "ImportItem",
    "LinkError",
    "LibraryExport",
    "LinkedTracks",
    "LoginError",
    "LoginFlow",
    "LoginStep",
    "MessageLink",
    "NewAudio",
    "Notice",
    "Priority",
    "PlaylistWritten",
    "PriorityChange",
    "QueueError",
    "QueueIdle",
    "QueueRow",
    "RenameOutcome",
    "QueueState",
    "Removal",
    "ScanProgress",
    "ScanResult",
    "ScanWindow",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "SourceError",
    "StatesChanged",
    "StoreError",
    "TopicError",
    "TopicSummary",
    "Track",
    "Verification",
    "check_match",
    "concurrency_words",
    "database_busy",
    "escape_unsafe",
    "explain_takeout",
    "is_chat_link",
    "looks_like_link",
    "parse_id_range",
    "parse_link",
    "parse_links",
    "parse_period",
    "printable",
    "read_desktop_export",
    "read_link_file",
    "scan_window",
    "split_links",
    "status_names",
    "status_word",
    "track_name",
    "track_word",
    "wait_words",
    "write_atomically",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
