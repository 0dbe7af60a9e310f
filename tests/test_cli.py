"""The ``tad-tui`` command as a user runs it: a new process each time, real exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tad_tui.lock import SHARED_FD_ENV, DataDirBusy, WriterLock
from tad_tui.paths import Paths

from helpers import assert_one_clean_line, run

# The private channel has no username (None in JSON): it is reached by its t.me/c/ link or its id.
DEMO_USERNAMES = {
    "tad_demo_classical", "tad_demo_archive", "tad_demo_mixes", "tad_demo_hostile", "tad_demo_live", "tad_demo_forum", None,
}


@pytest.fixture
def demo(tmp_path: Path, demo_config: Path):
    data = tmp_path / "data"

    def demo_run(*args: str) -> subprocess.CompletedProcess[str]:
        return run("--config", str(demo_config), "--demo", "--data-dir", str(data), *args)

    demo_run.data_dir = data  # type: ignore[attr-defined]
    return demo_run


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("groups", "scan", "download", "queue", "search", "performance", "login", "logout"):
        assert command in result.stdout


def test_groups_json_lists_the_demo_groups(demo) -> None:
    result = demo("groups", "--json")
    assert result.returncode == 0, result.stderr
    groups = json.loads(result.stdout)
    assert {g["username"] for g in groups} == DEMO_USERNAMES
    assert all(set(g) >= {"id", "title", "username", "audio_count", "last_checked"} for g in groups)


def test_scan_stores_the_archive_then_fetches_only_newer_messages(demo) -> None:
    first = demo("scan", "@tad_demo_archive", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["new"] >= 1000 and report["total"] == report["new"]
    again = json.loads(demo("scan", "@tad_demo_archive", "--json").stdout)
    assert again["new"] == 0 and again["total"] == report["total"]
    groups = {g["username"]: g for g in json.loads(demo("groups", "--json").stdout)}
    assert groups["tad_demo_archive"]["audio_count"] == report["total"]
    assert groups["tad_demo_archive"]["last_checked"] is not None


def test_scan_by_title_and_human_output(demo) -> None:
    result = demo("scan", "TAD Demo · Classical")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("TAD Demo · Classical: ") and " new, " in result.stdout


def test_unknown_group_fails_with_one_line(demo) -> None:
    result = demo("scan", "@no_such_group")
    assert result.returncode == 1
    assert "no group or channel is called @no_such_group" in assert_one_clean_line(result)


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[downloads]\nchunk_sise = 4096\n", "downloads.chunk_sise"),
        ('[downloads]\nchunk_size = "lots"\n', "downloads.chunk_size"),
        ("[downloads]\nmax_concurrent = 0\n", "downloads.max_concurrent"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[downloads\n", "config.toml"),
    ],
)
@pytest.mark.parametrize("command", [("groups",), ("scan", "@tad_demo_archive")])
def test_bad_config_exits_2_with_one_line(tmp_path: Path, toml: str, named: str, command: tuple[str, ...]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    result = run("--config", str(config), "--demo", "--data-dir", str(tmp_path / "d"), *command)
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert named in line and str(config) in line


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    result = run("--demo", "--data-dir", str(tmp_path), "groups", env={"MAX_CONCURRENT_DOWNLOADS": "many"})
    assert result.returncode == 2
    assert "MAX_CONCURRENT_DOWNLOADS" in assert_one_clean_line(result)


def test_missing_credentials_point_to_the_demo(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "groups")
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert "API_ID" in line and "--demo" in line


@pytest.mark.parametrize("data_dir", ["/sys/x", "/proc/x"])
def test_a_data_dir_that_cannot_be_made_exits_2_with_one_line(data_dir: str) -> None:
    """As root the write-permission pre-check passes there, and mkdir fails (EPERM in /sys, ENOENT in /proc)."""
    result = run("--data-dir", data_dir, "groups", "--offline")
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert data_dir in line and "--data-dir" in line


def test_a_corrupt_database_is_refused_before_the_demo_catalogue_is_rendered(tmp_path: Path) -> None:
    """A data dir with no catalogue yet: the database is checked first, not after the long render."""
    catalogue = tmp_path / "catalogue"
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\ncatalogue_dir = "{catalogue}"\n')
    data = tmp_path / "data"
    data.mkdir()
    (data / "library.sqlite3").write_bytes(b"this is no database\n" * 200)
    result = run("--config", str(config), "--demo", "--data-dir", str(data), "groups")
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert "library.sqlite3" in line and "corrupt" in line
    assert not catalogue.exists() or not any(catalogue.iterdir())


def test_second_writer_is_refused_while_read_only_listing_works(demo) -> None:
    assert demo("scan", "@tad_demo_classical").returncode == 0
    with WriterLock(Paths(demo.data_dir).lock_file):
        refused = demo("scan", "@tad_demo_classical")
        assert refused.returncode == 2
        assert f"pid {os.getpid()}" in assert_one_clean_line(refused)
        offline = demo("groups", "--offline", "--json")
        assert offline.returncode == 0, offline.stderr
        assert "tad_demo_classical" in {g["username"] for g in json.loads(offline.stdout)}
    assert demo("scan", "@tad_demo_classical").returncode == 0


def test_a_writer_in_another_container_or_machine_is_named_with_its_host(demo) -> None:
    """Two containers sharing a data volume are both pid 1: the refusal says whose pid 1."""
    assert demo("scan", "@tad_demo_classical").returncode == 0
    lock_file = Paths(demo.data_dir).lock_file
    with WriterLock(lock_file):
        lock_file.write_text("1 3f2a9c1b7d0e\x1b[2J")  # what another host's holder wrote (a hostile name, too)
        refused = demo("scan", "@tad_demo_classical")
    line = assert_one_clean_line(refused)
    assert refused.returncode == 2 and "another tad-tui (pid 1 on 3f2a9c1b7d0e" in line and "\x1b" not in line
    with WriterLock(lock_file):  # this machine's own holder: the pid alone
        assert f"(pid {os.getpid()}) is using" in assert_one_clean_line(demo("scan", "@tad_demo_classical"))


_CHILD_TAKES_THE_LOCK = """
import os, sys
from pathlib import Path
from tad_tui.lock import DataDirBusy, WriterLock
lock = WriterLock(Path(sys.argv[1]))
try:
    lock.acquire()
