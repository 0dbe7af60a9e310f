"""Settings: defaults < config.toml < environment < command-line overrides, with one-line errors."""

from __future__ import annotations

import ast
import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tad_tui import config, paths, sizes
from tad_tui.config import (
    KEYS,
    SCHEMA,
    SECTION_CLASSES,
    SECTIONS,
    TEMPLATE_FIELDS,
    ConfigError,
    Key,
    Settings,
    build_paths,
    ignored_by_demo,
    default_settings,
    describe_keys,
    load_settings,
    render_example,
)

EXAMPLE_FILE = Path(__file__).resolve().parent.parent / "config.toml.example"
SECRET_HASH = "0123456789abcdef0123456789abcdeZ"  # 32 characters, one not hex

# A value of the wrong Python/TOML type for each kind (a new kind without an entry fails the tests).
WRONG_TYPE: dict[str, Any] = {
    "bool": "yes",
    "int": "3",
    "float": "5.0",
    "size": 1.5,
    "str": 42,
    "choice": 42,
    "path": 42,
    "list": "json://127.0.0.1/x",  # one URL: an array of them is what it takes
}

# Invalid values the bounds cannot express; bounds-derived ones are added by invalid_values().
EXTRA_INVALID: dict[str, list[Any]] = {
    "telegram.api_hash": [SECRET_HASH, "abc", "0" * 33],
    "telegram.session_name": [".hidden", "", "a/b", "x" * 65, "spaced name"],
    "downloads.unknown": ["x" * 65, "a/b", "a\\b"],
    "telegram.proxy": [
        "socks6://h:1080",
        "socks5://h",
        "socks5://h:0",
        "socks5://h:99999",
        "socks5://h:port",
        "h:1080",
        "socks5://:1080",
        "socks4://u:p@h:1080",
        "socks5://:p@h:1080",
        "http://h:8080/path",
    ],
    "demo.password": ["x" * 257, "new\nline"],
    "downloads.chunk_size": [5000, 12288, "3KiB", "2MiB"],
    "downloads.filename_template": ["{titel}", "", "{title", "{title.upper}", "{0}", "x" * 513, "{title!x}"],
    "performance.rate_limit_requests_per_second": [0, 0.0],
    "performance.bandwidth_limit": [1000, "1KB", "16383"],
    "demo.bandwidth_per_connection": [16383, "10KiB"],
    "ui.theme": ["", "t" * 65],
    "ui.player": ["mpv 'unclosed", "mpv\0"],
    "notifications.urls": [["nosuchservice://host/x"], ["json://"], ["ntfy://ntfy.sh/topic", "not a url"], ["json://127.0.0.1/x", 7]],
    "serve.host": ["http://nas", "nas:8765", "[::1]", "two words", "a" * 254, "user@nas"],
    "serve.token": ["hunter2", "x" * 15, "y" * 257, "sixteen chars ok", "tab\tseparated-token-here"],
}


