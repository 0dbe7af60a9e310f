"""Importing a Telegram Desktop export's audio into the library (``Engine.import_desktop_export``).

Each exported chat is found among the library's groups by its marked peer id, else on Telegram.
Its audio messages are fetched from Telegram by message id (the export holds no file location) and
stored as the group's tracks, as a scan stores them. Then, per track:

- already downloaded (or a file downloaded from another group): skipped;
- its file is in the export, inside the export folder, of the size Telegram gives: copied into the
  download folder under the name a download would give it (the filename template applies), tags
  completed as a download completes them, and recorded as downloaded with its MD5s;
- its file is not in the export (not included, missing, of another size): left to be downloaded
  from Telegram (``ExportImport.to_fetch``), the reason said;
- a ``file`` path that leads out of the export folder: refused, nothing read, the track left out;
- the message gone from Telegram, or the chat no group or unreachable: failed, in words.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tad_tui.audit import record
from tad_tui.download.job import PART_SUFFIX, apply_tags, file_md5, track_relative
from tad_tui.download.naming import numbered_from, remove_empty_folders, unique_target
from tad_tui.download.transfer import disk_error_words
from tad_tui.library.desktop_export import DesktopExport, ExportAudio, ExportChat, UnsafePath, locate, open_exported
from tad_tui.library.scan import store_new, upsert_group
from tad_tui.store.models import AudioFile, FileStatus
from tad_tui.store.transactions import transaction
from tad_tui.telegram.source import GroupInfo, Source, SourceError

if TYPE_CHECKING:
    from tad_tui.engine import Engine

log = logging.getLogger(__name__)
_BLOCK = 1024 * 1024
_IN_CHUNK = 500  # ids per IN (…) query, under SQLite's limit on bound variables


@dataclass(frozen=True)
class ImportItem:
    """What became of one audio message of the export."""

    group: str  # the chat's name, or its group's title
    message_id: int
    outcome: str  # "imported" (copied from the export), "queued" (to download), "skipped", "failed"
    file_id: str | None = None  # the track's, once in the library
    track_id: int | None = None
    name: str | None = None  # "title – performer", as lists show a track
    local_path: str | None = None
    file_size: int | None = None
    checksum_md5: str | None = None
    source_md5: str | None = None
    reason: str | None = None  # why it failed, or why a file of the export was not used
    in_export: bool = False  # the export named a file for it (used or not)

    def to_json(self) -> dict[str, object]:
        return {
            "event": self.outcome, "group": self.group, "message_id": self.message_id, "file_id": self.file_id,
            "local_path": self.local_path, "file_size": self.file_size, "checksum_md5": self.checksum_md5,
            "source_md5": self.source_md5, "error_message": self.reason if self.outcome == "failed" else None,
            "note": None if self.outcome == "failed" else self.reason,
        }


@dataclass(frozen=True)
class ExportImport:
    items: tuple[ImportItem, ...]

    def count(self, outcome: str) -> int:
        return sum(item.outcome == outcome for item in self.items)

    @property
    def to_fetch(self) -> tuple[int, ...]:
        """The tracks (Track.id) to download from Telegram, in the export's order."""
        return tuple(item.track_id for item in self.items if item.outcome == "queued" and item.track_id is not None)


async def import_export(
    export: DesktopExport,
    engine: Engine,
    *,
    output_dir: Path,
    template: str,
    on_item: Callable[[ImportItem], None] | None = None,
) -> ExportImport:
    """Import the export's audio (see the module's docstring); ``on_item`` is told each outcome as it is known."""
    metadata = engine.settings.metadata
    write_tags, extended_tags = metadata.update_id3_tags, metadata.extract_extended
    items: list[ImportItem] = []

    def tell(item: ImportItem) -> None:
        items.append(item)
        if on_item is not None:
            on_item(item)

    reserved: set[Path] = set()
    for chat in export.chats:
        info = await _group_of(chat, engine, tell)
        if info is None:
            continue
        await engine.connect()
        rows = await _tracks(chat, info, engine.source, tell)
        done = await _downloaded(rows.values())
        seen: set[int] = set()
        for audio in chat.audio:
            row = rows.get(audio.message_id)
            if row is None or audio.message_id in seen:
                continue  # told by _tracks; or listed twice (a doctored export): imported once
            seen.add(audio.message_id)
            if row.pk in done:
                tell(_item(info.title, audio, row, "skipped", local_path=row.local_path, checksum_md5=row.checksum_md5,
                           source_md5=row.source_md5, reason=done[row.pk]))
                continue
            tell(await _from_file(
                export, info, audio, row, _Naming(output_dir, template, engine.settings.downloads.unknown, reserved),
                write_tags, extended_tags,
            ))
    return ExportImport(tuple(items))


