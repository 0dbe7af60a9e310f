"""Clean-up of the library: tracks removed (row, file, queue entry), downloaded files checked.

``remove_tracks`` takes tracks out of the library and their files off the disk; a file another
remaining track also names (the same document posted twice) stays. A track in the queue (queued,
waiting, running or paused) is refused: cancel it first. ``verify_tracks`` re-hashes downloaded
files against ``checksum_md5``; a file gone from disk marks its track ``missing`` (FileStatus.MISSING,
its finished queue entry cleared) so queueing it, or ``tad-tui download``, fetches it again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tad_tui.audit import record
from tad_tui.download.job import PART_SUFFIX, file_md5
from tad_tui.store import AudioFile, FileStatus, QueueEntry, QueueState, TelegramGroup
from tad_tui.store.transactions import transaction

log = logging.getLogger(__name__)

ACTIVE_STATES = frozenset({QueueState.QUEUED, QueueState.WAITING, QueueState.RUNNING, QueueState.PAUSED})
_DOWNLOADED = (FileStatus.COMPLETED, FileStatus.SKIPPED)
_IN_CHUNK = 500  # ids per IN (…): under SQLite's limit on bound variables


@dataclass(frozen=True)
class Removal:
    """One track that ``remove_tracks`` took (or, dry, would take) out of the library."""

    id: int
    file_id: str
    name: str
    group_id: int
    path: str | None  # its file, if it had one recorded
    file: str  # what became of the file: "deleted", "already gone", "kept", "shared", "none"
    refused: str | None = None  # why it stays (in the queue), None when removed

    def to_json(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "name": self.name, "path": self.path, "file": self.file,
                "removed": self.refused is None, "refused": self.refused}


@dataclass
class Verification:
    """What ``verify_tracks`` found: the downloaded files by outcome (``Track`` ids with their paths)."""

    intact: list[tuple[str, str]] = field(default_factory=list)  # (file_id, path)
    changed: list[tuple[str, str]] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # no checksum recorded to compare with

    @property
    def ok(self) -> bool:
        return not self.changed and not self.missing

    def to_json(self) -> dict[str, Any]:
        def files(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
            return [{"file_id": file_id, "path": path} for file_id, path in pairs]

        counts = {name: len(getattr(self, name)) for name in ("intact", "changed", "missing", "unchecked")}
        return {"counts": counts, **{name: files(getattr(self, name)) for name in counts}}


def _name(row: AudioFile) -> str:
    from tad_tui.library.text import track_name

    return track_name(row.title, row.performer, row.file_name, row.file_id)


async def _rows(ids: Sequence[int]) -> list[AudioFile]:
    unique = sorted(set(ids))
    rows: list[AudioFile] = []
    for start in range(0, len(unique), _IN_CHUNK):
        rows += await AudioFile.filter(id__in=unique[start : start + _IN_CHUNK])
    return sorted(rows, key=lambda row: (row.group_id, row.message_id))


async def _queue_states(ids: Sequence[int]) -> dict[int, QueueState]:
    states: dict[int, QueueState] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        states |= {a: QueueState(s) for a, s in await QueueEntry.filter(audio_id__in=chunk).values_list("audio_id", "state")}
    return states


async def _shared_paths(paths: set[str], leaving: set[int]) -> set[str]:
    """Those of ``paths`` that a track staying in the library also names (a document posted twice)."""
    if not paths:
        return set()
    named = await AudioFile.filter(local_path__in=sorted(paths)).exclude(id__in=sorted(leaving)).values_list(
        "local_path", flat=True
    )
    return set(named)


def _plan(row: AudioFile, state: QueueState | None, shared: set[str], keep_file: bool) -> Removal:
    refused = f"in the queue ({state.value}): cancel it first" if state in ACTIVE_STATES else None
    path = row.local_path if row.status in (*_DOWNLOADED, FileStatus.MISSING) else None
    if path is None:
        what = "none"
    elif keep_file:
        what = "kept"
    elif path in shared:
        what = "shared"
    else:
        what = "deleted" if os.path.lexists(path) else "already gone"
    return Removal(row.pk, row.file_id, _name(row), row.group_id, path, what, refused)


async def remove_tracks(ids: Sequence[int], *, keep_file: bool = False, dry_run: bool = False) -> list[Removal]:
    """Take the tracks out of the library (rows and queue entries) and their files off the disk
    (unless ``keep_file``); ``dry_run`` only says what would go. One audit line for the lot."""
    rows = await _rows(ids)
    states = await _queue_states([row.pk for row in rows])
    leaving = {row.pk for row in rows if states.get(row.pk) not in ACTIVE_STATES}
    shared = await _shared_paths({row.local_path for row in rows if row.pk in leaving and row.local_path}, leaving)
    plan = [_plan(row, states.get(row.pk), shared, keep_file) for row in rows]
    if dry_run:
        return plan
    done = [item for item in plan if item.refused is None]
    async with transaction():
        for start in range(0, len(done), _IN_CHUNK):
            await AudioFile.filter(id__in=[item.id for item in done[start : start + _IN_CHUNK]]).delete()
        for group_id in {item.group_id for item in done}:
            count = await AudioFile.filter(group_id=group_id).count()
            await TelegramGroup.filter(group_id=group_id).update(audio_count=count)
    plan = [_delete_file(item, row) if item.refused is None else item for item, row in zip(plan, rows, strict=True)]
    _record_removal(plan, keep_file)
    return plan


def _delete_file(item: Removal, row: AudioFile) -> Removal:
    """The track's file and any .part it left; a file that cannot be deleted is said so."""
    if row.partial_file_path and row.partial_file_path.endswith(PART_SUFFIX):
        try:
            Path(row.partial_file_path).unlink(missing_ok=True)
        except OSError:
            log.warning("could not delete %s", row.partial_file_path, exc_info=True)
    if item.file != "deleted" or item.path is None:
        return item
    try:
        os.unlink(item.path)
    except FileNotFoundError:
        return replace(item, file="already gone")
    except OSError as error:
        log.warning("could not delete %s", item.path, exc_info=True)
        return replace(item, file=f"not deleted: {error.strerror or error}")
    return item


