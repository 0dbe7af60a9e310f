"""Without Telegram credentials the app explains how to get them and offers the demo."""

from __future__ import annotations

from tad_tui.ui.welcome import WelcomeApp


async def test_welcome_explains_credentials_and_opens_the_demo() -> None:
    app = WelcomeApp("/home/me/.config/tad-tui/config.toml")
    async with app.run_test(size=(80, 24)) as pilot:
        text = str(app.query_one("#welcome Static").render())
        assert "my.telegram.org" in text and "API_ID" in text and "/home/me/.config/tad-tui/config.toml" in text
        await pilot.press("d")
    assert app.return_value is True


async def test_welcome_quits_without_the_demo() -> None:
    app = WelcomeApp("config.toml")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
    assert app.return_value is False


def test_welcome_screen_snapshot(snap_compare) -> None:
    assert snap_compare(WelcomeApp("~/.config/tad-tui/config.toml"), terminal_size=(80, 24))
