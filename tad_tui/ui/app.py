"""The full-screen app: panes in tabs over one already-open Engine.

The entry point opens the engine (lock, store) and closes it after ``run_tui`` returns: Tortoise
keeps its context per asyncio task, so it must be set up by the task that runs the app. Telegram is
reached after the first frame (``go_online``): the library, queue and search never wait for it, and
an account that is not signed in yet gets the login screen over the panes. Once online, the followed
groups are followed (``follow_groups``) until the app quits: their new audio is queued as it is
posted; a failure there is said in a toast, and the rest of the app works on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from telethon.errors import RPCError
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual import work
from textual.worker import Worker, WorkerCancelled, WorkerState

from tad_tui.api import MessageLink, Notice, SourceError
from tad_tui.engine import Engine
from tad_tui.paths import default_config_file, user_themes_dir
from tad_tui.ui.bridge import EngineBridge
from tad_tui.ui.commands import TadCommands
from tad_tui.ui.dialogs import LinkDialog
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.help import HelpScreen, sections_for
from tad_tui.ui.login import LoginScreen
from tad_tui.ui.messages import EngineEvent, QueueChanged
from tad_tui.ui.performance import PerformancePane
from tad_tui.ui.queue import QueuePane
from tad_tui.ui.search import SearchPane
from tad_tui.words import counted
from tad_tui.ui.themes import ThemeFileError, load_themes, save_theme_choice, shipped_themes_dir

log = logging.getLogger(__name__)

PANES = ("groups", "queue", "search", "performance")
UI_DIR = Path(__file__).parent
PROGRESS_HZ = 4
OWN_COMMANDS = {"Keys", "Theme", "Quit"}  # Textual's palette commands the app replaces


def utc_now() -> datetime:
    return datetime.now(UTC)


class TadApp(App[None]):
    TITLE = "tad-tui"
    # Absolute: Textual resolves relative paths against the module of the (sub)class in use.
    CSS_PATH: ClassVar[list[str | Path]] = [
        UI_DIR / f"{pane}.tcss" for pane in ("app", "groups", "queue", "search", "performance", "dialogs", "help")
    ]
    COMMANDS = App.COMMANDS | {TadCommands}
    # Textual 8.2.8 reads ESC+digit (Alt+digit in most terminals, and over SSH) as the character
    # macOS types for Option+digit (¡ ™ £ ¢), so those names are bound beside alt+digit.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,alt+1,inverted_exclamation_mark", "show_pane('groups')", "Groups", tooltip="Show the groups pane", id="app.groups"),
        Binding("f2,alt+2,trade_mark_sign", "show_pane('queue')", "Queue", tooltip="Show the download queue", id="app.queue"),
        Binding("f3,alt+3,pound_sign", "show_pane('search')", "Search", tooltip="Show the search pane", id="app.search"),
        Binding("slash", "focus_search", "Search", show=False, tooltip="Type a search (from any pane)", id="app.focus_search"),
        Binding(
            "f4,alt+4,cent_sign", "show_pane('performance')", "Perf", tooltip="Show the performance figures", id="app.performance"
        ),
        Binding("question_mark", "help", "Keys", tooltip="This list of keys", id="app.help"),
        Binding("ctrl+t", "change_theme", "Theme", show=False, tooltip="Choose a colour theme (saved)", id="app.theme"),
        Binding(
            "ctrl+q", "quit", "Quit", priority=True, tooltip="Quit; downloads resume next time", id="app.quit"
        ),
    ]

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this platform; on Linux and macOS one that ends the app when its
        terminal goes away (see ``driver``). Another one set from the environment (``tad-tui serve``
        runs the app under Textual's web driver) is kept."""
        chosen = super().get_driver_class()
        if chosen.__name__ == "LinuxDriver":
            from tad_tui.ui.driver import TerminalDriver

            return TerminalDriver
        return chosen

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = utc_now,
        theme_dirs: Sequence[Path] | None = None,
        config_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.clock = clock
        self.config_file = config_file or engine.settings.config_file or default_config_file()
        self.bridge = EngineBridge(engine.events)
        self._theme_problems = self._register_themes(
            [shipped_themes_dir(), user_themes_dir()] if theme_dirs is None else theme_dirs
        )
        self._downloads: Worker[None] | None = None
        self._following: Worker[None] | None = None
        self._saved_theme = self._initial_theme(engine.settings.ui.theme)

    # ---- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="♫")
        with TabbedContent(initial="groups"):
            with TabPane("Groups F1", id="groups"):
                yield GroupsPane(self.engine, self.clock, id="groups-pane")
            with TabPane("Queue F2", id="queue"):
                yield QueuePane(self.engine, config_file=self.config_file, id="queue-pane")
            with TabPane("Search F3", id="search"):
                yield SearchPane(self.engine, id="search-pane")
            with TabPane("Performance F4", id="performance"):
                yield PerformancePane(self.engine, self.bridge.names, id="performance-pane")
        # The demo catalogue's first render, while it lasts (the app opens before it is done).
        yield Static(id="catalogue-progress", markup=False)
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.theme = self._saved_theme
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        for problem in self._theme_problems:
            self.notify(problem, title="Theme skipped", severity="warning", timeout=10)
        for warning in self.engine.startup_warnings:  # e.g. a session file others could read, now private
            self.notify(warning, title="Warning", severity="warning", timeout=20)
        self.bridge.targets = [self, self.query_one(QueuePane), self.query_one(GroupsPane), self.query_one(SearchPane)]
        self.bridge.start()
        self.set_interval(1 / PROGRESS_HZ, self.bridge.flush)
        self._notifier = self.engine.start_notifier(self._toast)
        self.query_one(GroupsPane).focus_list()
        if self.engine.catalogue_progress() is not None:
            self._catalogue_timer = self.set_interval(1 / PROGRESS_HZ, self._show_catalogue_progress)
            self._show_catalogue_progress()
        self.go_online()

    def _show_catalogue_progress(self) -> None:
        """The demo catalogue's render on the line above the footer; gone when it is done."""
        line = self.query_one("#catalogue-progress", Static)
        progress = self.engine.catalogue_progress()
        if progress is None or progress.complete:
            line.display = False
            self._catalogue_timer.stop()
            return
        # Groups and small files first: a scan or a download of a file still to come waits for it.
        line.update(f"Rendering the demo catalogue {progress.line(16)} — quick files first, the app works meanwhile")
        line.display = True

    def _toast(self, title: str, message: str) -> None:
        """Where no desktop can notify (SSH, headless): a toast and the terminal bell."""
        self.notify(message, title=title, timeout=8, markup=False)  # batch names come from Telegram
        self.bell()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's own palette commands, less the ones the app has its own of (Keys, Theme, Quit):
        Textual's Quit would skip saving the downloads, its Keys opens a different panel."""
        for command in super().get_system_commands(screen):
            if command.title not in OWN_COMMANDS:
                yield command

    def pane(self, name: str) -> GroupsPane | QueuePane | SearchPane | PerformancePane:
        kinds = {"groups": GroupsPane, "queue": QueuePane, "search": SearchPane, "performance": PerformancePane}
        return self.query_one(f"#{name}-pane", kinds[name])

    # ---- engine -------------------------------------------------------------------------------

    @work(group="online", exclusive=True, exit_on_error=False, name="connecting to Telegram")
    async def go_online(self) -> None:
        """Connect, sign in if needed, then ask Telegram for the groups and start the downloads."""
        self.engine.start_monitor()
        self.sub_title = "connecting to Telegram…"
        try:
            await self.engine.connect()
            authorized = await self.engine.is_authorized()
        except (SourceError, ConnectionError, OSError, RPCError) as error:
            self.sub_title = "offline"
            self.notify(
                f"Cannot reach Telegram: {error}. The library, queue and search work offline; "
                "Reconnect is in the command palette (ctrl+p).",
                severity="error",
                timeout=15,
            )
            return
        if not authorized:
            if not await self.push_screen_wait(LoginScreen(self.engine.login_flow())):
                self.exit()
                return
        self.sub_title = ""
        self.query_one(GroupsPane).load_groups(refresh=True)
        if self._downloads is None:
            self._downloads = self.run_downloads()
        if self._following is None:
            self._following = self.run_worker(
                self._follow_groups, group="following", exit_on_error=False, name="following groups"
            )

    def run_downloads(self) -> Worker[None]:
        return self.run_worker(self._downloads_forever, group="downloads", exit_on_error=False, name="downloads")

    async def _downloads_forever(self) -> None:
        await self.engine.start_downloads()
        await self.engine.run_downloads(until_idle=False)

    async def _follow_groups(self) -> None:
        """Listen for the followed groups' new posts and catch up on what was posted meanwhile, then
        stay connected (reconnecting with a growing delay) until cancelled."""
        try:
            follower = await self.engine.start_following()
        except (SourceError, ConnectionError, OSError, RPCError) as error:
            log.warning("following groups failed: %s", error)
            self.notify(
                f"Followed groups are not followed this session: {error}. Restarting the app tries again.",
                title="Following",
                severity="warning",
                timeout=15,
                markup=False,
            )
            return
        await follower.stay_connected()  # a catch-up's problems arrive as Notices (on_engine_event)

    async def stop_downloads(self) -> None:
        """Cancel the scheduler's worker and wait: transfers save their state and resume next time.
        Following stops too (the engine closes the follower)."""
        for worker in (self._following, self._downloads):
            if worker is not None and not worker.is_finished:
                worker.cancel()
                try:
                    await worker.wait()
                except WorkerCancelled:
                    pass  # what we asked for: the scheduler saved its transfers on the way out
        self._downloads = self._following = None
        self.bridge.stop()

    def on_engine_event(self, message: EngineEvent) -> None:
        if isinstance(message.event, Notice):
            notice = message.event
            severity = "warning" if notice.warning else "information"
            self.notify(notice.text, title=notice.title, severity=severity, timeout=10 if notice.warning else 8, markup=False)

    def on_queue_changed(self, message: QueueChanged) -> None:
        self.query_one(QueuePane).reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Any background work that fails is told in words; the app keeps running."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("%s failed", event.worker.name, exc_info=error)
            self.notify(f"{event.worker.name or 'background work'} failed: {error}", severity="error", timeout=10)

    # ---- actions ------------------------------------------------------------------------------

    def action_show_pane(self, name: str) -> None:
        self.query_one(TabbedContent).active = name
        self.pane(name).focus_list()

    def action_focus_search(self) -> None:
        self.action_show_pane("search")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id in PANES:
            self.pane(str(event.pane.id)).focus_list()

    async def run_pane_action(self, name: str, action: str) -> None:
        self.action_show_pane(name)
        await self.run_action(action, self.pane(name))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(sections_for(self.focused, self)))

    async def action_quit(self) -> None:
        await self.stop_downloads()
        self.exit()

    def action_download_link(self) -> None:
        """Ask for message links, then queue their audio (each link's failure a toast)."""

        def chosen(links: list[MessageLink] | None) -> None:
            if links:
                self.download_links(links)

        self.push_screen(LinkDialog(), chosen)

    @work(group="links", exit_on_error=False, name="downloading links")
    async def download_links(self, links: list[MessageLink]) -> None:
        wanted: dict[int, None] = {}
        here = 0
        for link in links:
            try:
                linked = await self.engine.select_linked(link)
            except (ConnectionError, OSError, RPCError) as error:
                self.notify(f"{link.text}: cannot reach Telegram: {error}", title="Download link",
                            severity="error", timeout=10, markup=False)
                continue
            if linked.error is not None:
                self.notify(f"{link.text}: {linked.error}", title="Download link", severity="error", timeout=10,
                            markup=False)
                continue
            wanted.update(dict.fromkeys(track.id for track in linked.to_fetch))
            here += len(linked.already_downloaded)
        if not wanted:
            if here:
                self.notify(f"Already downloaded: {counted(here, 'file')}", title="Download link", markup=False)
            return
        batch = links[0].describe() if len(links) == 1 else counted(len(links), "link")
        result = await self.engine.enqueue(list(wanted), batch_name=batch)
        parts = [f"Queued {counted(len(result.entry_ids), 'file')} from {batch}"]
        if result.already_queued:
            parts.append(f"{result.already_queued} were already queued")
        if here:
            parts.append(f"{here} already downloaded")
        self.notify("; ".join(parts), title="Download link", markup=False)
        self.post_message(QueueChanged())
        self.query_one(GroupsPane).load_groups(refresh=False)  # the linked groups' audio counts grew

    async def action_logout(self) -> None:
        """End the Telegram session (here and on Telegram's side) and quit; next start signs in again."""
        await self.stop_downloads()
        try:
            await self.engine.log_out()
        except (ConnectionError, OSError, RPCError) as error:
            self.notify(f"Logging out failed: {error}", severity="error", timeout=10)
            return
        self.exit()

    # ---- themes -------------------------------------------------------------------------------

    def _register_themes(self, folders: Sequence[Path]) -> list[str]:
        loaded = load_themes(folders)
        for theme in loaded.themes:
            self.register_theme(theme)
        return loaded.problems

    def _initial_theme(self, wanted: str) -> str:
        if wanted in self.available_themes:
            return wanted
        self._theme_problems.append(f"theme {wanted!r} (config [ui] theme) is not installed; using textual-dark")
        return "textual-dark"

    def _remember_theme(self, theme: Theme) -> None:
        if theme.name == self._saved_theme:
            return
        try:
            save_theme_choice(self.config_file, theme.name)
        except ThemeFileError as error:
            self.notify(str(error), severity="error", timeout=10)
            return
        self._saved_theme = theme.name


async def run_tui(engine: Engine) -> None:
    """Run the app until the user quits, SIGTERM asks it to (``docker stop``: the app is then
    process 1, which SIGTERM would not stop at all) or the terminal hangs up (SIGHUP, or a write
    to it fails: ``driver``); the caller closes the engine afterwards."""
    app = TadApp(engine)
    loop = asyncio.get_running_loop()
    # SIGHUP: the terminal hung up (an SSH link dropped): close as on ctrl+q, downloads resumable.
    stops = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    for stop in stops:
        try:
            loop.add_signal_handler(stop, app.exit)
        except (NotImplementedError, RuntimeError):  # not on this platform
            pass
    try:
        await app.run_async()
    finally:
        for stop in stops:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(stop)
