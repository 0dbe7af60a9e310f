"""One word per state of a track, the same in every pane, on the command line and in JSON.

A track is ``new`` until it is queued; its queue entry's state then speaks for it until the file is
on disk (``downloaded``, which is also what a finished queue entry is called). README lists them.
"""

from __future__ import annotations

from typing import Final

# In the order a track goes through them, with what each means (README's table is this one).
STATES: Final = {
    "new": "in the library, not queued",
    "queued": (
        "waiting for a download slot; when it had started and gave its slot to a more urgent entry, \"paused for"
        " a critical download\" (or \"…for a high-priority download\") beside it, and \"yielded\" in the Queue"
        " pane's rows: it resumes where it stopped"
    ),
    "waiting": "waiting for the entry it depends on",
    "running": "downloading now (a Telegram wait shows beside it)",
    "paused": "stopped by you; resumes where it stopped",
    "downloaded": "on disk",
    "missing": (
        "was downloaded, but its file is gone from disk (deleted or moved outside tad-tui): the app notices it,"
        " `tad-tui verify` marks it so; queueing it (or `tad-tui download`) fetches it again"
    ),
    "failed": "gave up (the reason shows beside it); r or queueing it again retries",
    "cancelled": "stopped by you for good; its partial file was removed",
}
# The queue's stored state values that are called otherwise.
_QUEUE_WORDS: Final = {"completed": "downloaded"}


def word(queue_state: str) -> str:
    """What a queue entry's state is called on screen."""
    value = str(queue_state)  # a QueueState too
    return _QUEUE_WORDS.get(value, value)


def track_word(*, downloaded: bool, failed: bool, queue_state: str | None, missing: bool = False) -> str:
    """A track's state: on disk beats its queue entry, which beats the library's own record (a file
    found gone, then a failure)."""
    if downloaded:
        return "downloaded"
    if queue_state is not None:
        return word(queue_state)
    return "missing" if missing else "failed" if failed else "new"
