"""Playlists and export: tad-tui playlist's M3U8, the group playlists kept after each batch, and
tad-tui export's CSV and JSON read back into every field of the library."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import mutagen
import pytest

from tad_tui.config import default_settings
from tad_tui.engine import Engine
from tad_tui.library.export import COLUMNS, read_csv, typed
from tad_tui.library.playlists import group_playlist_path
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, FileStatus, opened_store
from tad_tui.telegram.source import TelethonSource
from helpers import assert_one_clean_line, run

CLASSICAL = "@tad_demo_classical"


async def _download(engine: Engine, username: str) -> int:
    """Scan and download a group as one batch; its group id."""
    info = await engine.resolve_group(username)
    await scan_group(engine.source, info)
    selection = await engine.select_for_download(info)
    scheduler = await engine.start_downloads()
    await scheduler.enqueue([row.pk for row in selection.to_fetch], batch_name=info.title)
    outcomes = await scheduler.run(until_idle=True)
    assert outcomes["downloaded"] == len(selection.to_fetch) > 3
    return info.group_id


def _engine(tmp_path: Path, source: TelethonSource, *, group_playlists: bool = False) -> Engine:
    paths = Paths(tmp_path / "data", output_override=tmp_path / "out")
    paths.ensure()
    base = default_settings()
    settings = replace(
        base,
        downloads=replace(base.downloads, retry_delay=0.0),
        library=replace(base.library, group_playlists=group_playlists),
    )
    return Engine(settings, paths, source)


@pytest.fixture
async def classical(tmp_path: Path, source: TelethonSource) -> AsyncIterator[Engine]:
    """An engine whose library holds the classical group downloaded (group playlists off)."""
    engine = _engine(tmp_path, source)
    async with opened_store(engine.paths.db):
        await _download(engine, CLASSICAL)
        yield engine
        await engine.close()


def _entries(playlist: Path) -> list[tuple[str, str]]:
    """(EXTINF line, path line) pairs, after checking the header."""
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    assert all(line.startswith("#EXTINF:") for line in lines[1::2])
    return list(zip(lines[1::2], lines[2::2], strict=True))


async def test_a_playlist_lists_every_downloaded_match_in_order_relative_to_itself(
    classical: Engine, tmp_path: Path
) -> None:
    engine = classical
    ids, hints = await engine.query_tracks("beethoven", downloaded=True)
    assert hints == [] and len(ids) >= 3
    expected = await AudioFile.filter(id__in=ids).order_by("message_id")
    gone = expected[1]  # deleted outside tad-tui: left out and counted
    os.remove(gone.local_path)
    (tmp_path / "lists").mkdir()
    target = tmp_path / "lists" / "beethoven.m3u8"  # beside the download folder, not in it
    written = await engine.write_playlist(target, ids)
    assert (written.path, written.written, written.missing) == (target, len(expected) - 1, 1)
    entries = _entries(target)
    kept = [row for row in expected if row.pk != gone.pk]
    assert len(entries) == len(kept)
    for (extinf, line), row in zip(entries, kept, strict=True):
        assert extinf == f"#EXTINF:{row.duration},{row.performer} - {row.title}"
        assert not os.path.isabs(line) and "\\" not in line and line.startswith("../out/")
        played = (target.parent / line).resolve()
        assert played == Path(row.local_path).resolve()
        audio = mutagen.File(played)  # it plays: a real audio file of the length the playlist says
        assert audio is not None and round(audio.info.length) == row.duration
    # Every word must match: a track with only some of them is not in it.
    assert await engine.query_tracks("beethoven nosuchword", downloaded=True) == ([], [])


async def test_export_csv_reads_back_into_every_field_of_every_track(classical: Engine, tmp_path: Path) -> None:
    engine = classical
    edited = await AudioFile.filter(status=FileStatus.COMPLETED).order_by("id").first()
    assert edited is not None
    edited.genre, edited.composer, edited.title = "", None, 'Say "hi",\nthen go'  # "" and None must differ
    await edited.save()
    export = await engine.export_library("", "csv")
    records = read_csv(export.text)
    assert tuple(records[0]) == COLUMNS and len(records) - 1 == export.tracks == await AudioFile.all().count()
    # The standard reader sees the same text (it cannot tell None from ""; read_csv can).
    plain = list(csv.reader(io.StringIO(export.text, newline="")))
    assert [[value or "" for value in record] for record in records] == plain
    rows = await AudioFile.all().order_by("id").prefetch_related("group")
    for record, row in zip(records[1:], rows, strict=True):
        assert {column: typed(column, value) for column, value in zip(COLUMNS, record, strict=True)} == _fields(row)
    first = dict(zip(COLUMNS, records[1], strict=True))
    assert (first["genre"], first["composer"]) == ("", None)
    # Only what a query matches.
    only = await engine.export_library("moonlight", "csv")
    assert only.tracks == 1 and "Moonlight" in read_csv(only.text)[1][COLUMNS.index("title")]


async def test_export_json_reads_back_into_every_field_of_every_track(classical: Engine) -> None:
    export = await classical.export_library("", "json")
    objects = json.loads(export.text)
    rows = await AudioFile.all().order_by("id").prefetch_related("group")
    assert len(objects) == len(rows) == export.tracks
    for item, row in zip(objects, rows, strict=True):
        assert tuple(item) == COLUMNS
        assert {column: typed(column, value) for column, value in item.items()} == _fields(row)
    assert any(item["local_path"] and item["checksum_verified"] is True for item in objects)


def _fields(row: AudioFile) -> dict[str, object]:
    """What the library holds for one track, column by column."""
    values = {column: getattr(row, column) for column in COLUMNS if column not in ("group_title", "group_username")}
    values["status"] = row.status.value
    return values | {"group_title": row.group.title, "group_username": row.group.username}


async def test_a_group_playlist_is_rewritten_after_a_batch_in_message_order(
    tmp_path: Path, source: TelethonSource
) -> None:
    engine = _engine(tmp_path, source, group_playlists=True)
    async with opened_store(engine.paths.db):
        group_id = await _download(engine, CLASSICAL)
        await engine.close()  # the refresh of the last batch finishes before the store closes
        rows = await AudioFile.filter(group_id=group_id, status=FileStatus.COMPLETED).order_by("message_id")
        playlist = group_playlist_path(engine.paths.downloads_dir, "TAD Demo · Classical")
        assert playlist.parent == engine.paths.downloads_dir
        entries = _entries(playlist)
        assert [engine.paths.downloads_dir / line for _, line in entries] == [Path(r.local_path) for r in rows]
        assert all(not line.startswith("/") for _, line in entries)
        # Renamed files are listed where they are now.
        downloads = replace(engine.settings.downloads, filename_template="{group}/{title}.{ext}")
        engine.settings = replace(engine.settings, downloads=downloads)
        outcome = await engine.rename_files(engine.paths.downloads_dir, query=None, dry_run=False, on_move=lambda *_: None)
        assert outcome.moved == len(rows)
        entries = _entries(playlist)
        rows = await AudioFile.filter(group_id=group_id, status=FileStatus.COMPLETED).order_by("message_id")
        assert [engine.paths.downloads_dir / line for _, line in entries] == [Path(r.local_path) for r in rows]
        assert all(Path(r.local_path).parent.name == "TAD Demo · Classical" for r in rows)
        # A track removed, and a file that verify finds gone, leave the playlist at once.
        (removed,) = await engine.remove_tracks([rows[0].pk])
        assert removed.refused is None and len(_entries(playlist)) == len(rows) - 1
        Path(rows[1].local_path).unlink()
        assert len((await engine.verify_files([rows[1].pk])).missing) == 1
        assert [line for _, line in _entries(playlist)] == [line for _, line in entries[2:]]
        await AudioFile.filter(group_id=group_id).update(status=FileStatus.PENDING)
        await engine.refresh_group_playlists([group_id])
        assert not playlist.exists()  # no downloaded track left: no playlist


async def test_group_playlists_are_off_by_default(classical: Engine) -> None:
    assert default_settings().library.group_playlists is False
    await classical.close()
    assert list(classical.paths.downloads_dir.glob("*.m3u8")) == []
    assert await classical.refresh_group_playlists([-1001000000001]) == []


def test_playlist_and_export_refuse_a_folder_or_an_unknown_format_in_one_line(tmp_path: Path) -> None:
    common = ("--data-dir", str(tmp_path / "data"))
    folder = run(*common, "playlist", "jazz", "-o", str(tmp_path))
    assert folder.returncode == 2
    assert assert_one_clean_line(folder) == f"tad-tui: error: -o {tmp_path}: is a folder; name the file to write"
    wrong = run(*common, "export", "--format", "xml")
    assert wrong.returncode == 2 and "invalid choice: 'xml'" in assert_one_clean_line(wrong)