except DataDirBusy as busy:
    print("refused:", busy, flush=True)
    raise SystemExit(2)
print("holds; passed on:", os.environ.get("TAD_WRITER_LOCK_FD"), flush=True)
sys.stdin.readline()
lock.release()
"""


def _child_taking(lock_file: Path, fd: int, passed: bool = True) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD_TAKES_THE_LOCK, str(lock_file)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        pass_fds=(fd,) if passed else (), env={**os.environ, SHARED_FD_ENV: str(fd)},
    )


def test_a_child_given_the_locked_descriptor_takes_the_lock_over_with_no_gap(tmp_path: Path) -> None:
    """As serve and the app of a browser session: nobody else can take the data dir in between."""
    lock_file = tmp_path / "writer.lock"
    parent = WriterLock(lock_file)
    parent.acquire()
    try:
        assert parent.fd is not None
        child = _child_taking(lock_file, parent.fd)
        assert child.stdout is not None and child.stdout.readline().strip() == "holds; passed on: None"
        assert lock_file.read_text().split()[0] == str(child.pid)
        with pytest.raises(DataDirBusy, match=f"pid {child.pid}"):
            WriterLock(lock_file).acquire()
        child.communicate("\n", timeout=30)  # it releases the lock and ends
        assert child.returncode == 0
        with pytest.raises(DataDirBusy):
            WriterLock(lock_file).acquire()  # still the parent's: the child's release freed nothing
        parent.stamp()
        assert lock_file.read_text().split()[0] == str(os.getpid())
        # A number that is not a descriptor of the lock file (here the child's stdin) is not taken for one.
        stranger = _child_taking(lock_file, 0, passed=False)
        out, _ = stranger.communicate("", timeout=30)
        assert stranger.returncode == 2 and f"refused: another tad-tui (pid {os.getpid()})" in out
    finally:
        parent.release()
    with WriterLock(lock_file):
        pass  # free once the parent let go


def test_demo_without_data_dir_uses_its_own_folder(tmp_path: Path, demo_config: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    result = run("--config", str(demo_config), "--demo", "groups", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xdg" / "tad-tui" / "demo" / "library.sqlite3").exists()
    assert not (tmp_path / "xdg" / "tad-tui" / "library.sqlite3").exists()


def test_demo_with_an_accounts_data_dir_from_the_environment_uses_its_demo_folder(tmp_path: Path, demo_config: Path) -> None:
    account = tmp_path / "account"
    result = run("--config", str(demo_config), "--demo", "groups", "--json", env={"TAD_DATA_DIR": str(account)})
    assert result.returncode == 0, result.stderr
    assert (account / "demo" / "library.sqlite3").exists()
    assert not (account / "library.sqlite3").exists() and not (account / "writer.lock").exists()


# --- takeout (data export) scans -------------------------------------------------------------

# The demo with the simulated Telegram delaying every data export by an hour, as Telegram does the
# first time (there is no switch for it: a test-only wrapper injects the fault).
_DELAYED_EXPORT = """
import sys
from tad_tui.telegram.sim import demo
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram

