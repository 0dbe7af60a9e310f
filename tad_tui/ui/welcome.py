"""The first screen without Telegram credentials: how to get them, or open the demo right away."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Footer, Static

EXPLANATION = """\
[b]tad-tui needs your Telegram API credentials[/b]

1. Sign in at [b]https://my.telegram.org[/b] and open [b]API development tools[/b].
2. Create an application (any name); copy its [b]api_id[/b] and [b]api_hash[/b].
3. Either export them before starting tad-tui:

     export API_ID=1234567
     export API_HASH=0123456789abcdef0123456789abcdef

   or put them in {config} under [b]\\[telegram][/b]:

     api_id = 1234567
     api_hash = "0123456789abcdef0123456789abcdef"

Then run [b]tad-tui[/b] again.

Meanwhile, the demo runs on a simulated Telegram with a generated library: no account, no network.
"""


class WelcomeApp(App[bool]):
    """Returns True when the user chooses the demo, False when they quit."""

    TITLE = "tad-tui"
    CSS = """
    Screen { align: center middle; }
    #welcome { width: 84; max-width: 100%; height: auto; padding: 1 2; border: round $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d,enter", "demo", "Open the demo", id="welcome.demo"),
        Binding("q,escape,ctrl+q", "quit_welcome", "Quit", id="welcome.quit"),
    ]

    def __init__(self, config_file: str) -> None:
        super().__init__()
        self._config_file = config_file

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome"):
            yield Static(EXPLANATION.format(config=self._config_file))
        yield Footer()

    def action_demo(self) -> None:
        self.exit(True)

    def action_quit_welcome(self) -> None:
        self.exit(False)
