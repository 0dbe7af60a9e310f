"""Bad input, everywhere it can come from: every command-line option and every config key.

Each bad value must end the run with exit status 2 and ONE clean line on stderr that names the option
or key, never a traceback. Both lists are generated, not written out: the options by walking the real
argparse parser (``tad_tui.cli.build_parser``), the keys from ``tad_tui.config.SCHEMA`` with bad values
derived from each key's kind, bounds, choices and check, in the config file and in its environment
variable. A key or option added later is covered without touching this file, or, for a free-text
option, makes ``test_every_option_has_bad_values`` fail until bad values are listed for it here.

Most cases call ``tad_tui.cli.main`` in-process (the same code path, ~10 ms each); a few at the end run
the real ``tad-tui`` in a subprocess to prove no traceback escapes to the terminal.
"""

from __future__ import annotations

import argparse
import json
import math
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tad_tui import cli
from tad_tui.config import SCHEMA, Key

from helpers import assert_one_clean_line, run

NO_SUCH_GROUP = "@tad_demo_no_such_group"  # if a bad value were accepted, the run would still end fast
FILE = "<FILE>"  # stands for an existing regular file (made per test): "<FILE>/sub" can never be a folder
DIR = "<DIR>"  # an existing folder
MISSING = "<MISSING>"  # a path that does not exist

# ---- helpers ------------------------------------------------------------------------------------


def _materialize(value: str, tmp_path: Path) -> str:
    regular = tmp_path / "a-regular-file"
    regular.write_text("not a folder\n")
    (tmp_path / "a-folder").mkdir(exist_ok=True)
    return (
        value.replace(FILE, str(regular))
        .replace(DIR, str(tmp_path / "a-folder"))
        .replace(MISSING, str(tmp_path / "missing" / "nothing.toml"))
    )


