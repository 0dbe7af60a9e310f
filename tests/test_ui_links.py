"""The app's "Download link" command: links pasted into a prompt from the palette are queued, a link
that gives nothing is a toast, a link that cannot be read is said under the field."""

from __future__ import annotations

from textual import events
from textual.widgets import Label

from tad_tui.engine import Engine
from tad_tui.store.models import AudioFile, QueueEntry
from tad_tui.telegram.sim.catalogue.content import PRIVATE_DELETED, PRIVATE_GROUP_ID
from tad_tui.ui.dialogs import LinkDialog, LinksInput
from tad_tui.ui.groups import GroupsPane
from test_ui import held, make_app, queue_ids, settle  # noqa: F401  (held: the fixture)
from test_ui_panes import _palette_names, _run_from_palette, quick
from test_ui_support import DEMO_GROUPS, Gate, until


def _toasts(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


async def _open_prompt(app, pilot) -> LinksInput:
    names = await _palette_names(app, pilot)
    assert "Download link" in names
    await _run_from_palette(app, pilot, "Download link")
    await until(lambda: isinstance(app.screen, LinkDialog), pilot.pause)
    return app.screen.query_one(LinksInput)


async def test_download_link_from_the_palette_queues_the_linked_audio(held: tuple[Engine, Gate]) -> None:
    engine, _ = held  # downloads held: what is queued stays queued
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: len(app.query_one(GroupsPane)._groups.rows) == DEMO_GROUPS, pilot.pause)
        field = await _open_prompt(app, pilot)
        # A paste of several lines keeps them all (Textual's Input keeps only the first).
        pasted = (
            "https://t.me/tad_demo_mixes/3\n"
            f"https://t.me/c/{PRIVATE_GROUP_ID}/2\n"
            "https://t.me/tad_demo_classical/1\n"  # a text post: no audio
            f"tg://privatepost?channel={PRIVATE_GROUP_ID}&post={PRIVATE_DELETED[0]}"  # deleted
        )
        field.post_message(events.Paste(pasted))
        await until(lambda: field.value.count("t.me/") == 3, pilot.pause)
        await pilot.press("enter")
        await until(lambda: not isinstance(app.screen, LinkDialog), pilot.pause)
        await settle(app, pilot)
        await until(lambda: any(t.startswith("Queued 2 files from 4 links") for t in _toasts(app)), pilot.pause)
        toasts = _toasts(app)
        assert any(t.startswith("https://t.me/tad_demo_classical/1: message 1 of @tad_demo_classical") and
                   t.endswith("holds no audio") for t in toasts), toasts
        assert any("was deleted" in t for t in toasts), toasts
        queued = await QueueEntry.all().prefetch_related("audio")
        assert sorted(entry.audio.file_id for entry in queued) == sorted(
            ["-1001000000003_3", f"-100{PRIVATE_GROUP_ID}_2"]
        )
        await until(lambda: len(queue_ids(app)) == 2, pilot.pause)  # the Queue pane shows them
        # The same link again: already queued, said so; nothing queued twice.
        field = await _open_prompt(app, pilot)
        await pilot.press(*"https://t.me/tad_demo_mixes/3", "enter")
        await until(lambda: any("1 were already queued" in t for t in _toasts(app)), pilot.pause)
        assert await QueueEntry.all().count() == 2


async def test_a_link_that_cannot_be_read_is_said_under_the_field(held: tuple[Engine, Gate]) -> None:
    engine, _ = held
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: len(app.query_one(GroupsPane)._groups.rows) == DEMO_GROUPS, pilot.pause)
        await _open_prompt(app, pilot)
        await pilot.press(*"https://t.me/tad_demo_mixes/three", "enter")
        await pilot.pause()
        assert isinstance(app.screen, LinkDialog)  # still open, the error under the field
        error = str(app.screen.query_one("#links-error", Label).render())
        assert "'three' is not a message number" in error
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LinkDialog)
        await settle(app, pilot)
        assert await QueueEntry.all().count() == 0 and await AudioFile.all().count() == 0