def invalid_values(key: Key) -> list[Any]:
    """Values ``key`` must reject: just outside its bounds, a bad choice, plus EXTRA_INVALID."""
    values = list(EXTRA_INVALID.get(key.dotted, ()))
    step: Any = 1.0 if key.kind == "float" else 1
    if key.kind in ("int", "float", "size"):
        values += [type(step)(key.low) - step] if key.low is not None else []
        values += [type(step)(key.high) + step] if key.high is not None else []
    if key.kind == "choice":
        values.append("VERBOSE")
    if key.kind == "path":
        values.append("a\0b")
    return values


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_for(values: dict[str, Any]) -> str:
    """A config file setting ``{"section.name": value}``."""
    lines: list[str] = []
    for section in SECTIONS:
        names = {d.split(".")[1]: v for d, v in values.items() if d.split(".")[0] == section}
        if names:
            lines.append(f"[{section}]")
            lines += [f"{name} = {toml_value(v)}" for name, v in names.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def no_default_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Keep the user's real config file out of every test."""
    absent = tmp_path / "no-such-config-dir" / "config.toml"
    monkeypatch.setattr(paths, "default_config_file", lambda: absent)
    return absent


@pytest.fixture
def write_config(tmp_path: Path) -> Any:
    def write(text: str, name: str = "config.toml") -> Path:
        file = tmp_path / "cfg" / name
        file.parent.mkdir(exist_ok=True)
        file.write_text(text, encoding="utf-8")
        return file

    return write


def load_error(*args: Any, **kwargs: Any) -> str:
    kwargs.setdefault("env", {})
    with pytest.raises(ConfigError) as caught:
        load_settings(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    return message


def same_as_defaults(loaded: Settings) -> bool:
    return dataclasses.replace(loaded, config_file=None) == default_settings()


def key_ids(key: Key) -> str:
    return key.dotted


# --- defaults and the schema ---------------------------------------------------------------


def test_defaults_load_without_any_file() -> None:
    loaded = load_settings(env={})
    assert loaded == default_settings()
    assert loaded.config_file is None
    assert loaded.downloads.max_concurrent == 3
    assert loaded.downloads.chunk_size == 1048576
    assert loaded.demo.bandwidth_per_connection == 4_000_000
    assert loaded.general.data_dir is None
    assert loaded.general.log_level == "INFO"
    assert loaded.downloads.retry_delay == 5.0 and isinstance(loaded.downloads.retry_delay, float)


def test_every_default_passes_its_own_validation() -> None:
    overrides = {key.dotted: key.default for key in SCHEMA}
    assert load_settings(env={}, overrides=overrides) == default_settings()


def test_dataclasses_match_the_schema() -> None:
    for section, cls in SECTION_CLASSES.items():
        names = [f.name for f in dataclasses.fields(cls)]
        assert names == [key.name for key in SCHEMA if key.section == section]
    assert [f.name for f in dataclasses.fields(Settings)] == [*SECTIONS, "config_file"]
    assert describe_keys() == SCHEMA
    assert set(KEYS) == {key.dotted for key in SCHEMA}


def test_settings_value_reads_a_dotted_key() -> None:
    assert default_settings().value("downloads.parts_per_file") == 8
    with pytest.raises(KeyError):
        default_settings().value("downloads.nope")


def test_repr_never_shows_the_api_hash() -> None:
    loaded = load_settings(env={"API_HASH": "ab" * 16})
    assert loaded.telegram.api_hash == "ab" * 16
    assert "ab" * 16 not in repr(loaded)


# --- the example file ----------------------------------------------------------------------


def test_committed_example_is_the_rendered_one() -> None:
    assert EXAMPLE_FILE.read_text(encoding="utf-8") == render_example()


def test_example_loads_to_the_defaults() -> None:
    loaded = load_settings(EXAMPLE_FILE, env={})
    assert same_as_defaults(loaded)
    assert loaded.config_file == EXAMPLE_FILE


def test_example_sets_every_key_and_lists_every_env_var() -> None:
    text = render_example()
    document = tomllib.loads(text)
    assert {f"{s}.{n}" for s, table in document.items() for n in table} == set(KEYS)
    for key in SCHEMA:
        if key.env:
            assert f"{key.env}  " in text and key.dotted in text
    assert "defaults < this file < environment variables < command-line flags" in text
    assert "~/.config/tad-tui/config.toml" in text


# --- precedence ----------------------------------------------------------------------------


def test_file_then_env_then_overrides(write_config: Any) -> None:
    file = write_config(
        toml_for(
            {
                "downloads.max_concurrent": 4,
                "general.log_level": "warning",
                "telegram.session_name": "from-file",
                "telegram.api_id": 111,
                "ui.theme": "file-theme",
            }
        )
    )
    env = {"MAX_CONCURRENT_DOWNLOADS": "5", "LOG_LEVEL": "error", "API_ID": "222"}
    overrides = {"downloads.max_concurrent": 6, "telegram.api_id": "333"}

    from_file = load_settings(file, env={})
    assert (from_file.downloads.max_concurrent, from_file.general.log_level) == (4, "WARNING")
    assert from_file.config_file == file

    from_env = load_settings(file, env=env)
    assert (from_env.downloads.max_concurrent, from_env.general.log_level) == (5, "ERROR")
    assert from_env.telegram.api_id == 222
    assert from_env.telegram.session_name == "from-file"  # env does not set it, so the file wins

    from_all = load_settings(file, env=env, overrides=overrides)
    assert (from_all.downloads.max_concurrent, from_all.telegram.api_id) == (6, 333)
    assert from_all.general.log_level == "ERROR"
    assert from_all.ui.theme == "file-theme"


def test_empty_env_var_counts_as_unset(write_config: Any) -> None:
    file = write_config(toml_for({"downloads.max_concurrent": 4}))
    loaded = load_settings(file, env={"MAX_CONCURRENT_DOWNLOADS": "", "LOG_LEVEL": "   "})
    assert loaded.downloads.max_concurrent == 4
    assert loaded.general.log_level == "INFO"


def test_none_override_counts_as_not_given() -> None:
    loaded = load_settings(env={"MAX_CONCURRENT_DOWNLOADS": "5"}, overrides={"downloads.max_concurrent": None})
    assert loaded.downloads.max_concurrent == 5


def test_default_config_file_is_read_when_present(monkeypatch: pytest.MonkeyPatch, write_config: Any) -> None:
    file = write_config(toml_for({"downloads.retry_attempts": 9}))
    monkeypatch.setattr(paths, "default_config_file", lambda: file)
    loaded = load_settings(env={})
    assert loaded.downloads.retry_attempts == 9
    assert loaded.config_file == file


def test_string_overrides_are_parsed_by_kind() -> None:
    loaded = load_settings(
        env={},
        overrides={
            "downloads.max_concurrent": "7",
            "downloads.chunk_size": "512KiB",
            "downloads.retry_delay": "2.5",
            "metadata.verify_checksums": "no",
            "general.log_level": "debug",
            "performance.bandwidth_limit": "2MB",
        },
    )
    assert loaded.downloads.max_concurrent == 7
    assert loaded.downloads.chunk_size == 512 * 1024
    assert loaded.downloads.retry_delay == 2.5
    assert loaded.metadata.verify_checksums is False
    assert loaded.general.log_level == "DEBUG"
    assert loaded.performance.bandwidth_limit == 2_000_000


def test_toml_value_forms(write_config: Any) -> None:
    file = write_config(
        toml_for(
            {
                "downloads.chunk_size": 524288,
                "performance.bandwidth_limit": "1.5 MB",
                "demo.bandwidth_per_connection": 0,
                "downloads.retry_delay": 2,
                "downloads.filename_template": "{track_number:02} {title}.{ext}",
            }
        )
    )
    loaded = load_settings(file, env={})
    assert loaded.downloads.chunk_size == 524288
    assert loaded.performance.bandwidth_limit == 1_500_000
    assert loaded.demo.bandwidth_per_connection == 0
    assert loaded.downloads.retry_delay == 2.0 and isinstance(loaded.downloads.retry_delay, float)
    assert loaded.downloads.filename_template == "{track_number:02} {title}.{ext}"


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_in_range_int_loads_the_same_from_file_env_and_option(write_config: Any, data: st.DataObject) -> None:
    key = data.draw(st.sampled_from([k for k in SCHEMA if k.kind == "int"]))
    value = data.draw(st.integers(min_value=int(key.low or 0), max_value=int(key.high or 10**9)))
    from_file = load_settings(write_config(toml_for({key.dotted: value})), env={})
    from_option = load_settings(env={}, overrides={key.dotted: str(value)})
    assert from_file.value(key.dotted) == from_option.value(key.dotted) == value
    if key.env:
        assert load_settings(env={key.env: str(value)}).value(key.dotted) == value


# --- every key rejects bad values ----------------------------------------------------------


def test_every_key_that_can_be_invalid_has_invalid_values() -> None:
    for key in SCHEMA:
        assert key.kind in WRONG_TYPE
        assert key.kind == "bool" or invalid_values(key), f"no invalid value known for {key.dotted}"


def assert_names_key(message: str, key: Key, value: Any, where: str) -> None:
    assert key.dotted in message
    assert where in message
    assert key.allowed in message
    if key.secret:
        assert "value hidden" in message
    elif len(repr(value)) < 60:
        assert repr(value) in message


@pytest.mark.parametrize("key", SCHEMA, ids=key_ids)
def test_every_key_rejects_the_wrong_type(key: Key, write_config: Any) -> None:
    file = write_config(toml_for({key.dotted: WRONG_TYPE[key.kind]}))
    message = load_error(file)
    assert_names_key(message, key, WRONG_TYPE[key.kind], f"config file {file}")
    assert "expected" in message


@pytest.mark.parametrize("key", SCHEMA, ids=key_ids)
@pytest.mark.parametrize("shape", [[1, 2], {"a": 1}], ids=["array", "table"])
def test_every_key_rejects_arrays_and_tables(key: Key, shape: Any, write_config: Any) -> None:
    file = write_config(toml_for({key.dotted: shape}))
    message = load_error(file)
    assert key.dotted in message
    assert ("an array" if isinstance(shape, list) else "a table") in message


@pytest.mark.parametrize(
    ("key", "value"),
    [(key, value) for key in SCHEMA for value in invalid_values(key)],
    ids=lambda item: item.dotted if isinstance(item, Key) else repr(item)[:20],
)
def test_every_key_rejects_invalid_values(key: Key, value: Any, write_config: Any) -> None:
    file = write_config(toml_for({key.dotted: value}))
    assert_names_key(load_error(file), key, value, f"config file {file}")
    message = load_error(overrides={key.dotted: value})
    assert_names_key(message, key, value, f"command-line option for {key.dotted}")


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("telegram.api_id", 2147483648, "out of range"),
        ("downloads.max_concurrent", 0, "out of range"),
        ("downloads.max_concurrent", 33, "an integer from 1 to 32"),
        ("downloads.chunk_size", 12288, "divides 1 MiB"),
        ("downloads.retry_delay", float("inf"), "finite"),
        ("performance.bandwidth_limit", 1000, "at least 16 KiB"),
        ("telegram.session_name", ".x", "not starting with '.'"),
    ],
)
def test_messages_say_what_is_allowed(dotted: str, value: Any, expected: str) -> None:
    assert expected in load_error(overrides={dotted: value})


