"""Playlists of downloaded tracks: extended M3U8 files a player opens as they are.

The format (what ``playlist_text`` writes): UTF-8 without a byte-order mark, ``#EXTM3U`` first, then
per track ``#EXTINF:<seconds>,<performer> - <title>`` (-1 seconds when the duration is unknown; the
title alone without a performer, the file's name without a title) and the file's path relative to
the playlist's folder with "/" separators (absolute when no relative path exists, as across Windows
drives; "./" before a name that starts with "#", which would read as a comment).

A track is listed when it is downloaded (status completed, or skipped as the twin of a file
downloaded from another group) and its file is on disk; one whose file is missing is left out and
counted. A file is listed once however many tracks share it. Files are written to a temporary file
beside the target, then renamed over it (``os.replace``): a reader never sees half a playlist.

Group playlists (``[library] group_playlists``): ``<output dir>/<group title>.m3u8``, the group's
downloaded tracks in message order, rewritten by ``refresh_group_playlists`` after each finished
batch (``GroupPlaylistKeeper``) and by anything that moves or removes files.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from tortoise.expressions import Q

from tad_tui.download.events import BatchProgress, EntryFinished, Event, EventBus, QueueIdle
from tad_tui.download.naming import TrackFields, render_relative
from tad_tui.library.text import clean_text
from tad_tui.store.models import AudioFile, FileStatus

log = logging.getLogger(__name__)

HEADER = "#EXTM3U"
UNKNOWN_DURATION = -1
_IN_CHUNK = 500  # ids per IN (…) query, under SQLite's limit on bound variables
_FINISHED = ("downloaded", "skipped")  # EntryFinished outcomes that leave a file on disk


@dataclass(frozen=True)
class PlaylistTrack:
    """One line pair of a playlist: the file, and what ``#EXTINF`` says of it."""

    path: Path  # absolute
    duration: int | None
    performer: str | None
    title: str | None

    def label(self) -> str:
        """``performer - title``, on one line (the format has no escapes)."""
        title = clean_text(self.title) or self.path.stem
        performer = clean_text(self.performer)
        return f"{performer} - {title}" if performer else title


@dataclass(frozen=True)
class PlaylistWritten:
    path: Path
    written: int  # tracks listed
    missing: int  # downloaded tracks whose file is not on disk, left out


@dataclass(frozen=True)
class PlaylistText:
    text: str  # the whole playlist
    written: int
    missing: int


def downloaded_filter() -> Q:
    """The tracks whose file tad-tui put on disk (what search calls "downloaded")."""
    return Q(status=FileStatus.COMPLETED) | Q(status=FileStatus.SKIPPED, local_path__not_isnull=True)


async def downloaded_rows(audio_ids: Collection[int]) -> list[AudioFile]:
    """The downloaded tracks among ``audio_ids``, in group then message order."""
    ids = sorted(set(audio_ids))
    rows: list[AudioFile] = []
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        rows += await AudioFile.filter(downloaded_filter(), id__in=chunk).prefetch_related("group")
    return sorted(rows, key=lambda row: (row.group.title.casefold(), row.group_id, row.message_id))


def playlist_tracks(rows: Iterable[AudioFile]) -> tuple[list[PlaylistTrack], int]:
    """The rows whose file is on disk, as playlist entries (each file once), and how many are missing.

    It reads the disk: call it in a thread for a large list.
    """
    tracks: list[PlaylistTrack] = []
    seen: set[Path] = set()
    missing = 0
    for row in rows:
        if not row.local_path or not os.path.isfile(row.local_path):
            missing += 1
            continue
        path = Path(os.path.abspath(row.local_path))
        if path not in seen:
            seen.add(path)
            tracks.append(PlaylistTrack(path, row.duration, row.performer, row.title))
    return tracks, missing


def entry_path(path: Path, folder: Path) -> str:
    """How the playlist in ``folder`` names ``path``: relative, with "/" separators."""
    try:
        relative = os.path.relpath(path, folder)
    except ValueError:  # another Windows drive: no relative path exists
        return path.as_posix()
    text = PurePath(relative).as_posix()
    return f"./{text}" if text.startswith("#") else text


