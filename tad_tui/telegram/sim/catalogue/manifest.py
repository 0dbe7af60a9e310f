"""The catalogue's manifest (``manifest.json``): written last by a render, read by every later run."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tad_tui.telegram.sim.catalogue.model import (
    CATALOGUE_VERSION,
    DC_ID,
    DEMO_PLAN_NAME,
    MANIFEST_NAME,
    Catalogue,
    CataloguePlan,
    DemoFile,
    DemoGroup,
    DemoMessage,
    FilePlan,
    GroupPlan,
    MessagePlan,
)


def _file_entry(file: FilePlan, size: int, md5: str) -> dict[str, Any]:
    return {
        "access_hash": file.access_hash,
        "path": file.relpath,
        "size": size,
        "md5": md5,
        "mime_type": file.mime_type,
        "file_name": file.file_name,
        "title": file.title,
        "performer": file.performer,
        "duration": file.duration,
        "has_audio_attribute": file.has_audio_attribute,
        "dc_id": DC_ID,
        "tags": [list(pair) for pair in file.tags],
        "cover": file.cover,
    }


def _message_entry(number: int, message: MessagePlan) -> list[Any]:
    entry: list[Any] = [number, int(message.date.timestamp()), message.text,
                        message.file.document_id if message.file else None]
    thread = {"topic": message.topic, "reply_to": message.reply_to, "created_topic": message.created_topic}
    if any(thread.values()):  # only a forum's messages carry the fifth element
        entry.append({key: value for key, value in thread.items() if value})
    return entry


def _group_entry(group: GroupPlan) -> dict[str, Any]:
    # a deleted message is not served: its id stays a gap
    messages = [_message_entry(number, m) for number, m in group.kept()]
    return {
        "id": group.id,
        "access_hash": group.access_hash,
        "title": group.title,
        "username": group.username,
        "megagroup": group.megagroup,
        "about": group.about,
        "messages": messages,  # [id, unix time, text, document_id or null, {topic, reply_to, created_topic}?]
        "forum": group.forum,
    }


def manifest_for(plan: CataloguePlan, rendered: dict[int, tuple[int, str]]) -> dict[str, Any]:
    files = {str(f.document_id): _file_entry(f, *rendered[f.document_id]) for f in plan.files()}
    return {
        "version": CATALOGUE_VERSION,
        "plan": plan.name,
        "files": files,
        "groups": [_group_entry(group) for group in plan.groups],
    }


def _write_json(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so a reader never sees half a JSON document."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    os.replace(temporary, path)


def _demo_file(root: Path, document_id: int, entry: dict[str, Any]) -> DemoFile:
    return DemoFile(
        document_id=document_id,
        access_hash=entry["access_hash"],
        path=root / entry["path"],
        size=entry["size"],
        md5=entry["md5"],
        mime_type=entry["mime_type"],
        file_name=entry["file_name"],
        title=entry["title"],
        performer=entry["performer"],
        duration=entry["duration"],
        has_audio_attribute=entry["has_audio_attribute"],
        dc_id=entry["dc_id"],
        tags=tuple((key, value) for key, value in entry["tags"]),
        cover=entry["cover"],
    )


def _demo_group(entry: dict[str, Any], files: dict[int, DemoFile]) -> DemoGroup:
    messages = tuple(
        DemoMessage(
            number, datetime.fromtimestamp(stamp, UTC), text, None if doc is None else files[doc],
            topic=thread[0].get("topic", 0) if thread else 0,
            reply_to=thread[0].get("reply_to", 0) if thread else 0,
            created_topic=thread[0].get("created_topic") if thread else None,
        )
        for number, stamp, text, doc, *thread in entry["messages"]
    )
    return DemoGroup(
        entry["id"], entry["access_hash"], entry["title"], entry["username"], entry["megagroup"], entry["about"],
        messages, forum=bool(entry.get("forum", False)),
    )


def catalogue_from_manifest(root: Path, manifest: dict[str, Any]) -> Catalogue:
    files = {int(key): _demo_file(root, int(key), entry) for key, entry in manifest["files"].items()}
    return Catalogue(root, tuple(_demo_group(entry, files) for entry in manifest["groups"]))


def _files_intact(catalogue: Catalogue) -> bool:
    """Every file present with its recorded size: a cheap check that needs no hashing."""
    try:
        return all(file.path.stat().st_size == file.size for file in catalogue.files)
    except OSError:
        return False


def read_catalogue(root: Path, plan_name: str = DEMO_PLAN_NAME) -> Catalogue | None:
    """The catalogue in ``root`` if it is complete and of this version and plan, else None."""
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != CATALOGUE_VERSION:
        return None
    if manifest.get("plan") != plan_name:
        return None
    try:
        catalogue = catalogue_from_manifest(root, manifest)
    except (KeyError, TypeError, ValueError):
        return None
    return catalogue if _files_intact(catalogue) else None