async def _group_of(chat: ExportChat, engine: Engine, tell: Callable[[ImportItem], None]) -> GroupInfo | None:
    """The group of an exported chat: the library's, else Telegram's; None (its audio told as failed) if none."""
    why = chat.not_a_group
    if why is None:
        try:
            return await engine.resolve_group(str(chat.marked_id))
        except SourceError as error:
            why = f"not reachable on Telegram ({error})"
    for audio in chat.audio:
        tell(ImportItem(chat.name, audio.message_id, "failed", name=_export_name(audio),
                        reason=f"{chat.name!r} is {why}: tad-tui imports groups and channels"
                        if chat.not_a_group else f"{chat.name!r} is {why}"))
    return None


async def _tracks(
    chat: ExportChat, info: GroupInfo, source: Source, tell: Callable[[ImportItem], None]
) -> dict[int, AudioFile]:
    """The library's tracks of the chat's audio messages, those not yet in it fetched from Telegram
    and stored; messages Telegram no longer has (or that hold no audio now) are told as failed."""
    group = await upsert_group(info)
    wanted = [audio.message_id for audio in chat.audio]
    rows = await _rows(group.group_id, wanted)
    missing = [message_id for message_id in wanted if message_id not in rows]
    if missing:
        found = await source.audio_messages(info, missing)
        fresh = [audio for audio in found.values() if audio is not None]
        if fresh:
            async with transaction():
                await store_new(group, fresh)
            group.audio_count = await AudioFile.filter(group_id=group.group_id).count()
            await group.save(update_fields=["audio_count"])
            rows |= await _rows(group.group_id, [audio.message_id for audio in fresh])
    for audio in dict((audio.message_id, audio) for audio in chat.audio).values():
        if audio.message_id not in rows:
            tell(ImportItem(info.title, audio.message_id, "failed", name=_export_name(audio),
                            reason=f"message {audio.message_id} is no longer on Telegram (deleted, or no audio now)"))
    return rows


async def _rows(group_id: int, message_ids: list[int]) -> dict[int, AudioFile]:
    rows: dict[int, AudioFile] = {}
    for start in range(0, len(message_ids), _IN_CHUNK):
        chunk = message_ids[start : start + _IN_CHUNK]
        for row in await AudioFile.filter(group_id=group_id, message_id__in=chunk).prefetch_related("group"):
            rows[row.message_id] = row
    return rows


async def _downloaded(rows: Iterable[AudioFile]) -> dict[int, str]:
    """Of these tracks, those already here (as ``Engine.select_for_download`` counts them), with why."""
    listed = list(rows)
    done = {row.pk: "already downloaded" for row in listed if row.status in (FileStatus.COMPLETED, FileStatus.SKIPPED)}
    unique = [row.file_unique_id for row in listed if row.pk not in done]
    twins: dict[str, str | None] = {}
    for start in range(0, len(unique), _IN_CHUNK):
        for file_unique_id, path in await AudioFile.filter(
            file_unique_id__in=unique[start : start + _IN_CHUNK], status=FileStatus.COMPLETED
        ).values_list("file_unique_id", "local_path"):
            twins[file_unique_id] = path
    for row in listed:
        if row.pk not in done and row.file_unique_id in twins:
            done[row.pk] = f"already downloaded as {twins[row.file_unique_id]}"
    return done


@dataclass(frozen=True)
class _Naming:
    """Where imported files go and how they are named: as a download names them."""

    output_dir: Path
    template: str
    unknown: str  # [downloads] unknown
    reserved: set[Path]  # names taken by files being placed

    def target(self, row: AudioFile, planned: Path | None = None) -> Path:
        """The file's name in the output folder; ``planned``, the name its ``.part`` was given, is
        kept when the tags name it the same (or it was numbered " (2)" for that name)."""
        relative = track_relative(row, self.template, self.unknown)
        wanted = self.output_dir.joinpath(*relative.parts)
        if planned is not None and (planned == wanted or numbered_from(planned, wanted)):
            return planned
        return unique_target(self.output_dir, relative, reserved=self.reserved)


async def _from_file(
    export: DesktopExport,
    info: GroupInfo,
    audio: ExportAudio,
    row: AudioFile,
    naming: _Naming,
    write_tags: bool,
    extended_tags: bool,
) -> ImportItem:
    if audio.file is None:
        return _item(info.title, audio, row, "queued", reason=f"not in the export {audio.not_exported}")
    try:
        path = locate(export.folder, audio.file)
    except UnsafePath as error:
        return _item(info.title, audio, row, "failed", reason=str(error))
    if not path.exists():
        return _item(info.title, audio, row, "queued", reason=f"{audio.file!r} is not in the export folder")
    # Copied under the name Telegram's attributes give, as a .part; named from its own tags once they
    # are read, as a finished download is (``_record``).
    planned = naming.target(row)
    naming.reserved.add(planned)
    try:
        copied = await asyncio.to_thread(_copy, path, planned, row.file_size)
    except UnsafePath as error:
        return _item(info.title, audio, row, "failed", reason=str(error))
    except _WrongSize as error:
        return _item(info.title, audio, row, "queued", reason=f"{audio.file!r} {error}")
    except _Unreadable as error:
        return _item(info.title, audio, row, "failed", reason=f"cannot read {audio.file!r} in the export: {error}")
    except OSError as error:
        return _item(info.title, audio, row, "failed", reason=disk_error_words(error, planned))
    finally:
        naming.reserved.discard(planned)
    try:
        return await _record(info, audio, row, copied, naming, write_tags, extended_tags, export.path)
    except OSError as error:  # the folder its tags name cannot be made or written
        copied.path.unlink(missing_ok=True)
        return _item(info.title, audio, row, "failed", reason=disk_error_words(error, copied.path))


