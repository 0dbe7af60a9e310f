"""Signing in to Telegram: phone → code → 2FA password, every refusal in words, retry in place.

The same flow serves the TUI's login screen and ``tad-tui login``. Codes and passwords are passed
straight to Telethon and never kept, logged or put into a message.
"""

from __future__ import annotations

from collections.abc import Awaitable
from enum import Enum
from typing import Any

from telethon import errors

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
        await self._attempt(self.client.send_code_request(phone))
        self.phone = phone
        self.step = LoginStep.CODE
        return self.step

    async def submit_code(self, code: str) -> LoginStep:
        if self.step is not LoginStep.CODE or self.phone is None:
            raise LoginError("Ask for a code first.")
        try:
            await self._attempt(self.client.sign_in(self.phone, code.strip().replace(" ", "")))
        except LoginError as error:
            if not isinstance(error.__cause__, errors.SessionPasswordNeededError):
                raise
            self.password_hint = await self._hint()
            self.step = LoginStep.PASSWORD
            return self.step
        self.step = LoginStep.DONE
        return self.step

    async def submit_password(self, password: str) -> LoginStep:
        if self.step is not LoginStep.PASSWORD:
            raise LoginError("No password is needed now.")
        await self._attempt(self.client.sign_in(password=password))
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


async def log_out(client: TadClient) -> bool:
    """Ends the session on Telegram's side and deletes it here; False if it was already gone."""
    return bool(await client.log_out())
