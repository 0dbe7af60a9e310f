"""The audit log: one JSON line per user action, security event, file written and config change."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tad_tui import audit
from tad_tui.config import default_settings
from tad_tui.download.scheduler import QueueError
from tad_tui.engine import Engine
from tad_tui.lock import DataDirBusy, WriterLock
from tad_tui.paths import Paths
from tad_tui.runtime import secure_session_file
from tad_tui.store import AudioFile, QueueEntry, QueueState, opened_store
from tad_tui.store.db import StoreError, open_store
from tad_tui.store.models import Priority
from tad_tui.telegram.login import LoginError, LoginStep
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SIM_API_HASH, SimulatedClient
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource
from tad_tui.ui.queue import QueuePane
from helpers import run
from test_ui import CLASSICAL, make_app, settle
from test_ui_support import held_engine, queue_group, until

PASSWORD = "open sesame"


class AuditFile:
    """The audit file of a test's data dir, read back as parsed lines."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.path = paths.audit_file

    def lines(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(text) for text in self.path.read_text(encoding="utf-8").splitlines()]

    def of(self, action: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["action"] == action]

    def one(self, action: str, **expected: Any) -> dict[str, Any]:
        found = self.of(action)
        assert len(found) == 1, found
        line = found[0]
        for name, value in expected.items():
            assert line.get(name) == value, (name, line)
        return line


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[AuditFile]:
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    audit.setup_audit(paths, via="cli")
    try:
        yield AuditFile(paths)
    finally:
        audit.close_audit()


@pytest.fixture
async def engine(audited: AuditFile, source: TelethonSource) -> AsyncIterator[Engine]:
    base = default_settings()
    settings = replace(base, downloads=replace(base.downloads, retry_delay=0.0))
    async with opened_store(audited.paths.db):
        engine = Engine(settings, audited.paths, source)
        yield engine
        await engine.stop_downloads()


async def _queue(engine: Engine, username: str = CLASSICAL) -> list[int]:
    await engine.start_downloads()
    return await queue_group(engine, username)


