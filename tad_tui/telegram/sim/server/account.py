"""The simulated account: its user, sign-in with a code and an SRP (2FA) password, sign-out, and the
auth keys signed in."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from telethon import password as srp
from telethon.tl import types

from tad_tui.telegram.sim.errors import RpcErrorReply
from tad_tui.telegram.sim.tl import make

SELF_USER_ID = 7_770_001
DEMO_PHONE = "+15550100000"
DEMO_LOGIN_CODE = "12345"


@dataclass
class _Password:
    """SRP state for a 2FA password, as the server keeps it (the verifier, never the password)."""

    algo: types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow
    verifier: int
    srp_id: int = 0
    secret_b: int = 0
    public_b: bytes = b""


@dataclass
class LoginAttempt:
    phone: str
    code_hash: str
    issued_at: float


class AccountMethods:
    """SimulatedTelegram's account requests (mixed into it; the state they use is set up there)."""

    def is_authorized(self, auth_key: bytes) -> bool:
        return self._authorize_all or key_digest(auth_key) in self._authorized_keys

    def authorize_key(self, auth_key: bytes) -> None:
        """Sign in the session with this key without a login (a demo that starts signed in)."""
        self._authorized_keys.add(key_digest(auth_key))
        self._save_state()

    def self_user(self) -> types.User:
        return make(
            types.User,
            id=SELF_USER_ID,
            is_self=True,
            access_hash=0x5EED_0001,
            first_name="Demo",
            last_name="Listener",
            username="tad_demo_user",
            phone=DEMO_PHONE.lstrip("+"),
        )

    def _on_GetUsersRequest(self, request: Any, **_: Any) -> list[types.User]:
        return [self.self_user() for user in request.id if isinstance(user, types.InputUserSelf)]

    def _on_SendCodeRequest(self, request: Any, **_: Any) -> Any:
        digits = request.phone_number.lstrip("+")
        if not digits.isdigit() or len(digits) < 7:
            raise RpcErrorReply(400, "PHONE_NUMBER_INVALID")
        self._login = LoginAttempt(request.phone_number, secrets.token_hex(8), time.time())
        return make(
            types.auth.SentCode,
            type=types.auth.SentCodeTypeApp(length=len(self.login_code)),
            phone_code_hash=self._login.code_hash,
        )

    def _on_SignInRequest(self, request: Any, *, auth_key: bytes, **_: Any) -> Any:
        login = self._login
        if login is None or request.phone_code_hash != login.code_hash:
            raise RpcErrorReply(400, "PHONE_CODE_HASH_EMPTY")
        if time.time() - login.issued_at > self.code_ttl:
            raise RpcErrorReply(400, "PHONE_CODE_EXPIRED")
        if not request.phone_code:
            raise RpcErrorReply(400, "PHONE_CODE_EMPTY")
        if request.phone_code != self.login_code:
            raise RpcErrorReply(400, "PHONE_CODE_INVALID")
        if self._password is not None:
            raise RpcErrorReply(401, "SESSION_PASSWORD_NEEDED")
        return self._authorize(auth_key)

    def _authorize(self, auth_key: bytes) -> Any:
        self.authorize_key(auth_key)
        self._login = None
        return make(types.auth.Authorization, user=self.self_user())

    def _on_LogOutRequest(self, request: Any, *, auth_key: bytes, **_: Any) -> Any:
        self._authorized_keys.discard(key_digest(auth_key))
        self._authorize_all = False
        self._dc_keys.clear()  # the keys imported on other DCs belonged to the same authorization
        self._exported.clear()
        self._save_state()
        return make(types.auth.LoggedOut)

    @staticmethod
    def _make_password(password: str) -> _Password:
        prime = srp_prime()
        algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            salt1=os.urandom(32), salt2=os.urandom(32), g=3, p=prime
        )
        x = int.from_bytes(srp.compute_hash(algo, password), "big")
        return _Password(algo=algo, verifier=pow(algo.g, x, int.from_bytes(prime, "big")))

    def _on_GetPasswordRequest(self, request: Any, **_: Any) -> Any:
        state = self._password
        if state is None:
            return make(
                types.account.Password,
                new_algo=types.PasswordKdfAlgoUnknown(),
                new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
                secure_random=os.urandom(32),
                has_password=False,
            )
        p = int.from_bytes(state.algo.p, "big")
        k = int.from_bytes(srp.sha256(state.algo.p, srp.big_num_for_hash(state.algo.g)), "big")
        state.secret_b = int.from_bytes(os.urandom(256), "big")
        state.public_b = srp.big_num_for_hash((k * state.verifier + pow(state.algo.g, state.secret_b, p)) % p)
        state.srp_id = int.from_bytes(os.urandom(7), "big")
        return make(
            types.account.Password,
            new_algo=state.algo,
            new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
            secure_random=os.urandom(32),
            has_password=True,
            current_algo=state.algo,
            srp_B=state.public_b,
            srp_id=state.srp_id,
            hint="the demo hint",
        )

    def _on_CheckPasswordRequest(self, request: Any, *, auth_key: bytes, **_: Any) -> Any:
        state = self._password
        check = request.password
        if state is None or not isinstance(check, types.InputCheckPasswordSRP):
            raise RpcErrorReply(400, "PASSWORD_HASH_INVALID")
        if check.srp_id != state.srp_id:
            raise RpcErrorReply(400, "SRP_ID_INVALID")
        if not hmac.compare_digest(check.M1, self._expected_m1(state, check.A)):
            raise RpcErrorReply(400, "PASSWORD_HASH_INVALID")
        return self._authorize(auth_key)

    @staticmethod
    def _expected_m1(state: _Password, a_bytes: bytes) -> bytes:
        algo = state.algo
        p = int.from_bytes(algo.p, "big")
        a_value = int.from_bytes(a_bytes, "big")
        u = int.from_bytes(srp.sha256(a_bytes, state.public_b), "big")
        shared = pow(a_value * pow(state.verifier, u, p) % p, state.secret_b, p)
        key = srp.sha256(srp.big_num_for_hash(shared))
        p_hash = srp.sha256(srp.num_bytes_for_hash(algo.p))
        g_hash = srp.sha256(srp.big_num_for_hash(algo.g))
        return srp.sha256(
            srp.xor(p_hash, g_hash),
            srp.sha256(algo.salt1),
            srp.sha256(algo.salt2),
            a_bytes,
            state.public_b,
            key,
        )


def key_digest(auth_key: bytes) -> str:
    return hashlib.sha256(auth_key).hexdigest()


def srp_prime() -> bytes:
    """Telegram's 2048-bit SRP prime (the one Telethon trusts without re-checking primality)."""
    return bytes.fromhex(
        "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"
        "48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
        "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
        "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
        "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"
        "FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
        "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
        "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B"
    )
