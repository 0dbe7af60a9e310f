"""``scan``/``download`` with --since, --until, --ids and --match, and ``search`` by date, run as a
user runs them on the simulated Telegram; each selection checked against the demo catalogue."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tad_tui.telegram.sim.catalogue import Catalogue, DemoMessage
from helpers import assert_one_clean_line, run

ARCHIVE = "tad_demo_archive"
ARCHIVE_ID = -1001000000002


@pytest.fixture
def dirs(tmp_path: Path, demo_config: Path) -> dict[str, str]:
    return {"config": str(demo_config), "data": str(tmp_path / "data"), "out": str(tmp_path / "out")}


def tad(dirs: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["--config", dirs["config"], "--demo", "--data-dir", dirs["data"], *args]
    if stdin is None:
        return run(*argv)
    # -i reads the choice from standard input (run() gives the command none).
    env = {k: v for k, v in os.environ.items() if k not in {"API_ID", "API_HASH", "TAD_DATA_DIR"}}
    return subprocess.run([sys.executable, "-m", "tad_tui", *argv], input=stdin, capture_output=True, text=True,
                          timeout=120, env={**env, "COLUMNS": "80"})


def events(result: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def message_ids(result: subprocess.CompletedProcess[str], *kinds: str) -> list[int]:
    return [int(e["file_id"].rsplit("_", 1)[1]) for e in events(result) if e.get("event") in kinds]


def audio(catalogue: Catalogue) -> list[DemoMessage]:
    return [m for m in catalogue.group(ARCHIVE).messages if m.file and m.file.mime_type.startswith("audio/")]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def cursor(dirs: dict[str, str]) -> int:
    with closing(sqlite3.connect(Path(dirs["data"]) / "library.sqlite3")) as db:
        return db.execute("SELECT last_message_id FROM telegram_group WHERE group_id = ?", (ARCHIVE_ID,)).fetchone()[0]


def test_download_since_until_then_ids_take_exactly_their_messages(dirs, demo_catalogue: Catalogue) -> None:
    every = audio(demo_catalogue)
    first = tad(dirs, "download", "@" + ARCHIVE, "--since", "2024-06-10", "--until", "2024-06", "-o", dirs["out"], "--json")
    assert first.returncode == 0, first.stderr
    june = [m for m in every if utc(2024, 6, 10) <= m.date < utc(2024, 7, 1)]
    assert sorted(message_ids(first, "downloaded")) == [m.id for m in june] and len(june) > 10
    assert events(first)[-1] == {"downloaded": len(june), "skipped": 0, "failed": 0}
    by_id = {m.id: m for m in june}
    for event in events(first)[:-1]:
        if event.get("event") == "downloaded":
            data = Path(event["local_path"]).read_bytes()
            file = by_id[int(event["file_id"].rsplit("_", 1)[1])].file
            assert file.md5 == event["source_md5"]  # what Telegram sent
            assert len(data) == event["file_size"] and hashlib.md5(data).hexdigest() == event["checksum_md5"]  # on disk
    assert cursor(dirs) == 0  # what came before 10 June is unread: the next plain scan reads it
    assert f"({len(june)} of them since 2024-06-10 until 2024-06)" in first.stderr

    # Ids across the start of that window: the ones before it are new, the rest already here.
    low, high = june[0].id - 6, june[0].id + 3
    second = tad(dirs, "download", "@" + ARCHIVE, "--ids", f"{low}-{high}", "-o", dirs["out"], "--json")
    assert second.returncode == 0, second.stderr
    wanted = [m.id for m in every if low <= m.id <= high]
    assert sorted(message_ids(second, "downloaded", "skipped")) == wanted
    assert sorted(message_ids(second, "skipped")) == [i for i in wanted if i in by_id]

    # A relative date: nothing in the demo is newer than a week, so nothing is queued.
    third = tad(dirs, "download", "@" + ARCHIVE, "--since", "7d", "-o", dirs["out"], "--json")
    assert third.returncode == 0 and events(third)[-1] == {"downloaded": 0, "skipped": 0, "failed": 0}


def test_scan_with_until_moves_the_cursor_and_since_does_not(dirs, demo_catalogue: Catalogue) -> None:
    every = audio(demo_catalogue)
    until = tad(dirs, "scan", "@" + ARCHIVE, "--until", "2024-03-15", "--json")
    assert until.returncode == 0, until.stderr
    early = [m.id for m in every if m.date < utc(2024, 3, 16)]
    assert json.loads(until.stdout)["new"] == len(early) and cursor(dirs) == max(early)
    since = tad(dirs, "scan", "@" + ARCHIVE, "--since", "2025-12", "--json")
    assert json.loads(since.stdout)["new"] == len([m for m in every if m.date >= utc(2025, 12, 1)])
    assert cursor(dirs) == max(early)  # April 2024 to November 2025 are unread: the cursor waits below them
    full = tad(dirs, "scan", "@" + ARCHIVE, "--json")
    assert json.loads(full.stdout)["total"] == len(every) and cursor(dirs) == every[-1].id


def test_download_match_takes_what_the_search_language_matches(dirs, demo_catalogue: Catalogue) -> None:
    result = tad(dirs, "download", "@" + ARCHIVE, "--match", '"evening news" format:ogg posted:2024',
                 "-o", dirs["out"], "--json")
    assert result.returncode == 0, result.stderr
    expected = [m.id for m in audio(demo_catalogue)
                if m.file.title and m.file.title.startswith("Evening News ") and m.file.mime_type == "audio/ogg"
                and m.date.year == 2024]
    assert sorted(message_ids(result, "downloaded")) == expected and len(expected) > 10


def test_download_match_and_since_with_i_lists_only_the_matches(dirs, demo_catalogue: Catalogue) -> None:
    result = tad(dirs, "download", "@" + ARCHIVE, "--match", "farm report", "--since", "2025-06", "-i",
                 "-o", dirs["out"], stdin="2-3\n")
    assert result.returncode == 0, result.stderr
    expected = [m for m in audio(demo_catalogue)
                if m.file.title and m.file.title.startswith("Farm Report ") and m.date >= utc(2025, 6, 1)]
    listed = [line for line in result.stdout.splitlines() if line[:4].strip().isdigit()]
    assert len(listed) == len(expected) > 3
    assert all("Farm Report" in line for line in listed)
    assert result.stdout.strip().endswith("2 downloaded, 0 skipped, 0 failed")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["download", "--since", "2024-13"], "--since"),
        (["scan", "--until", "yesterday"], "--until"),
        (["download", "--ids", "250-100"], "--ids"),
        (["scan", "--ids", "x"], "--ids"),
        (["download", "--since", "2024-07", "--until", "2024-06"], "--since"),
        (["download", "--match", "format:wma"], "--match"),
        (["download", "--match", "date>soon"], "--match"),
        (["download", "--match", " "], "--match"),
    ],
)
def test_a_bad_range_or_match_exits_2_naming_the_option(dirs, args: list[str], named: str) -> None:
    command, *options = args
    result = tad(dirs, command, "@" + ARCHIVE, *options)
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert named in line and "Telegram" not in line


def test_demo_search_by_date(dirs, demo_catalogue: Catalogue) -> None:
    assert tad(dirs, "scan", "@" + ARCHIVE).returncode == 0
    result = tad(dirs, "search", "date>2024-06 date<2024-08", "--limit", "1000", "--json")
    assert result.returncode == 0, result.stderr
    found = sorted(int(hit["file_id"].rsplit("_", 1)[1]) for hit in json.loads(result.stdout))
    assert found == [m.id for m in audio(demo_catalogue) if utc(2024, 7, 1) <= m.date < utc(2024, 8, 1)]


def test_a_match_takes_tracks_with_every_word_never_some_of_them(dirs, demo_catalogue: Catalogue) -> None:
    """A search with no track holding every word falls back to tracks with some; a match does not."""
    mixes = [m for m in demo_catalogue.group("tad_demo_mixes").messages if m.file]
    none = tad(dirs, "download", "@tad_demo_mixes", "--match", "halcyon qqqqqqqq", "-o", dirs["out"], "--json")
    assert none.returncode == 0, none.stderr
    assert events(none)[-1] == {"downloaded": 0, "skipped": 0, "failed": 0}
    flac = tad(dirs, "download", "@tad_demo_mixes", "--match", "halcyon format:flac", "-o", dirs["out"], "--json")
    assert sorted(message_ids(flac, "downloaded")) == [m.id for m in mixes if m.file.mime_type == "audio/flac"]
