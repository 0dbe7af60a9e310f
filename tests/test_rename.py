"""Names from the file's own tags at the end of a download, and ``tad-tui rename`` (SIGKILL included)."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest

from helpers import run

TEMPLATE = "{performer}/{album}/{track_number:02} {title}.{ext}"
ALBUM = "Beethoven - Symphonies & Sonatas"  # "Beethoven: Symphonies & Sonatas" under the colon rule


@pytest.fixture
def dirs(tmp_path: Path, demo_config: Path) -> dict[str, Path]:
    return {"config": demo_config, "data": tmp_path / "data", "out": tmp_path / "out"}


def tad(dirs: dict[str, Path], *args: str, env: dict[str, str] | None = None):
    return run("--config", str(dirs["config"]), "--demo", "--data-dir", str(dirs["data"]), *args, env=env)


def recorded_paths(dirs: dict[str, Path]) -> dict[str, str]:
    with sqlite3.connect(dirs["data"] / "library.sqlite3") as db:
        rows = db.execute("SELECT title, local_path FROM audio_file WHERE status = 'completed'").fetchall()
    return dict(rows)


def files_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_tagged_files_land_under_their_album_and_track_and_rename_survives_a_kill(dirs) -> None:
    fetched = tad(dirs, "download", "@tad_demo_classical", "--match", "beethoven", "-o", str(dirs["out"]), "-t", TEMPLATE)
    assert fetched.returncode == 0, fetched.stderr
    album = dirs["out"] / "Ludwig van Beethoven" / ALBUM
    names = sorted(path.name for path in album.iterdir())
    assert names[0] == "01 Symphony No. 5 in C minor, Op. 67 - I. Allegro con brio.mp3"  # album and track from the tags
    assert [name[:3] for name in names] == ["01 ", "02 ", "04 "]  # track 3 is untagged: Telegram knows no album
    assert [p.name for p in (dirs["out"] / "Ludwig van Beethoven" / "Unknown").iterdir()] == ["00 Für Elise, WoO 59.flac"]
    before = recorded_paths(dirs)
    assert sorted(map(Path, before.values())) == files_in(dirs["out"])  # the library names the files as they are

    flat = "{album}/{title}.{ext}"
    listed = tad(dirs, "rename", "-o", str(dirs["out"]), "-t", flat, "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert f"Ludwig van Beethoven/{ALBUM}/01 Symphony No. 5" in listed.stdout and "4 would move" in listed.stdout
    assert recorded_paths(dirs) == before and files_in(dirs["out"]) == sorted(map(Path, before.values()))

    killed = tad(dirs, "rename", "-o", str(dirs["out"]), "-t", flat, env={"TAD_TUI_FAILPOINT": "rename.moved:2"})
    assert killed.returncode == -signal.SIGKILL
    assert (dirs["data"] / "rename-journal.jsonl").exists()
    halfway = recorded_paths(dirs)
    assert sum(not Path(path).exists() for path in halfway.values()) == 1  # moved, its row not yet told

    again = tad(dirs, "rename", "-o", str(dirs["out"]), "-t", flat, "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["finished_from_journal"], summary["moved"], summary["to_move"]) == (1, 2, 0)
    after = recorded_paths(dirs)
    assert sorted(map(Path, after.values())) == files_in(dirs["out"])  # files and library moved together
    assert sorted(after) == sorted(before)
    assert Path(after["Symphony No. 5 in C minor, Op. 67: I. Allegro con brio"]) == (
        dirs["out"] / ALBUM / "Symphony No. 5 in C minor, Op. 67 - I. Allegro con brio.mp3"
    )
    assert sorted(p.name for p in dirs["out"].iterdir()) == [ALBUM, "Unknown"]  # emptied folders removed
    assert not (dirs["data"] / "rename-journal.jsonl").exists()
    assert "0 would move, 4 already so named" in tad(dirs, "rename", "-o", str(dirs["out"]), "-t", flat, "--dry-run").stdout


def test_a_name_numbered_at_the_start_stays_numbered_when_the_tags_agree() -> None:
    from tad_tui.download.naming import numbered_from

    folder = Path("/out/Artist")
    assert numbered_from(folder / "Track (2).mp3", folder / "Track.mp3")  # not "(3)" for its own .part
    assert not numbered_from(folder / "Track (2).mp3", folder / "Other.mp3")
    assert not numbered_from(folder / "Track (2).mp3", Path("/out/Album") / "Track.mp3")
    assert not numbered_from(folder / "Track (two).mp3", folder / "Track.mp3")
