"""Pausing and resuming many entries at once: one write per chunk, and finished entries left alone."""

from __future__ import annotations

from test_download import Recorder, _queue_group, _run, engine, events  # noqa: F401  (the fixtures)

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


async def test_clear_finished_takes_only_queue_rows_and_keeps_files_library_and_failed(engine: Engine) -> None:  # noqa: F811
    from pathlib import Path

    from tad_tui.store import AudioFile, FileStatus

    entries = await _queue_group(engine, "@tad_demo_classical")
    scheduler = engine.scheduler
    done, cancelled, failed, needed, dependent = entries[:5]
    await scheduler.pause_many(entries[3:])
    assert (await _run(engine))["downloaded"] == 3  # the first three, then cancel and fail two of them
    await scheduler.cancel(entries[5])
    await QueueEntry.filter(id=cancelled).update(state=QueueState.CANCELLED)
    await QueueEntry.filter(id=failed).update(state=QueueState.FAILED, error_message="disk full")
    await QueueEntry.filter(id=needed).update(state=QueueState.CANCELLED)
    await QueueEntry.filter(id=dependent).update(depends_on_id=needed)  # still paused: needs its outcome
    audio = await AudioFile.get(queue_entry__id=done)
    assert audio.status == FileStatus.COMPLETED and Path(audio.local_path).is_file()
    files = {row.pk: (row.status, row.local_path, row.checksum_md5) for row in await AudioFile.all()}

    cleared = await engine.clear_finished()

    assert sorted(cleared) == sorted([done, cancelled, entries[5]])
    left = {e.pk: e.state for e in await QueueEntry.all()}
    assert left[failed] == QueueState.FAILED and left[needed] == QueueState.CANCELLED
    assert done not in left and len(left) == len(entries) - 3
    assert {row.pk: (row.status, row.local_path, row.checksum_md5) for row in await AudioFile.all()} == files
    assert Path(audio.local_path).is_file()  # the file stays where it was downloaded
    assert await engine.clear_finished() == []  # nothing more to clear


async def test_a_batch_still_completes_after_its_finished_entries_were_cleared(
    engine: Engine, events: Recorder  # noqa: F811
) -> None:
    from tad_tui.download.events import BatchProgress

    entries = await _queue_group(engine, "@tad_demo_classical")
    last_two = entries[-2:]
    await engine.scheduler.pause_many(last_two)
    await _run(engine)
    assert len(await engine.clear_finished()) == len(entries) - 2
    await engine.scheduler.resume_many(last_two)
    await _run(engine)
    progress = [e for e in events.events if isinstance(e, BatchProgress)]
    assert (progress[-1].done, progress[-1].total) == (2, 2)  # told, though fewer than were done before
