"""The demo's first run: the app opens while the catalogue renders, and a kill -9 meanwhile locks
nothing: the next run finishes the catalogue."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Static

from helpers import run
from tad_tui.store import opened_store
from tad_tui.telegram.sim import catalogue as catalogue_module
from tad_tui.telegram.sim.catalogue import render as render_module
from tad_tui.telegram.sim.catalogue import build_demo_plan, open_catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource
from tad_tui.ui.app import TadApp
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.themes import shipped_themes_dir
from test_ui_support import FROZEN_NOW, held_engine, until


def _children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _status(entry.name).get("PPid") == str(pid):
            found.append(int(entry.name))
    return found


def _alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has ended)."""
    return [pid for pid in pids if _status(str(pid)).get("State", "Z").split()[0] not in {"Z", "X"}]


def _status(pid: str) -> dict[str, str]:
    try:
        lines = Path("/proc", pid, "status").read_text().splitlines()
    except OSError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def _lock_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _files_written(folder: Path) -> int:
    """Files written so far under the catalogue's folder (or a staging folder beside it)."""
    return sum(1 for _ in folder.glob("*/files/*"))


@pytest.mark.timeout(300)  # renders a catalogue from nothing, twice: long on a busy machine
def test_kill_9_while_the_catalogue_renders_leaves_nothing_holding_the_data_dir(tmp_path: Path) -> None:
    data_dir, catalogue = tmp_path / "data", tmp_path / "catalogue"
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\ncatalogue_dir = "{catalogue}"\nlatency_ms = 0\nbandwidth_per_connection = 0\n')
    command = [sys.executable, "-m", "tad_tui", "--demo", "--data-dir", str(data_dir), "--config", str(config)]
    env = {k: v for k, v in os.environ.items() if k not in {"API_ID", "API_HASH", "TAD_DATA_DIR"}}
    workers: list[int] = []
    parent = subprocess.Popen(
        [*command, "groups", "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while _files_written(tmp_path) < 3 and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # some files rendered, most to come
        workers = _children_of(parent.pid)
        assert parent.poll() is None, "the command ended before it could be killed mid-render"
        assert workers, "the catalogue renders in worker processes"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        killed_at = time.monotonic()
        while (_alive(workers) or not _lock_is_free(data_dir / "writer.lock")) and time.monotonic() - killed_at < 5:
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    left = _alive(workers)
    for pid in left:  # orphans of a failed test would hold the lock and burn CPU
        os.kill(pid, signal.SIGKILL)
    assert left == []
    assert _lock_is_free(data_dir / "writer.lock")
    assert _lock_is_free(catalogue.parent / (catalogue.name + ".lock"))
    assert not (catalogue / "manifest.json").exists()  # it was cut short

    result = run(*command[3:], "groups", "--json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert {group["username"] for group in json.loads(result.stdout)} >= {"tad_demo_classical", "tad_demo_mixes"}
    manifest = json.loads((catalogue / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["files"]) > 1_000
    for entry in manifest["files"].values():
        assert hashlib.md5((catalogue / entry["path"]).read_bytes()).hexdigest() == entry["md5"]
    # No staging, journal or part left; the sample Telegram Desktop export is written once it is complete.
    assert sorted(p.name for p in catalogue.iterdir()) == ["desktop-export", "files", "manifest.json"]
    assert [p.name for p in (catalogue / "desktop-export").iterdir()] == ["ChatExport_tad_demo_classical"]
    assert not list((catalogue / "files").glob(".*"))


async def test_the_app_opens_while_the_catalogue_renders_and_shows_how_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()
    real_render = render_module.render_file

    def held_render(root: Path, file: catalogue_module.FilePlan) -> render_module.Rendered:
        released.wait(30)
        return real_render(root, file)

    monkeypatch.setattr(render_module, "render_file", held_render)
    catalogue = open_catalogue(tmp_path / "demo", build_demo_plan().only("tad_demo_hostile"), workers=1)
    assert catalogue.rendering is not None
    source = TelethonSource(SimulatedClient(SimulatedTelegram(catalogue, authorized=True)))
    engine, _ = held_engine(tmp_path, source)
    try:
        async with opened_store(engine.paths.db):
            app = TadApp(engine, clock=lambda: FROZEN_NOW, theme_dirs=[shipped_themes_dir()])
            async with app.run_test(size=(100, 24)) as pilot:
                line = app.query_one("#catalogue-progress", Static)
                await until(lambda: line.display, pilot.pause)
                assert "Rendering the demo catalogue" in str(line.content)
                assert "0/24 files" in str(line.content)
                released.set()
                await until(lambda: not line.display, pilot.pause)
                groups = app.query_one(GroupsPane)
                await until(lambda: len(groups._groups.rows) == 1, pilot.pause)
            await engine.stop_downloads()
    finally:
        released.set()
        await source.stop()
    assert catalogue.rendering.wait().document(catalogue.files[0].document_id).size > 0


def test_ctrl_c_while_the_catalogue_renders_stops_at_once_and_keeps_what_was_rendered(tmp_path: Path) -> None:
    data_dir, catalogue = tmp_path / "data", tmp_path / "catalogue"
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\ncatalogue_dir = "{catalogue}"\nlatency_ms = 0\nbandwidth_per_connection = 0\n')
    env = {k: v for k, v in os.environ.items() if k not in {"API_ID", "API_HASH", "TAD_DATA_DIR"}}
    parent = subprocess.Popen(
        [sys.executable, "-m", "tad_tui", "--demo", "--data-dir", str(data_dir), "--config", str(config),
         "download", "@tad_demo_mixes"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's Ctrl-C finds it
    )
    try:
        deadline = time.monotonic() + 60
        while _files_written(tmp_path) < 3 and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children_of(parent.pid)
        assert parent.poll() is None and workers, "the command ended before it could be interrupted mid-render"
        parent.send_signal(signal.SIGINT)  # once
        _, err = parent.communicate(timeout=30)  # not left finishing the catalogue
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert parent.returncode == 130, err
    assert "Traceback" not in err and "could not be rendered" not in err
    assert "the next run finishes the demo catalogue" in err
    stopped_at = time.monotonic()
    while _alive(workers) and time.monotonic() - stopped_at < 5:
        time.sleep(0.05)
    assert _alive(workers) == []
    assert _lock_is_free(data_dir / "writer.lock")
    assert not (catalogue / "manifest.json").exists()  # cut short, not passed off as complete
    journal = (catalogue / "rendered.jsonl").read_text(encoding="utf-8").splitlines()
    assert journal and all((catalogue / json.loads(line)[1]).is_file() for line in journal)  # kept for next time


def test_a_file_landing_after_its_waiters_loop_closed_does_not_stop_the_render() -> None:
    import asyncio

    from tad_tui.telegram.sim.catalogue.generation import _tell

    loop = asyncio.new_event_loop()
    future = loop.create_future()
    loop.close()
    _tell(loop, future, None)  # "Event loop is closed" is nobody's problem: no one waits there any more
    assert not future.done()
