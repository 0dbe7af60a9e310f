"""The store's rows as what the facade hands out (``tad_tui.api``'s frozen dataclasses)."""

from __future__ import annotations

from typing import Any

from tad_tui.api import GroupSummary, QueueRow, Track
from tad_tui.library.text import track_name
from tad_tui.store.models import AudioFile, Priority

QUEUE_FIELDS = (
    "id",
    "priority",
    "state",
    "batch_id",
    "error_message",
    "note",
    "audio__file_id",
    "audio__title",
    "audio__performer",
    "audio__file_name",
    "audio__downloaded_bytes",
    "audio__file_size",
    "audio__group__title",
)


def queue_row(
    entry_id: int,
    priority: int,
    state: object,
    batch_id: int | None,
    error: str | None,
    note: str | None,
    file_id: str,
    title: str | None,
    performer: str | None,
    file_name: str | None,
    downloaded: int,
    size: int,
    group: str,
) -> QueueRow:
    name = track_name(title, performer, file_name, file_id)
    return QueueRow(
        id=entry_id,
        file_id=file_id,
        file=name,
        group=group,
        priority=Priority(priority).name.lower(),
        state=str(getattr(state, "value", state)),
        downloaded_bytes=downloaded,
        file_size=size,
        batch_id=batch_id,
        error_message=error,
        note=note,
    )


GROUP_FIELDS = (
    "group_id", "title", "username", "kind", "audio_count", "last_checked", "forum",
    "follow__id", "follow__match", "follow__last_new_title", "follow__last_new_at",
)


def group_summary(row: dict[str, Any]) -> GroupSummary:
    return GroupSummary(
        row["group_id"],
        row["title"],
        row["username"],
        str(getattr(row["kind"], "value", row["kind"])),
        row["audio_count"],
        row["last_checked"],
        followed=row["follow__id"] is not None,
        follow_match=row["follow__match"],
        last_new_title=row["follow__last_new_title"],
        last_new_at=row["follow__last_new_at"],
        forum=bool(row["forum"]),
    )


def track(row: AudioFile) -> Track:
    return Track(
        id=row.pk,
        file_id=row.file_id,
        message_id=row.message_id,
        title=row.title,
        performer=row.performer,
        file_name=row.file_name,
        duration=row.duration,
        file_size=row.file_size,
        mime_type=row.mime_type,
        status=str(getattr(row.status, "value", row.status)),
        local_path=row.local_path,
        checksum_md5=row.checksum_md5,
        source_md5=row.source_md5,
    )