class DelayedExport(SimulatedTelegram):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inject(FaultRule("InitTakeoutSessionRequest", "TAKEOUT_INIT_DELAY_3600", code=420, times=-1))

demo.SimulatedTelegram = DelayedExport
from tad_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_scan_and_download_with_takeout(demo) -> None:
    scanned = demo("scan", "@tad_demo_archive", "--takeout", "--json")
    assert scanned.returncode == 0, scanned.stderr
    assert json.loads(scanned.stdout)["new"] >= 1000
    downloaded = demo("download", "@tad_demo_classical", "--takeout", "-l", "1", "--json")
    assert downloaded.returncode == 0, downloaded.stderr
    assert json.loads(downloaded.stdout.splitlines()[-1])["downloaded"] == 1


def test_telegram_delaying_a_takeout_exits_1_in_words(tmp_path: Path, demo_config: Path) -> None:
    data = tmp_path / "data"
    args = ["--config", str(demo_config), "--demo", "--data-dir", str(data)]
    result = subprocess.run(
        [sys.executable, "-c", _DELAYED_EXPORT, *args, "scan", "@tad_demo_archive", "--takeout"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 1
    line = assert_one_clean_line(result)
    assert "allows it in about 1 hour" in line and "without --takeout" in line
    plain = subprocess.run(
        [sys.executable, "-c", _DELAYED_EXPORT, *args, "scan", "@tad_demo_archive", "--json"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr  # without --takeout the same scan goes through


# --- proxy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxy", "problem"),
    [
        ("socks6://me:pa55-secret@127.0.0.1:1080", "unsupported proxy scheme 'socks6'"),
        ("socks5://me:pa55-secret@127.0.0.1:99999", "port"),
        ("socks5://me:pa55-secret@127.0.0.1", "no port"),
    ],
)
def test_a_bad_proxy_exits_2_naming_the_key_never_the_password(tmp_path: Path, proxy: str, problem: str) -> None:
    from_env = run("--demo", "--data-dir", str(tmp_path / "d"), "groups", env={"TAD_PROXY": proxy})
    assert from_env.returncode == 2
    line = assert_one_clean_line(from_env)
    assert "TAD_PROXY" in line and "telegram.proxy" in line and problem in line
    assert "pa55-secret" not in from_env.stderr
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\nproxy = "{proxy}"\n')
    from_file = run("--config", str(config), "--demo", "--data-dir", str(tmp_path / "d"), "groups")
    assert from_file.returncode == 2
    line = assert_one_clean_line(from_file)
    assert "telegram.proxy" in line and "pa55-secret" not in line


def test_a_reader_that_stops_early_ends_the_listing_quietly(demo, demo_config: Path) -> None:
    """`tad-tui search … | head -1`: exit 0 and nothing on stderr, not a BrokenPipeError."""
    assert demo("scan", "@tad_demo_archive").returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "tad_tui", "--config", str(demo_config), "--demo", "--data-dir", str(demo.data_dir),
         "search", "", "--limit", "2000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith("Score")
    process.stdout.close()  # the reader goes away, as head does
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == ""


# The demo with one flood wait of 2 s on a file part, a few parts into a download.
_FLOOD_ON_A_PART = """
import sys
from tad_tui.telegram.sim import demo
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram

class FloodOnAPart(SimulatedTelegram):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inject(FaultRule("GetFileRequest", "FLOOD_WAIT_2", code=420, skip=6))

demo.SimulatedTelegram = FloodOnAPart
from tad_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_download_json_tells_a_flood_wait_and_its_end(tmp_path: Path, demo_config: Path) -> None:
    args = ["--config", str(demo_config), "--demo", "--data-dir", str(tmp_path / "data")]
    result = subprocess.run(
        [sys.executable, "-c", _FLOOD_ON_A_PART, *args, "download", "@tad_demo_mixes", "-l", "1", "--json"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    waits = [event for event in events if event.get("event") == "waiting"]
    assert [bool(event["reason"]) for event in waits] == [True, False]  # the wait, then its end
    assert waits[0]["reason"] == "flood" and "flood wait" in waits[0]["message"]
    assert waits[0]["until"] > 0 and waits[0]["file_id"] and waits[1]["message"] is None
    assert events[-1]["downloaded"] == 1
