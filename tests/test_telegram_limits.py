"""Real Telegram's limits, simulated, and the engine surviving each of them.

Each scenario turns on one limit of the simulated Telegram (tad_tui/telegram/sim/limits.py), runs
the real engine (or the real CLI) through it, and checks with ``check_invariants`` that every file
finished with the source's MD5 and nothing failed. Nothing here asserts a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from telethon import errors

from faults_support import json_lines, run_cli, write_config
from tad_tui.download.events import EntryFinished, EntryWaiting
from tad_tui.download.pace import AccountPace
from tad_tui.download.transfer import Health
from tad_tui.telegram.client import ServerTrouble
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.limits import AccountLimits
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource
from test_faults import CLASSICAL, MIXES, Rig, _document_ids, rig_for

MIB = 1024 * 1024


def limited_rig(tmp_path: Path, catalogue: Catalogue, limits: AccountLimits, **client_options: object):
    """The engine (test_faults.rig_for) on a quick link, over an account with these limits."""
    return rig_for(
        tmp_path, catalogue, latency=0.002, bandwidth=16 * MIB, limits=limits, client_options=client_options
    )


def _all_done(rig: Rig, group: str) -> None:
    verdict = rig.check()
    assert not verdict.failed_messages, verdict.failed_messages
    assert len(verdict.completed) == len(_document_ids(rig.catalogue, group))


# ---- the non-Premium download allowance ------------------------------------------------------


async def test_a_non_premium_account_under_sustained_premium_waits_finishes_every_file(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    limits = AccountLimits(premium=False, download_limit=3 * MIB)
    async with limited_rig(tmp_path, demo_catalogue, limits) as rig:
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0
        _all_done(rig, CLASSICAL)
        assert rig.server.policy.premium_waits > 0  # Telegram did throttle it
        waits = [e for e in rig.of(EntryWaiting) if e.kind == "premium"]
        assert waits
        assert all("Premium lifts it" in (e.reason or "") for e in waits)
        pace = rig.engine.scheduler.context.pace
        assert 0 < pace.rate  # it learned a pace…
        assert pace.waits < rig.server.policy.premium_waits  # …stepping down once per wait, not per refusal
        assert pace.in_flight(MIB, 16) < 16  # and keeps fewer parts in flight while throttled
        monitor = rig.engine.start_monitor(share=False)  # what `performance` and the Performance pane show
        try:
            await monitor.sample()
            assert monitor.samples[-1].account_pace_bps == pace.rate
        finally:
            await monitor.stop()


async def test_a_premium_account_is_never_throttled(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    limits = AccountLimits(premium=True, download_limit=3 * MIB)
    async with limited_rig(tmp_path, demo_catalogue, limits) as rig:
        assert (await rig.download(CLASSICAL))["failed"] == 0
        assert rig.server.policy.premium_waits == 0
        assert rig.engine.scheduler.context.pace.rate == 0


def test_the_pace_steps_down_once_per_wait_and_climbs_back_while_downloads_want_more() -> None:
    now = [100.0]
    pace = AccountPace(clock=lambda: now[0])
    pace.asked()
    pace.limiter._granted = 40 * MIB  # what the downloads took in their first second, unpaced
    now[0] += 1
    assert pace.premium_wait(3)
    first = pace.rate
    assert 0 < first < 40 * MIB
    for _ in range(15):  # the other requests in flight meet the same wait
        assert not pace.premium_wait(3)
    assert pace.rate == first and pace.waits == 1
    now[0] += 10
    assert pace.premium_wait(2)  # a later wait, from the pace itself: one more step down
    lower = pace.rate
    assert lower < first
    pace.received(MIB)  # nobody waits on the pace: nothing to learn, it stays
    assert pace.rate == lower


# ---- request volume ----------------------------------------------------------------------------


async def test_too_many_requests_of_one_kind_earn_flood_waits_that_are_waited_out(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    limits = AccountLimits(requests_per_second=6, flood_wait_seconds=1)
    async with limited_rig(tmp_path, demo_catalogue, limits) as rig:
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0
        _all_done(rig, CLASSICAL)
        assert rig.server.policy.volume_waits > 0
        assert any(e.kind == "flood" for e in rig.of(EntryWaiting))


def test_one_flood_wait_met_by_every_worker_is_one_step_down() -> None:
    health = Health()
    for _ in range(16):
        health.trouble(lasting=2)
    assert health.factor == 0.5


# ---- server errors -----------------------------------------------------------------------------


async def test_a_burst_of_server_errors_longer_than_telethons_retries_is_backed_off_and_survived(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with limited_rig(tmp_path, demo_catalogue, AccountLimits(), request_retries=2) as rig:
        for error, code in (("RPC_CALL_FAIL", 500), ("INTERNAL", 500), ("Timeout", -503)):
            rig.server.inject(FaultRule("GetFileRequest", error, code=code, skip=3, times=4))
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0
        _all_done(rig, CLASSICAL)
        assert all(rule.times == 0 for rule in rig.server.faults)


@pytest.mark.parametrize("raise_last", [True, False])
async def test_telethons_exhausted_retries_become_a_named_error_not_a_value_error(
    demo_catalogue: Catalogue, raise_last: bool
) -> None:
    server = SimulatedTelegram(demo_catalogue)
    source = TelethonSource(SimulatedClient(server, request_retries=1, raise_last_call_error=raise_last))
    await source.start()
    try:
        group = await source.resolve_group(CLASSICAL)
        server.inject(FaultRule("GetHistoryRequest", "RPC_CALL_FAIL", code=500, times=-1))
        # Telethon raises the server's error when told to (as tad-tui tells it), else a bare ValueError,
        # which the client names.
        expected = errors.RpcCallFailError if raise_last else ServerTrouble
        with pytest.raises(expected):
            await source.client.get_messages(group.input_peer(), limit=1)
    finally:
        await source.stop()


async def test_a_file_whose_parts_keep_failing_on_the_server_fails_in_words(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    options = {"request_retries": 1}
    async with rig_for(tmp_path, demo_catalogue, client_options=options, retry_attempts=1) as rig:
        rig.server.inject(FaultRule("GetFileRequest", "RPC_CALL_FAIL", code=500, times=-1))
        outcomes = await rig.download(CLASSICAL, limit=1)
        assert outcomes["failed"] == 1
        failed = [e for e in rig.of(EntryFinished) if e.outcome == "failed"]
        assert failed and "Telegram's servers failed part" in (failed[0].error_message or "")
        assert "RPC_CALL_FAIL" in failed[0].error_message and "gave up after" in failed[0].error_message
        assert "ValueError" not in failed[0].error_message and "ExceptionGroup" not in failed[0].error_message


# ---- dropped connections and outages -------------------------------------------------------------


async def test_connections_dropped_mid_part_are_reopened_by_the_client_itself(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with limited_rig(tmp_path, demo_catalogue, AccountLimits(drop_rate=0.05, seed=7)) as rig:
        outcomes = await rig.download(MIXES)
        assert outcomes["failed"] == 0
        _all_done(rig, MIXES)
        assert rig.server.policy.drops > 0
        reconnected = [c for c in rig.engine.scheduler.context.pool._senders.values() if c.reconnects]
        assert reconnected  # the pooled connections recovered by reconnecting, as MTProtoSender does


async def test_an_outage_longer_than_the_reconnection_attempts_is_survived(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    async with limited_rig(tmp_path, demo_catalogue, AccountLimits(), connection_retries=1, retry_delay=0.05) as rig:
        # The engine's own connections keep MTProtoSender's defaults (5 tries, 1 s apart): 6.5 s
        # of outage outlasts them, and the transfer opens new ones after its backoff.
        rig.server.inject(FaultRule("GetFileRequest", disconnect=True, skip=10, outage=6.5))
        outcomes = await rig.download(CLASSICAL)
        assert outcomes["failed"] == 0
        _all_done(rig, CLASSICAL)


# ---- the default demo, through the real CLI ------------------------------------------------------


def test_the_default_demo_account_is_throttled_and_downloads_finish(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\n[notifications]\nenabled = false\n')
    result = run_cli(config, tmp_path / "data", "download", CLASSICAL, "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    events = json_lines(result.stdout)
    premium = [e for e in events if e.get("event") == "waiting" and e["reason"] == "premium"]
    assert premium and "Premium lifts it" in premium[0]["message"] and premium[0]["until"] > 0
    assert any(e.get("event") == "waiting" and e["reason"] is None for e in events)  # and the end of it
    summary = events[-1]
    assert summary["failed"] == 0 and summary["downloaded"] == len(_document_ids(demo_catalogue, CLASSICAL))
    # Tags were written into the files (the default): the bytes Telegram sent are the source's.
    sent = {e["source_md5"] for e in events if e.get("event") == "downloaded"}
    assert sent == {m.file.md5 for m in demo_catalogue.group(CLASSICAL).messages if m.file is not None}


def test_a_non_premium_cli_download_says_so_in_words(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    config = write_config(tmp_path / "config.toml", demo_catalogue, premium=False, account_limit="128KiB")
    result = run_cli(config, tmp_path / "data", "download", CLASSICAL, "-l", "4")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Telegram limits this account's download speed (Premium lifts it)" in result.stdout
    assert "0 failed" in result.stdout
