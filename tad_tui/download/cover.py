"""A track's cover: the thumbnail Telegram keeps with its audio document, fetched after the file's
bytes and before its tags are written (embedded there by ``library.metadata``), and ``cover.jpg``.

A cover is a nicety: one that cannot be fetched is logged and the file completes without it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from telethon import errors

from tad_tui.download.transfer import server_words
from tad_tui.telegram.source import FileLocation, Source

log = logging.getLogger(__name__)
COVER_FILE_NAME = "cover.jpg"
_WINDOW = 1024 * 1024  # one getFile answer: at most 1 MiB, from an offset that is a multiple of it
_MAX_COVER = 8 * _WINDOW  # a thumbnail is a few KB; past this, something is wrong: no cover


async def fetch_cover(
    source: Source, location: FileLocation, refresh: Callable[[], Awaitable[FileLocation]], label: str
) -> bytes | None:
    """The document's thumbnail bytes (its cover), or None if it has none or they cannot be had
    (logged). An expired file reference is refreshed once (``refresh``: the message read again)."""
    thumbnail = location.of_thumbnail()
    if thumbnail is None:
        return None
    try:
        try:
            return await _read_all(source, thumbnail)
        except errors.FileReferenceExpiredError:
            thumbnail = (await refresh()).of_thumbnail()
            return None if thumbnail is None else await _read_all(source, thumbnail)
    except Exception as error:  # noqa: BLE001 - any failure costs the cover only, never the file
        log.warning("%s: no cover (its thumbnail could not be fetched: %s)", label, _words(error))
        return None


def _words(error: Exception) -> str:
    """Telegram's name for an RPC error (FILE_ID_INVALID), else the error's own words."""
    if isinstance(error, errors.RPCError):
        return server_words(error)
    return str(error) or type(error).__name__


async def _read_all(source: Source, location: FileLocation) -> bytes | None:
    data = bytearray()
    while len(data) < _MAX_COVER:
        chunk = await source.read_range(location, len(data), _WINDOW)
        data += chunk
        if len(chunk) < _WINDOW:
            return bytes(data) if data else None
    raise ValueError(f"the thumbnail is larger than {_MAX_COVER} bytes")


def save_cover_file(folder: Path, jpeg: bytes) -> bool:
    """Write ``cover.jpg`` in ``folder`` unless one is there (never replaced, even by a download
    running beside this one): written under a temporary name, then linked into place."""
    target = folder / COVER_FILE_NAME
    if target.exists():
        return False
    handle, temporary = tempfile.mkstemp(prefix=".cover-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(jpeg)
            out.flush()
            os.fsync(out.fileno())
        os.link(temporary, target)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True
