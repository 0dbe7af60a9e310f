"""One value checked against its key and turned into its Python type, or a one-line ``ConfigError``."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tad_tui.config.key import ConfigError, Key
from tad_tui.sizes import parse_size

_TRUE_WORDS = ("true", "1", "yes")
_FALSE_WORDS = ("false", "0", "no")
_MAX_SHOWN = 80  # longer values are cut in messages so they stay readable on one line


@dataclass(frozen=True)
class Source:
    """Where values come from: decides the error label and what relative paths are relative to."""

    kind: Literal["file", "env", "option"]
    base_dir: Path
    file: Path | None = None

    def where(self, key: Key) -> str:
        if self.kind == "file":
            return f"config file {self.file}, key {key.dotted}"
        if self.kind == "env":
            return f"environment variable {key.env} (for {key.dotted})"
        return f"command-line option for {key.dotted}"

    @property
    def label(self) -> str:
        return {"file": f"config file {self.file}", "env": "environment", "option": "command-line options"}[self.kind]


def coerce(key: Key, raw: Any, source: Source, *, from_text: bool) -> Any:
    """``raw`` checked against ``key`` and converted to its Python type, or a one-line ConfigError."""
    try:
        value = _from_text(key, raw) if from_text else _from_typed(key, raw)
        _check_bounds(key, value)
        if key.check is not None:
            key.check(value)
    except ValueError as error:
        shown = "value hidden" if key.secret else _shown(raw)
        raise ConfigError(
            f"{source.where(key)}: {error} (got {shown}); allowed: {key.allowed}", key=key.dotted
        ) from None
    return _to_path(value, source.base_dir) if key.kind == "path" else value


def _from_typed(key: Key, raw: Any) -> Any:
    """A value as TOML (or a typed override) gives it: the Python type must already be right."""
    if key.kind == "bool" and isinstance(raw, bool):
        return raw
    if key.kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if key.kind == "float" and isinstance(raw, int | float) and not isinstance(raw, bool):
        return _finite(float(raw))
    if key.kind == "size" and isinstance(raw, int | str) and not isinstance(raw, bool):
        return parse_size(raw)
    if key.kind == "choice" and isinstance(raw, str):
        return _choice(key, raw)
    if key.kind == "path" and isinstance(raw, str | os.PathLike):
        return os.fspath(raw)
    if key.kind == "str" and isinstance(raw, str):
        return raw
    if key.kind == "list" and isinstance(raw, list | tuple):
        for number, item in enumerate(raw, start=1):
            if not isinstance(item, str):
                raise ValueError(f"expected an array of strings, but item {number} is {_type_noun(item)}")
        return tuple(item.strip() for item in raw if item.strip())
    raise ValueError(f"expected {_KIND_NOUNS[key.kind]}, not {_type_noun(raw)}")


def _from_text(key: Key, text: str) -> Any:
    """A value given as text (environment variables, string overrides), parsed by the key's kind."""
    text = text.strip()
    if key.kind == "bool":
        return _bool_word(text)
    if key.kind == "int":
        if not re.fullmatch(r"[+-]?\d+(?:_\d+)*", text):
            raise ValueError("not an integer")
        return int(text)
    if key.kind == "float":
        try:
            return _finite(float(text))
        except ValueError:
            raise ValueError("not a number") from None
    if key.kind == "size":
        return parse_size(text)
    if key.kind == "list":
        return tuple(split_list(text))
    return _from_typed(key, text)


def split_list(text: str) -> list[str]:
    """The items of a list given as text: separated by whitespace or commas, as Apprise takes URLs
    (a comma not followed by another "scheme://" stays inside the URL: a query's "to=a@x,b@y")."""
    items = []
    for word in text.split():
        items += [item for item in _LIST_COMMA.split(word.strip(",")) if item]
    return items


_LIST_COMMA = re.compile(r",+(?=[A-Za-z][A-Za-z0-9+.-]*://)")


_KIND_NOUNS = {
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "size": "a size (an integer or text such as \"4MB\")",
    "str": "a string",
    "choice": "a string",
    "path": "a string (a path)",
    "list": "an array of strings",
}


def _type_noun(raw: Any) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, dict):
        return "a table"
    if isinstance(raw, list):
        return "an array"
    nouns = {int: "an integer", float: "a number", str: "a string"}
    return nouns.get(type(raw), f"a {type(raw).__name__}")


def _bool_word(text: str) -> bool:
    word = text.lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError("not a boolean (use true/false, yes/no or 1/0)")


def _choice(key: Key, raw: str) -> str:
    if raw.upper() not in key.choices:
        raise ValueError("not one of the choices")
    return raw.upper()  # stored in the canonical spelling whatever case was typed


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _check_bounds(key: Key, value: Any) -> None:
    if key.kind not in ("int", "float", "size"):
        return
    if (key.low is not None and value < key.low) or (key.high is not None and value > key.high):
        raise ValueError("out of range")


def _to_path(value: str, base_dir: Path) -> Path | None:
    if not value:
        return None  # "" means "use the default", decided later by paths.Paths
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~" with no resolvable home directory
        path = Path(value)
    return path if path.is_absolute() else base_dir / path


def _shown(raw: Any) -> str:
    text = repr(os.fspath(raw) if isinstance(raw, os.PathLike) else raw)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"

