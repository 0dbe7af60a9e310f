"""What the scheduler's parts share about queue entries: which states count as what, the error
a queue operation raises, and the clean-up of a cancelled entry's partial file."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from tad_tui.audit import record
from tad_tui.download.job import PART_SUFFIX
from tad_tui.store.models import AudioFile, QueueState

log = logging.getLogger(__name__)

ACTIVE = (QueueState.QUEUED, QueueState.WAITING, QueueState.RUNNING, QueueState.PAUSED)
RUNNABLE = (QueueState.QUEUED, QueueState.WAITING)
PAUSABLE = (QueueState.QUEUED, QueueState.WAITING, QueueState.RUNNING)


class QueueError(Exception):
    """A queue operation that cannot be done (unknown entry, bad move); the message says why."""


def chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    """Slices that stay under SQLite's limit on bound variables."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


async def discard_partial(audio: AudioFile) -> None:
    """A cancelled download leaves nothing behind: its .part file and resume state go."""
    # Only ever a .part file: a finished download is never removed by a cancel.
    if audio.partial_file_path and audio.partial_file_path.endswith(PART_SUFFIX):
        try:
            os.unlink(audio.partial_file_path)
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("could not remove %s", audio.partial_file_path, exc_info=True)
            record("file_deleted", "failed", error.strerror or str(error), path=audio.partial_file_path)
        else:
            record("file_deleted", path=audio.partial_file_path, file_id=audio.file_id, why="cancelled")
    audio.partial_file_path = None
    audio.resume_state = None
    audio.downloaded_bytes = 0
    audio.resume_offset = 0
    await audio.save(update_fields=["partial_file_path", "resume_state", "downloaded_bytes", "resume_offset"])
