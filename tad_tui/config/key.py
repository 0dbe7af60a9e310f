"""What one setting is (``Key``), and the one-line error a bad one raises (``ConfigError``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tad_tui.sizes import format_size

Kind = Literal["bool", "int", "float", "size", "str", "choice", "path", "list"]


class ConfigError(Exception):
    """A bad configuration; ``str(error)`` is one line fit to show the user as-is."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message.replace("\r", " ").replace("\n", " "))
        self.key = key  # "section.name" when one key is at fault


@dataclass(frozen=True)
class Key:
    """One setting: where it lives, its kind and default, what is allowed, and its documentation."""

    section: str
    name: str
    kind: Kind
    default: Any
    doc: str
    env: str | None = None
    low: float | None = None  # inclusive bounds for int, float and size kinds
    high: float | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None  # extra rule; raises ValueError with the problem
    rule: str | None = None  # "allowed" text when the generated one would not say enough
    secret: bool = False  # never shown in messages

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def allowed(self) -> str:
        return self.rule or _generated_rule(self)


def _generated_rule(key: Key) -> str:
    if key.kind == "bool":
        return "true or false"
    if key.kind == "choice":
        return f"one of {', '.join(key.choices)} (any case)"
    if key.kind == "path":
        return 'a path ("~" and relative paths allowed), or "" for the default'
    if key.kind == "str":
        return "any text"
    if key.kind == "list":
        return "an array of strings (in an environment variable: separated by spaces or commas)"
    noun = {"int": "an integer", "float": "a number", "size": "a size"}[key.kind]
    show = _show_size if key.kind == "size" else _show_number
    bounds = f"from {show(key.low)} to {show(key.high)}" if key.high is not None else f"of at least {show(key.low)}"
    units = ' (bytes, or with a unit such as "512KiB" or "4MB")' if key.kind == "size" else ""
    return f"{noun} {bounds}{units}"


def _show_number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show_size(value: float | None) -> str:
    return format_size(int(value or 0))

