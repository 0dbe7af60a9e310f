"""Scanning inside a Telegram takeout (data export) session, against the simulated Telegram.

Telethon's own ``client.takeout()`` does the work: account.initTakeoutSession, every request wrapped
in invokeWithTakeout, account.finishTakeoutSession at the end; the simulated server checks the
takeout id of each wrapped request as Telegram does.
"""

from __future__ import annotations

import pytest

from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram
from tad_tui.telegram.source import SourceError, TelethonSource


async def _scan(source: TelethonSource, username: str) -> list[int]:
    group = await source.resolve_group(username)
    return [audio.message_id async for page in source.scan_audio(group) for audio in page]


async def test_a_takeout_scan_wraps_every_request_and_finishes_the_session(
    source: TelethonSource, server: SimulatedTelegram
) -> None:
    plain = await _scan(source, "@tad_demo_archive")
    searches_before = len(server.requests("SearchRequest"))
    async with source.takeout():
        inside = await _scan(source, "@tad_demo_archive")
    assert inside == plain and len(inside) >= 1000  # same messages, paged the same way
    searches = len(server.requests("SearchRequest")) - searches_before
    assert len(server.requests("InitTakeoutSessionRequest")) == 1
    assert len(server.requests("InvokeWithTakeoutRequest")) == searches + 1  # every page, then the finish
    assert [success for _, success in server.finished_takeouts] == [True]
    assert source.client.session.takeout_id is None
    after = len(server.requests("InvokeWithTakeoutRequest"))
    await _scan(source, "@tad_demo_classical")
    assert len(server.requests("InvokeWithTakeoutRequest")) == after  # outside it, nothing is wrapped


async def test_a_failed_scan_finishes_the_takeout_as_unsuccessful(source: TelethonSource, server: SimulatedTelegram) -> None:
    with pytest.raises(RuntimeError):
        async with source.takeout():
            raise RuntimeError("the scan broke")
    assert [success for _, success in server.finished_takeouts] == [False]
    assert source.client.session.takeout_id is None


async def test_a_takeout_left_by_a_killed_run_is_ended_first(source: TelethonSource, server: SimulatedTelegram) -> None:
    source.client.session.takeout_id = 1234  # as a run killed inside a takeout leaves its session
    async with source.takeout():
        await _scan(source, "@tad_demo_classical")
    assert len(server.requests("InitTakeoutSessionRequest")) == 1
    assert [success for _, success in server.finished_takeouts] == [True]


async def test_telegram_delaying_the_export_is_told_in_words(source: TelethonSource, server: SimulatedTelegram) -> None:
    server.inject(FaultRule("InitTakeoutSessionRequest", "TAKEOUT_INIT_DELAY_3600", code=420))
    with pytest.raises(SourceError) as caught:
        async with source.takeout():
            pass
    message = str(caught.value)
    assert "about 1 hour" in message and "without --takeout" in message
    assert source.client.session.takeout_id is None
    assert server.requests("InvokeWithTakeoutRequest") == []  # nothing to finish


async def test_an_export_ended_by_telegram_mid_scan_is_told_in_words(source: TelethonSource, server: SimulatedTelegram) -> None:
    server.inject(FaultRule("SearchRequest", "TAKEOUT_INVALID", skip=2))
    with pytest.raises(SourceError, match="ended the data export session"):
        async with source.takeout():
            await _scan(source, "@tad_demo_archive")


async def test_finishing_outside_a_takeout_is_refused_as_telegram_does(demo_catalogue: Catalogue) -> None:
    from telethon import errors
    from telethon.tl.functions.account import FinishTakeoutSessionRequest

    from tad_tui.telegram.sim.client import SimulatedClient

    client = SimulatedClient(SimulatedTelegram(demo_catalogue))
    await client.connect()
    try:
        with pytest.raises(errors.TakeoutRequiredError):
            await client(FinishTakeoutSessionRequest(success=True))
    finally:
        await client.disconnect()