def _unsafe(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``tad-tui argv`` in this process: (exit status, the one stderr line). Fails on anything else."""
    try:
        status = cli.main(argv)
    except SystemExit as done:  # argparse exits by itself
        status = done.code if isinstance(done.code, int) else 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert not _unsafe(lines[0]), f"raw control or format characters in {lines[0]!r}"
    return status, lines[0]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable of the schema leaks in; no default config or data dir of the machine is used."""
    for key in SCHEMA:
        if key.env:
            monkeypatch.delenv(key.env, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


# ---- command-line options -----------------------------------------------------------------------

# Values a type function is tried with; those it rejects are bad values of every option using it.
TYPE_PROBES = ("", "  ", "0", "-1", "abc", "1.5", "1e3", "\x1b[2J", "+", "99999999999999999999999")

# Bad values argparse cannot derive: keyed "command option" (most specific) or "option".
EXPLICIT: dict[str, list[str]] = {
    "--config": [MISSING, DIR, f"{FILE}/sub"],
    "--data-dir": [FILE, f"{FILE}/sub"],
    "-o": [FILE, f"{FILE}/sub/deeper"],
    "-p": ["33"],  # above downloads.max_concurrent's bound
    "-t": ["{titel}", "{title", "{title!x}", "x" * 600, "{0}"],
    "search --limit": ["0", "-1", "abc", "1.5", "10001", ""],
    # A follow keeps its match for good: a filter the search language cannot read is refused.
    "follow --match": ["format:", "size>lots", "duration<soon", "format:flac colour:red", "\x1b[2J format:"],
    "--since": ["2024-13", "2024-02-30", "soon", "-7d", "7h", "", "1969", "2024-06-01T10:00", "\x1b[2J"],
    "--until": ["2024-13", "yesterday", "99999999y", ""],
    "--ids": ["250-100", "0-5", "a-b", "-5", "", "1-99999999999", "1,2"],
    "download --match": ["format:", "date>soon", "posted:2024-13", "format:flac colour:red", " "],
    "--min-size": ["5k", "-5", "lots", "", "0.5B", "10XB"],
    "--max-size": ["5M", "-5", "lots", "", "0.3B"],
    # Links: malformed ones, a link naming no message where one is needed, a file that is no link list.
    "GROUP": ["https://t.me/+AbCdEf", "t.me/c/abc", "https://t.me/"],
    "download GROUP|LINK": ["https://t.me/tad_demo_mixes/x", "https://t.me/+AbCdEf", "tg://resolve?domain=tad_demo_mixes",
                            "https://t.me/tad_demo_mixes/9-3", "https://example.com/tad_demo_mixes/3"],
    "download LINK": ["https://t.me/tad_demo_mixes", "TAD Demo", "tg://privatepost?channel=x&post=1"],
    "download -f": [MISSING, DIR, FILE],
    # Not a Telegram Desktop export's result.json: missing, a folder without one, not JSON (--config's
    # metavar is PATH too: these are bad config files as well).
    "import-export PATH": [MISSING, DIR, FILE],
    # A file to write: an existing file is replaced, a folder or a path under a file is refused.
    "playlist -o": [DIR, f"{FILE}/sub"],
    "export -o": [DIR, f"{FILE}/sub"],
}
# Options where any text is valid input; hostile text there is cleaned (tests/test_sanitize.py).
FREE_TEXT = {"search QUERY", "verify QUERY", "playlist QUERY", "export QUERY"}

# A value for each required positional, so that the option under test is what the run stops at.
PLACEHOLDERS = {"group": NO_SUCH_GROUP}


def _commands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction):
            continue
        yield action


def _label(action: argparse.Action) -> str:
    return max(action.option_strings, key=len) if action.option_strings else str(action.metavar or action.dest)


def _rejects(type_function: Any, text: str) -> bool:
    try:
        type_function(text)
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        return True
    return False


def _bad_values(command: str, action: argparse.Action) -> list[str]:
    """Values ``action`` must refuse: from its choices and type, plus EXPLICIT; [] if none are known."""
    if action.nargs == 0:  # a flag: giving it a value is the only way to get it wrong
        return [f"{_label(action)}=1"] if action.option_strings else []
    values: list[str] = []
    if action.choices:
        values.append("no-such-choice")
    if callable(action.type):
        values += [probe for probe in TYPE_PROBES if _rejects(action.type, probe)]
    for name in [*action.option_strings, str(action.metavar)]:
        values += EXPLICIT.get(f"{command} {name}", EXPLICIT.get(name, []))
    return list(dict.fromkeys(values))


def _positionals(parser: argparse.ArgumentParser, under_test: argparse.Action, value: str) -> list[str]:
    """A value for each required positional: the bad one for the action under test, else a placeholder."""
    positionals = [a for a in _options(parser) if not a.option_strings]
    # An optional positional under test is given, after a placeholder for each one before it.
    last = positionals.index(under_test) if under_test in positionals else -1
    wanted = [a for number, a in enumerate(positionals) if a.nargs is None or number <= last]
    return [value if a is under_test else PLACEHOLDERS.get(a.dest, "x") for a in wanted]


def _option_cases() -> tuple[list[Any], list[str]]:
    """(pytest params, options with no known bad values)."""
    parser = cli.build_parser()
    cases, uncovered = [], []
    for command, sub in _commands(parser):
        for action in _options(sub):
            values = _bad_values(command, action)
            label = _label(action)
            if not values and f"{command} {label}" not in FREE_TEXT:
                uncovered.append(f"{command} {label}")
            for value in values:
                if not action.option_strings:
                    argv = [command, *_positionals(sub, action, value)]
                else:
                    given = [value] if action.nargs == 0 else [action.option_strings[-1], value]
                    argv = [command, *given, *_positionals(sub, action, "")]
                names = list(action.option_strings) or [label]
                cases.append(pytest.param(argv, names, value, id=f"{command} {label} {value!r}"[:90]))
    # The top-level parser's own options (before the command).
    for action in _options(parser):
        for value in _bad_values("", action):
            given = [value] if action.nargs == 0 else [action.option_strings[-1], value]
            cases.append(
                pytest.param([*given, "queue"], list(action.option_strings), value, id=f"tad-tui {_label(action)} {value!r}")
            )
    return cases, uncovered


OPTION_CASES, UNCOVERED_OPTIONS = _option_cases()


def test_every_option_has_bad_values() -> None:
    assert not UNCOVERED_OPTIONS, (
        "options without bad values in tests/test_input_hygiene.py (add them to EXPLICIT, give the option "
        f"a type= that rejects bad text, or list it in FREE_TEXT): {UNCOVERED_OPTIONS}"
    )


def test_the_walk_sees_every_command() -> None:
    commands = {name for name, _ in _commands(cli.build_parser())}
    assert {"groups", "scan", "download", "queue", "search", "performance"} <= commands
    covered = {param.values[0][0] for param in OPTION_CASES}
    assert commands <= covered


@pytest.mark.parametrize(("argv", "names", "value"), OPTION_CASES)
def test_bad_option_exits_2_naming_it(
    argv: list[str], names: list[str], value: str, tmp_path: Path, demo_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [_materialize(part, tmp_path) for part in argv]
    base = ["--config", str(demo_config), "--demo", "--data-dir", str(tmp_path / "data")]
    status, line = run_main(base + argv, capsys)
    assert status == 2, line
    given = _materialize(value, tmp_path)
    named = any(name in line for name in names) or ("--config" in names and given in line)
    assert named, f"{line!r} names none of {names}"


# ---- config keys ---------------------------------------------------------------------------------

# Wrong TOML types for each kind (a new kind without an entry fails test_every_kind_has_wrong_types).
WRONG_TYPES: dict[str, list[Any]] = {
    "bool": ["yes", 1],
    "int": ["3", 1.5, True],
    "float": ["fast", True],
    "size": [True, 1.5, -1, "lots", "5k", "0.5B", "10XB"],
    "str": [42, True],
    "choice": [42, True],
    "path": [42, True, "a\0b"],
    "list": [42, "json://127.0.0.1/x", True, [["json://127.0.0.1/x"]], ["nosuchservice://user:s3cret-pw@host/x"], ["json://"]],
}
# Bad text for an environment variable, by kind.
WRONG_TEXT: dict[str, list[str]] = {
    "bool": ["maybe", "2"],
    "int": ["many", "1.5", "0x10"],
    "float": ["fast", "nan", "inf", "1,5"],
    "size": ["lots", "5k", "-1", "0.5B"],
    "str": [],
    "choice": [],
    "path": [],
    "list": ["nosuchservice://user:s3cret-pw@host/x", "json://127.0.0.1/x json://", "json://127.0.0.1/x, nonsense"],
}
# Text a str key's check may refuse; the ones it does refuse are its bad values.
STR_PROBES = ("", " ", "x" * 10_000, "a/b", "..", ".hidden", "{", "{nope}", "a b", "\x1b[2J", "\u202eabc", "ÿ" * 40)


def _bounds(key: Key) -> list[Any]:
    if key.kind not in ("int", "float", "size"):
        return []
    step: Any = 1.0 if key.kind == "float" else 1
    below = [type(step)(key.low) - step] if key.low is not None and (key.kind != "size" or key.low > 0) else []
    above = [type(step)(key.high) + step] if key.high is not None else []
    return below + above


def _check_rejects(key: Key, value: str) -> bool:
    try:
        key.check(value)  # type: ignore[misc]
    except ValueError:
        return True
    return False


def bad_file_values(key: Key) -> list[Any]:
    values: list[Any] = [*WRONG_TYPES[key.kind], [1, 2], {"a": 1}, *_bounds(key)]
    if key.kind == "choice":
        values.append("no-such-choice")
    if key.kind == "str" and key.check is not None:
        values += [probe for probe in STR_PROBES if _check_rejects(key, probe)]
    if key.kind == "path":
        values.append(f"{FILE}/sub")
    return values


def bad_env_texts(key: Key) -> list[str]:
    texts = [*WRONG_TEXT[key.kind], *(str(bound) for bound in _bounds(key))]
    if key.kind == "choice":
        texts.append("no-such-choice")
    if key.kind == "str" and key.check is not None:
        # An empty or blank variable counts as unset, and NUL cannot be in the environment.
        texts += [p for p in STR_PROBES if p.strip() and "\0" not in p and _check_rejects(key, p.strip())]
    if key.kind == "path":
        texts.append(f"{FILE}/sub")
    return texts


def _key_cases() -> Iterator[Any]:
    for key in SCHEMA:
        for value in bad_file_values(key):
            yield pytest.param(key, "file", value, id=f"{key.dotted} file {value!r}"[:90])
        if key.env:
            for text in bad_env_texts(key):
                yield pytest.param(key, "env", text, id=f"{key.env} env {text!r}"[:90])


def test_every_kind_has_wrong_types() -> None:
    kinds = {key.kind for key in SCHEMA}
    assert kinds <= set(WRONG_TYPES) and kinds <= set(WRONG_TEXT)


def test_every_key_has_bad_values_in_file_and_env() -> None:
    for key in SCHEMA:
        assert bad_file_values(key), key.dotted
        assert not key.env or bad_env_texts(key), key.env


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else "inf")
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"


def _write_config(path: Path, good: dict[str, Any], bad: tuple[Key, Any] | None) -> None:
    values = dict(good)
    if bad is not None:
        values[bad[0].dotted] = bad[1]
    sections: dict[str, list[str]] = {}
    for dotted, value in values.items():
        section, name = dotted.split(".")
        sections.setdefault(section, []).append(f"{name} = {_toml(value)}")
    path.write_text("".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items()))


