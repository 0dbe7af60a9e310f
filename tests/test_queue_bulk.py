"""Pausing and resuming many entries at once: one write per chunk, and finished entries left alone."""

from __future__ import annotations

from test_download import _queue_group, _run, engine  # noqa: F401  (the engine fixture)

from tad_tui.engine import Engine
from tad_tui.store import QueueEntry, QueueState


async def test_pause_many_and_resume_many_change_exactly_the_unfinished(engine: Engine) -> None:  # noqa: F811
    entries = await _queue_group(engine, "@tad_demo_classical")
    scheduler = engine.scheduler
    await scheduler.cancel(entries[0])
    await QueueEntry.filter(id=entries[1]).update(state=QueueState.FAILED)
    rest = entries[2:]
    assert await scheduler.pause_many(entries) == len(rest)
    states = {e.pk: e.state for e in await QueueEntry.all()}
    assert states[entries[0]] == QueueState.CANCELLED and states[entries[1]] == QueueState.FAILED
    assert {states[i] for i in rest} == {QueueState.PAUSED}
    assert (await _run(engine))["downloaded"] == 0  # nothing paused is offered to the downloads
    assert await scheduler.resume_many(entries) == len(rest)
    assert {e.state for e in await QueueEntry.filter(id__in=rest)} == {QueueState.QUEUED}
    assert (await _run(engine))["downloaded"] == len(rest)
    states = {e.pk: e.state for e in await QueueEntry.all()}
    assert states[entries[0]] == QueueState.CANCELLED and states[entries[1]] == QueueState.FAILED


async def test_pausing_a_batch_does_not_revive_its_failed_entries(engine: Engine) -> None:  # noqa: F811
    entries = await _queue_group(engine, "@tad_demo_mixes")
    batch_id = (await QueueEntry.get(id=entries[0])).batch_id
    await QueueEntry.filter(id=entries[0]).update(state=QueueState.FAILED)
    await engine.scheduler.pause(entries[0])
    assert (await QueueEntry.get(id=entries[0])).state == QueueState.FAILED
    await engine.scheduler.on_batch(batch_id, "pause")
    await engine.scheduler.on_batch(batch_id, "resume")
    assert (await QueueEntry.get(id=entries[0])).state == QueueState.FAILED
    assert {e.state for e in await QueueEntry.filter(id__in=entries[1:])} == {QueueState.QUEUED}
