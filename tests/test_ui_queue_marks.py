"""Marks in the Queue pane: the keys act on every marked entry, and whole batches from a dialog."""

from __future__ import annotations

import random
from dataclasses import replace

from textual.widgets import Label

from tad_tui.engine import Engine
from tad_tui.store.models import AudioFile, Priority, QueueEntry, QueueState
from tad_tui.ui.app import TadApp
from tad_tui.ui.dialogs import BatchDialog
from tad_tui.ui.queue import QueueLine, QueuePane, entries
from tad_tui.ui.queue_order import after_priority_change, move_marked
from test_ui import CLASSICAL, held, make_app, queue_ids, settle  # noqa: F401  (held: a fixture)
from test_ui_support import Gate, queue_group, until


async def _open_queue(app: TadApp, pilot, count: int) -> QueuePane:
    await pilot.press("f2")
    queue = app.query_one(QueuePane)
    await until(lambda: len(queue.table.rows) == count, pilot.pause)
    return queue


async def _mark(queue: QueuePane, pilot, ids: list[int]) -> None:
    for entry_id in ids:
        queue.table.go_to_key(entry_id)
        await pilot.press("m")


async def _states(ids: list[int]) -> dict[int, str]:
    return {e.pk: e.state.value for e in await QueueEntry.filter(id__in=ids)}


def _shown(queue: QueuePane) -> dict[int, QueueLine]:
    return {line.id: line for line in queue.table.rows}


def _detail(app: TadApp) -> str:
    return str(app.query_one("#queue-detail", Label).content)