@dataclass(frozen=True)
class _Copied:
    path: Path
    source_md5: str


class _WrongSize(Exception):
    """The export's file is not of the size of Telegram's: it is downloaded instead."""


class _Unreadable(Exception):
    """The export's file cannot be opened (a link put in its place, no permission…)."""


def _copy(source: Path, final: Path, size: int) -> _Copied:
    """Copy the export's file to ``final``'s ``.part`` (one left by an interrupted import is written
    over: the name is tad-tui's), hashing the bytes."""
    try:
        descriptor, found = open_exported(source)
    except OSError as error:
        raise _Unreadable(error.strerror or str(error)) from None
    with os.fdopen(descriptor, "rb") as reader:
        if found != size:
            raise _WrongSize(f"holds {found} bytes where Telegram's file has {size}: downloading it instead")
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(final.name + PART_SUFFIX)
        digest = hashlib.md5()
        written = 0
        try:
            with open(part, "wb") as writer:
                while block := reader.read(_BLOCK):
                    digest.update(block)
                    writer.write(block)
                    written += len(block)
                writer.flush()
                os.fsync(writer.fileno())
            if written != size:  # the file changed while it was copied
                raise _WrongSize(f"changed size while it was copied ({written} bytes, not {size}): downloading it instead")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    return _Copied(part, digest.hexdigest())


def _place(part: Path, final: Path) -> Path:
    """Move the finished ``part`` to ``final``, never over a file (one that appeared since it was named)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        final = unique_target(final.parent, PurePosixPath(final.name))
    os.replace(part, final)
    return final


async def _record(
    info: GroupInfo,
    audio: ExportAudio,
    row: AudioFile,
    copied: _Copied,
    naming: _Naming,
    write_tags: bool,
    extended: bool,
    origin: Path,
) -> ImportItem:
    """The copied file's tags completed as a download's are, the file named from them (moved out of
    its ``.part``) and recorded as the track's download."""
    from tad_tui.library.metadata import TagInfo, complete_tags, read_tags

    part = copied.path
    if write_tags:
        _, tags = await asyncio.to_thread(complete_tags, part, TagInfo(title=row.title, performer=row.performer), extended=extended)
    else:
        tags = await asyncio.to_thread(read_tags, part, extended=extended)
    apply_tags(row, tags)  # the name comes from the file's tags merged with Telegram's
    final = await asyncio.to_thread(_place, part, naming.target(row, planned=part.with_name(part.name[: -len(PART_SUFFIX)])))
    if final.parent != part.parent:
        remove_empty_folders(part.parent, naming.output_dir, busy=naming.reserved)
    md5 = await asyncio.to_thread(file_md5, final)
    row.status = FileStatus.COMPLETED
    row.local_path = str(final)
    row.checksum_md5 = md5
    row.source_md5 = copied.source_md5
    row.checksum_verified = False  # verified by size only: Telegram gives no hash of a whole file
    row.error_message = None
    row.downloaded_at = datetime.now(UTC)
    row.downloaded_bytes = row.resume_offset = row.file_size
    started = row.partial_file_path  # a download of it begun earlier: its part is no longer needed
    row.partial_file_path = None
    row.resume_state = None
    await row.save()
    if started and Path(started) != final:
        Path(started).unlink(missing_ok=True)
    size = final.stat().st_size
    record("file_written", path=str(final), size=size, md5=md5, source_md5=copied.source_md5,
           file_id=row.file_id, imported_from=str(origin))
    return _item(info.title, audio, row, "imported", local_path=str(final), file_size=size, checksum_md5=md5,
                 source_md5=copied.source_md5)


def _item(group: str, audio: ExportAudio, row: AudioFile, outcome: str, **fields: object) -> ImportItem:
    from tad_tui.library.text import track_name

    fields.setdefault("file_size", row.file_size)
    return ImportItem(
        group, audio.message_id, outcome, file_id=row.file_id, track_id=row.pk, in_export=audio.file is not None,
        name=track_name(row.title, row.performer, row.file_name, row.file_id), **fields,  # type: ignore[arg-type]
    )


def _export_name(audio: ExportAudio) -> str:
    from tad_tui.library.text import track_name

    return track_name(audio.title, audio.performer, audio.file_name, f"message {audio.message_id}")
