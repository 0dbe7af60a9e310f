"""``tad-tui login`` and ``tad-tui logout``: the TUI's sign-in flow in a plain terminal.

``login`` asks for the phone number, the code Telegram sends and, when the account has two-step
verification, its password (not echoed), through the same ``LoginFlow`` as the TUI's login screen,
so every refusal reads the same. A wrong phone number, code or password is told in words and asked
again in place, up to ``TRIES`` times; an expired code gets a new one sent. Ctrl+C exits with 130,
the end of input with 1, never a traceback. ``logout`` ends the session on Telegram's side and
deletes the session file.
"""

from __future__ import annotations

import argparse
import getpass
import signal
import sys
import warnings
from collections.abc import Callable
from typing import Any

from telethon import errors

from tad_tui.api import LoginError, LoginFlow, LoginStep

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
TRIES = 3

PROMPTS = {
    LoginStep.PHONE: "Phone number, in international form (+44 7700 900123): ",
    LoginStep.CODE: "The code Telegram just sent you (in the Telegram app or by SMS): ",
    LoginStep.PASSWORD: "Two-step verification password (not shown as you type): ",
}
# Refusals asked again in place (with a refusal of the flow's own, such as nothing typed); any other
# one (a flood wait, a banned number, no network…) ends the login.
_ASK_AGAIN = (
    errors.PhoneNumberInvalidError,
    errors.PhoneCodeInvalidError,
    errors.PhoneCodeEmptyError,
    errors.PasswordHashInvalidError,
)
_NEW_CODE = (errors.PhoneCodeExpiredError, errors.AuthRestartError)

Ask = Callable[[str, bool], str]


class LoginStopped(Exception):
    """The login ends without signing in: the message to show and the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def ask(prompt: str, secret: bool) -> str:
    """One line from the user; the password through getpass, so the terminal does not echo it.

    It blocks the event loop on purpose: nothing else runs during a login, Telethon reconnects if
    Telegram drops the idle link meanwhile, and a thread would leave the terminal without echo if
    Ctrl+C came during getpass. asyncio's own SIGINT handler only cancels the task, which cannot
    interrupt a blocking read, so Python's default one is put back while asking.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if not secret:
            return input(prompt)
        with warnings.catch_warnings():
            # Without a terminal getpass says "Password input may be echoed" itself; its Python
            # warning would add a source line that reads like a traceback.
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            return getpass.getpass(prompt)
    finally:
        signal.signal(signal.SIGINT, previous)


async def run_login(args: argparse.Namespace, settings: Any, paths: Any, *, asker: Ask = ask) -> int:
    from tad_tui.runtime import open_engine, session_file

    async with open_engine(settings, paths, demo=args.demo, writer=True) as engine:
        if await engine.is_authorized():
            name = await engine.account_name()
            logout = "tad-tui --demo logout" if args.demo else "tad-tui logout"
            print(f"Already signed in{_as(name)}; `{logout}` ends the session.")
            return EXIT_OK
        if args.demo:
            from tad_tui.api import DEMO_ACCOUNT_HINT

            password = "; password: the one in [demo] password" if settings.demo.password else ""
            print(f"Signing in to the simulated Telegram ({DEMO_ACCOUNT_HINT}{password}).")
        try:
            await sign_in(engine.login_flow(), args.phone, asker)
        except LoginStopped as stop:
            if stop.status == EXIT_INTERRUPTED:
                print(f"\ntad-tui: {stop}", file=sys.stderr)
            else:
                print(f"tad-tui: error: {stop}", file=sys.stderr)
            return stop.status
        name = await engine.account_name()
    session = session_file(settings, paths, demo=args.demo)
    print(f"Signed in{_as(name)}. The session is kept in {session} (mode 0600).")
    return EXIT_OK


async def sign_in(flow: LoginFlow, phone: str | None, asker: Ask) -> None:
    """Phone → code → password until signed in, or :class:`LoginStopped`."""
    given_phone = phone
    tries = 0
    step = flow.step
    while flow.step is not LoginStep.DONE:
        if flow.step is not step:  # moved on: a fresh count of tries for the new question
            step, tries = flow.step, 0
            if step is LoginStep.PASSWORD:
                hint = f" (hint: {flow.password_hint})" if flow.password_hint else ""
                print(f"This account has two-step verification{hint}.")
        from_option = step is LoginStep.PHONE and given_phone is not None
        if from_option:
            value, given_phone = str(given_phone), None
        else:
            value = _ask(asker, step)
        try:
            await _submit(flow, step, value)
            continue
        except LoginError as error:
            problem, cause = str(error), error.__cause__
        renew = isinstance(cause, _NEW_CODE) and flow.phone is not None
        if cause is not None and not renew and not isinstance(cause, _ASK_AGAIN):
            raise LoginStopped(f"{problem} Not signed in.", EXIT_FAILED)
        if from_option:
            raise LoginStopped(f"--phone: {problem}", EXIT_USAGE)
        tries += 1
        if renew and tries < TRIES:
            print(f"{problem} Sending a new code…", file=sys.stderr)
            await _submit(flow, LoginStep.PHONE, str(flow.phone), final=True)
            continue
        if tries >= TRIES:
            raise LoginStopped(f"{problem} Not signed in after {TRIES} tries.", EXIT_FAILED)
        print(problem, file=sys.stderr)


def _ask(asker: Ask, step: LoginStep) -> str:
    try:
        return asker(PROMPTS[step], step is LoginStep.PASSWORD)
    except KeyboardInterrupt:
        raise LoginStopped("login cancelled; not signed in", EXIT_INTERRUPTED) from None
    except EOFError:
        raise LoginStopped("no more input (end of file); not signed in", EXIT_FAILED) from None


async def _submit(flow: LoginFlow, step: LoginStep, value: str, *, final: bool = False) -> None:
    try:
        if step is LoginStep.PHONE:
            await flow.send_code(value)
        elif step is LoginStep.CODE:
            await flow.submit_code(value)
        else:
            await flow.submit_password(value)
    except LoginError as error:
        if final:
            raise LoginStopped(f"{error} Not signed in.", EXIT_FAILED) from None
        raise


def _as(name: str | None) -> str:
    return f" as {name}" if name else ""


async def run_logout(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine, session_file

    session = session_file(settings, paths, demo=args.demo)
    async with open_engine(settings, paths, demo=args.demo, writer=True) as engine:
        if await engine.is_authorized():
            name = await engine.account_name()
            if not await engine.log_out():
                print("tad-tui: error: Telegram did not end the session; nothing was deleted. Try again.",
                      file=sys.stderr)
                return EXIT_FAILED
            message = f"Signed out{_as(name)}: Telegram ended the session and {session} is deleted."
        else:
            deleted = await engine.forget_session()
            message = f"Not signed in; {session} is deleted." if deleted else "Not signed in; nothing to do."
    print(message)
    return EXIT_OK
