"""A Telegram Desktop export of a demo channel, written beside the rendered catalogue, for
``tad-tui --demo import-export``.

``<catalogue>/desktop-export/ChatExport_tad_demo_classical/`` holds ``result.json`` in Desktop's
machine-readable JSON form (one chat: ``name``, ``type``, ``id``, ``messages``; see
``tad_tui.library.desktop_export`` for the format) and ``files/`` with some of the channel's audio,
hard links to the catalogue's files (copies where links cannot be made). As in an export made with
a size limit and some media left out: two audio messages in three have their file under ``files/``,
every third reads "(File not included. …)", and files over ``SIZE_LIMIT`` read "(File exceeds
maximum size. …)". Dates are written in UTC, as Desktop writes local time on a machine set to UTC.

Derived from the complete catalogue, never from the plan: it changes nothing the server serves, and
a catalogue rendered before it existed gets it on its next run. Written into a temporary folder and
renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from tad_tui.telegram.sim.catalogue.model import Catalogue, DemoGroup, DemoMessage

log = logging.getLogger(__name__)

EXPORT_DIR = "desktop-export"
EXPORTED_GROUP = "tad_demo_classical"
SIZE_LIMIT = 1024 * 1024  # "Size limit: 1 MB" in Desktop's export settings
NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
TOO_BIG = "(File exceeds maximum size. Change data exporting settings to download.)"


def export_folder(root: Path, username: str = EXPORTED_GROUP) -> Path:
    return Path(root) / EXPORT_DIR / f"ChatExport_{username}"


def export_result(root: Path, username: str = EXPORTED_GROUP) -> Path:
    """The sample's result.json (written by ``ensure_desktop_export``)."""
    return export_folder(root, username) / "result.json"


def ensure_desktop_export(catalogue: Catalogue, username: str = EXPORTED_GROUP) -> Path | None:
    """Write the sample export of ``username`` if it is not there yet; its folder, or None when the
    catalogue has no such group or the folder cannot be written (the demo goes on without it)."""
    try:
        group = catalogue.group(username)
    except KeyError:
        return None
    final = export_folder(catalogue.root, username)
    if (final / "result.json").exists():
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=final.parent))
        try:
            _write(staging, group)
            try:
                os.rename(staging, final)
            except OSError:
                if not (final / "result.json").exists():  # not another process's finished one
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        log.warning("the demo's Telegram Desktop export could not be written in %s: %s", final, error)
        return None
    return final


def _write(folder: Path, group: DemoGroup) -> None:
    (folder / "files").mkdir()
    taken: set[str] = set()
    messages = []
    audio_seen = 0
    for message in group.messages:
        file_path = None
        if message.file is not None:
            if message.file.size > SIZE_LIMIT:
                file_path = TOO_BIG
            elif audio_seen % 3 == 2:
                file_path = NOT_INCLUDED
            else:
                relative = _file_name(message, taken)
                _link(message.file.path, folder / relative)
                file_path = relative
            audio_seen += 1
        messages.append(_message(group, message, file_path))
    result = {
        "name": group.title,
        "type": "public_channel" if not group.megagroup else "public_supergroup",
        "id": group.id,
        "messages": messages,
    }
    # Desktop indents by one space a level and writes UTF-8 as is.
    (folder / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _message(group: DemoGroup, message: DemoMessage, file_path: str | None) -> dict[str, Any]:
    """One message as Desktop writes it: keys in its order, those without a value left out."""
    entry: dict[str, Any] = {
        "id": message.id,
        "type": "message",
        "date": message.date.strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(int(message.date.timestamp())),
        "from": group.title,
        "from_id": f"channel{group.id}",
    }
    file = message.file
    if file is not None:
        entry["file"] = file_path
        if file.file_name:
            entry["file_name"] = file.file_name
        entry["file_size"] = file.size
        if file.has_audio_attribute:
            entry["media_type"] = "audio_file"
            if file.performer:
                entry["performer"] = file.performer
            if file.title:
                entry["title"] = file.title
        entry["mime_type"] = file.mime_type
        if file.duration:
            entry["duration_seconds"] = file.duration
    entry["text"] = message.text
    entry["text_entities"] = [{"type": "plain", "text": message.text}] if message.text else []
    return entry


def _file_name(message: DemoMessage, taken: set[str]) -> str:
    """``files/<its file name>``, as Desktop saves documents ("name (1).ext" on a clash)."""
    file = message.file
    assert file is not None
    suffix = PurePosixPath(file.path).suffix
    name = file.file_name or f"audio_file_{message.id}{suffix}"
    name = name.replace("/", "_").replace("\\", "_")
    stem, dot, extension = name.rpartition(".")
    candidate, number = name, 0
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem} ({number}).{extension}" if dot else f"{name} ({number})"
    taken.add(candidate.casefold())
    return f"files/{candidate}"


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copyfile(source, target)
