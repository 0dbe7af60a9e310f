"""Tortoise models of the library: groups, their audio files and the download queue.

Schema changes go through a new migration in ``tad_tui/store/migrations`` (see ``db.py``).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class GroupKind(StrEnum):
    CHANNEL = "channel"
    MEGAGROUP = "megagroup"
    CHAT = "chat"


class FileStatus(StrEnum):
    PENDING = "pending"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    # Was downloaded, but its file is gone from disk (``tad-tui verify`` found it so): fetched again when queued.
    MISSING = "missing"


class Priority(IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


class QueueState(StrEnum):
    QUEUED = "queued"
    WAITING = "waiting"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TelegramGroup(Model):
    """A channel, megagroup or basic chat that audio is scanned from."""

    # Telethon's marked peer id (-100… for channels), so it never collides across peer kinds.
    group_id = fields.BigIntField(primary_key=True, generated=False)
    title = fields.CharField(max_length=255)
    username = fields.CharField(max_length=64, null=True)
    last_checked = fields.DatetimeField(null=True)
    access_hash = fields.BigIntField(null=True)
    kind = fields.CharEnumField(GroupKind, max_length=16)
    # Highest message id already scanned: the next scan starts after it.
    last_message_id = fields.IntField(default=0)
    audio_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    # A forum supergroup: its messages are sorted into topics (AudioFile.topic_id).
    forum = fields.BooleanField(default=False, db_default=False)

    audio_files: fields.ReverseRelation[AudioFile]

    class Meta:
        table = "telegram_group"

    def __str__(self) -> str:
        return self.title


class AudioFile(Model):
    """One audio message of one group, with its tags and download state."""

    # Explicit integer key: the FTS index uses it as rowid, and VACUUM may renumber implicit rowids.
    id = fields.IntField(primary_key=True)
    # f"{group_id}_{message_id}": stable per message, unlike Telegram's own file ids.
    file_id = fields.CharField(max_length=64, unique=True)
    # str(document.id): the same for one document posted in several chats (dedup).
    file_unique_id = fields.CharField(max_length=64)
    file_name = fields.CharField(max_length=1024, null=True)
    file_size = fields.BigIntField()
    mime_type = fields.CharField(max_length=128, null=True)
    duration = fields.IntField(null=True)
    title = fields.CharField(max_length=1024, null=True)
    performer = fields.CharField(max_length=1024, null=True)
    album = fields.CharField(max_length=1024, null=True)
    date = fields.CharField(max_length=32, null=True)
    genre = fields.CharField(max_length=255, null=True)
    composer = fields.CharField(max_length=1024, null=True)
    track_number = fields.CharField(max_length=16, null=True)
    local_path = fields.TextField(null=True)
    status = fields.CharEnumField(FileStatus, max_length=16, default=FileStatus.PENDING)
    error_message = fields.TextField(null=True)
    downloaded_at = fields.DatetimeField(null=True)
    partial_file_path = fields.TextField(null=True)
    downloaded_bytes = fields.BigIntField(default=0)
    # MD5 of the file on disk (tags written in included): what a later re-check compares with.
    checksum_md5 = fields.CharField(max_length=32, null=True)
    # MD5 of the bytes as Telegram sent them, before any tag was written into the file.
    source_md5 = fields.CharField(max_length=32, null=True)
    checksum_verified = fields.BooleanField(default=False)
    download_attempts = fields.IntField(default=0)
    last_attempt_at = fields.DatetimeField(null=True)
    group: fields.ForeignKeyRelation[TelegramGroup] = fields.ForeignKeyField(
        "models.TelegramGroup", related_name="audio_files", on_delete=fields.CASCADE
    )
    resume_offset = fields.BigIntField(default=0)
    resume_checksum = fields.CharField(max_length=64, null=True)
    # The parts already on disk: JSON {"part_size": n, "crc32": {index: crc}} (download/parts.py).
    resume_state = fields.TextField(null=True)
    message_id = fields.IntField()
    # What upload.getFile needs (InputDocumentFileLocation) without refetching the message.
    document_id = fields.BigIntField()
    access_hash = fields.BigIntField()
    file_reference = fields.BinaryField()
    dc_id = fields.IntField()
    # The type of the document's thumbnail (its cover) getFile fetches ("m"); None: it has none.
    thumb_type = fields.CharField(max_length=8, null=True)
    posted_at = fields.DatetimeField()
    # In a forum group: the topic it was posted in (1 = General) and that topic's title; None elsewhere.
    topic_id = fields.IntField(null=True)
    topic_title = fields.CharField(max_length=255, null=True)

    group_id: int
    queue_entry: fields.BackwardOneToOneRelation[QueueEntry]

    class Meta:
        table = "audio_file"
        unique_together = (("group", "message_id"),)
        indexes = (
            Index(fields=("group_id", "status"), name="idx_audio_file_group_status"),
            Index(fields=("file_unique_id",), name="idx_audio_file_unique_id"),
            Index(fields=("status",), name="idx_audio_file_status"),
            Index(fields=("posted_at",), name="idx_audio_file_posted_at"),
        )

    def __str__(self) -> str:
        return self.title or self.file_name or self.file_id


class DownloadBatch(Model):
    """Entries queued together (one group, one selection) so they can be paused or shown as one."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)
    # SET_NULL: forgetting a group keeps the batch's history readable.
    group: fields.ForeignKeyNullableRelation[TelegramGroup] = fields.ForeignKeyField(
        "models.TelegramGroup", related_name="batches", null=True, on_delete=fields.SET_NULL
    )

    entries: fields.ReverseRelation[QueueEntry]

    class Meta:
        table = "download_batch"