def test_api_hash_value_is_never_shown(write_config: Any) -> None:
    file = write_config(toml_for({"telegram.api_hash": SECRET_HASH}))
    for message in (
        load_error(file),
        load_error(env={"API_HASH": SECRET_HASH}),
        load_error(overrides={"telegram.api_hash": SECRET_HASH}),
        load_error(overrides={"telegram.api_hash": 12345}),
    ):
        assert "telegram.api_hash" in message and "value hidden" in message
        assert SECRET_HASH not in message and SECRET_HASH[:8] not in message and "12345" not in message


def test_filename_template_unknown_field_is_named_with_the_allowed_ones() -> None:
    message = load_error(overrides={"downloads.filename_template": "{performer} - {titel}.{ext}"})
    assert "unknown field {titel}" in message
    for name in TEMPLATE_FIELDS:
        assert f"{{{name}}}" in message


def test_filename_template_parse_error_is_reported() -> None:
    message = load_error(overrides={"downloads.filename_template": "{title"})
    assert "not a valid template" in message


# --- environment variables -----------------------------------------------------------------

ENV_BAD_TEXT = {"int": "many", "choice": "LOUD", "path": "a\0b", "list": "json://127.0.0.1/x nosuchservice://host/x"}


@pytest.mark.parametrize("key", [key for key in SCHEMA if key.env], ids=key_ids)
def test_bad_env_value_names_the_variable(key: Key) -> None:
    assert key.env is not None
    bad = ENV_BAD_TEXT.get(key.kind) or EXTRA_INVALID[key.dotted][0]
    message = load_error(env={key.env: bad})
    assert f"environment variable {key.env}" in message
    assert key.dotted in message