@pytest.mark.parametrize(("key", "where", "value"), list(_key_cases()))
def test_bad_config_value_exits_2_naming_the_key(
    key: Key, where: str, value: Any, tmp_path: Path, demo_catalogue: Any,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    if isinstance(value, str):
        value = _materialize(value, tmp_path)
    good = {
        "general.data_dir": str(tmp_path / "data"),
        "demo.catalogue_dir": str(demo_catalogue.root),
        "demo.latency_ms": 0,
        "demo.bandwidth_per_connection": 0,
    }
    config = tmp_path / "config.toml"
    _write_config(config, good, (key, value) if where == "file" else None)
    if where == "env":
        monkeypatch.setenv(key.env, value)  # type: ignore[arg-type]
    status, line = run_main(["--config", str(config), "--demo", "download", NO_SUCH_GROUP], capsys)
    assert status == 2, line
    assert (key.dotted if where == "file" else key.env) in line  # type: ignore[operator]
    if key.secret and isinstance(value, str) and len(value) > 3:
        assert value not in line


# ---- a few real processes: what a user sees ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("download", "--limit", "0", NO_SUCH_GROUP), "--limit"),
        (("search", "--format", "wma"), "--format"),
        (("search", "--min-size", "5k"), "--min-size"),
        (("scan", " "), "GROUP"),
        (("download", "-o", f"{FILE}/sub", NO_SUCH_GROUP), "-o/--output"),
        (("--data-dir", f"{FILE}/sub", "groups"), "--data-dir"),
        (("nonsense\x1b[2J",), "COMMAND"),
    ],
    ids=["limit", "format", "min-size", "empty group", "output under a file", "data dir under a file", "command"],
)
def test_real_process_bad_option(args: tuple[str, ...], named: str, tmp_path: Path, demo_config: Path) -> None:
    argv = [_materialize(arg, tmp_path) for arg in args]
    result = run("--config", str(demo_config), "--demo", "--data-dir", str(tmp_path / "data"), *argv,
                 env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert result.returncode == 2, result.stderr
    line = assert_one_clean_line(result)
    assert named in line and "\x1b" not in line
    assert result.stdout == ""


def test_real_process_bad_config_and_env(tmp_path: Path, demo_config: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(demo_config.read_text() + '\n[downloads]\nchunk_size = "5k"\n')
    result = run("--config", str(config), "--demo", "--data-dir", str(tmp_path / "d"), "queue")
    assert result.returncode == 2 and "downloads.chunk_size" in assert_one_clean_line(result)
    result = run("--config", str(demo_config), "--demo", "queue", env={"TAD_DATA_DIR": str(config) + "/sub"})
    assert result.returncode == 2 and "TAD_DATA_DIR" in assert_one_clean_line(result)


def test_real_process_hostile_group_name_is_one_escaped_line(tmp_path: Path, demo_config: Path) -> None:
    result = run("--config", str(demo_config), "--demo", "--data-dir", str(tmp_path / "d"),
                 "scan", "@\u202eabc\n\x1b[2J")
    assert result.returncode == 1
    line = assert_one_clean_line(result)
    assert "\\u202e" in line and "\\x1b" in line and not _unsafe(line)
