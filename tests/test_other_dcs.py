"""Files on other data centres: per-DC authorization, exported once per DC, FILE_MIGRATE bounded.

Real Telegram keeps a file on its uploader's DC. A connection to another DC needs that DC's own
auth key, made usable by ``auth.exportAuthorization`` on the home DC and ``auth.importAuthorization``
over the new connection. The simulated server enforces it, so ``TadClient.open_extra_sender`` runs
here as in production (only the transport under it is simulated). Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from telethon import errors
from telethon.crypto import AuthKey
from telethon.tl import functions, types

from faults_support import check_invariants, json_lines, run_cli, write_config
from tad_tui.download.transfer import IN_FLIGHT_PER_CONNECTION
from tad_tui.store import AudioFile, FileStatus
from tad_tui.telegram.sim.catalogue import Catalogue, DemoFile
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import RpcErrorReply, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource
from test_faults import ARCHIVE, CLASSICAL, MIB, MIXES, rig_for

HOSTILE = "@tad_demo_hostile"
HOME = 2
OTHER = {1, 4, 5}


def _files(catalogue: Catalogue, group: str) -> list[DemoFile]:
    return [m.file for m in catalogue.group(group).messages if m.file is not None]


def _on_dc(server: SimulatedTelegram, catalogue: Catalogue, group: str, dc_id: int) -> list[DemoFile]:
    return [file for file in _files(catalogue, group) if server.dc_of(file.document_id) == dc_id]


def _location(server: SimulatedTelegram, file: DemoFile) -> types.InputDocumentFileLocation:
    return types.InputDocumentFileLocation(
        id=file.document_id, access_hash=file.access_hash, file_reference=server.file_reference(file.document_id),
        thumb_size="",
    )


def _first_part(server: SimulatedTelegram, file: DemoFile) -> functions.upload.GetFileRequest:
    return functions.upload.GetFileRequest(location=_location(server, file), offset=0, limit=4096)


def _file_id_of(entry) -> int:
    return int(entry.detail.split()[0].removeprefix("id="))


# ---- where the demo's files live ------------------------------------------------------------------


def test_every_demo_group_has_files_on_each_other_dc(demo_catalogue: Catalogue) -> None:
    server = SimulatedTelegram(demo_catalogue)
    for group in (CLASSICAL, ARCHIVE, MIXES, HOSTILE):
        assert {server.dc_of(f.document_id) for f in _files(demo_catalogue, group)} == OTHER | {HOME}, group
    big = [f for f in _files(demo_catalogue, MIXES) if f.size > 4 * MIB and server.dc_of(f.document_id) != HOME]
    assert big, "no multi-connection file of the mixes lives on another DC"
    elsewhere = [f for f in demo_catalogue.files if server.dc_of(f.document_id) != HOME]
    assert 0.2 <= len(elsewhere) / len(demo_catalogue.files) <= 0.3  # about one in four
    # The server's decision, the same every time; the manifest still says the home DC for all.
    again = SimulatedTelegram(demo_catalogue)
    assert all(again.dc_of(f.document_id) == server.dc_of(f.document_id) for f in demo_catalogue.files)
    assert {f.dc_id for f in demo_catalogue.files} == {HOME}
    # Messages report it, and with the switch off everything is on the home DC as before.
    assert all(server.document(f).dc_id == server.dc_of(f.document_id) for f in elsewhere)
    home_only = SimulatedTelegram(demo_catalogue, other_dcs=False)
    assert {home_only.dc_of(f.document_id) for f in demo_catalogue.files} == {HOME}


# ---- the server's per-DC authorization --------------------------------------------------------------


async def test_another_dc_accepts_only_a_key_imported_there(
    source: TelethonSource, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    client = source.client
    on_4 = _on_dc(server, demo_catalogue, CLASSICAL, 4)[0]
    on_5 = _on_dc(server, demo_catalogue, CLASSICAL, 5)[0]
    fresh = await client._tad_connect_sender(4, None)
    with pytest.raises(errors.AuthKeyUnregisteredError):
        await client._call(fresh, _first_part(server, on_4))
    home_key = await client._tad_connect_sender(4, AuthKey(client.session.auth_key.key))
    with pytest.raises(errors.AuthKeyUnregisteredError):  # the home DC's key means nothing on DC 4
        await client._call(home_key, _first_part(server, on_4))
    with pytest.raises(errors.DcIdInvalidError):  # nothing to export to the DC one is on
        await client(functions.auth.ExportAuthorizationRequest(HOME))
    for_5 = await client(functions.auth.ExportAuthorizationRequest(5))
    for_4 = await client(functions.auth.ExportAuthorizationRequest(4))
    assert for_4.bytes != for_5.bytes and len(for_4.bytes) >= 32
    refused = [
        functions.auth.ImportAuthorizationRequest(id=for_5.id, bytes=for_5.bytes),  # made for DC 5
        functions.auth.ImportAuthorizationRequest(id=for_4.id, bytes=bytes(len(for_4.bytes))),  # forged
        functions.auth.ImportAuthorizationRequest(id=for_4.id + 1, bytes=for_4.bytes),  # someone else's
    ]
    for request in refused:
        with pytest.raises(errors.AuthBytesInvalidError):
            await client._call(fresh, request)
    await client._call(fresh, functions.auth.ImportAuthorizationRequest(id=for_4.id, bytes=for_4.bytes))
    with pytest.raises(errors.AuthBytesInvalidError):  # single use
        await client._call(home_key, functions.auth.ImportAuthorizationRequest(id=for_4.id, bytes=for_4.bytes))
    part = await client._call(fresh, _first_part(server, on_4))
    assert part.bytes == on_4.path.read_bytes()[:4096]
    with pytest.raises(errors.AuthKeyUnregisteredError):  # still only the key that imported it
        await client._call(home_key, _first_part(server, on_4))
    on_dc_5 = await client._tad_connect_sender(5, AuthKey(fresh.auth_key.key))
    with pytest.raises(errors.AuthKeyUnregisteredError):  # and only on DC 4
        await client._call(on_dc_5, _first_part(server, on_5))
    assert [entry.dc for entry in server.requests("ExportAuthorizationRequest")] == [HOME] * 3
    assert {entry.dc for entry in server.requests("ImportAuthorizationRequest")} == {4}
    # Logging out ends the authorization everywhere, the copies imported on other DCs too.
    await client(functions.auth.LogOutRequest())
    with pytest.raises(errors.AuthKeyUnregisteredError):
        await client._call(fresh, _first_part(server, on_4))


async def test_concurrent_first_connections_to_a_dc_export_once(
    server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    client = SimulatedClient(server, latency=0.01)
    source = TelethonSource(client)
    await source.start()
    try:
        senders = await asyncio.gather(*(client.open_extra_sender(4) for _ in range(8)))
        assert len({sender.id for sender in senders}) == 8
        assert len(server.requests("ExportAuthorizationRequest")) == 1
        (imported,) = server.requests("ImportAuthorizationRequest")
        assert imported.dc == 4 and imported.connection in {sender.id for sender in senders}
        keys = {sender.auth_key.key for sender in senders}
        assert len(keys) == 1 and keys != {client.session.auth_key.key}  # one key made for DC 4, shared
        on_4 = _on_dc(server, demo_catalogue, MIXES, 4)[0]
        parts = await asyncio.gather(*(client._call(sender, _first_part(server, on_4)) for sender in senders))
        assert {part.bytes for part in parts} == {on_4.path.read_bytes()[:4096]}
        # The home DC takes the session's own key: nothing exported.
        home = await client.open_extra_sender(HOME)
        assert home.auth_key.key == client.session.auth_key.key and home.dc_id == HOME
        assert len(server.requests("ExportAuthorizationRequest")) == 1
    finally:
        await source.stop()


async def test_telethons_own_download_imports_an_authorization_for_another_dc(
    source: TelethonSource, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    client = source.client
    group = await source.resolve_group(CLASSICAL)
    on_4 = _on_dc(server, demo_catalogue, CLASSICAL, 4)[0]
    message_id = next(m.id for m in demo_catalogue.group(CLASSICAL).messages if m.file == on_4)
    message = await client.get_messages(group.input_peer(), ids=message_id)
    assert message.document.dc_id == 4
    data = await client.download_media(message, file=bytes)
    assert hashlib.md5(data).hexdigest() == on_4.md5
    (imported,) = server.requests("ImportAuthorizationRequest")
    assert imported.dc == 4
    # Telethon asks the home DC first (download_media passes no dc_id), meets FILE_MIGRATE_4, moves.
    assert [entry.dc for entry in server.requests("GetFileRequest")][:2] == [HOME, 4]
    assert sum(entry.dc == HOME for entry in server.requests("GetFileRequest")) == 1
    # The Source's ranged read goes where the file is, too.
    on_5 = _on_dc(server, demo_catalogue, CLASSICAL, 5)[0]
    location = await source.refresh_location(group, next(m.id for m in demo_catalogue.group(CLASSICAL).messages
                                                          if m.file == on_5))
    assert location.dc_id == 5
    assert await source.read_range(location, 0, 4096) == on_5.path.read_bytes()[:4096]
    assert sorted(entry.dc for entry in server.requests("ImportAuthorizationRequest")) == [4, 5]


# ---- the engine --------------------------------------------------------------------------------------


async def test_engine_downloads_from_three_other_dcs_exporting_once_per_dc(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with rig_for(tmp_path, demo_catalogue, latency=0.002) as rig:
        server = rig.server
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        assert len(rig.check().completed) == len(_files(demo_catalogue, CLASSICAL))  # every MD5 the source's
        fetched = server.requests("GetFileRequest")
        assert {entry.dc for entry in fetched} == OTHER | {HOME}
        assert all(entry.dc == server.dc_of(_file_id_of(entry)) for entry in fetched)  # straight to the file's DC
        # A later run (a new engine, the same session) reuses the keys: still one export per DC.
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 0, rig.check().failed_messages
        exports = server.requests("ExportAuthorizationRequest")
        assert sorted(entry.detail for entry in exports) == ["dc_id=1", "dc_id=4", "dc_id=5"]
        assert {entry.dc for entry in exports} == {HOME}
        assert sorted(entry.dc for entry in server.requests("ImportAuthorizationRequest")) == [1, 4, 5]
        done = len(_files(demo_catalogue, CLASSICAL)) + len(_files(demo_catalogue, MIXES))
        assert len(rig.check().completed) == done


async def test_a_moved_file_is_followed_and_the_library_remembers_its_dc(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with rig_for(tmp_path, demo_catalogue, retry_attempts=1) as rig:
        server = rig.server
        await rig.scan(MIXES)
        moved = _on_dc(server, demo_catalogue, MIXES, HOME)[-1]
        server.move_file(moved.document_id, 4)  # after the scan: the library still says DC 2
        real_handler = server._on_GetFileRequest

        def refuse_after_the_move(request, *, dc_id: int, **rest):
            if request.location.id == moved.document_id and dc_id == 4:
                raise RpcErrorReply(400, "FILE_ID_INVALID")  # this run fails once it followed the file
            return real_handler(request, dc_id=dc_id, **rest)

        server._on_GetFileRequest = refuse_after_the_move
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 1 and outcomes["downloaded"] == len(_files(demo_catalogue, MIXES)) - 1
        row = await AudioFile.get(document_id=moved.document_id)
        assert row.status == FileStatus.FAILED and row.dc_id == 4  # FILE_MIGRATE's DC, saved at once
        asked = [entry for entry in server.requests("GetFileRequest") if _file_id_of(entry) == moved.document_id]
        assert {entry.dc for entry in asked} == {HOME, 4}
        assert sum(entry.dc == HOME for entry in asked) <= 8 * IN_FLIGHT_PER_CONNECTION  # one wave, no more
        # The next run goes straight to DC 4.
        server._on_GetFileRequest = real_handler
        already = len(server.log)
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 0 and outcomes["downloaded"] == 1, rig.check().failed_messages
        again = [e for e in server.log[already:] if e.name == "GetFileRequest"]
        assert again and {entry.dc for entry in again} == {4}
        assert len(rig.check().completed) == len(_files(demo_catalogue, MIXES))


async def test_a_file_bounced_between_dcs_fails_in_words(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue) as rig:
        server = rig.server
        bouncing = _on_dc(server, demo_catalogue, MIXES, 5)[0]
        real_handler = server._on_GetFileRequest

        def bounce(request, *, dc_id: int, **rest):
            if request.location.id == bouncing.document_id:  # wherever it is asked, it has just left
                server.move_file(bouncing.document_id, 1 if dc_id == 4 else 4)
            return real_handler(request, dc_id=dc_id, **rest)

        server._on_GetFileRequest = bounce
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 1 and outcomes["downloaded"] == len(_files(demo_catalogue, MIXES)) - 1
        verdict = rig.check()
        (message,) = verdict.failed_messages.values()
        assert "keeps moving the file between data centres (DC 4, DC 1, DC 4, DC 1)" in message, message
        assert "Traceback" not in message
        asked = [entry for entry in server.requests("GetFileRequest") if _file_id_of(entry) == bouncing.document_id]
        assert len(asked) <= 4 * 8 * IN_FLIGHT_PER_CONNECTION  # four waves at most, then it stopped


async def test_a_files_connections_open_in_parallel(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    async with rig_for(tmp_path, demo_catalogue, latency=0.05) as rig:
        server = rig.server
        first = next(f for m in demo_catalogue.group(MIXES).messages if (f := m.file) is not None)
        assert first.size > 32 * MIB and server.dc_of(first.document_id) == HOME  # a file for 8 connections
        outcomes = await rig.download(MIXES, limit=1)
        assert outcomes["downloaded"] == 1, rig.check().failed_messages
        log = server.log
        first_part = next(i for i, entry in enumerate(log) if entry.name == "GetFileRequest")
        connections = {entry.connection for entry in server.requests("GetFileRequest")}
        assert len(connections) == 8
        # Each connection introduces itself (initConnection) before any part is asked on any of them:
        # opened one after another, the first would be fetching while the second still connects.
        opened = [next(i for i, entry in enumerate(log) if entry.connection == c) for c in connections]
        assert all(log[i].name == "GetConfigRequest" for i in opened)
        assert max(opened) < first_part, [(e.connection, e.name) for e in log[min(opened) : first_part + 1]]


# ---- the real CLI on the default demo ---------------------------------------------------------------


def test_cli_downloads_the_demo_with_files_on_other_dcs(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    config = write_config(tmp_path / "config.toml", demo_catalogue)
    data, out = tmp_path / "data", tmp_path / "out"
    result = run_cli(config, data, "download", CLASSICAL, "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert events[-1]["failed"] == 0, events
    verdict = check_invariants(root=tmp_path, data_dir=data, out_dir=out, catalogue=demo_catalogue, allowed=(config,))
    assert len(verdict.completed) == len(_files(demo_catalogue, CLASSICAL))  # MD5s the source's
    with closing(sqlite3.connect(f"file:{data / 'library.sqlite3'}?mode=ro", uri=True)) as conn:
        dcs = {row[0] for row in conn.execute("SELECT dc_id FROM audio_file WHERE status = 'completed'")}
    assert dcs == OTHER | {HOME}