def test_env_values_are_parsed_by_kind(tmp_path: Path) -> None:
    env = {
        "API_ID": " 12345 ",
        "API_HASH": "AB" * 16,
        "SESSION_NAME": "work.account",
        "LOG_LEVEL": "critical",
        "TAD_DATA_DIR": str(tmp_path / "data"),
    }
    loaded = load_settings(env=env)
    assert loaded.telegram.api_id == 12345
    assert loaded.telegram.api_hash == "AB" * 16
    assert loaded.telegram.has_credentials
    assert loaded.telegram.session_name == "work.account"
    assert loaded.general.log_level == "CRITICAL"
    assert loaded.general.data_dir == tmp_path / "data"


# --- unknown names, bad files --------------------------------------------------------------


def test_misspelt_key_suggests_the_right_one(write_config: Any) -> None:
    file = write_config("[downloads]\nmax_concurent = 4\n")
    message = load_error(file)
    assert str(file) in message
    assert "downloads.max_concurent" in message
    assert "did you mean downloads.max_concurrent?" in message


def test_key_in_the_wrong_section_suggests_its_section(write_config: Any) -> None:
    assert "did you mean downloads.max_concurrent?" in load_error(write_config("[general]\nmax_concurrent = 4\n"))
    assert "did you mean downloads.chunk_size?" in load_error(write_config("chunk_size = 4096\n"))


