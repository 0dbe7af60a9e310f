"""The optional proxy Telegram is reached through: ``socks5://user:password@host:port`` and kin.

Parsed once when the config loads (a bad value stops tad-tui with exit status 2 naming the key) and
handed to Telethon as its ``proxy=`` dict, which python-socks connects through. Stdlib only, so the
config module can check a value without importing Telethon. The password never appears in a
message, a log line or a repr: ``redacted`` is what may be shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

SCHEMES = ("socks5", "socks4", "http")
PROXY_RULE = (
    '"" (no proxy) or socks5://[user:password@]host:port, socks4://[user@]host:port or '
    "http://[user:password@]host:port (port 1-65535; %-encode special characters in the user and password)"
)


@dataclass(frozen=True)
class Proxy:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def redacted(self) -> str:
        """The URL with the password replaced by ``***``: safe for logs and messages."""
        user = ""
        if self.username is not None:
            user = self.username + (":***" if self.password is not None else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}"

    def telethon(self) -> dict[str, Any]:
        """Telethon's ``proxy=`` argument (the dict form its connections pass on to python-socks).

        ``rdns``: the proxy resolves names; Telethon dials Telegram's data centres by IP anyway.
        """
        return {
            "proxy_type": self.scheme,
            "addr": self.host,
            "port": self.port,
            "rdns": True,
            "username": self.username,
            "password": self.password,
        }


def parse_proxy(text: str) -> Proxy | None:
    """``None`` for ""; else a :class:`Proxy`, or ValueError saying what is wrong (never the password)."""
    text = text.strip()
    if not text:
        return None
    if "://" not in text:
        raise ValueError("not a proxy URL (it needs a scheme such as socks5://)")
    scheme = text.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise ValueError(f"unsupported proxy scheme {scheme[:16]!r}")
    parts = urlsplit(text)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a proxy URL has no path, query or fragment")
    host = parts.hostname
    if not host:
        raise ValueError("the proxy URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the proxy port is not a number from 1 to 65535") from None
    if port is None:
        raise ValueError("the proxy URL has no port")
    if not 1 <= port <= 65535:
        raise ValueError("the proxy port is not a number from 1 to 65535")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme == "socks4" and password is not None:
        raise ValueError("a socks4 proxy takes a user name but no password")
    if password is not None and not username:
        raise ValueError("the proxy URL has a password but no user name")
    return Proxy(scheme, host, port, username or None, password)
