"""Small modal questions: a priority, a bandwidth limit, what to do to a batch, a follow's match, message
links to download, where to save a playlist, a yes or no. Escape always cancels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tad_tui.api import FollowError, LinkError, MessageLink, Priority, parse_links
from tad_tui.config import MIN_BANDWIDTH
from tad_tui.sizes import format_size, parse_size

CANCEL = Binding("escape", "cancel", "Cancel", id="dialog.cancel")


class PriorityDialog(ModalScreen[Priority | None]):
    """Pick a queue priority; starts on ``current``."""

    BINDINGS: ClassVar[list[BindingType]] = [CANCEL]

    def __init__(self, title: str, current: Priority = Priority.NORMAL) -> None:
        super().__init__()
        self._title = title
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            options = [Option(p.name.lower(), id=p.name) for p in sorted(Priority, reverse=True)]
            yield OptionList(*options, id="priorities")
            yield Label("Enter to choose, Escape to cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.highlighted = sorted(Priority, reverse=True).index(self._current)
        choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(Priority[str(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)


# What the batch dialog offers: scheduler.on_batch's action, and what it does in words.
BATCH_ACTIONS = (
    ("pause", "Pause its unfinished entries"),
    ("resume", "Resume its paused entries"),
    ("cancel", "Cancel it (partial files are removed)"),
    ("retry", "Retry its failed and cancelled entries"),
)


class BatchDialog(ModalScreen[str | None]):
    """Pick what to do to every entry of a batch; returns the action's name."""

    BINDINGS: ClassVar[list[BindingType]] = [CANCEL]

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield OptionList(*(Option(text, id=action) for action, text in BATCH_ACTIONS), id="batch-actions")
            yield Label("Enter to choose, Escape to cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(str(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_bandwidth(text: str) -> int:
    """Bytes per second from "8MB", "512KiB" or "0" (no limit); ValueError says what is wrong."""
    if not text.strip():
        raise ValueError("type a limit such as 8MB or 512KiB, or 0 for no limit")
    value = parse_size(text)
    if 0 < value < MIN_BANDWIDTH:
        raise ValueError(f"{format_size(value)}/s is too low: use 0 (no limit) or at least {format_size(MIN_BANDWIDTH)}/s")
    return value


@dataclass(frozen=True)
class BandwidthChoice:
    limit: int  # bytes per second, 0 = none
    save: bool  # also in config.toml, not for this session only


# The second question of the bandwidth dialog: how long the limit holds.
KEEP_CHOICES = (("session", "For this session only"), ("save", "Save it to config.toml (kept next time)"))


class BandwidthDialog(ModalScreen[BandwidthChoice | None]):
    """Ask for the total download limit, then whether to keep it past this session.

    Errors are shown under the field in words.
    """

    BINDINGS: ClassVar[list[BindingType]] = [CANCEL]

    def __init__(self, current: int) -> None:
        super().__init__()
        self._current = current
        self._limit: int | None = None

    def compose(self) -> ComposeResult:
        now = f"now {format_size(self._current)}/s" if self._current else "now no limit"
        with Vertical(classes="dialog"):
            yield Label(f"Total download limit ({now})", classes="dialog-title")
            yield Input(placeholder="e.g. 8MB, 512KiB; 0 = no limit", id="bandwidth")
            yield OptionList(*(Option(text, id=key) for key, text in KEEP_CHOICES), id="bandwidth-keep")
            yield Label("", id="bandwidth-error", classes="dialog-error")
            yield Label("Enter to set, Escape to cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).display = False
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            self._limit = parse_bandwidth(event.value)
        except ValueError as error:
            self.query_one("#bandwidth-error", Label).update(str(error))
            return
        self.query_one("#bandwidth-error", Label).update("")
        shown = f"{format_size(self._limit)}/s" if self._limit else "No limit"
        self.query_one(".dialog-title", Label).update(f"{shown}: keep it how long?")
        event.input.display = False
        keep = self.query_one(OptionList)
        keep.display = True
        keep.highlighted = 0
        keep.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self._limit is not None:
            self.dismiss(BandwidthChoice(self._limit, event.option.id == "save"))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; Escape (or "No") is no."""

    BINDINGS: ClassVar[list[BindingType]] = [CANCEL]

    def __init__(self, question: str, yes: str, no: str = "No, leave them") -> None:
        super().__init__()
        self._question = question
        self._yes = yes
        self._no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(self._question), classes="dialog-title")  # a track's name is text, never markup
            yield OptionList(Option(self._yes, id="yes"), Option(self._no, id="no"), id="confirm-choices")
            yield Label("Enter to choose, Escape to cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id == "yes")

    def action_cancel(self) -> None:
        self.dismiss(False)


@dataclass(frozen=True)
class FollowChoice:
    match: str | None  # only new audio this search matches; None: every new file


FOLLOW_EXAMPLE = 'e.g. format:flac performer:"Bill Evans"'


class FollowDialog(ModalScreen[FollowChoice | None]):
    """Ask for a follow's optional match; ``check`` (``api.check_match``) refuses what the search
    language cannot read, under the field, before anything is saved."""

    BINDINGS: ClassVar[list[BindingType]] = [CANCEL]

    def __init__(self, group_title: str, check: Callable[[str | None], str | None]) -> None:
        super().__init__()
        self._group_title = group_title
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Follow {self._group_title}", classes="dialog-title", markup=False)
            yield Label("Only new audio matching (optional):", classes="dialog-text")
            yield Input(placeholder=FOLLOW_EXAMPLE, id="follow-match")
            yield Label("", id="follow-error", classes="dialog-error", markup=False)
            yield Label("Enter follows (empty: every new file), Escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            match = self._check(event.value)
        except FollowError as error:
            # The user's words quoted back: text, not markup.
            self.query_one("#follow-error", Label).update(Content(str(error).removeprefix("--match ")))
            return
        self.dismiss(FollowChoice(match))

    def action_cancel(self) -> None:
        self.dismiss(None)


LINK_EXAMPLE = "https://t.me/USERNAME/123  https://t.me/c/1234567/89  https://t.me/USERNAME/100-250"


class LinksInput(Input):
    """An input that keeps every line of a paste (links one a line become links a space apart)."""

    def on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # Input's own paste keeps the first line only
        event.stop()
        if event.text:
            text = " ".join(event.text.split())
            start, end = self.selection
            self.replace(text, start, end)


class LinkDialog(ModalScreen[list[MessageLink] | None]):
    """Ask for message links (several, a space or a line apart); a link that cannot be read is said
    under the field and nothing is queued."""

    BINDINGS: ClassVar[list[BindingType]] = [CANCEL]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Download link", classes="dialog-title")
            yield Label("Paste message links (t.me/…, tg://…; several a space apart):", classes="dialog-text")
            yield LinksInput(placeholder=LINK_EXAMPLE, id="links")
            yield Label("", id="links-error", classes="dialog-error", markup=False)
            yield Label("Enter queues their audio, Escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(LinksInput).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = self.query_one("#links-error", Label)
        try:
            links = parse_links([event.value])
        except LinkError as problem:
            error.update(Content(str(problem)))  # the user's text quoted back: text, not markup
            return
        if not links:
            error.update("Paste a message link first")
            return
        self.dismiss(links)

    def action_cancel(self) -> None:
        self.dismiss(None)


def playlist_target(text: str, folder: Path) -> Path:
    """The file a typed path names (relative to ``folder``, "~" expanded); ValueError says what is wrong."""
    if not text.strip():
        raise ValueError("type the playlist's file name, e.g. jazz.m3u8")
    path = folder / Path(text.strip()).expanduser()
    if path.is_dir():
        raise ValueError(f"{path} is a folder: name the file to write")
    if not path.parent.is_dir():
        raise ValueError(f"the folder {path.parent} does not exist")
    return path


class PlaylistDialog(ModalScreen[Path | None]):
    """Ask where to save a playlist: a path, relative to ``folder`` (the download folder), starting
    on ``suggested``; a path that cannot be used is said under the field."""

    BINDINGS: ClassVar[list[BindingType]] = [CANCEL]

    def __init__(self, tracks: int, folder: Path, suggested: str) -> None:
        super().__init__()
        self._tracks = tracks
        self._folder = folder
        self._suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Save playlist", classes="dialog-title")
            yield Label(
                Content(f"The downloaded tracks of {self._tracks} results, as .m3u8 (relative to {self._folder}):"),
                classes="dialog-text",
            )
            yield Input(value=self._suggested, id="playlist-path")
            yield Label("", id="playlist-error", classes="dialog-error", markup=False)
            yield Label("Enter saves (an existing file is replaced), Escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            target = playlist_target(event.value, self._folder)
        except ValueError as problem:
            self.query_one("#playlist-error", Label).update(Content(str(problem)))  # quotes the path: text
            return
        self.dismiss(target)

    def action_cancel(self) -> None:
        self.dismiss(None)
