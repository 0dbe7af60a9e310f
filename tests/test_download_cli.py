"""``tad-tui download`` and ``tad-tui queue`` as a user runs them, SIGKILL included."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tad_tui.cli.download import parse_selection
from tad_tui.telegram.sim.catalogue import Catalogue
from helpers import cli_dirs, json_lines, md5_file, run




@pytest.fixture
def dirs(tmp_path: Path, demo_config: Path):
    return cli_dirs(tmp_path, demo_config)


def demo_download(dirs, *args: str) -> subprocess.CompletedProcess[str]:
    return run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], "download", *args)


def test_download_json_then_again_skips_everything(dirs) -> None:
    first = demo_download(dirs, "@tad_demo_classical", "-o", str(dirs["out"]), "--json")
    assert first.returncode == 0, first.stderr
    events = json_lines(first.stdout)
    done = [e for e in events if e.get("event") == "downloaded"]
    assert events[-1] == {"downloaded": len(done), "skipped": 0, "failed": 0} and len(done) >= 36
    for event in done:
        assert Path(event["local_path"]).is_relative_to(dirs["out"])
        assert md5_file(event["local_path"]) == event["checksum_md5"]
        assert os.path.getsize(event["local_path"]) == event["file_size"]
    again = demo_download(dirs, "@tad_demo_classical", "-o", str(dirs["out"]), "--json")
    assert again.returncode == 0
    assert json_lines(again.stdout)[-1] == {"downloaded": 0, "skipped": len(done), "failed": 0}
    plain = demo_download(dirs, "@tad_demo_classical", "-o", str(dirs["out"]))
    assert plain.stdout.strip().endswith(f"0 downloaded, {len(done)} skipped, 0 failed")


def test_hostile_group_writes_nothing_outside_the_output_dir(dirs, tmp_path: Path) -> None:
    result = demo_download(dirs, "@tad_demo_hostile", "-o", str(dirs["out"]), "-t", "{performer}/{file_name}", "--json")
    assert result.returncode == 0, result.stderr
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(dirs["out"])]
    assert all(p.is_relative_to(tmp_path / "data") or p.name == "config.toml" for p in outside)
    assert list(dirs["out"].rglob("*.part")) == []


def test_queue_lists_entries_in_order(dirs) -> None:
    assert demo_download(dirs, "@tad_demo_mixes", "-l", "2", "--priority", "high").returncode == 0
    result = run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], "queue", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 2 and all(r["state"] == "completed" and r["priority"] == "high" for r in rows)
    assert set(rows[0]) >= {"id", "file", "group", "priority", "state", "downloaded_bytes", "file_size"}


def test_queue_clear_finished_keeps_the_files_and_the_library(dirs) -> None:
    assert demo_download(dirs, "@tad_demo_mixes", "-l", "2", "-o", str(dirs["out"])).returncode == 0
    files = sorted(p for p in dirs["out"].rglob("*") if p.is_file())
    assert len(files) == 2
    cleared = run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], "queue", "--clear-finished", "--json")
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout)["cleared"] == 2
    listed = run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], "queue", "--json")
    assert json.loads(listed.stdout) == []
    assert sorted(p for p in dirs["out"].rglob("*") if p.is_file()) == files
    with sqlite3.connect(f"file:{Path(dirs['data']) / 'library.sqlite3'}?mode=ro", uri=True) as conn:
        done = conn.execute("SELECT local_path FROM audio_file WHERE status = 'completed'").fetchall()
    assert sorted(Path(path) for (path,) in done) == files
    again = run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], "queue", "--clear-finished")
    assert again.returncode == 0 and "Cleared 0 finished entries" in again.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("-p", "0"), "-p/--parallel"),
        (("-p", "99"), "downloads.max_concurrent"),
        (("-l", "x"), "-l/--limit"),
        (("-t", "{bogus}.{ext}"), "downloads.filename_template"),
        (("--priority", "urgent"), "--priority"),
    ],
)
def test_bad_download_options_exit_2_naming_the_option(dirs, args: tuple[str, ...], named: str) -> None:
    result = demo_download(dirs, "@tad_demo_classical", *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and named in result.stderr


def test_selection_parsing() -> None:
    assert parse_selection("1-3, 7,2", 10) == [1, 2, 3, 7]
    for bad in ("0", "4-2", "11", "x", "1-"):
        with pytest.raises(ValueError):
            parse_selection(bad, 10)


def test_interactive_pick_downloads_only_the_chosen(dirs) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tad_tui", "--config", dirs["config"], "--demo", "--data-dir", dirs["data"],
         "download", "@tad_demo_classical", "-i", "--json"],
        input="nonsense\n2-3,5\n", capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"downloaded": 3, "skipped": 0, "failed": 0}


def _progress(db: Path, file_id: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT downloaded_bytes FROM audio_file WHERE file_id = ?", (file_id,)).fetchone()
            return row[0] if row else 0
    except sqlite3.Error:
        return 0


@pytest.mark.timeout(300)  # ten kills and ten resumed 50 MB downloads
def test_sigkill_at_ten_random_points_resumes_with_the_same_md5(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    mixes = demo_catalogue.group("tad_demo_mixes")
    first = min(mixes.messages, key=lambda m: m.id)
    assert first.file is not None and first.file.size >= 50 * 1024 * 1024
    slow = tmp_path / "slow.toml"
    slow.write_text(
        f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 20\nbandwidth_per_connection = "2MB"\npremium = true\n'
    )
    fast = tmp_path / "fast.toml"
    fast.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 0\nbandwidth_per_connection = 0\npremium = true\nrequest_flood_limit = 0\n')
    rng = random.Random(20261126)
    file_id = f"-100{mixes.id}_{first.id}"
    for point in range(10):
        data = tmp_path / f"data{point}"
        command = [sys.executable, "-m", "tad_tui", "--demo", "--data-dir", str(data), "download",
                   "@tad_demo_mixes", "-l", "1", "--json"]
        process = subprocess.Popen([*command[:3], "--config", str(slow), *command[3:]],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while _progress(data / "library.sqlite3", file_id) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        again = subprocess.run([*command[:3], "--config", str(fast), *command[3:]],
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        events = json_lines(again.stdout)
        resumed = [e for e in events if e.get("event") == "resumed"]
        assert resumed and resumed[0]["file_id"] == file_id and resumed[0]["resume_offset"] > 0, (point, events)
        finished = [e for e in events if e.get("event") == "downloaded"]
        assert len(finished) == 1 and finished[0]["source_md5"] == first.file.md5  # the bytes Telegram sent
        assert md5_file(finished[0]["local_path"]) == finished[0]["checksum_md5"]  # on disk, its cover embedded
        assert not list(data.rglob("*.part"))


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    slow = tmp_path / "slow.toml"
    slow.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 20\nbandwidth_per_connection = "1MB"\npremium = true\n')
    data = tmp_path / "data"
    command = [sys.executable, "-m", "tad_tui", "--config", str(slow), "--demo", "--data-dir", str(data),
               "download", "@tad_demo_mixes", "-l", "1", "--json"]
    # SIGINT at its default in the child: a pytest started in the background of a shell would hand it
    # down ignored, and the download would just finish.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)
    mixes = demo_catalogue.group("tad_demo_mixes")
    file_id = f"-100{mixes.id}_{min(m.id for m in mixes.messages)}"
    deadline = time.monotonic() + 60
    while _progress(data / "library.sqlite3", file_id) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr and "run the same command again" in stderr
    saved = _progress(data / "library.sqlite3", file_id)
    assert saved > 0
    fast = tmp_path / "fast.toml"
    fast.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 0\nbandwidth_per_connection = 0\npremium = true\nrequest_flood_limit = 0\n')
    again = subprocess.run([*command[:3], "--config", str(fast), *command[5:]], capture_output=True, text=True,
                           timeout=120)
    resumed = [e for e in json_lines(again.stdout) if e.get("event") == "resumed"]
    assert again.returncode == 0 and resumed and resumed[0]["downloaded_bytes"] >= saved
