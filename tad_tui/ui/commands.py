"""Command palette (ctrl+p): the app's actions by name, so none needs a key to be remembered."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tad_tui.ui.app import TadApp


class TadCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = cast("TadApp", self.app)
        on = app.run_pane_action
        return [
            ("Groups", "Show the groups and their tracks (F1)", partial(app.action_show_pane, "groups")),
            ("Queue", "Show the download queue (F2)", partial(app.action_show_pane, "queue")),
            ("Search", "Search every known track by words and filters (F3, /)", app.action_focus_search),
            ("Performance", "Show CPU, memory and download speed (F4)", partial(app.action_show_pane, "performance")),
            ("Scan group", "Scan the highlighted group for new audio (s)", partial(on, "groups", "scan")),
            ("Save playlist", "Write the Search pane's downloaded results to an .m3u8 playlist",
             partial(on, "search", "save_playlist")),
            ("Download link", "Paste message links (t.me/…) and queue their audio", app.action_download_link),
            ("Reconnect", "Reach Telegram again (after starting offline)", app.go_online),
            ("Refresh groups", "Ask Telegram for the groups again (ctrl+r)", partial(on, "groups", "reload")),
            ("Pause all downloads", "Pause every unfinished entry (p)", partial(on, "queue", "pause_all")),
            ("Resume all downloads", "Resume every paused entry (P)", partial(on, "queue", "resume_all")),
            ("Set download limit", "Total bandwidth limit, e.g. 8MB or 0 (l)", partial(on, "queue", "bandwidth")),
            ("Keys", "Every key of the app and this pane (?)", app.action_help),
            ("Theme", "Choose a colour theme (ctrl+t)", app.action_change_theme),
            ("Quit", "Stop downloads (they resume next time) and quit (ctrl+q)", app.action_quit),
            ("Log out", "End the Telegram session here and on Telegram's side, then quit", app.action_logout),
        ]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(f"{name} {help_text}")
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
