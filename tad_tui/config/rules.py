"""The extra rules some keys have beyond their kind and bounds; each raises ValueError naming the problem."""

from __future__ import annotations

import re
import shlex
import string

from tad_tui.telegram.proxy import parse_proxy

TEMPLATE_FIELDS = (
    "title",
    "performer",
    "album",
    "track_number",
    "date",
    "genre",
    "group",
    "topic",
    "message_id",
    "file_name",
    "ext",
)
CHUNK_SIZES = tuple(4096 << shift for shift in range(9))  # 4 KiB .. 1 MiB, the sizes upload.getFile takes
MIN_BANDWIDTH = 16 * 1024
_SESSION_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
_API_HASH_RE = re.compile(r"(?:[0-9a-fA-F]{32})?")


def check_api_hash(value: str) -> None:
    if not _API_HASH_RE.fullmatch(value):
        raise ValueError("not 32 hexadecimal characters")


def check_session_name(value: str) -> None:
    if not _SESSION_RE.fullmatch(value):
        raise ValueError("not a valid session name")


def check_proxy(value: str) -> None:
    parse_proxy(value)  # raises ValueError naming the problem, never the password


def check_demo_password(value: str) -> None:
    if len(value) > 256:
        raise ValueError("longer than 256 characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("contains a control character")


def check_notify_urls(value: tuple[str, ...]) -> None:
    if value:  # Apprise is imported only when there is a URL to check
        from tad_tui.notify_urls import check_urls

        check_urls(value)  # raises ValueError naming the URL masked, never its secrets


def check_host(value: str) -> None:
    if not value or len(value) > 253 or any(char.isspace() or char in "/@?#[]" for char in value):
        raise ValueError("empty" if not value else "not an address or host name")
    if ":" in value:  # only an IPv6 address has one; "nas:8765" is a port in the wrong place
        import ipaddress  # here: only serve's address needs it, not every start

        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            raise ValueError("not an address or host name (the port goes in serve.port)") from None


def check_token(value: str) -> None:
    if value and not 16 <= len(value) <= 256:
        raise ValueError("shorter than 16 characters" if len(value) < 16 else "longer than 256 characters")
    if any(not char.isprintable() or char.isspace() for char in value):
        raise ValueError("contains a space or control character")


def check_chunk_size(value: int) -> None:
    if value not in CHUNK_SIZES:
        raise ValueError("not a multiple of 4 KiB that divides 1 MiB")


def check_bandwidth(value: int) -> None:
    if 0 < value < MIN_BANDWIDTH:
        raise ValueError("too low")


def check_positive(value: float) -> None:
    if value <= 0:
        raise ValueError("must be greater than 0")


def check_theme(value: str) -> None:
    if not 1 <= len(value) <= 64:
        raise ValueError("empty" if not value else "too long")


def check_player(value: str) -> None:
    try:
        shlex.split(value)
    except ValueError as error:
        raise ValueError(f"not a command line: {error}") from None
    if "\0" in value:
        raise ValueError("contains a NUL character")


def check_unknown(value: str) -> None:
    if len(value) > 64 or any(char in value for char in "/\\\0"):
        raise ValueError("too long" if len(value) > 64 else "holds a / or \\")


def check_path(value: str) -> None:
    if "\0" in value:
        raise ValueError("contains a NUL character")


def check_filename_template(template: str) -> None:
    """Raise ValueError unless ``template`` is a str.format template over ``TEMPLATE_FIELDS``."""
    if not 1 <= len(template) <= 512:
        raise ValueError("empty" if not template else "longer than 512 characters")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"not a valid template ({error})") from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            raise ValueError(f"unknown field {{{name}}}")
        if spec and ("{" in spec or "}" in spec):
            raise ValueError(f"the format spec of {{{name}}} cannot contain fields")
        if conversion not in (None, "s", "r", "a"):
            raise ValueError(f"unknown conversion !{conversion} in {{{name}}}")


