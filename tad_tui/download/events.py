"""What the download engine tells its drivers (the TUI, the CLI): plain, immutable events."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntryStarted:
    entry_id: int
    file_id: str
    file_size: int
    name: str


@dataclass(frozen=True)
class EntryResumed:
    entry_id: int
    file_id: str
    resume_offset: int  # the first byte not yet on disk
    downloaded_bytes: int  # every byte already on disk (parts may finish out of order)


@dataclass(frozen=True)
class EntryProgress:
    entry_id: int
    downloaded_bytes: int
    file_size: int


@dataclass(frozen=True)
class EntryWaiting:
    entry_id: int
    reason: str | None  # in words, e.g. "waiting 37 s: flood wait"; None when the wait is over
    until: float | None = None  # when a timed wait ends (time.time()), for a countdown
    kind: str | None = None  # "flood" or "premium" (see wait_words); None when the wait is over


WAIT_KINDS = ("flood", "premium")


def wait_words(kind: str, seconds: float, *, short: bool = False) -> str:
    """A wait Telegram imposed, in words, with the seconds left (what a countdown repaints);
    ``short`` for a narrow column (the queue row; its detail line has the whole sentence)."""
    left = max(0, math.ceil(seconds))
    if kind == "premium":
        if short:
            return f"Premium limit: {left} s"
        return f"Telegram limits this account's download speed (Premium lifts it): {left} s"
    return f"flood wait: {left} s" if short else f"waiting {left} s: flood wait"


@dataclass(frozen=True)
class EntryFinished:
    entry_id: int
    file_id: str
    # "downloaded", "skipped", "failed", "cancelled", "paused", or "preempted": it gave its slot to a
    # more urgent entry and is queued again (``note`` says why); it is not finished and counts as none.
    outcome: str
    local_path: str | None = None
    file_size: int = 0
    checksum_md5: str | None = None  # of the file on disk (tags written in included)
    error_message: str | None = None
    source_md5: str | None = None  # of the bytes as Telegram sent them
    note: str | None = None  # why a preempted entry is queued again ("paused for a critical download")


@dataclass(frozen=True)
class BatchProgress:
    batch_id: int
    name: str
    done: int  # entries finished one way or another
    total: int
    failed: int


@dataclass(frozen=True)
class QueueIdle:
    """Nothing left to run after a busy spell: what that spell did."""

    downloaded: int
    failed: int


@dataclass(frozen=True)
class StatesChanged:
    """Queue entries changed state: audio file id -> the entry's new state (a QueueState value).

    One event for a whole action (pausing 10,000 entries is one event), so panes that list files,
    not entries, keep their status column true without reading the queue again.
    """

    states: Mapping[int, str]


@dataclass(frozen=True)
class NewAudio:
    """A followed group posted audio, and it is queued (``tad-tui follow``)."""

    group_id: int
    group_title: str
    audio_id: int  # Track.id
    file_id: str
    name: str  # performer – title, or the file name


@dataclass(frozen=True)
class Notice:
    """Something the user should be told that is not about one entry (e.g. the memory limit)."""

    text: str
    title: str = ""  # what it is about ("Following"), when the text alone does not say
    warning: bool = False  # something did not work (the app shows it as a warning)


Event = (
    EntryStarted
    | EntryResumed
    | EntryProgress
    | EntryWaiting
    | EntryFinished
    | BatchProgress
    | QueueIdle
    | StatesChanged
    | NewAudio
    | Notice
)
Listener = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out: listeners must be quick (they only record or post a message)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken listener must not stop a download
                log.exception("event listener failed on %r", event)
