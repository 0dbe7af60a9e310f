"""``render_example``: the text of ``config.toml.example``, written from the schema."""

from __future__ import annotations

from tad_tui.config.key import Key
from tad_tui.config.schema import SCHEMA, SECTION_DOCS, SECTIONS
from tad_tui.sizes import format_size_exact


_HEADER = """\
# tad-tui configuration: every key with its default, so this file as shipped changes nothing.
# Generated from the schema in tad_tui/config/schema.py (render_example); do not edit it by hand.
#
# Precedence, lowest first: built-in defaults < this file < environment variables < command-line flags.
#
# tad-tui reads config.toml from the platformdirs user config dir:
#   Linux    ~/.config/tad-tui/config.toml  ($XDG_CONFIG_HOME/tad-tui/config.toml if set)
#   macOS    ~/Library/Application Support/tad-tui/config.toml
#   Windows  %LOCALAPPDATA%\\tad-tui\\config.toml
# Copy this file there and delete the keys you do not change. --config PATH, or the environment
# variable TAD_CONFIG=PATH, reads another file instead (then it must exist).
#
# Relative paths are relative to this file's folder and "~" is your home; "" means the default.
# Sizes are bytes (an integer) or text with a unit: B, KB MB GB TB (powers of 1000) or
# KiB MiB GiB TiB (powers of 1024); the bare K M G T are rejected as ambiguous.
#
# Environment variables (an empty one counts as unset):
"""


def render_example() -> str:
    """The text of ``config.toml.example``: a header, then every section and key at its default."""
    width = max(len(key.env) for key in SCHEMA if key.env)
    env_lines = [f"#   {key.env:<{width}}  {key.dotted}" for key in SCHEMA if key.env]
    blocks = [_HEADER + "\n".join(env_lines) + "\n"]
    blocks += [_render_section(section) for section in SECTIONS]
    return "\n".join(blocks)


def _render_section(section: str) -> str:
    lines = [f"# {SECTION_DOCS[section]}", f"[{section}]"]
    for key in SCHEMA:
        if key.section == section:
            lines += ["", f"# {key.doc}", f"# Allowed: {key.allowed}"]
            lines += [f"# Environment variable: {key.env}"] if key.env else []
            lines.append(f"{key.name} = {_toml_literal(key)}")
    return "\n".join(lines) + "\n"


def _toml_literal(key: Key) -> str:
    value = key.default
    if key.kind == "bool":
        return "true" if value else "false"
    if key.kind == "size":
        exact = format_size_exact(value)
        return exact if exact.isdigit() else _toml_string(exact)
    if key.kind in ("int", "float"):
        return repr(value)
    if key.kind == "list":
        return "[" + ", ".join(_toml_string(str(item)) for item in value) + "]"
    return _toml_string(str(value))


def _toml_string(text: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    body = "".join(
        escapes.get(char) or (f"\\u{ord(char):04X}" if ord(char) < 32 or ord(char) == 127 else char)
        for char in text
    )
    return f'"{body}"'