def playlist_text(tracks: Iterable[PlaylistTrack], folder: Path) -> str:
    """The extended M3U8 listing ``tracks`` for a playlist file kept in ``folder``."""
    lines = [HEADER]
    for track in tracks:
        seconds = track.duration if track.duration is not None and track.duration >= 0 else UNKNOWN_DURATION
        lines += [f"#EXTINF:{seconds},{track.label()}", entry_path(track.path, folder)]
    return "\n".join(lines) + "\n"


def write_atomically(target: Path, text: str) -> None:
    """``text`` into ``target`` via a temporary file beside it and ``os.replace``."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write(target: Path, rows: Sequence[AudioFile]) -> PlaylistWritten:
    target = Path(os.path.abspath(target))
    listed = _render(target.parent, rows)
    write_atomically(target, listed.text)
    return PlaylistWritten(target, listed.written, listed.missing)


def _render(folder: Path, rows: Sequence[AudioFile]) -> PlaylistText:
    tracks, missing = playlist_tracks(rows)
    return PlaylistText(playlist_text(tracks, folder), len(tracks), missing)


async def render_playlist(audio_ids: Collection[int], folder: Path) -> PlaylistText:
    """The playlist ``write_playlist`` writes, as text, for a reader in ``folder`` (standard output)."""
    rows = await downloaded_rows(audio_ids)
    return await asyncio.to_thread(_render, Path(os.path.abspath(folder)), rows)


async def write_playlist(target: Path, audio_ids: Collection[int]) -> PlaylistWritten:
    """The downloaded tracks among ``audio_ids`` (group, then message order) into ``target``.

    Raises OSError when the file cannot be written (its folder missing, no permission, a full disk).
    """
    rows = await downloaded_rows(audio_ids)
    return await asyncio.to_thread(_write, target, rows)


# ---- group playlists ----------------------------------------------------------------------------


def group_playlist_path(output_dir: Path, group_title: str) -> Path:
    """``<output_dir>/<group title>.m3u8``, the title cleaned as a file name is (one component)."""
    fields = TrackFields(
        title=None, performer=None, album=None, track_number=None, date=None, genre=None,
        group=group_title, message_id=0, file_name=None, mime_type=None,
    )
    return output_dir / render_relative("{group}.m3u8", fields).name


async def refresh_group_playlists(group_ids: Iterable[int], output_dir: Path) -> list[PlaylistWritten]:
    """Rewrite each group's playlist in ``output_dir`` from what the library holds now: its
    downloaded tracks in message order. A group with none left loses its playlist file."""
    from tad_tui.store.models import TelegramGroup

    written: list[PlaylistWritten] = []
    for group_id in sorted(set(group_ids)):
        group = await TelegramGroup.get_or_none(group_id=group_id)
        if group is None:
            continue
        target = group_playlist_path(output_dir, group.title)
        rows = await AudioFile.filter(downloaded_filter(), group_id=group_id).order_by("message_id")
        if not rows:
            target.unlink(missing_ok=True)
            continue
        await asyncio.to_thread(output_dir.mkdir, parents=True, exist_ok=True)
        written.append(await asyncio.to_thread(_write, target, rows))
    return written


class GroupPlaylistKeeper:
    """Keeps group playlists up to date while downloads run: the groups of files finished since the
    last refresh are rewritten when a batch completes or the queue runs empty."""

    def __init__(self, events: EventBus, output_dir: Path) -> None:
        self._output_dir = output_dir
        self._finished: set[str] = set()  # file ids downloaded since the last refresh
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, EntryFinished) and event.outcome in _FINISHED:
            self._finished.add(event.file_id)
        elif (isinstance(event, BatchProgress) and event.done >= event.total) or isinstance(event, QueueIdle):
            if self._finished:
                file_ids, self._finished = self._finished, set()
                task = asyncio.create_task(self._refresh(file_ids))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _refresh(self, file_ids: Collection[str]) -> None:
        try:
            group_ids: set[int] = set()
            ids = sorted(file_ids)
            for start in range(0, len(ids), _IN_CHUNK):
                rows = AudioFile.filter(file_id__in=ids[start : start + _IN_CHUNK])
                group_ids.update(await rows.values_list("group_id", flat=True))
            await refresh_group_playlists(group_ids, self._output_dir)
        except Exception:  # a playlist that cannot be written must not disturb the downloads
            log.exception("could not rewrite the group playlists in %s", self._output_dir)

    async def close(self) -> None:
        """Stop listening, after the refreshes under way are written."""
        self._unsubscribe()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
