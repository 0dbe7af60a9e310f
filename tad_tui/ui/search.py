"""The Search pane: words and filters in one box, ranked tracks under it, updated per keystroke.

Each keystroke starts a search in an exclusive worker, so a slower earlier search is cancelled and
never paints over the results of the latest one. Enter on a result queues it, or shows where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Label

from tad_tui.api import EntryFinished, Priority, SearchHit, SearchResult, StatesChanged, status_word
from tad_tui.engine import Engine
from tad_tui.ui import figures
from tad_tui.ui.dialogs import PlaylistDialog
from tad_tui.ui.messages import EngineEvent, QueueChanged
from tad_tui.ui.preview import play, seen_word
from tad_tui.ui.removal import Doomed, confirm_removal
from tad_tui.ui.table import Cell, Column, RowTable
from tad_tui.words import counted, noun

LIMIT = 200  # hits shown; the count above them says how many more match
COLUMNS = (
    Column("Track", 0),
    Column("Group", 18),
    Column("Type", 4),
    Column("Size", 9, "right"),
    Column("Length", 7, "right"),
    Column("Status", 10),
)
EMPTY_TEXT = "Type words and filters, e.g. bethoven format:flac size>10MB"


def hit_cells(hit: SearchHit) -> Sequence[Cell]:
    return (
        figures.clean(hit.name),
        figures.clean(hit.group),
        hit.format or "",
        figures.format_size(hit.file_size),
        figures.duration(hit.duration),
        figures.state(hit.status),
    )


def elapsed_of(result: SearchResult) -> float:
    return result.elapsed_ms


class SearchInput(Input):
    """The query box: Escape or ↓ hands the keys to the results."""

    HELP_TITLE = "Search box"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,down", "to_results", "Results", tooltip="Move to the results", id="search.to_results"),
    ]

    def action_to_results(self) -> None:
        self.screen.query_one("#search-results", RowTable).focus()


class SearchPane(Vertical):
    HELP_TITLE = "Search pane"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "play", "Play", tooltip="Play the downloaded track (the player in config.toml, else the system's), or show its path", id="search.play"),
        Binding("d", "remove", "Remove", tooltip="Remove the track from the library and its file from disk (asks first)", id="search.remove"),
    ]
    RESULT_ACTIONS: ClassVar[set[str]] = {"play", "remove"}  # keys of the results, never of the box

    def __init__(self, engine: Engine, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        # What the time shown says; snapshot tests freeze it, the machine's speed varies.
        self.elapsed: Callable[[SearchResult], float] = elapsed_of
        self.table = RowTable[SearchHit](COLUMNS, hit_cells, lambda hit: hit.id, empty_text=EMPTY_TEXT, id="search-results")
        self.shown_text: str | None = None  # the query whose results are on screen

    def compose(self) -> ComposeResult:
        yield SearchInput(placeholder="Search: words and filters (format:flac size>10MB group:jazz …)", id="search-input")
        hints = Label("", id="search-hints")
        hints.display = False
        yield hints
        yield Label("", id="search-summary")
        yield self.table

    def on_mount(self) -> None:
        self.warm_up()
        self.watch(self.screen, "focused", lambda _: self.refresh_bindings(), init=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.RESULT_ACTIONS:
            return self.screen.focused is self.table  # typed in the box, "d" and "o" are letters
        return True

    @property
    def input(self) -> SearchInput:
        return self.query_one(SearchInput)

    def focus_list(self) -> None:
        self.screen.set_focus(self.input)  # at once: keys typed right after / must land here

    # ---- searching ----------------------------------------------------------------------------

    @work(group="search-warm-up", exit_on_error=False)
    async def warm_up(self) -> None:
        await self.engine.warm_up_search()

    @on(Input.Changed, "#search-input")
    def _typed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    @work(group="search", exclusive=True, exit_on_error=False)
    async def search(self, text: str) -> None:
        if not text.strip():
            self.show(text, None)
            return
        self.show(text, await self.engine.search(text, limit=LIMIT))

    def show(self, text: str, result: SearchResult | None) -> None:
        self.shown_text = text
        hints = self.query_one("#search-hints", Label)
        summary = self.query_one("#search-summary", Label)
        if result is None:
            hints.display = False
            summary.update("")
            self.table.empty_text = EMPTY_TEXT
            self.table.set_rows([], keep_cursor=False)
            return
        hints.update(Content("\n".join(figures.clean(hint) for hint in result.hints)))  # hints quote the query
        hints.display = bool(result.hints)
        count = f"{result.matched}+" if result.more else str(result.matched)
        line = f"{count} {noun(result.matched, 'match')} · {self.elapsed(result):.0f} ms"
        if len(result.hits) < result.matched:
            line += f" · best {len(result.hits)} shown"
        if result.relaxed:
            line += " · no track has every word: these have some"
        summary.update(line)
        self.table.empty_text = "No track matches"
        self.table.set_rows([replace(hit, status=seen_word(hit.status, hit.local_path)) for hit in result.hits], keep_cursor=False)

    # ---- live states --------------------------------------------------------------------------

    def on_engine_event(self, message: EngineEvent) -> None:
        """Results shown keep their status true as downloads go (no search is run again)."""
        event = message.event
        if isinstance(event, StatesChanged):
            for audio_id, state in event.states.items():
                index = self.table.index_of(audio_id)
                if index is not None and self.table.rows[index].status != status_word(state):
                    self.table.update_row(replace(self.table.rows[index], status=status_word(state)))
        elif isinstance(event, EntryFinished) and event.local_path:
            for hit in self.table.rows:  # at most LIMIT rows
                if hit.file_id == event.file_id:
                    self.table.update_row(replace(hit, status="downloaded", local_path=event.local_path))

    # ---- results ------------------------------------------------------------------------------

    def on_row_table_chosen(self, event: RowTable.Chosen) -> None:
        if event.table is not self.table:
            return
        event.stop()
        hit: SearchHit = event.row
        if hit.status == "downloaded":
            where = hit.local_path or "(the file's path is not recorded)"
            self.notify(f"{figures.clean(hit.name)}\n{where}", title="Downloaded", timeout=10, markup=False)
        else:
            self.enqueue(hit)

    def action_play(self) -> None:
        hit = self.table.current
        if hit is not None:
            play(self, self.engine.settings.ui.player, hit.local_path if hit.status in ("downloaded", "missing") else None, hit.name)

    def action_remove(self) -> None:
        hit = self.table.current
        if hit is None:
            return
        path = hit.local_path if hit.status in ("downloaded", "missing") else None

        def removed(ids: set[int]) -> None:
            self.table.set_rows([row for row in self.table.rows if row.id not in ids])

        confirm_removal(self, self.engine, [Doomed(hit.id, hit.name, path)], removed)

    @work(group="search-enqueue", exit_on_error=False)
    async def enqueue(self, hit: SearchHit) -> None:
        if hit.status == "missing":  # noticed here, maybe not yet in the library: marked, then fetched again
            await self.engine.verify_files([hit.id])
        result = await self.engine.enqueue([hit.id], priority=Priority.NORMAL)
        name = figures.clean(hit.name)
        if result.entry_ids:
            self.notify(f"Queued {name} (normal)", markup=False)  # "[@click=…]" in a title is text
        else:
            self.notify(f"{name} is already queued", severity="warning", markup=False)
        fresh = self.table.index_of(hit.id)
        if fresh is not None:
            self.table.update_row(replace(self.table.rows[fresh], status="queued"))
        self.post_message(QueueChanged())

    # ---- saving the results as a playlist -----------------------------------------------------

    def action_save_playlist(self) -> None:
        """Ask for a file, then write the results' downloaded tracks to it (the palette's "Save playlist")."""
        hits = list(self.table.rows)
        if not hits:
            self.notify("Search first: the playlist holds the results' downloaded tracks", severity="warning")
            return
        folder = self.engine.paths.downloads_dir
        suggested = f"{figures.clean(self.shown_text or '').strip() or 'search'}.m3u8".replace("/", "-")

        def chosen(target: Path | None) -> None:
            if target is not None:
                self.save_playlist(target, [hit.id for hit in hits])

        self.app.push_screen(PlaylistDialog(len(hits), folder, suggested), chosen)

    @work(group="search-playlist", exit_on_error=False)
    async def save_playlist(self, target: Path, track_ids: list[int]) -> None:
        try:
            written = await self.engine.write_playlist(target, track_ids)
        except OSError as error:
            self.notify(f"Could not write {target}: {error.strerror or error}", severity="error", markup=False)
            return
        text = f"Saved {counted(written.written, 'track')} to {written.path}"
        if written.missing:
            text += f" ({counted(written.missing, 'downloaded track')} left out: file missing)"
        elif not written.written:
            text += " (none of the results is downloaded)"
        self.notify(text, title="Playlist", timeout=10, markup=False)
