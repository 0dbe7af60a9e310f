"""The login screen against the simulated Telegram: wrong code, 2FA, wrong password, retry in place."""

from __future__ import annotations

from textual.widgets import Input, Label

from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource
from tad_tui.ui.login import LoginApp


async def _type(pilot, text: str) -> None:
    app = pilot.app
    field = app.query_one("#login-input", Input)
    field.value = text
    await pilot.press("enter")
    await app.workers.wait_for_complete()
    await pilot.pause()


def _error(app) -> str:
    return str(app.query_one("#login-error", Label).render())


async def test_login_screen_walks_phone_code_password_and_reports_errors(demo_catalogue: Catalogue) -> None:
    server = SimulatedTelegram(demo_catalogue, authorized=False, password="open sesame")
    source = TelethonSource(SimulatedClient(server))
    await source.start()
    try:
        app = LoginApp(source.login_flow())
        async with app.run_test(size=(80, 24)) as pilot:
            await _type(pilot, "12")
            assert "not valid" in _error(app)
            await _type(pilot, DEMO_PHONE)
            assert "code" in str(app.query_one("#login-prompt", Label).render())
            await _type(pilot, "00000")
            assert "code is wrong" in _error(app)
            await _type(pilot, DEMO_LOGIN_CODE)
            assert app.query_one("#login-input", Input).password  # the password is not echoed
            assert "the demo hint" in str(app.query_one("#login-hint", Label).render())
            await _type(pilot, "wrong one")
            assert "password is wrong" in _error(app) and "wrong one" not in _error(app)
            await _type(pilot, "open sesame")
        assert app.return_value is True
        assert await source.is_authorized()
    finally:
        await source.stop()


async def test_escape_gives_up(demo_catalogue: Catalogue) -> None:
    source = TelethonSource(SimulatedClient(SimulatedTelegram(demo_catalogue, authorized=False)))
    await source.start()
    try:
        app = LoginApp(source.login_flow())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("escape")
        assert app.return_value is False
    finally:
        await source.stop()


def test_login_screen_snapshot(snap_compare) -> None:
    from tad_tui.telegram.login import LoginFlow

    assert snap_compare(LoginApp(LoginFlow(None)), terminal_size=(80, 24))  # type: ignore[arg-type]
