"""One queue entry from start to finish: dedup, naming, transfer, verification, tags, atomic rename."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tad_tui.store.transactions import transaction

from tad_tui import failpoints
from tad_tui.audit import record
from tad_tui.config import Settings
from tad_tui.download.concurrency import ConnectionShare, is_single_part
from tad_tui.download.cover import fetch_cover, save_cover_file
from tad_tui.download.events import EntryFinished, EntryProgress, EntryResumed, EntryStarted, EntryWaiting, EventBus
from tad_tui.download.integrity import RangeHashes
from tad_tui.download.limits import ByteRateLimiter, weight_of
from tad_tui.download.pace import AccountPace
from tad_tui.download.naming import (
    DEFAULT_UNKNOWN,
    FolderListings,
    TrackFields,
    numbered_from,
    remove_empty_folders,
    render_relative,
    unique_target,
)
from tad_tui.download.parts import PartMap, verify_on_disk
from tad_tui.download.transfer import (
    ConnectionPool,
    Health,
    Transfer,
    TransferFailed,
    TransferSettings,
    disk_error_words,
)
from tad_tui.library.scan import group_info
from tad_tui.store.models import AudioFile, FileStatus, QueueEntry, QueueState
from tad_tui.telegram.client import TadClient
from tad_tui.telegram.source import FileLocation, Source

if TYPE_CHECKING:
    from tad_tui.library.metadata import TagInfo

log = logging.getLogger(__name__)
PART_SUFFIX = ".part"
VERIFY_ROUNDS = 2
_HASH_BLOCK = 4 * 1024 * 1024


@dataclass
class JobContext:
    """What every job shares: settings, Telegram, limits and the places files go."""

    settings: Settings
    source: Source
    client: TadClient
    pool: ConnectionPool
    bandwidth: ByteRateLimiter
    health: Health
    pace: AccountPace  # what Telegram lets the account download (learned from premium waits)
    events: EventBus
    default_output: Path
    reserved: set[Path]  # final names claimed by jobs in flight, so two never pick the same
    listings: FolderListings = field(default_factory=FolderListings)  # output folders, listed lately


class Job:
    def __init__(self, context: JobContext, entry: QueueEntry) -> None:
        self.context = context
        self.entry = entry
        self.audio: AudioFile = entry.audio
        self._claimed: Path | None = None
        self._hashes: RangeHashes | None = None  # Telegram's hashes of the file, kept across transfers
        self._streamed_md5: str | None = None  # the MD5 of the parts as the last transfer wrote them

    async def run(self) -> str:
        """Download the entry; returns the outcome ("downloaded", "skipped" or "failed")."""
        audio = self.audio
        if audio.status == FileStatus.COMPLETED and audio.local_path and os.path.exists(audio.local_path):
            return await self._finish_recorded()
        await self._mark_started()
        duplicate = await self._already_downloaded()
        if duplicate is not None:
            return await self._finish_skipped(duplicate)
        try:
            final = await self._claim_target()
            part = Path(audio.partial_file_path or str(final) + PART_SUFFIX)
            parts = await self._resume_state(part, final)
            if not part.exists() and parts.complete():
                final = self._published_path(final)
            verified = False
            if not parts.complete() or part.exists():
                await self._transfer(part, parts)
                verified = await self._verify(part, parts)
            return await self._finish(part, final, verified)
        except TransferFailed as failure:
            return await self._finish_failed(str(failure))
        finally:
            if self._claimed is not None:
                self.context.reserved.discard(self._claimed)

    # ---- stages -----------------------------------------------------------------------------------

    async def _mark_started(self) -> None:
        audio, entry = self.audio, self.entry
        audio.status = FileStatus.DOWNLOADING
        audio.download_attempts += 1
        audio.last_attempt_at = datetime.now(UTC)
        audio.error_message = None
        await audio.save(update_fields=["status", "download_attempts", "last_attempt_at", "error_message"])
        entry.state = QueueState.RUNNING
        entry.error_message = None
        entry.note = None  # it runs again: why it had stopped is over
        await entry.save(update_fields=["state", "error_message", "note", "updated_at"])
        name = audio.title or audio.file_name or audio.file_id
        self.context.events.publish(EntryStarted(entry.pk, audio.file_id, audio.file_size, name))

    async def _already_downloaded(self) -> AudioFile | None:
        """The same document already downloaded (from this or another group), still on disk."""
        twins = await AudioFile.filter(
            file_unique_id=self.audio.file_unique_id, status=FileStatus.COMPLETED
        ).exclude(id=self.audio.pk)
        return next((twin for twin in twins if twin.local_path and os.path.exists(twin.local_path)), None)

    async def _claim_target(self) -> Path:
        audio = self.audio
        if audio.partial_file_path:
            final = Path(audio.partial_file_path.removesuffix(PART_SUFFIX))
        else:
            await self.audio.fetch_related("group")
            settings = self.context.settings
            output, relative = planned_target(
                self.entry, audio, self.context.default_output, settings.downloads.filename_template,
                settings.downloads.unknown,
            )
            final = unique_target(output, relative, reserved=self.context.reserved, listings=self.context.listings)
            audio.partial_file_path = str(final) + PART_SUFFIX
            await audio.save(update_fields=["partial_file_path"])
        self.context.reserved.add(final)
        self._claimed = final
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TransferFailed(disk_error_words(error, final)) from None
        return final

    async def _resume_state(self, part: Path, final: Path) -> PartMap:
        audio = self.audio
        parts = PartMap.load(
            audio.resume_state, size=audio.file_size, part_size=self.context.settings.downloads.chunk_size
        )
        if not part.exists():
            if parts.complete() and self._published_path(final).exists():
                return parts  # renamed into place just before a crash: only the bookkeeping is left
            parts.crc32.clear()
        else:
            # Longer than the file when a crash came after tags were written into it: what lies past
            # the end is not Telegram's, and the parts the tags moved are fetched again below.
            try:
                await asyncio.to_thread(_cut_to, part, audio.file_size)
            except OSError as error:
                raise TransferFailed(disk_error_words(error, part)) from None
            if parts.crc32:
                dropped = await asyncio.to_thread(verify_on_disk, parts, str(part))
                if dropped:
                    log.warning("%s: %d damaged parts will be fetched again", part, len(dropped))
        if parts.crc32:
            self.context.events.publish(
                EntryResumed(self.entry.pk, audio.file_id, parts.contiguous_bytes(), parts.done_bytes())
            )
        return parts

    async def _transfer(self, part: Path, parts: PartMap) -> None:
        audio, context = self.audio, self.context
        downloads = context.settings.downloads
        if self._hashes is None and context.settings.metadata.verify_checksums:
            self._hashes = RangeHashes(audio.file_size, label=str(part))
        location = self._location()
        single_part = is_single_part(audio.file_size, downloads.chunk_size)
        transfer = Transfer(
            client=context.client,
            pool=ConnectionShare(context.pool, self.entry.pk) if single_part and downloads.adaptive else context.pool,
            bandwidth=context.bandwidth,
            health=context.health,
            pace=context.pace,
            settings=TransferSettings(
                part_size=downloads.chunk_size,
                parts_per_file=downloads.parts_per_file,
                retry_attempts=downloads.retry_attempts,
                retry_delay=downloads.retry_delay,
            ),
            location=location,
            part_path=part,
            parts=parts,
            refresh_location=self._refresh_location,
            save_state=self._save_state,
            save_dc=self._save_dc,
            on_progress=lambda done: context.events.publish(EntryProgress(self.entry.pk, done, audio.file_size)),
            on_wait=lambda reason, until, kind: context.events.publish(EntryWaiting(self.entry.pk, reason, until, kind)),
            hashes=self._hashes,
            flow=self.entry.pk,
            weight=weight_of(self.entry.priority),
        )
        await transfer.run()
        # Hashed as it arrived only when this transfer fetched the whole file; else from disk at the end.
        self._streamed_md5 = transfer.digest.hexdigest() if transfer.digest is not None else None

    def _location(self) -> FileLocation:
        audio = self.audio
        return FileLocation(
            audio.document_id, audio.access_hash, audio.file_reference, audio.dc_id, audio.file_size,
            thumb=audio.thumb_type,
        )

    async def _refresh_location(self) -> FileLocation:
        audio = self.audio
        await audio.fetch_related("group")
        location = await self.context.source.refresh_location(group_info(audio.group), audio.message_id)
        audio.file_reference = location.file_reference
        audio.dc_id = location.dc_id  # the message says where the file lives now
        audio.thumb_type = location.thumb
        await audio.save(update_fields=["file_reference", "dc_id", "thumb_type"])
        return location

    async def _cover(self) -> bytes | None:
        """The track's cover, when it is wanted (embedded or saved) and the document has one."""
        metadata = self.context.settings.metadata
        if not (metadata.embed_cover or metadata.save_cover_file):
            return None
        label = self.audio.title or self.audio.file_name or self.audio.file_id
        return await fetch_cover(self.context.source, self._location(), self._refresh_location, label)

    async def _save_cover_file(self, final: Path, cover: bytes | None) -> None:
        if cover is None or not self.context.settings.metadata.save_cover_file:
            return
        try:
            await asyncio.to_thread(save_cover_file, final.parent, cover)
        except OSError as error:  # a cover file is a nicety: the track is done either way
            log.warning("cannot write the cover file in %s: %s", final.parent, error)

    async def _save_dc(self, dc_id: int) -> None:
        """Telegram moved the file to another DC (FILE_MIGRATE): the next run goes straight there."""
        self.audio.dc_id = dc_id
        await self.audio.save(update_fields=["dc_id"])

    async def _save_state(self, parts: PartMap) -> None:
        audio = self.audio
        audio.resume_state = parts.to_json()
        audio.resume_checksum = parts.checksum()
        audio.resume_offset = parts.contiguous_bytes()
        audio.downloaded_bytes = parts.done_bytes()
        await audio.save(update_fields=["resume_state", "resume_checksum", "resume_offset", "downloaded_bytes"])

    async def _verify(self, part: Path, parts: PartMap) -> bool:
        """Read the finished ``.part`` back and re-fetch any part whose bytes are not what arrived."""
        if not self.context.settings.metadata.verify_checksums:
            return False
        for _ in range(VERIFY_ROUNDS):
            dropped = await asyncio.to_thread(verify_on_disk, parts, str(part))
            if not dropped:
                return True
            log.warning("%s: %d parts changed on disk; fetching them again", part, len(dropped))
            await self._save_state(parts)
            await self._transfer(part, parts)
        raise TransferFailed(f"parts of {part} keep changing on disk: is another program writing to it?")

    async def _finish(self, part: Path, final: Path, verified: bool) -> str:
        # mutagen (~40 ms to import) once a file is finished, not at start: nothing new needs none.
        from tad_tui.library.metadata import TagInfo, complete_tags, read_tags

        audio, settings = self.audio, self.context.settings
        md5: str | None = None
        extended = settings.metadata.extract_extended
        tags: TagInfo | None = None  # the file's own tags, read when tags are written (one parse)
        cover: bytes | None = None
        if part.exists():
            # The bytes as Telegram sent them, before any tag is written into them; kept in the row at
            # once, so that a crash after the rename below still leaves them known.
            md5 = audio.source_md5 = self._streamed_md5 or await asyncio.to_thread(file_md5, part)
            await audio.save(update_fields=["source_md5"])
            cover = await self._cover()
            embedded = cover if settings.metadata.embed_cover else None
            if settings.metadata.update_id3_tags or embedded:
                wanted = TagInfo(title=audio.title, performer=audio.performer) if settings.metadata.update_id3_tags else TagInfo()
                before = _stamp(part)
                written, tags = await asyncio.to_thread(complete_tags, part, wanted, extended=extended, cover=embedded)
                if written or _stamp(part) != before:
                    md5 = None  # the file on disk is no longer what Telegram sent: hashed again below
                    tags = tags if written else None  # changed by a save that failed: read it again
                failpoints.hit("job.tagged")
            if tags is None:
                tags = await asyncio.to_thread(read_tags, part, extended=extended)
            apply_tags(audio, tags)  # the name comes from the file's tags merged with Telegram's
            planned = final
            try:
                final = await self._final_target(planned)
                moved = await asyncio.to_thread(_publish, part, final, self.context.reserved)
            except OSError as error:  # a folder made read-only, a full disk at fsync: the .part stays
                raise TransferFailed(disk_error_words(error, final)) from None
            if moved != final:  # a file of that name appeared just before the move
                final = moved
                await self._record_target(final)
            failpoints.hit("job.renamed")
            if final.parent != planned.parent:
                output = Path(self.entry.output_dir) if self.entry.output_dir else self.context.default_output
                remove_empty_folders(planned.parent, output, busy=self.context.reserved)
            await self._save_cover_file(final, cover)
            audio.checksum_verified = verified
        elif not final.exists():
            raise TransferFailed(f"{part} disappeared before it was complete")
        if md5 is None:
            md5 = await asyncio.to_thread(file_md5, final)
        if tags is None:
            tags = await asyncio.to_thread(read_tags, final, extended=extended)
        apply_tags(audio, tags)
        audio.status = FileStatus.COMPLETED
        audio.local_path = str(final)
        audio.checksum_md5 = md5
        audio.downloaded_at = datetime.now(UTC)
        audio.downloaded_bytes = audio.file_size
        audio.resume_offset = audio.file_size
        audio.partial_file_path = None
        audio.resume_state = None
        async with transaction():  # both rows or neither: a crash between them re-downloaded the file
            await audio.save()
            failpoints.hit("job.finishing")
            await self._set_entry(QueueState.COMPLETED, None)
        size = final.stat().st_size
        record(
            "file_written", path=str(final), size=size, md5=md5, source_md5=audio.source_md5,
            entry_id=self.entry.pk, file_id=audio.file_id,
        )
        self.context.events.publish(
            EntryFinished(self.entry.pk, audio.file_id, "downloaded", str(final), size, md5, source_md5=audio.source_md5)
        )
        return "downloaded"

    def _published_path(self, planned: Path) -> Path:
        """Where the finished file is when a crash came after its move: the name recorded just before
        it (``_final_target``), else the planned one."""
        recorded = _state_of(self.audio).get("final")
        return Path(recorded) if isinstance(recorded, str) and os.path.exists(recorded) else planned

    async def _final_target(self, planned: Path) -> Path:
        """The name the finished file takes under the template, from the row's tags as merged now;
        recorded in the row's resume state before the file moves (``local_path`` names only a finished
        file), so that a crash after the move finds it."""
        audio, settings = self.audio, self.context.settings
        await audio.fetch_related("group")
        output, relative = planned_target(
            self.entry, audio, self.context.default_output, settings.downloads.filename_template,
            settings.downloads.unknown,
        )
        final = output / relative
        if final != planned and not numbered_from(planned, final):
            reserved = self.context.reserved - {planned}
            final = unique_target(output, relative, reserved=reserved, listings=self.context.listings)
            if final.exists():  # the folder's listing is a little old: look again
                final = unique_target(output, relative, reserved=reserved)
            final.parent.mkdir(parents=True, exist_ok=True)
            self.context.reserved.add(final)
            self.context.reserved.discard(planned)
            self._claimed = final
        else:
            final = planned  # the same name, or it numbered (" (2)") when the download started
        await self._record_target(final)
        return final

    async def _record_target(self, final: Path) -> None:
        state = _state_of(self.audio)
        state["final"] = str(final)  # PartMap.load reads only its own keys
        self.audio.resume_state = json.dumps(state, ensure_ascii=False)
        await self.audio.save(update_fields=["resume_state"])

    async def _finish_recorded(self) -> str:
        """The file was recorded as downloaded but its queue entry was not (an older version wrote the
        two rows apart): complete the entry, never download the file a second time."""
        audio = self.audio
        await self._set_entry(QueueState.COMPLETED, None)
        self.context.events.publish(
            EntryFinished(
                self.entry.pk, audio.file_id, "skipped", audio.local_path, audio.file_size, audio.checksum_md5,
                source_md5=audio.source_md5,
            )
        )
        return "skipped"

    async def _finish_skipped(self, twin: AudioFile) -> str:
        audio = self.audio
        audio.status = FileStatus.SKIPPED
        audio.local_path = twin.local_path
        audio.checksum_md5 = twin.checksum_md5
        audio.source_md5 = twin.source_md5
        audio.error_message = f"already downloaded as {twin.local_path}"
        await audio.save(update_fields=["status", "local_path", "checksum_md5", "source_md5", "error_message"])
        await self._set_entry(QueueState.COMPLETED, None)
        self.context.events.publish(
            EntryFinished(
                self.entry.pk, audio.file_id, "skipped", twin.local_path, audio.file_size, twin.checksum_md5,
                source_md5=twin.source_md5,
            )
        )
        return "skipped"

    async def _finish_failed(self, message: str) -> str:
        audio = self.audio
        audio.status = FileStatus.FAILED
        audio.error_message = message
        await audio.save(update_fields=["status", "error_message"])
        await self._set_entry(QueueState.FAILED, message)
        self.context.events.publish(
            EntryFinished(self.entry.pk, audio.file_id, "failed", None, audio.file_size, None, message)
        )
        return "failed"

    async def _set_entry(self, state: QueueState, message: str | None) -> None:
        self.entry.state = state
        self.entry.error_message = message
        await self.entry.save(update_fields=["state", "error_message", "updated_at"])


