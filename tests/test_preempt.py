"""Priorities that act: an urgent entry takes a running entry's slot, which resumes later.

Through the engine on the simulated Telegram. The link is slowed so that files are mid-transfer
when the urgent entry comes (what happens is checked by the order of events, never by time), then
made fast again so the run ends soon.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tad_tui.config import Settings, default_settings
from tad_tui.download.events import EntryFinished, EntryProgress, EntryResumed, EntryStarted, Event
from tad_tui.download.parts import PartMap
from tad_tui.download.scheduler import may_take
from tad_tui.engine import Engine
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, Priority, QueueEntry, QueueState, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

from helpers import run

PART = 256 * 1024  # small parts: a request on the slowed link is soon answered once it is fast again
SLOW = 256 * 1024  # bytes per second per connection: a 3 MB mix takes seconds
CRITICAL_NOTE = "paused for a critical download"
HIGH_NOTE = "paused for a high-priority download"


def _settings() -> Settings:
    base = default_settings()
    return replace(base, downloads=replace(base.downloads, retry_delay=0.0, chunk_size=PART))


@pytest.fixture
async def engine(tmp_path: Path, source: TelethonSource) -> AsyncIterator[Engine]:
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    async with opened_store(paths.db):
        engine = Engine(_settings(), paths, source)
        engine.source.client.bandwidth_per_connection = SLOW
        yield engine
        await engine.stop_downloads()


class Recorder:
    def __init__(self, engine: Engine) -> None:
        self.events: list[Event] = []
        engine.events.subscribe(self.events.append)

    def started(self) -> list[int]:
        return [e.entry_id for e in self.events if isinstance(e, EntryStarted)]

    def finished(self, outcome: str) -> list[int]:
        return [e.entry_id for e in self.events if isinstance(e, EntryFinished) and e.outcome == outcome]

    def index(self, kind: type, entry_id: int, outcome: str | None = None) -> int:
        """Where the first such event of the entry is in the order they came."""
        return next(
            i
            for i, e in enumerate(self.events)
            if isinstance(e, kind) and e.entry_id == entry_id and (outcome is None or e.outcome == outcome)
        )

    def moving(self) -> set[int]:
        """Entries that started and received bytes since, and have not finished."""
        seen: set[int] = set()
        for event in self.events:
            if isinstance(event, EntryStarted):
                seen.discard(event.entry_id)
            elif isinstance(event, EntryProgress) and event.downloaded_bytes > 0:
                seen.add(event.entry_id)
            elif isinstance(event, EntryFinished):
                seen.discard(event.entry_id)
        return seen


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def make_fast(engine: Engine) -> None:
    """The link at full speed again, for the connections already open too."""
    engine.source.client.bandwidth_per_connection = 0
    for sender in engine.scheduler.context.pool._senders.values():
        sender.bandwidth = 0


async def files(engine: Engine, username: str) -> list[int]:
    """The group's audio (scanned now), by message."""
    info = await engine.resolve_group(username)
    await scan_group(engine.source, info)
    return [row.pk for row in (await engine.select_for_download(info)).to_fetch]


async def enqueue(engine: Engine, audio_ids: list[int], priority: Priority = Priority.NORMAL) -> list[int]:
    return (await engine.scheduler.enqueue(audio_ids, priority=priority)).entry_ids


async def largest(engine: Engine, username: str) -> int:
    """The audio id of the group's largest file: an urgent entry that runs for a while."""
    ids = await files(engine, username)
    return (await AudioFile.filter(id__in=ids).order_by("-file_size").first()).pk


async def all_match_the_source(demo_catalogue: Catalogue) -> bool:
    rows = await AudioFile.filter(queue_entry__state=QueueState.COMPLETED)
    return bool(rows) and all(row.source_md5 == demo_catalogue.document(row.document_id).md5 for row in rows)


def test_who_may_take_whose_slot() -> None:
    assert [h.name for h in Priority if may_take(Priority.CRITICAL, h)] == ["LOW", "NORMAL", "HIGH"]
    assert [h.name for h in Priority if may_take(Priority.HIGH, h)] == ["LOW"]
    assert not any(may_take(taker, h) for taker in (Priority.NORMAL, Priority.LOW) for h in Priority)


