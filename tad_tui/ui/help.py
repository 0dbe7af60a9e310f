"""The help screen: every key of the app and of the pane that had focus, with what it does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


# What Textual reads for Alt+1/2/3/4 (see app.py): bound, but not worth a line of help.
OPTION_DIGIT_KEYS = {"inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign"}


@dataclass(frozen=True)
class KeyHelp:
    keys: str  # every key that does it, e.g. "shift+↑ / K"
    description: str


def key_help(node: DOMNode) -> list[KeyHelp]:
    """One line per action of ``node``'s own bindings (keys for the same action joined)."""
    by_action: dict[tuple[str, str], list[str]] = {}
    for bindings in node._bindings.key_to_bindings.values():
        for binding in bindings:
            if binding.system or not binding.description or binding.key in OPTION_DIGIT_KEYS:
                continue
            if node.check_action(binding.action.partition("(")[0], ()) is False:
                continue  # does nothing where the user is (a track key on the list of groups)
            # The footer shows the short description; the tooltip, where given, says it in full.
            description = sentence_case(binding.tooltip or binding.description)
            keys = by_action.setdefault((binding.action, description), [])
            # Each key by its own name: a footer's short key_display ("⇧↑") would hide K beside shift+up.
            shown = node.app.get_key_display(replace(binding, key_display=None))
            if shown not in keys:
                keys.append(shown)
    return [KeyHelp(" / ".join(keys), description) for (_, description), keys in by_action.items()]


def sentence_case(description: str) -> str:
    """Textual's own bindings say "Page Left", "Focus Next"; ours say "Page left": one style in help.

    Only a description with every word capitalised changes, so "Ask Telegram for …" keeps its name.
    """
    words = description.split(" ")
    if len(words) < 2 or not all(word[:1].isupper() for word in words):
        return description
    return " ".join([words[0], *(word.lower() for word in words[1:])])


def sections_for(focused: DOMNode | None, app: DOMNode) -> list[tuple[str, list[KeyHelp]]]:
    """The focused pane's keys first (outermost container down to the focused widget), then the app's."""
    sections: list[tuple[str, list[KeyHelp]]] = []
    node = focused
    while node is not None and node is not app and not isinstance(node, Screen):
        lines = key_help(node)
        if lines:
            sections.insert(0, (_title(node), lines))
        node = node.parent
    screen = key_help(node) if isinstance(node, Screen) else []  # focus movement: tab, shift+tab
    return [*sections, ("Everywhere", key_help(app) + screen)]


def _title(node: DOMNode) -> str:
    return str(getattr(node, "HELP_TITLE", "") or type(node).__name__)


def render_sections(sections: Iterable[tuple[str, list[KeyHelp]]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    first = True
    for title, lines in sections:
        if not first:
            table.add_row("", "")
        first = False
        table.add_row(f"[u]{title}[/u]", "")
        for line in lines:
            table.add_row(line.keys, line.description)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close help", id="help.close"),
    ]

    def __init__(self, sections: list[tuple[str, list[KeyHelp]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Label("Keys", id="help-title")
            yield Static(render_sections(self.sections), id="help-keys")
            yield Label("↑/↓ scroll · Escape closes", id="help-hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
