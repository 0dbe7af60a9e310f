"""Loading the settings: defaults < a ``config.toml`` file < environment variables < overrides."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tad_tui import paths
from tad_tui.config.key import ConfigError
from tad_tui.config.schema import KEYS, SCHEMA, SECTION_DOCS, SECTIONS
from tad_tui.config.settings import Settings, build_settings, default_value
from tad_tui.config.values import Source, coerce

CONFIG_ENV = "TAD_CONFIG"  # the config file's path when --config is not given


def load_settings(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Defaults < ``config_file`` (or the default one, if it exists) < ``env`` < ``overrides``."""
    values = {key.dotted: default_value(key) for key in SCHEMA}
    environ = os.environ if env is None else env
    file = _pick_config_file(config_file, environ.get(CONFIG_ENV, "").strip())
    if file is not None:
        values.update(_file_values(_read_toml(file), Source("file", file.parent, file)))
    values.update(_env_values(environ))
    values.update(_override_values(overrides or {}))
    return build_settings(values, file)


def _pick_config_file(given: Path | None, from_env: str = "") -> Path | None:
    """``--config``, else ``TAD_CONFIG``, else the user config dir's file if there is one."""
    if given is None and not from_env:
        default = paths.default_config_file()
        return default.absolute() if default.exists() else None  # the default file is optional
    file = Path(given or from_env).expanduser().absolute()
    if not file.exists():
        named = "" if given is not None else f" (from the environment variable {CONFIG_ENV})"
        raise ConfigError(f"config file {file}{named} does not exist")
    return file


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {file} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {file} is not valid TOML: it is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"config file {file} cannot be read: {error.strerror or error}") from None


def _file_values(document: Mapping[str, Any], source: Source) -> Iterator[tuple[str, Any]]:
    for section, table in document.items():
        if section not in SECTION_DOCS:
            raise _unknown_section(section, table, source)
        if not isinstance(table, dict):
            raise ConfigError(f"{source.label}: [{section}] must be a section (a table), not a single value")
        for name, raw in table.items():
            key = KEYS.get(f"{section}.{name}")
            if key is None:
                raise _unknown_key(f"{section}.{name}", source)
            yield key.dotted, coerce(key, raw, source, from_text=False)


def _env_values(env: Mapping[str, str]) -> Iterator[tuple[str, Any]]:
    for key in SCHEMA:
        text = env.get(key.env, "").strip() if key.env else ""
        if text:  # an empty variable counts as unset
            yield key.dotted, coerce(key, text, Source("env", Path.cwd()), from_text=True)


def _override_values(overrides: Mapping[str, object]) -> Iterator[tuple[str, Any]]:
    source = Source("option", Path.cwd())
    for dotted, raw in overrides.items():
        key = KEYS.get(dotted)
        if key is None:
            raise _unknown_key(dotted, source)
        if raw is not None:  # None = flag not given, so argparse defaults can be passed through
            textual = isinstance(raw, str) and key.kind not in ("str", "choice", "path")
            yield key.dotted, coerce(key, raw, source, from_text=textual)


def _unknown_section(section: str, table: Any, source: Source) -> ConfigError:
    if not isinstance(table, dict):  # a key written above the first [section] header
        return _unknown_key(section, source)
    close = difflib.get_close_matches(section, SECTIONS, n=1)
    hint = f"did you mean [{close[0]}]?" if close else f"known sections: {', '.join(SECTIONS)}"
    return ConfigError(f"{source.label}: unknown section [{section}]; {hint}")


def _unknown_key(dotted: str, source: Source) -> ConfigError:
    section, _, name = dotted.rpartition(".")
    in_section = [key.name for key in SCHEMA if key.section == section]
    close = difflib.get_close_matches(name, in_section, n=1)
    if close:
        hint = f"did you mean {section}.{close[0]}?"
    else:
        # Maybe the right name in the wrong section (or no section at all).
        elsewhere = difflib.get_close_matches(name, [key.name for key in SCHEMA], n=1)
        if elsewhere:
            hint = f"did you mean {next(k.dotted for k in SCHEMA if k.name == elsewhere[0])}?"
        elif in_section:
            hint = f"keys in [{section}]: {', '.join(in_section)}"
        else:
            hint = f"keys are written section.name, with sections {', '.join(SECTIONS)}"
    return ConfigError(f"{source.label}: unknown key {dotted!r}; {hint}", key=dotted)

