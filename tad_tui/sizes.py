"""Byte sizes as people write them ("10MB", "512 KiB", "1.5GB") and as tad-tui prints them.

Units are case-insensitive: ``B``; ``KB MB GB TB`` are powers of 1000; ``KiB MiB GiB TiB`` are
powers of 1024. The bare shorthands ``K M G T`` (and ``Ki Mi Gi Ti``) are rejected: "4k" means
4000 to some people and 4096 to others, so the message asks for ``4KB`` or ``4KiB`` instead.
A number without a unit is bytes. Fractions are fine as long as the result is a whole number of
bytes ("1.5KiB" is 1536, "0.3B" is an error). No signs, no exponents.
"""

from __future__ import annotations

import re
from decimal import Decimal

# Ordered largest first so format_size_exact picks the shortest exact spelling.
UNITS: dict[str, int] = {
    "TiB": 1024**4,
    "TB": 1000**4,
    "GiB": 1024**3,
    "GB": 1000**3,
    "MiB": 1024**2,
    "MB": 1000**2,
    "KiB": 1024,
    "KB": 1000,
    "B": 1,
}
_BY_LOWER = {unit.lower(): factor for unit, factor in UNITS.items()}
_AMBIGUOUS = {"k": "K", "m": "M", "g": "G", "t": "T", "ki": "K", "mi": "M", "gi": "G", "ti": "T"}
_SIZE_RE = re.compile(r"\s*(?P<number>\d+(?:_\d+)*(?:\.\d+)?|\.\d+)\s*(?P<unit>[A-Za-z]*)\s*")
_BINARY_STEPS = ("B", "KiB", "MiB", "GiB", "TiB")  # only units parse_size reads back


def parse_size(text: str | int) -> int:
    """The number of bytes in ``text`` (see the module doc for the syntax); ValueError if invalid."""
    if isinstance(text, bool):  # bool is an int subclass, but True is not a size
        raise ValueError("a size must be a number of bytes or text like '10MB', not true/false")
    if isinstance(text, int):
        return _non_negative(text)
    if not isinstance(text, str):
        raise TypeError(f"a size must be an int or a str, not {type(text).__name__}")
    match = _SIZE_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size; write bytes (1048576) or a number and unit (10MB, 512KiB)")
    factor = _unit_factor(match["unit"])
    amount = Decimal(match["number"].replace("_", "")) * factor
    if amount != amount.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(amount)


def format_size(n: int) -> str:
    """``n`` bytes for humans, in 1024-based units with at most one decimal: "512 B", "1.5 MiB"."""
    _non_negative(n)
    step = 0
    # Climb while the rounded figure would still read 1024 or more in the current unit.
    while step < len(_BINARY_STEPS) - 1 and round(n / 1024**step, 1) >= 1024:
        step += 1
    if step == 0:
        return f"{n} B"
    figure = f"{n / 1024**step:.1f}".removesuffix(".0")
    return f"{figure} {_BINARY_STEPS[step]}"


def format_size_exact(n: int) -> str:
    """The shortest spelling of exactly ``n`` bytes that parse_size reads back: "1MiB", "4MB", "1000"."""
    _non_negative(n)
    for unit, factor in UNITS.items():
        if n and factor > 1 and n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def _unit_factor(unit: str) -> int:
    if not unit:
        return 1
    lower = unit.lower()
    if lower in _BY_LOWER:
        return _BY_LOWER[lower]
    if lower in _AMBIGUOUS:
        letter = _AMBIGUOUS[lower]
        raise ValueError(
            f"unit {unit!r} is ambiguous; write {letter}B (powers of 1000) or {letter}iB (powers of 1024)"
        )
    raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(reversed(UNITS))}")


def _non_negative(n: int) -> int:
    if n < 0:
        raise ValueError(f"a size cannot be negative ({n})")
    return n