async def test_m_marks_and_steps_down_ctrl_a_marks_the_unfinished_and_m_or_escape_clear(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    await engine.scheduler.cancel(ids[7])
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        queue = await _open_queue(app, pilot, len(ids))
        first, second = queue_ids(app)[:2]
        await pilot.press("m")
        assert queue.table.marked == {first} and queue.table.current.id == second
        await pilot.press("m")
        assert queue.table.marked == {first, second} and queue.table.cursor == 2
        assert _detail(app).startswith("2 marked · ")
        queue.table.go_to(0)
        await pilot.press("m")  # unmarks
        assert queue.table.marked == {second}
        await pilot.press("ctrl+a")
        assert queue.table.marked == set(ids) - {ids[7]}  # every unfinished one, not the cancelled
        assert _detail(app).startswith(f"{len(ids) - 1} marked · ")
        await pilot.press("a")  # all marked already: clears
        assert queue.table.marked == set()
        await pilot.press("a")
        assert len(queue.table.marked) == len(ids) - 1
        await pilot.press("M")
        assert queue.table.marked == set() and not _detail(app).startswith("0 marked")
        await pilot.press("m", "m", "escape")
        assert queue.table.marked == set()
        # The mark column shows a bullet for a marked row only.
        await pilot.press("m")
        await pilot.pause()
        marked_row = queue.table.index_of(next(iter(queue.table.marked)))
        lines = [queue.table.render_line(y + 1).text for y in range(marked_row + 2)]
        assert lines[marked_row].startswith("●") and not lines[marked_row + 1].startswith("●")


async def test_space_x_r_and_priority_act_on_exactly_the_marked_entries(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        queue = await _open_queue(app, pilot, len(ids))
        order = queue_ids(app)
        marked = [order[1], order[4], order[6]]
        others = [i for i in ids if i not in marked]
        await _mark(queue, pilot, marked)
        queue.table.go_to_key(order[0])  # the cursor is on an unmarked row: the marks win

        async def check(state: str, marked_state: str) -> None:
            await settle(app, pilot)
            states = await _states(ids)
            assert {states[i] for i in marked} == {marked_state}
            assert {states[i] for i in others} == {state}
            shown = _shown(queue)
            assert {shown[i].entry.state for i in marked} == {marked_state}
            assert {shown[i].entry.state for i in others} == {state}
            assert queue.table.marked == set(marked)  # kept for the next key

        await pilot.press("space")
        await check("queued", "paused")
        assert any(n.message == "Paused 3 entries" for n in app._notifications)
        await pilot.press("space")  # all marked are paused: resumes them
        await check("queued", "queued")
        assert any(n.message == "Resumed 3 entries" for n in app._notifications)
        await pilot.press("x")
        await check("queued", "cancelled")
        await pilot.press("r")
        await check("queued", "queued")

        async def same_order_as_engine() -> None:
            await settle(app, pilot)
            assert queue_ids(app) == [row.id for row in await engine.queue_rows()]

        await pilot.press("plus")
        await same_order_as_engine()
        priorities = {e.pk: e.priority for e in await QueueEntry.filter(id__in=ids)}
        assert {priorities[i] for i in marked} == {Priority.HIGH}
        assert {priorities[i] for i in others} == {Priority.NORMAL}
        assert queue_ids(app)[:3] == marked  # the end of "high", in their order
        assert {_shown(queue)[i].entry.priority for i in marked} == {"high"}
        await pilot.press("plus", "plus")  # the second one finds them all at critical already
        await same_order_as_engine()
        assert {(await QueueEntry.get(id=i)).priority for i in marked} == {Priority.CRITICAL}
        await pilot.press("minus", "minus")
        await same_order_as_engine()
        priorities = {e.pk: e.priority for e in await QueueEntry.filter(id__in=ids)}
        assert {priorities[i] for i in marked} == {Priority.NORMAL}
        assert queue_ids(app) == order  # raised and lowered again: back between their old neighbours
        await pilot.press("M", "space")  # no marks: the row under the cursor only
        await settle(app, pilot)
        assert (await _states(ids)) == {**dict.fromkeys(ids, "queued"), order[0]: "paused"}


async def test_moves_with_marks_move_the_block_and_keep_the_engine_order(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    for entry_id in ids[-4:]:
        await engine.scheduler.set_priority(entry_id, Priority.HIGH)
    await engine.scheduler.cancel(ids[10])
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        queue = await _open_queue(app, pilot, len(ids))

        async def same_order_as_engine() -> list[int]:
            await settle(app, pilot)
            shown = queue_ids(app)
            assert shown == [row.id for row in await engine.queue_rows()]
            return shown

        start = await same_order_as_engine()
        high = start[:4]
        normal = [i for i in start[4:] if i != ids[10]]
        marked = [high[2], normal[3], normal[8], normal[20], ids[10]]  # two priorities and a cancelled one
        await _mark(queue, pilot, marked)
        queue.table.go_to_key(normal[8])
        await pilot.press("t")
        shown = queue_ids(app)  # repainted at once, before the engine wrote anything
        assert shown[:4] == [high[2], high[0], high[1], high[3]]
        assert shown[4:7] == [normal[3], normal[8], normal[20]]
        assert queue.table.current.id == normal[8]
        assert await same_order_as_engine() == shown
        await pilot.press("b")
        shown = await same_order_as_engine()
        assert shown[3] == high[2] and shown[len(ids) - 4 : len(ids) - 1] == [normal[3], normal[8], normal[20]]
        assert shown[-1] == ids[10]  # the cancelled one never moves
        await pilot.press("K")
        shown = await same_order_as_engine()
        assert shown[2] == high[2] and shown[len(ids) - 5 : len(ids) - 2] == [normal[3], normal[8], normal[20]]
        await pilot.press("shift+up", "shift+up", "shift+up")  # high[2] stops at the top
        shown = await same_order_as_engine()
        assert shown[0] == high[2]
        await pilot.press("J")
        await same_order_as_engine()
        await pilot.press("t", "K")  # a block at the top stays in its order: none passes another
        shown = await same_order_as_engine()
        assert shown[4:7] == [normal[3], normal[8], normal[20]]
        assert queue.table.marked == set(marked)


async def test_marked_moves_match_the_scheduler_for_any_marks(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    rng = random.Random(7)
    for entry_id in rng.sample(ids, 12):
        await engine.scheduler.set_priority(entry_id, rng.choice(list(Priority)))
    for entry_id in rng.sample(ids, 3):
        await engine.scheduler.cancel(entry_id)
    for _ in range(24):
        lines = [QueueLine(row) for row in await engine.queue_rows()]
        marked = set(rng.sample(ids, rng.randint(1, 12)))
        where = rng.choice(["up", "down", "top", "bottom"])
        expected, calls = move_marked(lines, marked, where)
        for entry_id in calls:
            await engine.scheduler.move(entry_id, where)
        assert [row.id for row in await engine.queue_rows()] == [line.id for line in expected], (where, marked)


async def test_priority_changes_match_the_scheduler_and_keep_the_place(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL)
    rng = random.Random(11)
    for entry_id in rng.sample(ids, 4):
        await engine.scheduler.cancel(entry_id)
    start = [row.id for row in await engine.queue_rows()]
    middle = start[7]
    await engine.scheduler.set_priority(middle, Priority.CRITICAL)
    await engine.scheduler.set_priority(middle, Priority.NORMAL)
    assert [row.id for row in await engine.queue_rows()] == start  # back between its neighbours
    for _ in range(40):
        lines = [QueueLine(row) for row in await engine.queue_rows()]
        if rng.random() < 0.3:  # moves in between: ranks from moves count as much as from enqueues
            await engine.scheduler.move(rng.choice(ids), rng.choice(["up", "down", "top", "bottom"]))
            continue
        chosen = rng.sample(ids, rng.randint(1, 6))
        changes = []
        for entry_id in chosen:
            placed = await engine.scheduler.set_priority(entry_id, rng.choice(list(Priority)))
            changes += [placed] if placed else []
        levels = {c.entry_id: c.priority.name.lower() for c in changes}
        lines = [QueueLine(replace(l.entry, priority=levels[l.id])) if l.id in levels else l for l in lines]
        expected = [line.id for line in after_priority_change(lines, changes)]
        assert [row.id for row in await engine.queue_rows()] == expected, changes


async def test_batch_dialog_pauses_and_resumes_the_whole_batch(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    classical = await queue_group(engine, CLASSICAL)
    mixes = await queue_group(engine, "@tad_demo_mixes")
    app = make_app(engine)
    everything = classical + mixes
    async with app.run_test(size=(100, 30)) as pilot:
        queue = await _open_queue(app, pilot, len(everything))
        queue.table.go_to_key(mixes[1])
        await pilot.press("B")
        assert isinstance(app.screen, BatchDialog)
        await pilot.press("escape")  # changes nothing
        await settle(app, pilot)
        assert set((await _states(everything)).values()) == {"queued"}
        await pilot.press("B", "enter")  # the first choice: pause
        await settle(app, pilot)
        states = await _states(everything)
        assert {states[i] for i in mixes} == {"paused"} and {states[i] for i in classical} == {"queued"}
        shown = _shown(queue)
        assert {shown[i].entry.state for i in mixes} == {"paused"}
        assert {shown[i].entry.state for i in classical} == {"queued"}
        assert f"{len(mixes)} paused" in str(app.query_one("#queue-summary", Label).content)
        assert any(n.message == f"Paused {len(mixes)} of the {entries(len(mixes))} of the batch" for n in app._notifications)
        await pilot.press("B", "down", "enter")  # resume
        await settle(app, pilot)
        assert set((await _states(everything)).values()) == {"queued"}
        assert {line.entry.state for line in queue.table.rows} == {"queued"}
        await pilot.press("B", "down", "down", "enter")  # cancel
        await settle(app, pilot)
        assert {(await _states(mixes))[i] for i in mixes} == {"cancelled"}
        batch_id = (await QueueEntry.get(id=mixes[0])).batch_id
        assert queue._batches[batch_id].done == len(mixes)  # the summary counts the batch finished
        assert {_shown(queue)[i].entry.downloaded_bytes for i in mixes} == {0}


async def test_batch_key_on_an_entry_queued_alone_says_so(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL, limit=1)
    assert (await QueueEntry.get(id=ids[0])).batch_id is not None  # queue_group names its batch
    await QueueEntry.filter(id=ids[0]).update(batch_id=None)
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open_queue(app, pilot, 1)
        await pilot.press("B")
        await pilot.pause()
        assert not isinstance(app.screen, BatchDialog)
        assert any("in no batch" in n.message for n in app._notifications)
        assert QueueState((await QueueEntry.get(id=ids[0])).state) == QueueState.QUEUED


async def test_names_with_brackets_are_shown_as_written_not_as_markup(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    ids = await queue_group(engine, CLASSICAL, limit=2)
    first = await QueueEntry.get(id=ids[0])
    await AudioFile.filter(id=first.audio_id).update(title="[FLAC] [/] Odd", performer=None)
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        queue = await _open_queue(app, pilot, 2)
        queue.table.go_to_key(ids[0])
        await pilot.press("m", "up")
        await pilot.pause()
        drawn = str(app.query_one("#queue-detail", Label).render())  # as drawn: markup would be read here
        assert f"1 marked · #{ids[0]} [FLAC] [/] Odd · " in drawn
