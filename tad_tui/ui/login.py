"""Signing in inside the terminal: phone → code → two-step password, each refusal in words.

The app pushes it over its panes when the session is not authorized yet; the flow itself (and every
Telethon error's wording) lives in ``tad_tui.telegram.login`` and is shared with the CLI.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Static

from tad_tui.api import LoginError, LoginFlow, LoginStep

PROMPTS = {
    LoginStep.PHONE: ("Your phone number, in international form (+44 7700 900123)", False),
    LoginStep.CODE: ("The code Telegram just sent you (in the Telegram app or by SMS)", False),
    LoginStep.PASSWORD: ("Your two-step verification password", True),
}


class LoginScreen(Screen[bool]):
    """Dismissed with True once signed in, False if the user gives up (Escape)."""

    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    #login-prompt { width: 100%; }
    #login-account { width: 100%; color: $text-muted; }
    #login { width: 72; max-width: 100%; height: auto; padding: 1 2; border: round $primary; }
    #login-error { color: $error; width: 100%; height: auto; margin-top: 1; }
    #login-hint { color: $text-muted; width: 100%; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "give_up", "Quit", tooltip="Quit without signing in", id="login.quit"),
    ]

    def __init__(self, flow: LoginFlow) -> None:
        super().__init__()
        self.flow = flow
        self.sub_title = "sign in"

    def compose(self) -> ComposeResult:
        yield Header(icon="♫")
        with Vertical(id="login"):
            yield Static("[b]Sign in to Telegram[/b]")
            account_hint = getattr(self.flow.client, "login_hint", None)
            if account_hint:
                yield Label(account_hint, id="login-account", markup=False)
            yield Label("", id="login-prompt")
            yield Input(id="login-input")
            yield Label("", id="login-hint")
            yield Label("", id="login-error")
        yield Footer()

    def on_mount(self) -> None:
        self._show_step()

    def _show_step(self) -> None:
        prompt, secret = PROMPTS[self.flow.step]
        self.query_one("#login-prompt", Label).update(prompt)
        field = self.query_one("#login-input", Input)
        field.password = secret
        field.value = ""
        field.disabled = False
        field.focus()
        hint = self.flow.password_hint if self.flow.step is LoginStep.PASSWORD else None
        self.query_one("#login-hint", Label).update(f"Hint: {hint}" if hint else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.disabled = True
        self.query_one("#login-error", Label).update("")
        self._submit(event.value)

    @work(exclusive=True, group="login")
    async def _submit(self, value: str) -> None:
        step = self.flow.step
        try:
            if step is LoginStep.PHONE:
                await self.flow.send_code(value)
            elif step is LoginStep.CODE:
                await self.flow.submit_code(value)
            else:
                await self.flow.submit_password(value)
        except LoginError as error:
            self.query_one("#login-error", Label).update(str(error))
            field = self.query_one("#login-input", Input)
            field.disabled = False
            field.focus()
            return
        if self.flow.step is LoginStep.DONE:
            self.dismiss(True)
        else:
            self._show_step()

    def action_give_up(self) -> None:
        self.dismiss(False)