def _publish(part: Path, final: Path, reserved: set[Path]) -> Path:
    """Move the finished ``.part`` into place atomically, never over a file that appeared meanwhile."""
    if final.exists():
        final = unique_target(final.parent, PurePosixPath(final.name), reserved=reserved - {final})
    with open(part, "rb+") as handle:
        os.fsync(handle.fileno())
    failpoints.hit("job.fsynced")
    os.replace(part, final)
    return final


def _state_of(audio: AudioFile) -> dict[str, object]:
    """The row's resume state as a dict ({} when there is none or it is not one)."""
    try:
        state = json.loads(audio.resume_state or "{}")
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _stamp(path: Path) -> tuple[int, int]:
    """Size and modification time: a file whose stamp is unchanged was not written to."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _cut_to(path: Path, size: int) -> None:
    if path.stat().st_size > size:
        os.truncate(path, size)


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def apply_tags(audio: AudioFile, tags: TagInfo) -> None:
    """Fill the row from the file's tags, keeping what Telegram said where the file is silent."""
    for name in ("title", "performer", "album", "date", "genre", "composer", "track_number"):
        value = getattr(tags, name)
        if value:
            setattr(audio, name, value)
    if tags.duration:
        audio.duration = tags.duration


def planned_target(
    entry: QueueEntry, audio: AudioFile, default_output: Path, default_template: str, unknown: str
) -> tuple[Path, PurePosixPath]:
    """Where an entry's file goes: its folder and the path in it under the row's fields as they are
    (a clash is settled when it starts; the name is decided again from the file's tags at the end).

    ``audio.group`` must be fetched.
    """
    output = Path(entry.output_dir) if entry.output_dir else default_output
    return output, track_relative(audio, entry.filename_template or default_template, unknown)


def track_relative(audio: AudioFile, template: str, unknown: str = DEFAULT_UNKNOWN) -> PurePosixPath:
    """The path a track's file takes in the download folder under ``template`` (``audio.group`` fetched)."""
    fields = TrackFields(
        title=audio.title,
        performer=audio.performer,
        album=audio.album,
        track_number=audio.track_number,
        date=audio.date,
        genre=audio.genre,
        group=audio.group.title,
        message_id=audio.message_id,
        file_name=audio.file_name,
        mime_type=audio.mime_type,
        topic=audio.topic_title,
    )
    return render_relative(template, fields, unknown=unknown)
