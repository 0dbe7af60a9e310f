"""The simulated Telegram, driven through Telethon's own client code and the project's Source."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from telethon import errors
from telethon.tl import functions, types

from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE, MIB, FaultRule, SimulatedTelegram
from tad_tui.telegram.login import LoginError, LoginStep
from tad_tui.telegram.source import SourceError, TelethonSource


def _get_file(location, offset: int, limit: int, *, precise: bool = False):
    return functions.upload.GetFileRequest(location=location, offset=offset, limit=limit, precise=precise)


async def _biggest_audio(source: TelethonSource, username: str):
    group = await source.resolve_group(username)
    found = [audio async for page in source.scan_audio(group) for audio in page]
    return group, max(found, key=lambda audio: audio.location.size)


async def test_demo_groups_are_listed_through_iter_dialogs(source: TelethonSource) -> None:
    groups = await source.list_groups()
    usernames = {group.username for group in groups}
    assert {"tad_demo_classical", "tad_demo_archive", "tad_demo_mixes", "tad_demo_hostile"} <= usernames
    assert all(group.group_id < 0 and group.access_hash for group in groups)


async def test_scan_pages_through_telethon_across_ten_pages(
    source: TelethonSource, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    group = await source.resolve_group("@tad_demo_archive")
    pages = [page async for page in source.scan_audio(group)]
    found = [audio.message_id for page in pages for audio in page]
    expected = sorted(
        message.id
        for message in demo_catalogue.group("tad_demo_archive").messages
        if message.file is not None and message.file.mime_type.startswith("audio/")
    )
    assert sorted(found) == expected and len(found) >= 1000
    assert len(server.requests("SearchRequest")) >= 10


async def test_incremental_scan_asks_only_for_newer_messages(source: TelethonSource, demo_catalogue: Catalogue) -> None:
    group = await source.resolve_group("@tad_demo_archive")
    newest = max(m.id for m in demo_catalogue.group("tad_demo_archive").messages)
    pages = [page async for page in source.scan_audio(group, after_message_id=newest - 40)]
    ids = [audio.message_id for page in pages for audio in page]
    assert ids and min(ids) > newest - 40


@pytest.mark.parametrize(
    ("offset", "limit", "error"),
    [
        (1000, 4096, errors.OffsetInvalidError),  # offset not a multiple of 4 KiB
        (0, 5000, errors.LimitInvalidError),  # limit not a multiple of 4 KiB
        (0, 3 * 4096, errors.LimitInvalidError),  # 1 MiB not divisible by the limit
        (0, 2 * MIB, errors.LimitInvalidError),  # over 1 MiB
        (MIB - 4096, 8192, errors.LimitInvalidError),  # crosses a 1 MiB boundary
    ],
)
async def test_misaligned_getfile_is_refused(source: TelethonSource, offset: int, limit: int, error: type) -> None:
    _, audio = await _biggest_audio(source, "@tad_demo_mixes")
    with pytest.raises(error):
        await source.client(_get_file(audio.location.input_location(), offset, limit))


async def test_aligned_and_precise_reads_return_the_files_bytes(
    source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    _, audio = await _biggest_audio(source, "@tad_demo_mixes")
    original = demo_catalogue.document(audio.location.document_id).path.read_bytes()
    assert await source.read_range(audio.location, MIB, 512 * 1024) == original[MIB : MIB + 512 * 1024]
    precise = await source.client(_get_file(audio.location.input_location(), 3 * 1024, 5 * 1024, precise=True))
    assert precise.bytes == original[3 * 1024 : 8 * 1024]
    past_end = await source.read_range(audio.location, len(original) // MIB * MIB + MIB, MIB)
    assert past_end == b""


async def test_download_media_through_telethon_matches_the_source_md5(
    source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    group = await source.resolve_group("@tad_demo_classical")
    message = (await source.client.get_messages(group.input_peer(), limit=1, filter=types.InputMessagesFilterMusic))[0]
    data = await source.client.download_media(message, file=bytes)
    assert hashlib.md5(data).hexdigest() == demo_catalogue.document(message.document.id).md5


async def test_flood_wait_surfaces_as_telethons_error_and_blocks_that_request(
    source: TelethonSource, server: SimulatedTelegram
) -> None:
    group = await source.resolve_group("@tad_demo_archive")
    server.inject(FaultRule("GetFileRequest", "FLOOD_WAIT_37"))
    _, audio = await _biggest_audio(source, "@tad_demo_mixes")
    with pytest.raises(errors.FloodWaitError) as caught:
        await source.read_range(audio.location, 0, MIB)
    assert caught.value.seconds == 37
    sent = len(server.requests("GetFileRequest"))
    # The wait is remembered: a second getFile fails at once, without reaching the server.
    with pytest.raises(errors.FloodWaitError) as again:
        await source.read_range(audio.location, 0, MIB)
    assert 35 <= again.value.seconds <= 37
    assert len(server.requests("GetFileRequest")) == sent
    assert server.flood_violations == []
    assert source.client.flood_wait_remaining() > 30
    # Other kinds of request are not held back by a getFile flood wait.
    assert [audio async for page in source.scan_audio(group, after_message_id=1100) for audio in page]


async def test_short_flood_wait_is_slept_with_nothing_sent_meanwhile(demo_catalogue: Catalogue) -> None:
    server = SimulatedTelegram(demo_catalogue)
    source = TelethonSource(SimulatedClient(server, flood_sleep_threshold=60))
    await source.start()
    try:
        _, audio = await _biggest_audio(source, "@tad_demo_mixes")
        server.inject(FaultRule("GetFileRequest", "FLOOD_WAIT_1"))
        parts = await asyncio.gather(*(source.read_range(audio.location, i * MIB, MIB) for i in range(3)))
        assert [len(part) for part in parts] == [MIB] * 3
        assert server.flood_violations == []
        assert len(server.requests("GetFileRequest")) == 4  # one refused, three answered after the wait
    finally:
        await source.stop()


async def test_expired_file_reference_is_refreshed_by_refetching_the_message(
    source: TelethonSource, server: SimulatedTelegram
) -> None:
    group, audio = await _biggest_audio(source, "@tad_demo_mixes")
    server.expire_file_reference(audio.location.document_id)
    with pytest.raises(errors.FileReferenceExpiredError):
        await source.read_range(audio.location, 0, MIB)
    fresh = await source.refresh_location(group, audio.message_id)
    assert fresh.file_reference != audio.location.file_reference
    assert len(await source.read_range(fresh, 0, MIB)) == MIB


async def test_dropped_connection_is_reopened_and_the_request_sent_again_as_mtprotosender_does(
    source: TelethonSource, server: SimulatedTelegram
) -> None:
    _, audio = await _biggest_audio(source, "@tad_demo_mixes")
    server.inject(FaultRule("GetFileRequest", disconnect=True, skip=1))
    assert len(await source.read_range(audio.location, 0, MIB)) == MIB
    connection = source.client._sender
    before = connection.id
    assert len(await source.read_range(audio.location, MIB, MIB)) == MIB  # no error: reconnected, re-sent
    assert connection.reconnects == 1 and connection.id != before
    assert [e.detail for e in server.requests("GetFileRequest")].count(f"id={audio.location.document_id} offset={MIB} limit={MIB}") == 2


async def test_an_outage_longer_than_the_reconnection_attempts_fails_in_flight_requests(
    demo_catalogue: Catalogue,
) -> None:
    server = SimulatedTelegram(demo_catalogue)
    source = TelethonSource(SimulatedClient(server, connection_retries=2, retry_delay=0.05))
    await source.start()
    try:
        _, audio = await _biggest_audio(source, "@tad_demo_mixes")
        server.outage(0.5)
        with pytest.raises(ConnectionError):
            await source.read_range(audio.location, 0, MIB)
        assert not source.client.is_connected()
        with pytest.raises(SourceError, match="cannot reach Telegram"):
            await source.start()  # still down: a new start says so in words
        await asyncio.sleep(0.5)
        await source.start()  # what the next command or the app's Reconnect does
        assert len(await source.read_range(audio.location, 0, MIB)) == MIB
    finally:
        await source.stop()


async def test_unknown_username_is_reported_in_words(source: TelethonSource) -> None:
    with pytest.raises(SourceError, match="no group or channel is called @nobody_here"):
        await source.resolve_group("@nobody_here")


async def test_groups_resolve_by_numeric_id_and_exact_title(source: TelethonSource) -> None:
    by_name = await source.resolve_group("@tad_demo_mixes")
    assert await source.resolve_group(str(by_name.group_id)) == by_name
    assert await source.resolve_group(by_name.title) == by_name
    with pytest.raises(SourceError):
        await source.resolve_group("TAD Demo")


async def test_login_with_code_and_2fa_password_through_telethon(demo_catalogue: Catalogue) -> None:
    server = SimulatedTelegram(demo_catalogue, authorized=False, password="correct horse")
    client = SimulatedClient(server)
    await client.connect()
    try:
        assert not await client.is_user_authorized()
        with pytest.raises(errors.AuthKeyUnregisteredError):
            await client.get_dialogs()
        await client.send_code_request(DEMO_PHONE)
        with pytest.raises(errors.PhoneCodeInvalidError):
            await client.sign_in(DEMO_PHONE, "00000")
        with pytest.raises(errors.SessionPasswordNeededError):
            await client.sign_in(DEMO_PHONE, DEMO_LOGIN_CODE)
        with pytest.raises(errors.PasswordHashInvalidError):
            await client.sign_in(password="wrong horse")
        me = await client.sign_in(password="correct horse")
        assert me.username == "tad_demo_user"
        assert await client.is_user_authorized()
        assert await client.get_dialogs()
    finally:
        await client.disconnect()


async def test_expired_login_code_is_refused(demo_catalogue: Catalogue) -> None:
    server = SimulatedTelegram(demo_catalogue, authorized=False, code_ttl=0.0)
    client = SimulatedClient(server)
    await client.connect()
    try:
        await client.send_code_request(DEMO_PHONE)
        with pytest.raises(errors.PhoneCodeExpiredError):
            await client.sign_in(DEMO_PHONE, DEMO_LOGIN_CODE)
    finally:
        await client.disconnect()


async def test_login_flow_walks_phone_code_password_with_errors_in_words(demo_catalogue: Catalogue) -> None:
    server = SimulatedTelegram(demo_catalogue, authorized=False, password="s3cret pass")
    source = TelethonSource(SimulatedClient(server))
    await source.start()
    try:
        assert not await source.is_authorized()
        flow = source.login_flow()
        with pytest.raises(LoginError, match="not valid"):
            await flow.send_code("12")
        assert flow.step is LoginStep.PHONE
        assert await flow.send_code(DEMO_PHONE) is LoginStep.CODE
        with pytest.raises(LoginError, match="code is wrong") as wrong:
            await flow.submit_code("99999")
        assert "99999" not in str(wrong.value)
        assert flow.step is LoginStep.CODE
        assert await flow.submit_code(DEMO_LOGIN_CODE) is LoginStep.PASSWORD
        assert flow.password_hint == "the demo hint"
        with pytest.raises(LoginError, match="password is wrong") as bad:
            await flow.submit_password("not it")
        assert "not it" not in str(bad.value)
        assert await flow.submit_password("s3cret pass") is LoginStep.DONE
        assert await source.is_authorized()
        assert await source.list_groups()
        assert await source.log_out()
    finally:
        await source.stop()


async def test_login_without_2fa_is_done_after_the_code(demo_catalogue: Catalogue) -> None:
    source = TelethonSource(SimulatedClient(SimulatedTelegram(demo_catalogue, authorized=False)))
    await source.start()
    try:
        flow = source.login_flow()
        await flow.send_code(DEMO_PHONE)
        assert await flow.submit_code(f" {DEMO_LOGIN_CODE[:2]} {DEMO_LOGIN_CODE[2:]} ") is LoginStep.DONE
        assert await source.is_authorized()
    finally:
        await source.stop()


async def test_link_model_shares_one_connections_bandwidth(demo_catalogue: Catalogue) -> None:
    """Pipelining on one connection does not multiply its bandwidth (a lower bound only)."""
    bandwidth = 8 * MIB
    source = TelethonSource(SimulatedClient(SimulatedTelegram(demo_catalogue), bandwidth_per_connection=bandwidth))
    await source.start()
    try:
        _, audio = await _biggest_audio(source, "@tad_demo_mixes")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(source.read_range(audio.location, i * MIB, MIB) for i in range(4)))
        assert loop.time() - started >= 4 * MIB / bandwidth
    finally:
        await source.stop()


async def test_the_private_channel_and_its_deleted_posts_through_telethon(source: TelethonSource) -> None:
    from tad_tui.telegram.sim.catalogue.content import PRIVATE_DELETED, PRIVATE_GROUP_ID

    client = source.client
    private = next(d.entity for d in await client.get_dialogs() if d.entity.id == PRIVATE_GROUP_ID)
    assert private.username is None  # a member's private channel: in the dialogs, without a username
    assert await client.get_messages(private, ids=PRIVATE_DELETED[0]) is None  # messageEmpty, as Telegram answers
    got = await client.get_messages(private, ids=[2, *PRIVATE_DELETED, 6])
    assert [m.id if m is not None else None for m in got] == [2, None, None, 6]
    assert [m.id async for m in client.iter_messages(private)] == [7, 6, 3, 2, 1]  # the history skips them too
    info = await source.resolve_group(f"https://t.me/c/{PRIVATE_GROUP_ID}")
    assert info.group_id == -1000000000000 - PRIVATE_GROUP_ID and info.username is None
    assert await source.linked_messages(info, 4, 4) == {}
    assert await source.linked_messages(info, 1, 1) == {1: None}
    assert [audio.message_id for audio in (await source.linked_messages(info, 2, 2)).values()] == [2]
    assert list(await source.linked_messages(info, 1, 7)) == [2, 3, 6]
    with pytest.raises(SourceError, match="no group or channel is called @"):
        await source.resolve_group("@tad_demo_private")


async def test_groups_resolve_by_folded_title_prefix_and_word(source: TelethonSource) -> None:
    mixes = await source.resolve_group("@tad_demo_mixes")
    for key in ("tad_demo_mixes", "TAD DEMO · DJ MIXES", "tad demo dj", "mixes", "https://t.me/tad_demo_mixes/3"):
        assert await source.resolve_group(key) == mixes, key
    with pytest.raises(SourceError, match=r"'demo' matches \d+ groups: .*give more of the title or the @username"):
        await source.resolve_group("demo")