async def test_critical_entry_takes_the_slot_of_a_running_normal_one_which_resumes_later(
    engine: Engine, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    events = Recorder(engine)
    urgent = await largest(engine, "@tad_demo_classical")
    scheduler = await engine.start_downloads()
    mixes = await enqueue(engine, await files(engine, "@tad_demo_mixes"))
    scheduler.max_concurrent = 3
    runner = asyncio.create_task(_run(engine))
    await until(lambda: len(events.moving()) == 3)  # every slot busy, each file mid-transfer
    running = set(scheduler.running)
    critical = (await scheduler.enqueue([urgent], priority=Priority.CRITICAL)).entry_ids[0]

    # What the preempted entry left on disk, read as it stopped (before anything else could start).
    left: dict[str, object] = {}

    def on_preempted(event: Event) -> None:
        if isinstance(event, EntryFinished) and event.outcome == "preempted" and "requests" not in left:
            left["requests"] = len(server.requests("GetFileRequest"))
            left["task"] = asyncio.ensure_future(_snapshot(engine, event.entry_id))

    engine.events.subscribe(on_preempted)
    await until(lambda: critical in events.started())
    snapshot = await left["task"]  # type: ignore[misc]
    make_fast(engine)
    outcomes = await runner

    # The critical entry started before any of the running ones finished, in the slot of one of them.
    assert events.finished("preempted") == [snapshot["id"]] and snapshot["id"] in running
    assert events.index(EntryStarted, critical) < min(events.index(EntryFinished, m, "downloaded") for m in mixes)
    assert outcomes["preempted"] == 1 and outcomes["downloaded"] == len(mixes) + 1 and outcomes["failed"] == 0
    # Shown as queued again, saying why, first of its priority (so it starts first when a slot frees).
    assert snapshot["state"] == "queued" and snapshot["note"] == CRITICAL_NOTE
    assert snapshot["first_normal"] == snapshot["id"]
    started = events.started()
    assert started[started.index(critical) + 1] == snapshot["id"]
    # It resumed from its parts on disk: none of them was fetched again, and every file is whole.
    victim = await AudioFile.get(queue_entry__id=snapshot["id"])
    parts = PartMap.load(snapshot["resume_state"], size=victim.file_size, part_size=PART)
    assert parts.crc32 and not parts.complete()
    resumed = [e for e in events.events if isinstance(e, EntryResumed) and e.entry_id == snapshot["id"]]
    assert resumed and resumed[0].downloaded_bytes == parts.done_bytes()
    later = [
        r for r in server.requests("GetFileRequest")[left["requests"] :]
        if f"id={victim.document_id} " in r.detail and "thumb=" not in r.detail  # its parts, not its cover
    ]
    offsets = [int(r.detail.split("offset=")[1].split()[0]) for r in later]
    assert offsets and not {offset // PART for offset in offsets} & set(parts.crc32)
    assert len(offsets) == len(set(offsets))
    assert await all_match_the_source(demo_catalogue)
    assert len(await AudioFile.filter(queue_entry__state=QueueState.COMPLETED)) == len(mixes) + 1
    # Started again, the note is gone.
    assert {row.note for row in await engine.queue_rows()} == {None}


async def _snapshot(engine: Engine, entry_id: int) -> dict[str, object]:
    rows = await engine.queue_rows()
    row = next(r for r in rows if r.id == entry_id)
    audio = await AudioFile.get(queue_entry__id=entry_id)
    first_normal = next(r.id for r in rows if r.priority == "normal" and r.state == "queued")
    return {"id": entry_id, "state": row.state, "note": row.note, "resume_state": audio.resume_state, "first_normal": first_normal}


async def test_high_takes_a_slot_from_low_only(engine: Engine, demo_catalogue: Catalogue) -> None:
    events = Recorder(engine)
    mixes = await files(engine, "@tad_demo_mixes")
    tracks = await files(engine, "@tad_demo_classical")
    scheduler = await engine.start_downloads()
    low = await enqueue(engine, mixes[:1], Priority.LOW)
    normal = await enqueue(engine, mixes[1:2], Priority.NORMAL)
    scheduler.max_concurrent = 2
    scheduler.adaptive = False  # classical tracks are single-part files, which adaptive runs in slots of their own
    runner = asyncio.create_task(_run(engine))
    await until(lambda: len(events.moving()) == 2)
    assert set(scheduler.running) == {low[0], normal[0]}
    highs = await enqueue(engine, tracks[:2], Priority.HIGH)
    await until(lambda: set(highs) <= set(events.started()))
    make_fast(engine)
    outcomes = await runner

    # The first high entry took the low one's slot at once; the second waited for a slot to free:
    # high never takes one from normal (nor from high).
    assert events.finished("preempted") == low
    first_done = min(i for i, e in enumerate(events.events) if isinstance(e, EntryFinished) and e.outcome == "downloaded")
    assert events.index(EntryFinished, low[0], "preempted") < events.index(EntryStarted, highs[0]) < first_done
    assert events.index(EntryStarted, highs[1]) > first_done
    note = next(e.note for e in events.events if isinstance(e, EntryFinished) and e.outcome == "preempted")
    assert note == HIGH_NOTE
    assert outcomes["preempted"] == 1 and outcomes["failed"] == 0
    assert outcomes["downloaded"] + outcomes["skipped"] == 4
    assert await all_match_the_source(demo_catalogue)


async def test_lowering_a_running_entry_makes_it_yield_to_a_queued_one(engine: Engine, demo_catalogue: Catalogue) -> None:
    events = Recorder(engine)
    tracks = await files(engine, "@tad_demo_classical")
    scheduler = await engine.start_downloads()
    earlier = await enqueue(engine, tracks[:1], Priority.LOW)  # queued before: ranked before the mixes
    mixes = await enqueue(engine, (await files(engine, "@tad_demo_mixes"))[:3], Priority.HIGH)
    scheduler.max_concurrent = 2
    scheduler.adaptive = False  # classical tracks are single-part files, which adaptive runs in slots of their own
    runner = asyncio.create_task(_run(engine))
    await until(lambda: len(events.moving()) == 2)
    first, second = scheduler.running
    waiting = next(m for m in mixes if m not in (first, second))
    assert (await QueueEntry.get(id=waiting)).state == QueueState.QUEUED  # high cannot take from high
    await scheduler.set_priority(first, Priority.LOW)
    await until(lambda: waiting in events.started())
    rows = await engine.queue_rows()
    row = next(r for r in rows if r.id == first)
    assert (row.state, row.note, row.priority) == ("queued", HIGH_NOTE, "low")
    assert [r.id for r in rows if r.priority == "low"] == [first, *earlier]  # first of its new level
    make_fast(engine)
    outcomes = await runner

    assert events.finished("preempted") == [first]
    assert events.index(EntryStarted, waiting) < min(events.index(EntryFinished, m, "downloaded") for m in mixes)
    started = events.started()
    assert len(started) - 1 - started[::-1].index(first) < started.index(earlier[0])  # back before the other low
    assert outcomes["preempted"] == 1 and outcomes["failed"] == 0
    assert outcomes["downloaded"] + outcomes["skipped"] == len(mixes) + 1
    assert await all_match_the_source(demo_catalogue)


async def test_queue_command_shows_why_an_entry_is_queued_again(
    engine: Engine, tmp_path: Path, demo_config: Path
) -> None:
    events = Recorder(engine)
    tracks = await files(engine, "@tad_demo_classical")
    scheduler = await engine.start_downloads()
    mixes = await enqueue(engine, (await files(engine, "@tad_demo_mixes"))[:1])
    scheduler.max_concurrent = 1
    scheduler.adaptive = False  # classical tracks are single-part files, which adaptive runs in slots of their own
    runner = asyncio.create_task(_run(engine))
    await until(lambda: len(events.moving()) == 1)
    critical = await enqueue(engine, tracks[:1], Priority.CRITICAL)
    await until(lambda: critical[0] in events.started())
    runner.cancel()  # stopped as at a shutdown: the preempted entry stays queued with its note
    await asyncio.gather(runner, return_exceptions=True)

    common = ("--config", str(demo_config), "--demo", "--data-dir", str(tmp_path / "data"), "queue")
    listed = run(*common, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows[mixes[0]]["state"] == "queued" and rows[mixes[0]]["note"] == CRITICAL_NOTE
    assert rows[critical[0]]["note"] is None
    text = run(*common, env={"COLUMNS": "200"})
    assert text.returncode == 0, text.stderr
    line = next(line for line in text.stdout.splitlines() if line.lstrip().startswith(f"{mixes[0]} "))
    assert f"queued: {CRITICAL_NOTE}" in line


async def _run(engine: Engine):
    return await engine.scheduler.run(until_idle=True)


async def test_queue_pane_plus_to_critical_starts_the_entry_and_the_displaced_row_says_why(
    tmp_path: Path, source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    from textual.widgets import Label

    from tad_tui.ui.app import TadApp
    from tad_tui.ui.queue import QueuePane
    from test_ui_support import FROZEN_NOW, FrozenMonitor, frozen_samples, until as ui_until

    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    engine = Engine(replace(_settings(), config_file=tmp_path / "config.toml"), paths, source)
    engine.monitor = FrozenMonitor(frozen_samples())  # type: ignore[assignment]
    engine.source.client.bandwidth_per_connection = SLOW
    async with opened_store(paths.db):
        events = Recorder(engine)
        track = await largest(engine, "@tad_demo_classical")
        mix = (await files(engine, "@tad_demo_mixes"))[0]
        scheduler = engine.scheduler
        scheduler.max_concurrent = 1
        running, waiting = [(await scheduler.enqueue([audio])).entry_ids[0] for audio in (mix, track)]
        app = TadApp(engine, clock=lambda: FROZEN_NOW)
        app.animation_level = "none"
        async with app.run_test(size=(80, 24)) as pilot:
            app._notifier.desktop = False
            await pilot.press("f2")
            queue = app.query_one(QueuePane)
            await ui_until(lambda: running in events.moving(), pilot.pause, timeout=60)
            await ui_until(lambda: queue.table.index_of(waiting) is not None, pilot.pause)
            queue.table.go_to_key(waiting)
            await pilot.press("plus")
            await ui_until(lambda: queue.table.rows[queue.table.index_of(waiting)].entry.priority == "high", pilot.pause)
            assert not events.finished("preempted")  # high does not take a normal entry's slot
            await pilot.press("plus")
            await ui_until(lambda: waiting in events.started(), pilot.pause, timeout=60)
            row = lambda: queue.table.rows[queue.table.index_of(running)]  # noqa: E731
            await ui_until(lambda: row().entry.state == "queued", pilot.pause)
            shown = queue.table.render_line(queue.table.index_of(running) - int(queue.table.scroll_y) + 1).text
            # At 80 columns the row says why in its state and keeps the file's name; the detail says it in full.
            assert shown.split()[0] == "yielded" and row().entry.file[:15] in shown
            queue.table.go_to_key(running)
            await pilot.pause()
            assert CRITICAL_NOTE in str(app.query_one("#queue-detail", Label).content)
            make_fast(engine)
            await ui_until(lambda: all(line.entry.state == "completed" for line in queue.table.rows), pilot.pause, timeout=60)
            assert row().entry.note is None and CRITICAL_NOTE not in str(app.query_one("#queue-detail", Label).content)
            # The preempted entry counts once, as downloaded, never as paused or failed.
            await ui_until(lambda: any(n.title == "Queue empty" for n in app._notifier.sent), pilot.pause)
            empty = [n.message for n in app._notifier.sent if n.title == "Queue empty"]
            assert empty == ["2 downloaded, 0 failed"]
        await engine.stop_downloads()
        assert await all_match_the_source(demo_catalogue)