def _strings(value: Any) -> Iterator[str]:
    """Every key and text value (numbers and hashes are left out: their digits could be anything)."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield name
            if name not in ("md5", "time"):
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _assert_no_secret(lines: list[dict[str, Any]], *secrets: str) -> None:
    for line in lines:
        for text in _strings(line):
            for secret in secrets:
                assert secret not in text, (secret, line)


# ---- the file --------------------------------------------------------------------------------


def test_a_line_has_time_action_outcome_via_pid_and_fields(audited: AuditFile) -> None:
    audit.record("config_changed", key="ui.theme", old="a", new="b")
    audit.record("open_database", "refused", "it is not an SQLite database", path="/x")
    ok, refused = audited.lines()
    assert list(ok)[:5] == ["time", "action", "outcome", "via", "pid"]
    assert ok["time"].endswith("Z") and datetime.fromisoformat(ok["time"]).utcoffset().total_seconds() == 0
    assert (ok["action"], ok["outcome"], ok["via"], ok["pid"]) == ("config_changed", "ok", "cli", os.getpid())
    assert (ok["key"], ok["old"], ok["new"]) == ("ui.theme", "a", "b") and "reason" not in ok
    assert (refused["outcome"], refused["reason"]) == ("refused", "it is not an SQLite database")
    assert stat.S_IMODE(audited.path.stat().st_mode) == 0o600


def test_secrets_are_masked_or_hidden_whoever_passes_them(audited: AuditFile) -> None:
    audit.record(
        "login",
        "failed",
        "proxy socks5://me:hunter2@10.0.0.1:1080 refused",
        phone="+44 7700 900123",
        api_hash="0123456789abcdef0123456789abcdef",
        password="hunter2",
        code="24680",
        proxy_password="hunter2",
    )
    (line,) = audited.lines()
    assert line["phone"] == "+44•••••123"
    assert line["reason"] == "proxy socks5://me:•••@10.0.0.1:1080 refused"
    assert {line["api_hash"], line["password"], line["code"], line["proxy_password"]} == {audit.HIDDEN}
    _assert_no_secret([line], "hunter2", "0123456789abcdef", "24680", "7700900")
    assert audit.mask_phone("12") == audit.HIDDEN


def test_the_file_is_rotated_at_the_size_limit_keeping_the_backups(audited: AuditFile) -> None:
    audit.setup_audit(audited.paths, via="cli", max_bytes=2000, backups=2)
    for number in range(100):
        audit.record("pause", entry_id=number)
    files = sorted(audited.path.parent.glob("audit.jsonl*"))
    assert [f.name for f in files] == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    for file in files:
        assert file.stat().st_size <= 2000
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert all(json.loads(text)["action"] == "pause" for text in file.read_text().splitlines())
    assert audited.lines()[-1]["entry_id"] == 99


def test_an_existing_wider_file_is_made_private(audited: AuditFile) -> None:
    audited.path.write_text("")
    audited.path.chmod(0o644)
    audit.record("pause", entry_id=1)
    assert stat.S_IMODE(audited.path.stat().st_mode) == 0o600


class _FullDisk:
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def seek(self, offset: int, whence: int = 0) -> int:
        return 1

    def tell(self) -> int:
        return 1


def test_a_write_error_drops_the_line_with_one_warning_and_never_raises(
    audited: AuditFile, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(audit.AuditFileHandler, "_open", lambda self: _FullDisk())
    for number in range(3):
        audit.record("pause", entry_id=number)  # no exception
    warnings = [r for r in caplog.records if "could not be written" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0].getMessage()
    assert capsys.readouterr() == ("", "")  # nothing on the terminal
    monkeypatch.undo()
    audit.record("resume", entry_id=1)  # the disk has room again: the next line is written
    assert [line["action"] for line in audited.lines()] == ["resume"]


class _Unprintable:
    def __str__(self) -> str:
        raise ValueError("cannot be shown")


def test_a_line_that_cannot_be_encoded_is_dropped_with_a_warning(
    audited: AuditFile, caplog: pytest.LogCaptureFixture, capsys
) -> None:
    caplog.set_level(logging.WARNING)
    audit.record("pause", entry_id=1, odd=_Unprintable())  # no exception
    audit.record("pause", entry_id=2, where=Path("/x"))
    assert [line["entry_id"] for line in audited.lines()] == [2]
    assert any("could not be written" in r.getMessage() for r in caplog.records)
    assert capsys.readouterr() == ("", "")


def test_disabled_means_no_file(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    assert audit.setup_audit(paths, via="cli", enabled=False) is None
    audit.record("pause", entry_id=1)
    assert not paths.audit_file.exists() and not audit.enabled()


def test_without_set_up_nothing_is_written_or_printed(capsys) -> None:
    audit.close_audit()
    audit.record("pause", entry_id=1)
    assert capsys.readouterr() == ("", "")


# ---- queue actions ---------------------------------------------------------------------------


async def test_enqueue_is_one_line_with_count_priority_batch_and_group(engine: Engine, audited: AuditFile) -> None:
    ids = await _queue(engine)
    line = audited.one("enqueue", outcome="ok", count=len(ids), priority="normal", already_queued=0)
    assert line["batch_name"] == line["groups"][0] and len(line["groups"]) == 1
    assert line["batch_id"] is not None and line["entry_ids"] == ids[: audit.MAX_IDS]
    audio_id = (await QueueEntry.get(id=ids[0])).audio_id
    await engine.scheduler.enqueue([audio_id], priority=Priority.HIGH)  # already queued: counted, not added
    assert audited.of("enqueue")[-1]["already_queued"] == 1 and audited.of("enqueue")[-1]["count"] == 0


async def test_each_entry_action_is_one_line(engine: Engine, audited: AuditFile) -> None:
    first, second, *_ = await _queue(engine)
    scheduler = engine.scheduler
    await scheduler.pause(first)
    audited.one("pause", entry_id=first, outcome="ok")
    await scheduler.resume(first)
    audited.one("resume", entry_id=first, outcome="ok")
    await scheduler.move(second, "top")
    audited.one("move", entry_id=second, where="top")
    await scheduler.set_priority(second, Priority.CRITICAL)
    audited.one("set_priority", entry_id=second, old="normal", new="critical")
    await scheduler.cancel(first)
    audited.one("cancel", entry_id=first, outcome="ok")
    await scheduler.retry(first)
    audited.one("retry", entry_id=first, outcome="ok")
    with pytest.raises(QueueError):
        await scheduler.pause(99999)
    refused = audited.of("pause")[-1]
    assert (refused["outcome"], refused["entry_id"]) == ("refused", 99999) and "no queue entry" in refused["reason"]
    assert len(audited.lines()) == 8  # the enqueue, then one line per call


async def test_cancel_deletes_the_partial_file_and_says_so(engine: Engine, audited: AuditFile, tmp_path: Path) -> None:
    first, *_ = await _queue(engine)
    entry = await QueueEntry.get(id=first).prefetch_related("audio")
    partial = tmp_path / "out" / "half.mp3.part"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"x" * 1000)
    await AudioFile.filter(id=entry.audio.pk).update(partial_file_path=str(partial))
    await engine.scheduler.cancel(first)
    assert not partial.exists()
    audited.one("cancel", entry_id=first)
    audited.one("file_deleted", path=str(partial), file_id=entry.audio.file_id, why="cancelled")


async def test_a_batch_action_is_one_line_with_the_count(engine: Engine, audited: AuditFile) -> None:
    ids = await _queue(engine)
    batch_id = (await QueueEntry.get(id=ids[0])).batch_id
    assert await engine.scheduler.on_batch(batch_id, "pause") == len(ids)
    audited.one("pause", scope="batch", batch_id=batch_id, count=len(ids))
    assert await QueueEntry.filter(state=QueueState.PAUSED).count() == len(ids)


async def test_every_file_written_is_one_line_with_path_size_and_md5(engine: Engine, audited: AuditFile) -> None:
    ids = await _queue(engine)
    outcomes = await engine.scheduler.run(until_idle=True)
    assert outcomes["downloaded"] == len(ids)
    written = audited.of("file_written")
    assert len(written) == len(ids)
    for line in written:
        path = Path(line["path"])
        assert path.stat().st_size == line["size"]
        row = await AudioFile.get(local_path=str(path))
        assert row.checksum_md5 == line["md5"] and line["file_id"] == row.file_id


async def test_the_live_bandwidth_limit_is_a_config_change(engine: Engine, audited: AuditFile) -> None:
    await engine.start_downloads()
    engine.set_bandwidth_limit(8_000_000)
    audited.one("config_changed", key="performance.bandwidth_limit", old=0, new=8_000_000, saved=False)


async def test_a_saved_bandwidth_limit_says_where_and_a_broken_file_is_refused(
    engine: Engine, audited: AuditFile, tmp_path: Path
) -> None:
    from tad_tui.config import ConfigError

    await engine.start_downloads()
    config = tmp_path / "saved.toml"
    engine.set_bandwidth_limit(512 * 1024, save_to=config)
    line = audited.of("config_changed")[-1]
    assert (line["outcome"], line["saved"], line["file"], line["new"]) == ("ok", True, str(config), 512 * 1024)
    assert config.read_text(encoding="utf-8") == '[performance]\nbandwidth_limit = "512KiB"\n'
    config.write_text("[performance\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        engine.set_bandwidth_limit(1_000_000, save_to=config)
    assert audited.of("config_changed")[-1]["outcome"] == "refused"
    assert engine.scheduler.context.bandwidth.rate == 512 * 1024  # not saved: not set either


# ---- login and logout ------------------------------------------------------------------------


async def test_login_failures_and_success_are_lines_without_the_code_or_password(
    audited: AuditFile, demo_catalogue: Catalogue
) -> None:
    server = SimulatedTelegram(demo_catalogue, authorized=False, password=PASSWORD)
    source = TelethonSource(SimulatedClient(server))
    await source.start()
    try:
        flow = source.login_flow()
        with pytest.raises(LoginError):
            await flow.send_code("12")
        audited.one("login", outcome="failed", step="phone", phone=audit.HIDDEN)
        await flow.send_code(DEMO_PHONE)
        masked = audited.one("login_code_sent", outcome="ok")["phone"]
        assert masked.startswith("+15•••••") and masked.endswith(DEMO_PHONE[-3:])
        with pytest.raises(LoginError):
            await flow.submit_code("00000")
        wrong_code = audited.of("login")[-1]
        assert (wrong_code["step"], wrong_code["phone"]) == ("code", masked) and "code is wrong" in wrong_code["reason"]
        assert await flow.submit_code(DEMO_LOGIN_CODE) is LoginStep.PASSWORD
        assert len(audited.of("login")) == 2  # being asked for the password is no failure
        with pytest.raises(LoginError):
            await flow.submit_password("wrong one")
        assert audited.of("login")[-1]["step"] == "password"
        await flow.submit_password(PASSWORD)
        success = audited.of("login")[-1]
        assert (success["outcome"], success["two_step"], success["phone"]) == ("ok", True, masked)
        assert await source.log_out()
        audited.one("logout", outcome="ok", was_signed_in=True)
    finally:
        await source.stop()
    _assert_no_secret(audited.lines(), DEMO_LOGIN_CODE, PASSWORD, "wrong one", DEMO_PHONE, DEMO_PHONE[1:], SIM_API_HASH)


# ---- security events -------------------------------------------------------------------------


def test_a_second_writer_refused_the_data_dir_is_a_line(audited: AuditFile) -> None:
    with WriterLock(audited.paths.lock_file):
        with pytest.raises(DataDirBusy):
            WriterLock(audited.paths.lock_file).acquire()
    line = audited.one("lock_data_dir", outcome="refused", holder_pid=str(os.getpid()))
    assert line["data_dir"] == str(audited.paths.data_dir) and "another tad-tui" in line["reason"]


async def test_a_corrupt_database_refused_is_a_line(audited: AuditFile) -> None:
    audited.paths.db.write_bytes(b"not a database at all " * 10)
    with pytest.raises(StoreError):
        await open_store(audited.paths.db)
    line = audited.one("open_database", outcome="refused", path=str(audited.paths.db))
    assert "corrupt" in line["reason"]
    assert audited.paths.db.read_bytes().startswith(b"not a database")  # left untouched


def test_a_session_file_made_private_is_a_line(audited: AuditFile) -> None:
    session = audited.paths.data_dir / "tad.session"
    session.write_bytes(b"")
    session.chmod(0o644)
    assert secure_session_file(session) is not None
    audited.one("session_mode_corrected", outcome="ok", path=str(session), old_mode="0644", new_mode="0600")
    assert secure_session_file(session) is None  # already private: nothing to record
    assert len(audited.lines()) == 1


# ---- the TUI ---------------------------------------------------------------------------------


@pytest.fixture
async def held_tui(tmp_path: Path, source: TelethonSource) -> AsyncIterator[tuple[Engine, AuditFile]]:
    engine, _ = held_engine(tmp_path, source)
    audit.setup_audit(engine.paths, via="tui")
    try:
        async with opened_store(engine.paths.db):
            yield engine, AuditFile(engine.paths)
            await engine.stop_downloads()
    finally:
        audit.close_audit()


async def test_the_theme_chosen_in_the_tui_is_one_config_change(held_tui: tuple[Engine, AuditFile]) -> None:
    engine, audited = held_tui
    engine.settings.config_file.write_text('[ui]\ntheme = "textual-dark"\n')
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.theme = "tad-nocturne"
        await pilot.pause()
        await pilot.pause()
    line = audited.one("config_changed", key="ui.theme", old="textual-dark", new="tad-nocturne", saved=True)
    assert (line["via"], line["file"]) == ("tui", str(engine.settings.config_file))


async def test_pause_all_in_the_tui_is_one_line_not_one_per_entry(held_tui: tuple[Engine, AuditFile]) -> None:
    engine, audited = held_tui
    ids = await queue_group(engine, CLASSICAL)
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f2")
        queue = app.query_one(QueuePane)
        await until(lambda: len(queue.table.rows) == len(ids), pilot.pause)
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("P")
        await settle(app, pilot)
        queue.table.go_to(0)
        await pilot.press("m", "m", "x")  # two marked entries cancelled: one line
        await settle(app, pilot)
    audited.one("pause", scope="all", count=len(ids), via="tui")
    audited.one("resume", scope="all", count=len(ids))
    audited.one("cancel", scope="marked", count=2)
    assert [line["action"] for line in audited.lines()] == ["enqueue", "pause", "resume", "cancel"]


# ---- a whole demo run ------------------------------------------------------------------------


def test_a_demo_cli_run_leaves_valid_lines_and_no_secret(tmp_path: Path, demo_config: Path) -> None:
    data = tmp_path / "data"
    common = ("--demo", "--data-dir", str(data), "--config", str(demo_config))
    for command in (("download", "@tad_demo_classical"), ("queue",), ("search", "beethoven"), ("logout",)):
        result = run(*common, *command)
        assert result.returncode == 0, result.stderr
        assert '"action"' not in result.stdout + result.stderr  # never on the terminal
    login = subprocess.run(
        [sys.executable, "-m", "tad_tui", *common, "login", "--phone", DEMO_PHONE],
        input=f"00000\n{DEMO_LOGIN_CODE}\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    audit_file = data / "logs" / "audit.jsonl"
    assert stat.S_IMODE(audit_file.stat().st_mode) == 0o600
    lines = [json.loads(text) for text in audit_file.read_text(encoding="utf-8").splitlines()]
    assert {line["via"] for line in lines} == {"cli"}
    assert all({"time", "action", "outcome", "via", "pid"} <= set(line) for line in lines)
    enqueue = [line for line in lines if line["action"] == "enqueue"]
    written = [line for line in lines if line["action"] == "file_written"]
    assert len(enqueue) == 1 and enqueue[0]["count"] == len(written) > 0
    assert enqueue[0]["groups"] == [enqueue[0]["batch_name"]]
    actions = [(line["action"], line["outcome"]) for line in lines if line["action"] not in ("enqueue", "file_written")]
    assert actions == [("logout", "ok"), ("login_code_sent", "ok"), ("login", "failed"), ("login", "ok")]
    _assert_no_secret(lines, SIM_API_HASH, DEMO_PHONE, DEMO_PHONE[1:], DEMO_LOGIN_CODE)


async def test_clear_finished_is_one_line_with_its_count_and_ids(engine: Engine, audited: AuditFile) -> None:
    first, second, third, *_ = await _queue(engine)
    await engine.scheduler.cancel(first)
    await engine.scheduler.cancel(second)
    await QueueEntry.filter(id=third).update(depends_on_id=second)
    assert await engine.clear_finished() == [first]
    audited.one("clear_finished", outcome="ok", count=1, kept_as_dependency=1, entry_ids=[first])
