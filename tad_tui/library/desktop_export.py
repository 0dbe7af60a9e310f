"""Telegram Desktop chat exports in their machine-readable JSON form: the audio messages they hold.

Telegram Desktop (Settings → Export chat history, format "Machine-readable JSON") writes a folder
with ``result.json`` and, for the media types chosen, the files, at paths relative to that folder.
The format, as Desktop's JSON writer makes it:

- one chat exported: ``{"name", "type", "id", "messages": [...]}``; a whole account: an object whose
  ``"chats"`` (and ``"left_chats"``) hold ``{"about", "list": [chat, ...]}``, each chat as above.
  ``"id"`` is the bare peer id (a channel's without Telethon's -100); ``"type"`` is one of
  ``public_channel``, ``private_channel``, ``public_supergroup``, ``private_supergroup``,
  ``private_group`` (a basic group), ``personal_chat``, ``bot_chat``, ``saved_messages``, ``replies``.
- a message: ``"id"``, ``"type"`` (``"message"`` or ``"service"``), ``"date"`` (ISO, local time),
  ``"date_unixtime"`` (seconds, as a string), then for a document ``"file"`` (its path relative to the
  export folder, or Desktop's reason in parentheses when the file was not exported: "(File not
  included. Change data exporting settings to download.)", "(File exceeds maximum size. …)", "(File
  unavailable, please try again later)"), ``"file_name"``, ``"file_size"``, ``"media_type"``
  (``"audio_file"`` for music, ``"voice_message"``…), ``"performer"``, ``"title"``, ``"mime_type"``,
  ``"duration_seconds"``. Keys whose value is empty are left out.

Audio here is what the library calls audio: ``media_type: "audio_file"``, or a document of an
``audio/`` mime type without a media type (audio sent as a plain file); voice messages are not.

Nothing here trusts the file: ``ExportError`` says in words why one cannot be read, and
``locate`` refuses any ``file`` path that would leave the export folder.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from tad_tui.library.text import MIME_TYPE_MAX, TEXT_MAX, clean_text

RESULT_NAME = "result.json"
AUDIO_MEDIA_TYPE = "audio_file"
# Chat types whose id is a channel's (marked -100…), a basic group's (marked -id), or no group at all.
CHANNEL_TYPES = frozenset({"public_channel", "private_channel", "public_supergroup", "private_supergroup"})
BASIC_GROUP_TYPES = frozenset({"private_group"})
_NOT_A_GROUP = {
    "personal_chat": "a chat with a person",
    "bot_chat": "a chat with a bot",
    "saved_messages": "Saved Messages",
    "replies": "the Replies chat",
}


class ExportError(Exception):
    """The file is not a Telegram Desktop export that can be read, in words."""


class UnsafePath(Exception):
    """A message's ``file`` names a place outside the export folder (or no plain file in it)."""


@dataclass(frozen=True)
class ExportAudio:
    """One audio message of an exported chat."""

    message_id: int
    file: str | None  # the path relative to the export folder; None when the file was not exported
    not_exported: str | None  # Desktop's words when it was not ("(File not included. …)")
    file_name: str | None
    file_size: int | None
    mime_type: str | None
    title: str | None
    performer: str | None
    duration: int | None
    posted_at: datetime | None


@dataclass(frozen=True)
class ExportChat:
    name: str
    type: str
    bare_id: int
    audio: tuple[ExportAudio, ...]

    @property
    def marked_id(self) -> int | None:
        """Telethon's marked peer id (what the library keys groups by); None for a chat with no group."""
        if self.type in CHANNEL_TYPES:
            return int(f"-100{self.bare_id}")
        if self.type in BASIC_GROUP_TYPES:
            return -self.bare_id
        return None

    @property
    def not_a_group(self) -> str | None:
        """Why the chat is no group or channel ("a chat with a person"); None when it is one."""
        if self.marked_id is not None:
            return None
        return _NOT_A_GROUP.get(self.type, f"a chat of type {self.type!r}")