def test_unknown_key_without_a_close_match_lists_the_section(write_config: Any) -> None:
    message = load_error(write_config("[ui]\nzzzzzz = 1\n"))
    assert "ui.zzzzzz" in message
    assert "keys in [ui]: theme" in message


def test_unknown_section(write_config: Any) -> None:
    file = write_config("[downlods]\nmax_concurrent = 4\n")
    message = load_error(file)
    assert str(file) in message and "[downlods]" in message and "did you mean [downloads]?" in message
    message = load_error(write_config("[zzzzzz]\na = 1\n"))
    assert "unknown section [zzzzzz]" in message and ", ".join(SECTIONS) in message


def test_sub_table_of_a_section_is_an_unknown_key(write_config: Any) -> None:
    message = load_error(write_config("[downloads.extra]\na = 1\n"))
    assert "downloads.extra" in message


def test_section_that_is_not_a_table(write_config: Any) -> None:
    assert "[ui] must be a section" in load_error(write_config('ui = "dark"\n'))


def test_unknown_override_key_suggests() -> None:
    message = load_error(overrides={"downloads.max_concurent": 4})
    assert "command-line" in message and "did you mean downloads.max_concurrent?" in message


def test_invalid_toml_gives_file_line_and_column(write_config: Any) -> None:
    file = write_config("[downloads]\nmax_concurrent = = 4\n")
    message = load_error(file)
    assert str(file) in message and "not valid TOML" in message and "line 2" in message


def test_non_utf8_file(write_config: Any) -> None:
    file = write_config("")
    file.write_bytes(b'[ui]\ntheme = "\xff"\n')
    assert "not valid TOML" in load_error(file)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert load_error(missing) == f"config file {missing} does not exist"


def test_unreadable_file(tmp_path: Path) -> None:
    assert "cannot be read" in load_error(tmp_path)  # a directory is not a readable file


# --- paths ---------------------------------------------------------------------------------


