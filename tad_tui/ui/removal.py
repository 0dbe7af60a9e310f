"""``d`` on tracks (search results, a group's tracks): asked first, naming the file, then taken out
of the library and off the disk by the engine (library/cleanup.py), with one audit line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual.widget import Widget

from tad_tui.engine import Engine
from tad_tui.ui import figures
from tad_tui.ui.dialogs import ConfirmDialog
from tad_tui.ui.messages import QueueChanged
from tad_tui.words import counted

NAMED = 3  # tracks named in the question; more are counted


@dataclass(frozen=True)
class Doomed:
    """A track ``d`` would remove: its id, its name and its file (None: no file on disk)."""

    id: int
    name: str
    path: str | None


def question(tracks: Sequence[Doomed]) -> str:
    """What the dialog asks, naming the file (or the first few tracks)."""
    if len(tracks) == 1:
        track = tracks[0]
        name = figures.clean(track.name)
        if track.path:
            return f"Remove {name} from the library and delete its file?\n{figures.clean(track.path)}"
        return f"Remove {name} from the library? It has no file on disk"
    names = [f"  {figures.clean(t.name)}" for t in tracks[:NAMED]]
    if len(tracks) > NAMED:
        names.append(f"  …and {len(tracks) - NAMED} more")
    return f"Remove {counted(len(tracks), 'track')} from the library and delete their files?\n" + "\n".join(names)


def confirm_removal(
    widget: Widget, engine: Engine, tracks: Sequence[Doomed], removed: Callable[[set[int]], None]
) -> None:
    """Ask, then remove; ``removed`` gets the ids that went (those in the queue are refused, said so)."""
    if not tracks:
        return

    async def remove() -> None:
        done = await engine.remove_tracks([t.id for t in tracks])
        gone = {item.id for item in done if item.refused is None}
        removed(gone)
        refused = [item for item in done if item.refused]
        if gone:
            widget.notify(f"Removed {counted(len(gone), 'track')} from the library", markup=False)
        if refused:
            widget.notify(
                f"{figures.clean(refused[0].name)}: {refused[0].refused}"
                + (f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""),
                severity="warning", markup=False,
            )
        widget.post_message(QueueChanged())

    def chosen(yes: bool | None) -> None:
        if yes:
            widget.run_worker(remove(), group="remove-tracks", exit_on_error=False)

    yes, no = ("Yes, remove it", "No, keep it") if len(tracks) == 1 else ("Yes, remove them", "No, keep them")
    widget.app.push_screen(ConfirmDialog(question(tracks), yes, no), chosen)