@dataclass(frozen=True)
class DesktopExport:
    path: Path  # the result.json read
    chats: tuple[ExportChat, ...]  # those holding audio, in the export's order

    @property
    def folder(self) -> Path:
        """The export folder: every ``file`` path is relative to it, and must stay inside it."""
        return self.path.parent

    @property
    def audio_count(self) -> int:
        return sum(len(chat.audio) for chat in self.chats)


def read_export(path: str | os.PathLike[str]) -> DesktopExport:
    """The audio of the export at ``path`` (its ``result.json``, or the folder holding it)."""
    given = Path(path)
    target = given / RESULT_NAME if given.is_dir() else given
    shown = str(given)
    try:
        status = target.stat()
    except FileNotFoundError:
        if given.is_dir():
            raise ExportError(f"{shown} holds no {RESULT_NAME}: give the folder of a Telegram Desktop export") from None
        raise ExportError(f"{shown}: no such file") from None
    except OSError as error:
        raise ExportError(f"{shown} cannot be read: {error.strerror or error}") from None
    if not stat.S_ISREG(status.st_mode):
        raise ExportError(f"{shown} is not a file: give the result.json of a Telegram Desktop export")
    if target.suffix.lower() in (".html", ".htm"):
        raise ExportError(
            f"{shown} is the HTML form of an export: export again choosing the format \"Machine-readable JSON\""
        )
    try:
        with open(target, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except OSError as error:
        raise ExportError(f"{shown} cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ExportError(f"{shown} is not JSON (not UTF-8 text): give the result.json of a Telegram Desktop export") from None
    except json.JSONDecodeError as error:
        raise ExportError(
            f"{shown} is not JSON (line {error.lineno}, column {error.colno}: {error.msg}): "
            "give the result.json of a Telegram Desktop export"
        ) from None
    except RecursionError:
        raise ExportError(f"{shown} nests too deep to be a Telegram Desktop export") from None
    chats = _chats(data, shown)
    return DesktopExport(target.absolute(), tuple(chat for chat in chats if chat.audio))


def locate(folder: Path, relative: str) -> Path:
    """The file an export's ``file`` names, inside ``folder``; UnsafePath, in words, for any path
    that would lead elsewhere (absolute, with "..", through a link out of the folder) or names no file.
    Nothing outside ``folder`` is read: only the names are resolved, and the file itself is opened
    by the caller (``open_exported``) without following a link."""
    if not relative or "\x00" in relative:
        raise UnsafePath(f"{relative!r} is not a file name")
    if PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute() or PureWindowsPath(relative).drive:
        raise UnsafePath(f"{relative!r} is an absolute path, outside the export folder: refused")
    parts = relative.replace("\\", "/").split("/")
    if ".." in parts:
        raise UnsafePath(f"{relative!r} leads out of the export folder: refused")
    root = folder.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or candidate == root:
        raise UnsafePath(f"{relative!r} is a link leading out of the export folder: refused")
    return candidate


def open_exported(path: Path) -> tuple[int, int]:
    """Open a file ``locate`` found: (descriptor, size). Never through a link (one made since
    ``locate`` looked), never anything but a plain file (a FIFO would block, a device never end)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    descriptor = os.open(path, flags)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafePath(f"{path.name!r} is not a plain file: refused")
        os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, status.st_size


# ---- reading the JSON ---------------------------------------------------------------------------


def _chats(data: Any, shown: str) -> list[ExportChat]:
    if not isinstance(data, dict):
        raise ExportError(f"{shown} is not a Telegram Desktop export: it holds a JSON {_kind(data)}, not an object")
    if "messages" in data:
        return [_chat(data, shown, "the chat")]
    lists = [key for key in ("chats", "left_chats") if key in data]
    if not lists:
        raise ExportError(
            f"{shown} is not a Telegram Desktop export: it has neither a \"messages\" list (one chat) "
            "nor a \"chats\" list (a whole account)"
        )
    chats = []
    for key in lists:
        section = data[key]
        listed = section.get("list") if isinstance(section, dict) else None
        if not isinstance(listed, list):
            raise ExportError(f"{shown} is not a Telegram Desktop export: its \"{key}\" holds no \"list\" of chats")
        for position, chat in enumerate(listed, start=1):
            chats.append(_chat(chat, shown, f"chat {position} of \"{key}\""))
    return chats


def _chat(data: Any, shown: str, where: str) -> ExportChat:
    if not isinstance(data, dict):
        raise ExportError(f"{shown}: {where} is a JSON {_kind(data)}, not a chat object")
    chat_id = data.get("id")
    messages = data.get("messages")
    if not _whole(chat_id):
        raise ExportError(f"{shown}: {where} has no whole-number \"id\"")
    if not isinstance(messages, list):
        raise ExportError(f"{shown}: {where} has no \"messages\" list")
    chat_type = data.get("type")
    if not isinstance(chat_type, str):
        raise ExportError(f"{shown}: {where} has no \"type\" (public_channel, private_supergroup…)")
    name = data.get("name")
    name = clean_text(name if isinstance(name, str) else None) or str(chat_id)
    audio = []
    for message in messages:
        found = _audio(message, shown, name)
        if found is not None:
            audio.append(found)
    return ExportChat(name, chat_type, abs(chat_id), tuple(audio))


def _audio(message: Any, shown: str, chat: str) -> ExportAudio | None:
    if not isinstance(message, dict):
        raise ExportError(f"{shown}: a message of {chat!r} is a JSON {_kind(message)}, not a message object")
    if message.get("type") != "message":
        return None  # a service message ("joined", "pinned"…) or an unsupported one
    media_type = message.get("media_type")
    mime_type = message.get("mime_type")
    is_audio = media_type == AUDIO_MEDIA_TYPE or (
        media_type is None and isinstance(mime_type, str) and mime_type.startswith("audio/") and "file" in message
    )
    if not is_audio:
        return None
    message_id = message.get("id")
    if not _whole(message_id) or message_id < 1:
        raise ExportError(f"{shown}: an audio message of {chat!r} has no whole-number \"id\"")
    where = f"message {message_id} of {chat!r}"
    texts = {key: _text(message, key, shown, where) for key in ("file", "file_name", "mime_type", "title", "performer")}
    file = texts["file"]
    exported = file is not None and not (file.startswith("(") and file.endswith(")"))
    return ExportAudio(
        message_id=message_id,
        file=file if exported else None,
        not_exported=None if exported else (file or "(no file in the export)"),
        file_name=clean_text(texts["file_name"], max_length=TEXT_MAX),
        file_size=_count(message, "file_size", shown, where),
        mime_type=clean_text(texts["mime_type"], max_length=MIME_TYPE_MAX),
        title=clean_text(texts["title"], max_length=TEXT_MAX),
        performer=clean_text(texts["performer"], max_length=TEXT_MAX),
        duration=_count(message, "duration_seconds", shown, where),
        posted_at=_date(message),
    )


def _text(message: dict[str, Any], key: str, shown: str, where: str) -> str | None:
    value = message.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ExportError(f"{shown}: {where} has a \"{key}\" that is a JSON {_kind(value)}, not text")


def _count(message: dict[str, Any], key: str, shown: str, where: str) -> int | None:
    value = message.get(key)
    if value is None:
        return None
    if not _whole(value) or value < 0:
        raise ExportError(f"{shown}: {where} has a \"{key}\" that is not a whole number of at least 0")
    return value


def _date(message: dict[str, Any]) -> datetime | None:
    raw = message.get("date_unixtime")
    try:
        return datetime.fromtimestamp(int(raw), UTC) if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None
    except (ValueError, OverflowError, OSError):
        return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "number")