def test_relative_paths_in_a_file_are_relative_to_the_file(
    write_config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    file = write_config(
        toml_for(
            {
                "general.data_dir": "data",
                "general.db_path": str(tmp_path / "abs.sqlite3"),
                "downloads.output_dir": "~/Music",
                "demo.catalogue_dir": "",
            }
        )
    )
    loaded = load_settings(file, env={})
    assert loaded.general.data_dir == file.parent / "data"
    assert loaded.general.db_path == tmp_path / "abs.sqlite3"
    assert loaded.downloads.output_dir == tmp_path / "home" / "Music"
    assert loaded.demo.catalogue_dir is None


def test_relative_config_file_path_is_made_absolute(
    write_config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = write_config(toml_for({"general.data_dir": "data"}))
    monkeypatch.chdir(tmp_path)
    loaded = load_settings(Path("cfg/config.toml"), env={})
    assert loaded.config_file == file
    assert loaded.general.data_dir == file.parent / "data"


def test_relative_paths_from_env_and_options_are_relative_to_cwd(
    write_config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    file = write_config(toml_for({"general.data_dir": "data"}))
    loaded = load_settings(
        file,
        env={"TAD_DATA_DIR": "envdata", "DEFAULT_DOWNLOAD_DIR": "out"},
        overrides={"general.db_path": Path("db/lib.sqlite3"), "demo.catalogue_dir": "cat"},
    )
    assert loaded.general.data_dir == work / "envdata"
    assert loaded.downloads.output_dir == work / "out"
    assert loaded.general.db_path == work / "db" / "lib.sqlite3"
    assert loaded.demo.catalogue_dir == work / "cat"


def test_build_paths_fills_the_overrides(tmp_path: Path) -> None:
    loaded = load_settings(
        env={},
        overrides={
            "general.data_dir": str(tmp_path / "d"),
            "general.db_path": str(tmp_path / "x.sqlite3"),
            "downloads.output_dir": str(tmp_path / "out"),
            "demo.catalogue_dir": str(tmp_path / "cat"),
        },
    )
    built = build_paths(loaded, demo=False)
    assert built.data_dir == (tmp_path / "d").resolve()
    assert built.db == tmp_path / "x.sqlite3"
    assert built.downloads_dir == tmp_path / "out"
    assert built.demo_catalogue_dir == tmp_path / "cat"
    assert [key.dotted for key in ignored_by_demo(loaded)] == ["general.db_path", "downloads.output_dir"]


def test_the_demo_keeps_its_database_and_downloads_in_its_own_data_dir(tmp_path: Path) -> None:
    """db_path and output_dir are a real library's; only an output named on the command line goes."""
    loaded = load_settings(
        env={"DB_PATH": str(tmp_path / "x.sqlite3"), "DEFAULT_DOWNLOAD_DIR": str(tmp_path / "music")},
        overrides={"general.data_dir": str(tmp_path / "d"), "demo.catalogue_dir": str(tmp_path / "cat")},
    )
    demo = (tmp_path / "d").resolve() / "demo"
    built = build_paths(loaded, demo=True)
    assert (built.data_dir, built.db, built.downloads_dir) == (demo, demo / "library.sqlite3", demo / "downloads")
    assert built.demo_catalogue_dir == tmp_path / "cat"  # a demo key: the demo's own
    named = build_paths(loaded, demo=True, named_for_demo=True)
    assert (named.db, named.downloads_dir) == ((tmp_path / "d").resolve() / "library.sqlite3", (tmp_path / "d").resolve() / "downloads")
    with_output = build_paths(loaded, demo=True, output_on_command_line=True)
    assert (with_output.db, with_output.downloads_dir) == (demo / "library.sqlite3", tmp_path / "music")
    assert [key.dotted for key in ignored_by_demo(loaded, output_on_command_line=True)] == ["general.db_path"]
    assert ignored_by_demo(load_settings(env={})) == []


def test_demo_output_dir_is_where_the_demo_saves_and_leaves_nothing_aside(tmp_path: Path) -> None:
    """A container image points TAD_DEMO_OUTPUT_DIR into its music volume beside DEFAULT_DOWNLOAD_DIR."""
    loaded = load_settings(
        env={"DEFAULT_DOWNLOAD_DIR": str(tmp_path / "music"), "TAD_DEMO_OUTPUT_DIR": str(tmp_path / "music" / "demo")},
        overrides={"general.data_dir": str(tmp_path / "d")},
    )
    assert build_paths(loaded, demo=True).downloads_dir == tmp_path / "music" / "demo"
    assert ignored_by_demo(loaded) == []  # the demo's folder is named for it: nothing to tell
    assert build_paths(loaded, demo=False).downloads_dir == tmp_path / "music"  # the library's own
    named = load_settings(
        env={"TAD_DEMO_OUTPUT_DIR": str(tmp_path / "music" / "demo")},
        overrides={"general.data_dir": str(tmp_path / "d"), "downloads.output_dir": str(tmp_path / "here")},
    )
    assert build_paths(named, demo=True, output_on_command_line=True).downloads_dir == tmp_path / "here"  # -o wins


def test_tad_config_names_the_config_file_and_config_wins_over_it(tmp_path: Path) -> None:
    mounted = tmp_path / "mounted.toml"
    mounted.write_text("[downloads]\nmax_concurrent = 7\n", encoding="utf-8")
    given = tmp_path / "given.toml"
    given.write_text("[downloads]\nmax_concurrent = 5\n", encoding="utf-8")
    from_env = load_settings(env={"TAD_CONFIG": str(mounted)})
    assert (from_env.downloads.max_concurrent, from_env.config_file) == (7, mounted)
    assert load_settings(given, env={"TAD_CONFIG": str(mounted)}).downloads.max_concurrent == 5
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"TAD_CONFIG": str(tmp_path / "nowhere.toml")})
    assert str(caught.value) == (
        f"config file {tmp_path / 'nowhere.toml'} (from the environment variable TAD_CONFIG) does not exist"
    )
    assert load_settings(env={"TAD_CONFIG": "  "}).config_file in (None, paths.default_config_file().absolute())


def test_build_paths_defaults_use_the_platform_data_dir() -> None:
    defaults = default_settings()
    assert build_paths(defaults, demo=False) == paths.Paths(data_dir=paths.default_data_dir())
    assert build_paths(defaults, demo=True).data_dir == paths.default_data_dir() / "demo"


def test_the_demo_never_uses_an_accounts_data_dir_unless_named_for_it(tmp_path: Path) -> None:
    """TAD_DATA_DIR, general.data_dir or --data-dir without --demo name a real account's library."""
    loaded = load_settings(env={"TAD_DATA_DIR": str(tmp_path / "account")})
    assert build_paths(loaded, demo=False).data_dir == (tmp_path / "account").resolve()
    assert build_paths(loaded, demo=True).data_dir == (tmp_path / "account").resolve() / "demo"
    assert build_paths(loaded, demo=True, named_for_demo=True).data_dir == (tmp_path / "account").resolve()


@pytest.mark.parametrize(
    "source",
    [*sorted(Path(config.__file__).parent.glob("*.py")), Path(sizes.__file__)],
    ids=lambda path: path.name,
)
def test_module_has_no_textual_import(source: Path) -> None:
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] == "textual"]


