"""The app's "Save playlist" command: the Search pane's downloaded results into an .m3u8 file named in
a dialog; a path that cannot be used is said under the field."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Label

from tad_tui.engine import Engine
from tad_tui.store.models import AudioFile
from tad_tui.ui.dialogs import PlaylistDialog
from tad_tui.ui.search import SearchPane
from test_ui import CLASSICAL, held, make_app, settle  # noqa: F401  (held: the fixture)
from test_ui_panes import _palette_names, _run_from_palette, quick
from test_ui_support import Gate, queue_group, until


async def test_save_playlist_from_the_palette_writes_the_downloaded_results(held: tuple[Engine, Gate]) -> None:
    engine, gate = held
    await queue_group(engine, CLASSICAL, limit=2)
    gate.open()
    await engine.scheduler.run(until_idle=True)
    downloaded = await AudioFile.filter(local_path__not_isnull=True).order_by("message_id")
    assert len(downloaded) == 2
    app = quick(make_app(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(SearchPane)
        await pilot.press("f3", *"beethoven")
        await until(lambda: pane.shown_text == "beethoven" and len(pane.table.rows) > 2, pilot.pause)
        assert "Save playlist" in await _palette_names(app, pilot)
        await _run_from_palette(app, pilot, "Save playlist")
        await until(lambda: isinstance(app.screen, PlaylistDialog), pilot.pause)
        field = app.screen.query_one(Input)
        assert field.value == "beethoven.m3u8"  # named after the search, in the download folder
        field.value = "no-such-folder/x.m3u8"
        await pilot.press("enter")
        await pilot.pause()
        error = str(app.screen.query_one("#playlist-error", Label).render())
        assert error.startswith("the folder ") and error.endswith("no-such-folder does not exist")
        field.value = "beethoven.m3u8"
        await pilot.press("enter")
        await until(lambda: not isinstance(app.screen, PlaylistDialog), pilot.pause)
        target = engine.paths.downloads_dir / "beethoven.m3u8"
        await until(lambda: any(n.title == "Playlist" for n in app._notifications), pilot.pause)
        await settle(app, pilot)
        toast = next(n for n in app._notifications if n.title == "Playlist")
        beethoven = [row for row in downloaded if "Beethoven" in (row.performer or "")]
        assert beethoven
        assert toast.message == f"Saved {len(beethoven)} track{'s' * (len(beethoven) != 1)} to {target}"
        lines = target.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "#EXTM3U"
        assert [target.parent / line for line in lines[2::2]] == [Path(row.local_path) for row in beethoven]
