"""The simulated Telegram's files: documents as messages describe them (file references that expire,
thumbnails), and upload.getFile / upload.getFileHashes with the rules Telegram enforces for them."""

from __future__ import annotations

import hashlib
import os
import struct
import time
from typing import Any

from telethon.tl import types

from tad_tui.telegram.sim.catalogue import DemoFile
from tad_tui.telegram.sim.cover import THUMB_TYPE, cover_for
from tad_tui.telegram.sim.errors import RpcErrorReply
from tad_tui.telegram.sim.server.chats import EPOCH
from tad_tui.telegram.sim.tl import make

MIB = 1024 * 1024
HASH_RANGE = 128 * 1024  # upload.getFileHashes: Telegram hashes a file in ranges of this size
HASHES_PER_ANSWER = 8  # consecutive ranges per answer (1 MiB)
# What a server that does not offer upload.getFileHashes answers it (SimulatedTelegram(file_hashes=False)):
# Telegram's error for a method it does not accept, 400 METHOD_INVALID (Telethon's MethodInvalidError).
NO_FILE_HASHES = "METHOD_INVALID"


class FileMethods:
    """SimulatedTelegram's file requests (mixed into it; the state they use is set up there)."""

    def file(self, document_id: int) -> DemoFile:
        """The file a document id names, from the catalogue or a live post (its ``md5``, ``path``, …)."""
        return self.catalogue.current(self._files[document_id])

    def expire_file_reference(self, document_id: int) -> None:
        """Every file reference handed out so far for this document stops working."""
        self._reference_generation[document_id] = self._reference_generation.get(document_id, 0) + 1

    def file_reference(self, document_id: int) -> bytes:
        generation = self._reference_generation.get(document_id, 0)
        return b"\x02" + struct.pack("<qI", document_id, generation) + hashlib.sha256(
            struct.pack("<qI", document_id, generation)
        ).digest()[:8]

    def document(self, file: DemoFile) -> types.Document:
        file = self.catalogue.current(file)
        attributes: list[Any] = []
        if file.has_audio_attribute:
            attributes.append(
                make(
                    types.DocumentAttributeAudio,
                    duration=file.duration,
                    title=file.title,
                    performer=file.performer,
                )
            )
        if file.file_name is not None:
            attributes.append(types.DocumentAttributeFilename(file_name=file.file_name))
        return make(
            types.Document,
            id=file.document_id,
            access_hash=file.access_hash,
            file_reference=self.file_reference(file.document_id),
            date=EPOCH,
            mime_type=file.mime_type,
            size=file.size,
            dc_id=self._dc_of[file.document_id],
            attributes=attributes,
            thumbs=_thumbs(file),
        )

    def _located_file(self, location: Any, dc_id: int) -> DemoFile:
        """The document an InputFileLocation names, checked as Telegram checks it for getFile and
        getFileHashes: LOCATION_INVALID, FILE_MIGRATE_X (it lives on another DC), FILE_REFERENCE_EXPIRED."""
        if not isinstance(location, types.InputDocumentFileLocation):
            raise RpcErrorReply(400, "LOCATION_INVALID")
        file = self._files.get(location.id)
        if file is not None:
            file = self.catalogue.current(file)
        if file is None or file.access_hash != location.access_hash:
            raise RpcErrorReply(400, "LOCATION_INVALID")
        if self._dc_of[file.document_id] != dc_id:
            raise RpcErrorReply(303, f"FILE_MIGRATE_{self._dc_of[file.document_id]}")
        if location.file_reference != self.file_reference(file.document_id):
            raise RpcErrorReply(400, "FILE_REFERENCE_EXPIRED")
        return file

    def _on_GetFileRequest(self, request: Any, *, dc_id: int, **_: Any) -> Any:
        file = self._located_file(request.location, dc_id)
        check_getfile_window(request.offset, request.limit, precise=bool(request.precise))
        thumb = request.location.thumb_size
        if thumb:  # a thumbnail: the "m" PhotoSize the document lists, within the same limits
            if thumb != THUMB_TYPE or file.cover is None:
                raise RpcErrorReply(400, "LOCATION_INVALID")
            data = cover_for(file.cover).jpeg
            self.policy.download(max(0, min(request.limit, len(data) - request.offset)), time.time())
            return types.upload.File(type=types.storage.FileJpeg(), mtime=0,
                                     bytes=data[request.offset:request.offset + request.limit])
        self.policy.download(max(0, min(request.limit, file.size - request.offset)), time.time())
        data = b""
        if request.offset < file.size:
            with open(file.path, "rb") as handle:
                data = os.pread(handle.fileno(), request.limit, request.offset)
        return types.upload.File(type=_storage_type(file.mime_type), mtime=0, bytes=data)

    def _on_GetFileHashesRequest(self, request: Any, *, dc_id: int, **_: Any) -> list[types.FileHash]:
        """SHA-256 of HASHES_PER_ANSWER consecutive ranges from the one holding ``offset`` (the last
        range of a file is shorter; past the end there are none)."""
        if not self.file_hashes:
            raise RpcErrorReply(400, NO_FILE_HASHES)
        file = self._located_file(request.location, dc_id)
        if request.offset < 0:
            raise RpcErrorReply(400, "OFFSET_INVALID")
        if request.offset >= file.size:
            return []
        first = request.offset // HASH_RANGE
        last = min(first + HASHES_PER_ANSWER, -(-file.size // HASH_RANGE))
        return [
            types.FileHash(
                offset=index * HASH_RANGE,
                limit=min(HASH_RANGE, file.size - index * HASH_RANGE),
                hash=self._range_hash(file, index),
            )
            for index in range(first, last)
        ]

    def _range_hash(self, file: DemoFile, index: int) -> bytes:
        """One range's SHA-256, hashed from the catalogue file the first time it is asked for."""
        known = self._range_hashes.setdefault(file.document_id, {})
        digest = known.get(index)
        if digest is None:
            with open(file.path, "rb") as handle:
                digest = known[index] = hashlib.sha256(
                    os.pread(handle.fileno(), HASH_RANGE, index * HASH_RANGE)
                ).digest()
        return digest


def check_getfile_window(offset: int, limit: int, *, precise: bool) -> None:
    """upload.getFile's rules, as Telegram enforces them (https://core.telegram.org/api/files, and the
    README's "Development"): offset and limit multiples of 4 KiB (1 KiB with ``precise``), limit at most
    1 MiB and dividing it unless precise, and no request crossing a 1 MiB boundary."""
    if limit <= 0 or limit > MIB:
        raise RpcErrorReply(400, "LIMIT_INVALID")
    if offset < 0:
        raise RpcErrorReply(400, "OFFSET_INVALID")
    if precise:
        if offset % 1024 or limit % 1024:
            raise RpcErrorReply(400, "OFFSET_INVALID" if offset % 1024 else "LIMIT_INVALID")
    else:
        if offset % 4096:
            raise RpcErrorReply(400, "OFFSET_INVALID")
        if limit % 4096 or MIB % limit:
            raise RpcErrorReply(400, "LIMIT_INVALID")
    if offset // MIB != (offset + limit - 1) // MIB:
        raise RpcErrorReply(400, "LIMIT_INVALID")


def _thumbs(file: DemoFile) -> list[Any] | None:
    """A document's thumbnails as Telegram lists them: the stripped "i" inline, then the "m" JPEG
    (fetched with getFile, thumb_size "m"); None for a file without a cover."""
    if file.cover is None:
        return None
    cover = cover_for(file.cover)
    return [
        types.PhotoStrippedSize(type="i", bytes=cover.stripped),
        types.PhotoSize(type=THUMB_TYPE, w=cover.side, h=cover.side, size=len(cover.jpeg)),
    ]


def _storage_type(mime_type: str) -> Any:
    if mime_type == "audio/mpeg":
        return types.storage.FileMp3()
    return types.storage.FilePartial()
