"""The demo keeps its database and downloads in its own data dir: a real library's ``db_path`` and
``output_dir`` (config file or environment) are left aside, with one line saying so; ``-o DIR`` on the
demo's own command line still sends its downloads to DIR."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tad_tui import cli, paths
from helpers import run

GROUP = "@tad_demo_classical"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def real(tmp_path: Path) -> Path:
    """A real library's folder: its music and nothing else (the demo must add nothing to it)."""
    folder = tmp_path / "real"
    (folder / "music").mkdir(parents=True)
    (folder / "music" / "mine.mp3").write_bytes(b"a file of the user's own\n")
    return folder


def _demo_download(tmp_path: Path, config: Path, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"), **env}
    result = run("--config", str(config), "--demo", "download", GROUP, "-l", "3", *args, env=env)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def _demo_dir(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "tad-tui" / "demo"


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_db_path_and_download_dir_from_the_environment_are_left_to_the_real_library(
    tmp_path: Path, demo_config: Path, real: Path
) -> None:
    before = _snapshot(real)
    env = {"DB_PATH": str(real / "library.sqlite3"), "DEFAULT_DOWNLOAD_DIR": str(real / "music")}
    status, stdout, stderr = _demo_download(tmp_path, demo_config, env=env)
    assert status == 0, stderr
    assert _snapshot(real) == before  # no file, no database, nothing touched
    demo = _demo_dir(tmp_path)
    assert (demo / "library.sqlite3").is_file() and len(_files(demo / "downloads")) == 3
    assert stdout.strip().endswith("3 downloaded, 0 skipped, 0 failed")
    notice = stderr.splitlines()[0]
    assert notice.startswith("tad-tui: demo: ignoring general.db_path from environment variable DB_PATH")
    assert f"downloads.output_dir from environment variable DEFAULT_DOWNLOAD_DIR (it saves to {demo / 'downloads'})" in notice


def test_db_path_and_output_dir_from_the_config_file_are_left_to_the_real_library(
    tmp_path: Path, demo_config: Path, real: Path
) -> None:
    config = tmp_path / "real.toml"
    config.write_text(
        demo_config.read_text()
        + f'[general]\ndb_path = "{real / "library.sqlite3"}"\n[downloads]\noutput_dir = "{real / "music"}"\n'
    )
    before = _snapshot(real)
    status, _, stderr = _demo_download(tmp_path, config, env={})
    assert status == 0, stderr
    assert _snapshot(real) == before
    demo = _demo_dir(tmp_path)
    assert (demo / "library.sqlite3").is_file() and len(_files(demo / "downloads")) == 3
    notice = [line for line in stderr.splitlines() if "demo: ignoring" in line]
    assert notice == [
        f"tad-tui: demo: ignoring general.db_path from config file {config} (its library is {demo / 'library.sqlite3'}) "
        f"and downloads.output_dir from config file {config} (it saves to {demo / 'downloads'})"
    ]


def test_output_on_the_demos_command_line_is_used(tmp_path: Path, demo_config: Path, real: Path) -> None:
    before = _snapshot(real)
    chosen = tmp_path / "chosen"
    status, _, stderr = _demo_download(
        tmp_path, demo_config, "-o", str(chosen), env={"DEFAULT_DOWNLOAD_DIR": str(real / "music")}
    )
    assert status == 0, stderr
    assert len(_files(chosen)) == 3 and _snapshot(real) == before
    assert not (_demo_dir(tmp_path) / "downloads").exists()
    assert "ignoring" not in stderr  # -o names the folder: nothing of the user's is left aside


def test_demo_output_dir_from_the_environment_is_where_the_demo_saves(tmp_path: Path, demo_config: Path, real: Path) -> None:
    """The container image's setting: TAD_DEMO_OUTPUT_DIR inside the music volume, beside DEFAULT_DOWNLOAD_DIR."""
    before = _snapshot(real)
    demo_music = tmp_path / "volume" / "demo"
    env = {"DEFAULT_DOWNLOAD_DIR": str(real / "music"), "TAD_DEMO_OUTPUT_DIR": str(demo_music)}
    status, _, stderr = _demo_download(tmp_path, demo_config, env=env)
    assert status == 0, stderr
    assert len(_files(demo_music)) == 3 and _snapshot(real) == before
    assert not (_demo_dir(tmp_path) / "downloads").exists()
    assert "ignoring" not in stderr  # the demo's own folder is named: nothing of the user's is left aside
    (tmp_path / "file").write_text("not a folder\n")
    env["TAD_DEMO_OUTPUT_DIR"] = str(tmp_path / "file" / "demo")
    status, _, stderr = _demo_download(tmp_path, demo_config, env=env)
    assert status == 2 and stderr.startswith("tad-tui: error: demo download folder (demo.output_dir or TAD_DEMO_OUTPUT_DIR): ")


def test_without_real_library_settings_the_demo_says_nothing_about_them(tmp_path: Path, demo_config: Path) -> None:
    status, _, stderr = _demo_download(tmp_path, demo_config, env={})
    assert status == 0, stderr
    assert "ignoring" not in stderr and len(_files(_demo_dir(tmp_path) / "downloads")) == 3


def test_a_real_librarys_folder_not_writable_now_does_not_stop_the_demo(
    tmp_path: Path, demo_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A drive that is not mounted (or read-only) today: the demo does not write there, so it runs;
    without --demo the same settings are refused, naming them."""
    unwritable = tmp_path / "unmounted"
    unwritable.mkdir()
    access = os.access
    monkeypatch.setattr(paths.os, "access", lambda p, mode: access(p, mode) and Path(p) != unwritable)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DB_PATH", str(unwritable / "db" / "library.sqlite3"))
    monkeypatch.setenv("DEFAULT_DOWNLOAD_DIR", str(unwritable / "music"))
    for name in ("API_ID", "API_HASH", "TAD_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    status = cli.main(["--config", str(demo_config), "--demo", "download", "@tad_demo_no_such_group"])
    err = capsys.readouterr().err
    assert status == 1 and "tad_demo_no_such_group" in err.splitlines()[-1], err
    assert list(unwritable.iterdir()) == []
    monkeypatch.setenv("API_ID", "12345")
    monkeypatch.setenv("API_HASH", "0123456789abcdef0123456789abcdef")
    status = cli.main(["--config", str(demo_config), "download", "@some_group"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "general.db_path or DB_PATH" in err and "no permission" in err, err


def test_folder_problem_without_writing_only_refuses_what_can_never_be_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    regular = tmp_path / "file"
    regular.write_text("x")
    assert paths.folder_problem(regular / "sub", writing=False) == f"{regular / 'sub'} cannot be created: {regular} is a file, not a folder"
    assert paths.folder_problem(regular, writing=False) == f"{regular} is a file, not a folder"
    monkeypatch.setattr(paths.os, "access", lambda p, mode: False)
    assert paths.folder_problem(tmp_path / "new", writing=False) is None
    assert "no permission" in (paths.folder_problem(tmp_path / "new") or "")
