"""The login screen against the simulated Telegram: wrong code, 2FA, wrong password, retry in place.

The app paints its panes first and connects after; an account that is not signed in gets the login
screen over them, and the groups and downloads start once it is dismissed.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import Input, Label

from tad_tui.store import opened_store
from tad_tui.telegram.login import LoginFlow
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource
from tad_tui.ui.app import TadApp
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.login import LoginScreen
from test_ui_support import DEMO_GROUPS, held_engine, until


async def _type(pilot, text: str) -> None:
    screen = pilot.app.screen
    field = screen.query_one("#login-input", Input)
    field.value = text
    await pilot.press("enter")
    await until(lambda: not field.disabled or pilot.app.screen is not screen, pilot.pause)
    await pilot.pause()


def _text(app: App, selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


async def test_the_app_signs_in_phone_code_password_reporting_errors_then_opens(
    tmp_path: Path, demo_catalogue: Catalogue
) -> None:
    server = SimulatedTelegram(demo_catalogue, authorized=False, password="open sesame")
    source = TelethonSource(SimulatedClient(server))  # not connected: the app connects after its first frame
    engine, gate = held_engine(tmp_path, source)
    async with opened_store(engine.paths.db):
        app = TadApp(engine)
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await until(lambda: isinstance(app.screen, LoginScreen), pilot.pause)
                assert engine.online and not await source.is_authorized()
                assert DEMO_PHONE in _text(app, "#login-account")  # the simulated account is told
                await _type(pilot, "12")
                assert "not valid" in _text(app, "#login-error")
                await _type(pilot, DEMO_PHONE)
                assert "code" in _text(app, "#login-prompt")
                await _type(pilot, "00000")
                assert "code is wrong" in _text(app, "#login-error")
                await _type(pilot, DEMO_LOGIN_CODE)
                assert app.screen.query_one("#login-input", Input).password  # the password is not echoed
                assert "the demo hint" in _text(app, "#login-hint")
                await _type(pilot, "wrong one")
                assert "password is wrong" in _text(app, "#login-error")
                assert "wrong one" not in _text(app, "#login-error")
                await _type(pilot, "open sesame")
                assert not isinstance(app.screen, LoginScreen)
                assert await source.is_authorized()
                groups = app.query_one(GroupsPane)
                await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)  # asked Telegram once signed in
                await until(lambda: app._downloads is not None, pilot.pause)
                await app.action_quit()
        finally:
            await engine.stop_downloads()
            await source.stop()


async def test_escape_on_the_login_screen_quits_the_app(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    source = TelethonSource(SimulatedClient(SimulatedTelegram(demo_catalogue, authorized=False)))
    engine, _ = held_engine(tmp_path, source)
    async with opened_store(engine.paths.db):
        app = TadApp(engine)
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await until(lambda: isinstance(app.screen, LoginScreen), pilot.pause)
                await pilot.press("escape")
                await until(lambda: app._exit, pilot.pause)
            assert app._downloads is None  # nothing started for an account that never signed in
        finally:
            await source.stop()


class _LoginHost(App[None]):
    TITLE = "tad-tui"

    def on_mount(self) -> None:
        self.push_screen(LoginScreen(LoginFlow(None)))  # type: ignore[arg-type]


def test_login_screen_snapshot(snap_compare) -> None:
    assert snap_compare(_LoginHost(), terminal_size=(80, 24))