class QueueEntry(Model):
    """One audio file waiting in (or done with) the download queue."""

    id = fields.IntField(primary_key=True)
    audio: fields.OneToOneRelation[AudioFile] = fields.OneToOneField(
        "models.AudioFile", related_name="queue_entry", on_delete=fields.CASCADE
    )
    priority = fields.IntEnumField(Priority, default=Priority.NORMAL)
    # Order within a priority, smaller first; sparse so a move rewrites only the moved row.
    rank = fields.BigIntField()
    state = fields.CharEnumField(QueueState, max_length=16, default=QueueState.QUEUED)
    # SET_NULL: deleting a batch label must not delete the jobs in it.
    batch: fields.ForeignKeyNullableRelation[DownloadBatch] = fields.ForeignKeyField(
        "models.DownloadBatch", related_name="entries", null=True, on_delete=fields.SET_NULL
    )
    depends_on: fields.ForeignKeyNullableRelation[QueueEntry] = fields.ForeignKeyField(
        "models.QueueEntry", related_name="dependents", null=True, on_delete=fields.SET_NULL
    )
    output_dir = fields.TextField(null=True)
    filename_template = fields.TextField(null=True)
    error_message = fields.TextField(null=True)
    # Why a queued entry is not running although it had started (it gave its slot to a more urgent
    # one: "paused for a critical download"); cleared when it starts again.
    note = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    audio_id: int
    batch_id: int | None
    depends_on_id: int | None
    dependents: fields.ReverseRelation[QueueEntry]

    class Meta:
        table = "queue_entry"
        indexes = (
            # The scheduler's pick: WHERE state = ? AND priority = ? ORDER BY rank.
            Index(fields=("state", "priority", "rank"), name="idx_queue_entry_pick"),
            # The queue pane's order across states, and the neighbour lookups of a move.
            Index(fields=("priority", "rank"), name="idx_queue_entry_order"),
            Index(fields=("batch_id",), name="idx_queue_entry_batch"),
            # Without it, SET NULL on delete scans the whole queue for dependents.
            Index(fields=("depends_on_id",), name="idx_queue_entry_depends_on"),
        )


class Follow(Model):
    """A followed group: its new audio (matching ``match``, if set) is queued as it is posted."""

    id = fields.IntField(primary_key=True)
    group: fields.OneToOneRelation[TelegramGroup] = fields.OneToOneField(
        "models.TelegramGroup", related_name="follow", on_delete=fields.CASCADE
    )
    # A query in the search language; only new audio it matches is queued (None: every new file).
    match = fields.TextField(null=True)
    priority = fields.IntEnumField(Priority, default=Priority.NORMAL)
    output_dir = fields.TextField(null=True)
    filename_template = fields.TextField(null=True)
    # The highest message id already looked at: audio after it is new.
    last_message_id = fields.IntField(default=0)
    # The last new file queued for it: shown beside the group.
    last_new_title = fields.TextField(null=True)
    last_new_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    group_id: int

    class Meta:
        table = "follow"


__all__ = [
    "AudioFile",
    "DownloadBatch",
    "FileStatus",
    "Follow",
    "GroupKind",
    "Priority",
    "QueueEntry",
    "QueueState",
    "TelegramGroup",
]
