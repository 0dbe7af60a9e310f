"""Signing in to Telegram: phone → code → 2FA password, every refusal in words, retry in place.

The same flow serves the TUI's login screen and ``tad-tui login``. Codes and passwords are passed
straight to Telethon and never kept, logged or put into a message. The audit log gets a line per
failed step, per code sent and per sign-in, with the phone number masked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from telethon import errors

from tad_tui import audit
from tad_tui.telegram.client import TadClient


class LoginStep(Enum):
    PHONE = "phone"  # waiting for a phone number
    CODE = "code"  # a code was sent; waiting for it
    PASSWORD = "password"  # the account has two-step verification; waiting for its password
    DONE = "done"


class LoginError(Exception):
    """A refusal the user can act on; the flow stays at the same step so they can retry."""


_EXPLAINED: tuple[tuple[type[BaseException], str], ...] = (
    (errors.PhoneNumberInvalidError, "That phone number is not valid: write it in international form, e.g. +44 7700 900123."),
    (errors.PhoneNumberBannedError, "Telegram has banned this phone number."),
    (errors.PhoneNumberUnoccupiedError, "No Telegram account uses this number: sign up in an official Telegram app first."),
    (errors.PhoneCodeInvalidError, "That code is wrong: check the latest code Telegram sent and type it again."),
    (errors.PhoneCodeExpiredError, "That code has expired: ask for a new one."),
    (errors.PhoneCodeEmptyError, "Type the code Telegram sent."),
    (errors.PasswordHashInvalidError, "That password is wrong: it is your two-step verification password, not the code."),
    (errors.ApiIdInvalidError, "Telegram rejected the API ID / API hash pair: copy both again from my.telegram.org."),
    (errors.AuthRestartError, "Telegram asks to restart the sign-in: ask for a new code."),
    (ConnectionError, "Telegram cannot be reached: check the network and try again."),
    (OSError, "Telegram cannot be reached: check the network and try again."),
)


def explain(error: BaseException) -> str:
    """One sentence for a Telethon error met while signing in (never repeating what was typed)."""
    if isinstance(error, errors.FloodWaitError):
        return f"Telegram asks to wait {error.seconds} s before trying again (too many attempts)."
    for kind, sentence in _EXPLAINED:
        if isinstance(error, kind):
            return sentence
    if isinstance(error, errors.RPCError):
        return f"Telegram refused the sign-in ({error.message})."
    return f"Signing in failed ({type(error).__name__})."


class LoginFlow:
    """One sign-in attempt against a connected client."""

    def __init__(self, client: TadClient) -> None:
        self.client = client
        self.step = LoginStep.PHONE
        self.phone: str | None = None
        self.password_hint: str | None = None

    async def send_code(self, phone: str) -> LoginStep:
        phone = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
        if not phone.strip("+"):  # Telethon would crash on it, not refuse it
            raise LoginError("Type your phone number, in international form (+44 7700 900123).")
        with _failure_recorded(LoginStep.PHONE, phone):
            await self._attempt(self.client.send_code_request(phone))
        audit.record("login_code_sent", phone=phone)
        self.phone = phone
        self.step = LoginStep.CODE
        return self.step

    async def submit_code(self, code: str) -> LoginStep:
        if self.step is not LoginStep.CODE or self.phone is None:
            raise LoginError("Ask for a code first.")
        if not code.strip():  # Telethon's sign_in would ask for a new code instead, and not sign in
            raise LoginError("Type the code Telegram sent.")
        try:
            with _failure_recorded(LoginStep.CODE, self.phone):
                await self._attempt(self.client.sign_in(self.phone, code.strip().replace(" ", "")))
        except LoginError as error:
            if not isinstance(error.__cause__, errors.SessionPasswordNeededError):
                raise
            self.password_hint = await self._hint()
            self.step = LoginStep.PASSWORD
            return self.step
        audit.record("login", phone=self.phone, two_step=False)
        self.step = LoginStep.DONE
        return self.step

    async def submit_password(self, password: str) -> LoginStep:
        if self.step is not LoginStep.PASSWORD:
            raise LoginError("No password is needed now.")
        if not password:  # Telethon's sign_in raises ValueError for it
            raise LoginError("Type your two-step verification password.")
        with _failure_recorded(LoginStep.PASSWORD, self.phone):
            await self._attempt(self.client.sign_in(password=password))
        audit.record("login", phone=self.phone, two_step=True)
        self.step = LoginStep.DONE
        return self.step

    async def _hint(self) -> str | None:
        from telethon.tl.functions.account import GetPasswordRequest

        try:
            return (await self.client(GetPasswordRequest())).hint or None
        except errors.RPCError:
            return None

    @staticmethod
    async def _attempt(call: Awaitable[Any]) -> Any:
        try:
            return await call
        except errors.SessionPasswordNeededError as error:
            raise LoginError("This account has two-step verification: type its password.") from error
        except (errors.RPCError, ConnectionError, OSError) as error:
            raise LoginError(explain(error)) from error


@contextmanager
def _failure_recorded(step: LoginStep, phone: str | None) -> Iterator[None]:
    """A refused step is an audit line "login failed" (two-step verification asked for is not)."""
    try:
        yield
    except LoginError as error:
        if not isinstance(error.__cause__, errors.SessionPasswordNeededError):
            audit.record("login", "failed", str(error), step=step.value, phone=phone)
        raise


async def log_out(client: TadClient) -> bool:
    """Ends the session on Telegram's side and deletes it here; False if it was already gone."""
    with audit.recorded("logout") as line:
        ended = bool(await client.log_out())
        line["was_signed_in"] = ended
    return ended


async def account_name(client: TadClient) -> str | None:
    """"First Last (@username)" of the signed-in account, or None when it cannot be told."""
    try:
        me = await client.get_me()
    except (errors.RPCError, ConnectionError, OSError):
        return None
    if me is None:
        return None
    name = " ".join(part for part in (getattr(me, "first_name", None), getattr(me, "last_name", None)) if part)
    username = getattr(me, "username", None)
    if name and username:
        return f"{name} (@{username})"
    return name or (f"@{username}" if username else None)


async def forget_session(client: TadClient) -> bool:
    """Deletes the local session file of a session Telegram no longer accepts; False if there was none.

    ``log_out`` cannot: Telegram refuses auth.logOut for a session that is not signed in, and
    Telethon then keeps the file.
    """
    session = client.session
    filename = getattr(session, "filename", None)
    with audit.recorded("logout", was_signed_in=False) as line:
        await client.disconnect()
        deleted = bool(session is not None and session.delete()) and filename not in (None, ":memory:")
        client.session = None  # as after Telethon's log_out: disconnect() has nothing left to save
        line["session_file_deleted"] = deleted
    return deleted