# --- the proxy URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("socks5://127.0.0.1:1080", ("socks5", "127.0.0.1", 1080, None, None)),
        ("SOCKS5://me:p%40ss%3Aword@proxy.example:1080", ("socks5", "proxy.example", 1080, "me", "p@ss:word")),
        ("socks4://me@10.0.0.1:1080", ("socks4", "10.0.0.1", 1080, "me", None)),
        ("http://me:pw@[::1]:3128", ("http", "::1", 3128, "me", "pw")),
    ],
)
def test_proxy_urls_parse_to_telethons_proxy_argument(text: str, expected: tuple[Any, ...] | None) -> None:
    from tad_tui.telegram.proxy import parse_proxy

    settings = load_settings(env={"TAD_PROXY": text} if text else {})
    proxy = settings.telegram.proxy_url
    assert proxy == parse_proxy(text)
    if expected is None:
        assert proxy is None
        return
    assert proxy is not None
    scheme, host, port, user, password = expected
    assert proxy.telethon() == {
        "proxy_type": scheme, "addr": host, "port": port, "rdns": True, "username": user, "password": password
    }
    assert password is None or password not in repr(proxy) + repr(settings) + proxy.redacted


def test_a_bad_proxy_names_the_problem_but_never_the_password() -> None:
    message = load_error(env={"TAD_PROXY": "socks6://me:pa55word@h:1080"})
    assert "environment variable TAD_PROXY (for telegram.proxy)" in message
    assert "unsupported proxy scheme 'socks6'" in message and "value hidden" in message
    assert "pa55word" not in message
