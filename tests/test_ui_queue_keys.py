"""The Queue pane at size: jumps to running / failed / paused entries, the state filter, clearing
finished entries, the highlighted entry's batch in the header, saving the limit, and where a file is.

Each key is followed by ``assert_screen_is_true``: what is painted equals a full repaint.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.widgets import Label

from tad_tui.config import load_settings
from tad_tui.engine import Engine
from tad_tui.store.models import AudioFile, FileStatus, QueueEntry, QueueState
from tad_tui.ui.app import TadApp
from tad_tui.ui.dialogs import BandwidthDialog, ConfirmDialog
from tad_tui.ui.queue import QueuePane
from test_ui import CLASSICAL, held, make_app, queue_ids, settle  # noqa: F401  (held: a fixture)
from test_ui_panes import quick
from test_ui_repaint import ARCHIVE, assert_screen_is_true
from test_ui_support import Gate, queue_group, until


async def _open(app: TadApp, pilot, count: int) -> QueuePane:
    await pilot.press("f2")
    queue = app.query_one(QueuePane)
    await until(lambda: len(queue.table.rows) == count, pilot.pause)
    return queue


def _summary(app: TadApp) -> str:
    return str(app.query_one("#queue-summary", Label).content)


def _toasts(app: TadApp) -> list[str]:
    return [n.message for n in app._notifications]


async def _states(engine: Engine, ids: list[int], **states: list[int]) -> None:
    for state, chosen in states.items():
        await QueueEntry.filter(id__in=chosen).update(state=QueueState(state))


async def _running(app: TadApp, pilot, engine: Engine, ids: list[int]) -> None:
    """Shown as running (the held downloads start none): after the scheduler's start-up, which puts
    what a crash left running back in the queue."""
    await until(lambda: bool(engine.scheduler._keys), pilot.pause)
    await QueueEntry.filter(id__in=ids).update(state=QueueState.RUNNING)
    await pilot.press("ctrl+r")
    await settle(app, pilot)


async def test_n_e_u_jump_round_the_list_to_running_failed_and_paused(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, ARCHIVE)
    # As in a big queue: the running entries sort behind a thousand queued ones.
    running, failed, paused = [ids[-3], ids[-1]], [ids[5], ids[600]], [ids[40]]
    await _states(engine, ids, failed=failed, paused=paused)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await _open(app, pilot, len(ids))
        await _running(app, pilot, engine, running)
        table = queue.table
        await assert_screen_is_true(table, pilot)
        for want in (running[0], running[1], running[0]):  # round the end, back to the first
            await pilot.press("n")
            assert table.current.id == want
            await assert_screen_is_true(table, pilot)
        await pilot.press("e")  # the failed rows are listed after the unfinished ones, in order
        first_failed = table.current.id
        await pilot.press("e")
        assert {first_failed, table.current.id} == set(failed)
        await assert_screen_is_true(table, pilot)
        await pilot.press("u")
        assert table.current.id == paused[0]
        await assert_screen_is_true(table, pilot)
        await QueueEntry.filter(id__in=paused).update(state=QueueState.QUEUED)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        await pilot.press("u")  # none left: the cursor stays, a toast says so
        assert table.current.id == paused[0] and "No entry is paused" in _toasts(app)


async def test_f_filters_by_state_counts_stay_whole_and_hidden_marks_are_dropped(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    await _states(engine, ids, paused=[ids[4], ids[5]], failed=[ids[6]], completed=[ids[7], ids[8]])
    await _states(engine, ids, cancelled=[ids[9]])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await _open(app, pilot, len(ids))
        await _running(app, pilot, engine, [ids[3]])
        table = queue.table
        whole = _summary(app).splitlines()[0]
        queue.table.go_to_key(ids[4])
        await pilot.press("m")  # marks a paused entry
        queue.table.go_to_key(ids[0])
        await pilot.press("m")  # and a queued one
        assert table.marked == {ids[4], ids[0]}
        expected = {
            "running": {ids[3]},
            "queued": set(ids) - set(ids[3:10]),
            "paused": {ids[4], ids[5]},
            "failed": {ids[6]},
            "finished": {ids[7], ids[8], ids[9]},
        }
        for name, shown in expected.items():
            await pilot.press("f")
            await settle(app, pilot)
            assert set(queue_ids(app)) == shown, name
            lines = _summary(app).splitlines()
            assert lines[0] == whole  # the counts are the whole queue's
            assert lines[1] == f"Showing {name} only: {len(shown)} shown, {len(ids) - len(shown)} hidden (f: next filter)"
            await assert_screen_is_true(table, pilot)
            if name == "running":  # the marks of the rows it hid are gone, and a toast said so
                assert table.marked == set()
                assert "Unmarked 2 entries the filter hides: keys act only on rows you see" in _toasts(app)
            if name == "paused":  # keys act on the rows shown: pause all / resume all
                await pilot.press("P")
                await settle(app, pilot)
                states = {e.pk: e.state for e in await QueueEntry.all()}
                assert states[ids[4]] == states[ids[5]] == QueueState.QUEUED
                assert states[ids[3]] == QueueState.RUNNING  # hidden: untouched
                assert _summary(app).splitlines()[0] == (whole := whole.replace("37 queued, 2 paused", "39 queued"))
        await pilot.press("f")  # all again
        await settle(app, pilot)
        assert len(queue_ids(app)) == len(ids) and "Showing" not in _summary(app)
        await assert_screen_is_true(table, pilot)


async def test_moves_and_priorities_under_a_filter_show_the_engine_order(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    await _states(engine, ids, paused=[ids[2], ids[5], ids[9]])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await _open(app, pilot, len(ids))
        await pilot.press("f", "f", "f")  # paused
        await settle(app, pilot)
        assert queue_ids(app) == [ids[2], ids[5], ids[9]]

        async def shown_as_in_engine() -> None:
            await settle(app, pilot)
            order = [row.id for row in await engine.queue_rows() if row.state == "paused"]
            assert queue_ids(app) == order
            await assert_screen_is_true(queue.table, pilot)

        queue.table.go_to_key(ids[9])
        await pilot.press("K")  # passes the hidden queued entry just above it, not ids[5]
        await shown_as_in_engine()
        assert queue_ids(app) == [ids[2], ids[5], ids[9]]
        await pilot.press("t")
        await shown_as_in_engine()
        assert queue_ids(app)[0] == ids[9]
        await pilot.press("plus")
        await shown_as_in_engine()
        await pilot.press("minus")
        await shown_as_in_engine()
        assert queue_ids(app)[0] == ids[9]


async def test_clear_finished_asks_when_many_and_keeps_files_library_and_failed(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, ARCHIVE)
    done, cancelled, failed = ids[:12], ids[12:20], ids[20:22]
    await _states(engine, ids, completed=done, cancelled=cancelled, failed=failed)
    audio_ids = [e.audio_id for e in await QueueEntry.filter(id__in=done)]
    await AudioFile.filter(id__in=audio_ids).update(status=FileStatus.COMPLETED, local_path="/music/x.mp3")
    library = sorted(await AudioFile.all().values_list("id", "status", "local_path"))
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await _open(app, pilot, len(ids))
        await pilot.press("C")
        assert isinstance(app.screen, ConfirmDialog)  # 20 entries: it asks first
        await pilot.press("escape")
        await settle(app, pilot)
        assert await QueueEntry.all().count() == len(ids) and len(queue.table.rows) == len(ids)
        await pilot.press("C", "enter")  # "Yes, clear them"
        await settle(app, pilot)
        await until(lambda: len(queue.table.rows) == len(ids) - 20, pilot.pause)
        left = set(await QueueEntry.all().values_list("id", flat=True))
        assert left == set(ids) - set(done) - set(cancelled) and set(failed) <= left
        assert set(queue_ids(app)) == left
        assert sorted(await AudioFile.all().values_list("id", "status", "local_path")) == library
        assert "Cleared 20 entries from the queue; their files stay where they are" in _toasts(app)
        assert _summary(app).splitlines()[-1].endswith(f": 2/{len(ids) - 20} done, 2 failed")  # what is left
        await assert_screen_is_true(queue.table, pilot)
        await pilot.press("C")  # nothing left to clear: no question
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert any(t.startswith("No entry is completed or cancelled") for t in _toasts(app))


async def test_the_header_shows_the_batch_of_the_highlighted_entry(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    classical = await queue_group(engine, CLASSICAL)
    mixes = await queue_group(engine, "@tad_demo_mixes")  # the newer batch
    await _states(engine, classical, failed=[classical[1]], completed=[classical[2]])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await _open(app, pilot, len(classical) + len(mixes))
        queue.table.go_to_key(classical[0])
        await pilot.pause()
        batch = _summary(app).splitlines()[-1]
        assert batch.startswith("Batch ") and f": 2/{len(classical)} done, 1 failed" in batch
        queue.table.go_to_key(mixes[0])
        await pilot.pause()
        assert _summary(app).splitlines()[-1].endswith(f": 0/{len(mixes)} done")
        await assert_screen_is_true(queue.table, pilot)


async def test_l_can_save_the_limit_to_config_toml_keeping_comments_and_keys(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    config = engine.settings.config_file
    assert config is not None
    original = '# my settings\n[performance]\n# kept\nbandwidth_limit = "2MB"\nmax_memory_mb = 300\n\n[ui]\ntheme = "nord"\n'
    config.write_text(original, encoding="utf-8")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f2", "l", *"512KiB", "enter")
        assert isinstance(app.screen, BandwidthDialog)
        await pilot.press("down", "enter")  # "Save it to config.toml"
        await pilot.pause()
        assert engine.scheduler.context.bandwidth.rate == 512 * 1024
        text = config.read_text(encoding="utf-8")
        assert text == original.replace('"2MB"', '"512KiB"')  # comments and other keys as they were
        assert load_settings(config).performance.bandwidth_limit == 512 * 1024
        assert tomllib.loads(text)["ui"]["theme"] == "nord"
        assert any("saved to" in t and str(config) in t for t in _toasts(app))
        config.write_text("[performance\n", encoding="utf-8")  # broken: says so, the limit stays
        await pilot.press("l", *"1MB", "enter", "down", "enter")
        await pilot.pause()
        assert engine.scheduler.context.bandwidth.rate == 512 * 1024
        assert any("not valid TOML" in t for t in _toasts(app))


async def test_o_shows_and_copies_where_the_file_is_or_says_where_it_will_go(held: tuple[Engine, Gate], tmp_path: Path) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    song = tmp_path / "music" / "Bach – Air.mp3"
    song.parent.mkdir()
    song.write_bytes(b"x")
    await QueueEntry.filter(id=ids[0]).update(state=QueueState.COMPLETED)
    audio_id = (await QueueEntry.get(id=ids[0])).audio_id
    await AudioFile.filter(id=audio_id).update(status=FileStatus.COMPLETED, local_path=str(song))
    app = make_app(engine)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # what Textual sends as OSC 52
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await _open(app, pilot, len(ids))
        queue.table.go_to_key(ids[0])
        await pilot.press("o")
        await settle(app, pilot)
        assert copied == [str(song)]
        shown = _toasts(app)[-1]
        assert str(song) in shown and f"Folder: {song.parent}" in shown and "copied to the clipboard" in shown
        queue.table.go_to_key(ids[1])
        await pilot.press("o")
        await settle(app, pilot)
        assert copied == [str(song)]  # nothing downloaded: nothing copied
        shown = _toasts(app)[-1]
        assert shown.startswith("Not downloaded (queued): it will be saved as\n")
        assert Path(shown.splitlines()[-1]).is_relative_to(engine.paths.downloads_dir)
        song.unlink()
        queue.table.go_to_key(ids[0])
        await pilot.press("o")
        await settle(app, pilot)
        assert "no file there any more" in _toasts(app)[-1]


async def test_a_row_never_shows_more_than_the_limit(held: tuple[Engine, Gate]) -> None:
    from tad_tui.download.events import EntryProgress, EntryStarted
    from tad_tui.ui import figures
    from test_ui_panes import _record_states, drawn
    from test_ui_support import FrozenMonitor, frozen_samples

    engine, _ = held
    ids = await queue_group(engine, CLASSICAL, limit=3)
    first = ids[0]
    # A sample taken before the limit was lowered: a whole part in its last second.
    engine.monitor = FrozenMonitor(frozen_samples(per_download={str(first): 2**20}))  # type: ignore[assignment]
    engine.set_bandwidth_limit(200 * 1024)
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await _open(app, pilot, len(ids))
        size = queue.table.rows[queue.table.index_of(first)].entry.file_size
        await _record_states(first)  # as the scheduler does, before its events
        engine.events.publish(EntryStarted(first, "x", size, "x"))
        engine.events.publish(EntryProgress(first, 2**20, size))
        app.bridge.flush()
        await until(lambda: queue.table.rows[queue.table.index_of(first)].bps > 0, pilot.pause)
        assert queue.table.rows[queue.table.index_of(first)].bps == 200 * 1024
        # What is drawn lags the rows until the next refresh runs (a busy machine showed the old line).
        await until(lambda: drawn(queue.table, queue.table.index_of(first)).startswith("running"), pilot.pause)
        line = drawn(queue.table, queue.table.index_of(first))
        assert figures.speed(200 * 1024) in line and figures.speed(2**20) not in line
        await assert_screen_is_true(queue.table, pilot)
