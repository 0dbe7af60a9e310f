"""Themes as data: TOML files turned into ``textual.theme.Theme``, and the choice saved to config.

Shipped themes live in the repository's top-level ``themes/`` (reached through the ``themes``
link beside this module); users add their own to ``tad_tui.paths.user_themes_dir()``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from tad_tui.audit import recorded
from tad_tui.config import ConfigError, save_setting

COLOR_KEYS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
NUMBER_KEYS = ("luminosity_spread", "text_alpha")
ALLOWED_KEYS = {"name", "dark", "variables", *COLOR_KEYS, *NUMBER_KEYS}


class ThemeFileError(Exception):
    """A theme file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class LoadedThemes:
    themes: list[Theme]
    problems: list[str]


def shipped_themes_dir() -> Path:
    return Path(__file__).with_name("themes")


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ThemeFileError(f"theme file {path} cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ThemeFileError(f"theme file {path} is not valid TOML: {error}") from None
    return theme_from_data(data, str(path))


def theme_from_data(data: dict[str, Any], where: str) -> Theme:
    unknown = sorted(set(data) - ALLOWED_KEYS)
    if unknown:
        raise ThemeFileError(f"theme file {where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(ALLOWED_KEYS))}")
    name = data.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise ThemeFileError(f"theme file {where}: 'name' must be text of 1 to 64 characters")
    if not isinstance(data.get("primary"), str):
        raise ThemeFileError(f"theme file {where}: 'primary' (a colour such as \"#7AA2F7\") is required")
    for key in COLOR_KEYS:
        if key in data:
            _check_color(data[key], f"theme file {where}, key {key}")
    for key in NUMBER_KEYS:
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], int | float)):
            raise ThemeFileError(f"theme file {where}, key {key}: must be a number, not {data[key]!r}")
    if "dark" in data and not isinstance(data["dark"], bool):
        raise ThemeFileError(f"theme file {where}, key dark: must be true or false")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError(f"theme file {where}: [variables] must map names to text values")
    return Theme(**{**data, "variables": dict(variables)})


def _check_color(value: object, where: str) -> None:
    if not isinstance(value, str):
        raise ThemeFileError(f"{where}: must be a colour in quotes, not {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{where}: {value!r} is not a colour (use \"#RRGGBB\" or a colour name)") from None


def load_themes(folders: Iterable[Path]) -> LoadedThemes:
    """Every ``*.toml`` theme of the folders, in name order; broken files are reported, not fatal."""
    themes: list[Theme] = []
    problems: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                themes.append(load_theme_file(path))
            except ThemeFileError as error:
                problems.append(str(error))
    return LoadedThemes(themes, problems)


def save_theme_choice(config_file: Path, name: str) -> None:
    """Set ``[ui] theme`` in the config file, keeping every comment and other key as it was."""
    with recorded("config_changed", key="ui.theme", new=name, file=str(config_file), saved=True) as line:
        _save_theme_choice(config_file, name, line)


def _save_theme_choice(config_file: Path, name: str, line: dict[str, Any]) -> None:
    try:
        old = save_setting(config_file, "ui", "theme", name, what="the theme")
    except ConfigError as error:
        raise ThemeFileError(str(error)) from None
    line["old"] = None if old is None else str(old)