def _record_removal(plan: list[Removal], keep_file: bool) -> None:
    removed = [item for item in plan if item.refused is None]
    record(
        "remove",
        count=len(removed),
        refused=len(plan) - len(removed),
        keep_file=keep_file,
        file_ids=[item.file_id for item in removed][:50],
        files_deleted=[item.path for item in removed if item.file == "deleted"][:50],
    )


async def downloaded_ids() -> list[int]:
    """Every track whose file is (or was) on disk: downloaded, skipped as a twin, or marked missing."""
    return list(
        await AudioFile.filter(status__in=[*_DOWNLOADED, FileStatus.MISSING], local_path__isnull=False).values_list(
            "id", flat=True
        )
    )


async def verify_tracks(ids: Sequence[int]) -> Verification:
    """Re-hash the downloaded files of ``ids`` (tracks not downloaded are passed over); files gone
    from disk mark their tracks missing, so that queueing them fetches them again."""
    rows = [row for row in await _rows(ids) if row.local_path and row.status in (*_DOWNLOADED, FileStatus.MISSING)]
    found = Verification()
    gone: list[AudioFile] = []
    back: list[int] = []  # marked missing, and found again as they were (moved back)
    for row in rows:
        path = str(row.local_path)
        if not os.path.isfile(path):
            found.missing.append((row.file_id, path))
            gone.append(row)
        elif row.checksum_md5 is None:
            found.unchecked.append((row.file_id, path))
        elif await asyncio.to_thread(file_md5, Path(path)) == row.checksum_md5:
            found.intact.append((row.file_id, path))
            if row.status == FileStatus.MISSING:
                back.append(row.pk)
        else:
            found.changed.append((row.file_id, path))
    await _mark_missing(gone)
    await _mark_found(back)
    record("verify", **{name: len(files) for name, files in vars(found).items()},
           missing_files=[path for _, path in found.missing][:50], changed_files=[path for _, path in found.changed][:50])
    return found


async def _mark_found(ids: list[int]) -> None:
    """Tracks marked missing whose files are back, intact, and that are not being fetched again."""
    busy = set(await QueueEntry.filter(audio_id__in=ids, state__in=list(ACTIVE_STATES)).values_list("audio_id", flat=True))
    found = [pk for pk in ids if pk not in busy]
    if found:
        await AudioFile.filter(id__in=found, status=FileStatus.MISSING).update(status=FileStatus.COMPLETED)


async def _mark_missing(rows: list[AudioFile]) -> None:
    ids = [row.pk for row in rows if row.status != FileStatus.MISSING]
    async with transaction():
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            await AudioFile.filter(id__in=chunk).update(
                status=FileStatus.MISSING, checksum_verified=False, partial_file_path=None, resume_state=None,
                resume_offset=0, downloaded_bytes=0,
            )
            # A finished entry would keep it "already queued": without it, queueing it starts afresh.
            await QueueEntry.filter(audio_id__in=chunk, state=QueueState.COMPLETED).delete()
