"""``save_setting``: one key written into the config file, keeping the rest of it as it was."""

from __future__ import annotations

import os
from pathlib import Path

from tad_tui.config.key import ConfigError


def save_setting(config_file: Path, section: str, name: str, value: str | int, *, what: str) -> object:
    """Set ``[section] name`` in the config file, keeping every comment and other key as it was.

    Returns the value it had (None: unset). ``what`` names the change in an error ("the theme").
    The file is replaced in one rename: a crash never leaves half a config file.
    """
    import tomlkit

    try:
        text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
        document = tomlkit.parse(text)
    except OSError as error:
        raise ConfigError(f"cannot read {config_file} to save {what}: {error.strerror or error}") from None
    except tomlkit.exceptions.ParseError as error:
        raise ConfigError(f"cannot save {what}: {config_file} is not valid TOML ({error})") from None
    table = document.get(section)
    if table is None:
        table = tomlkit.table()
        document[section] = table
    old = table[name].unwrap() if name in table else None
    table[name] = value
    temporary = config_file.with_name(f".{config_file.name}.{os.getpid()}.tmp")
    try:
        config_file.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(tomlkit.dumps(document), encoding="utf-8")
        os.replace(temporary, config_file)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"cannot save {what} to {config_file}: {error.strerror or error}") from None
    return old
