"""Cover art: the simulated Telegram's thumbnails, fetched with each file and embedded, cover.jpg."""

from __future__ import annotations

import base64
import hashlib
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import mutagen
import pytest
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3
from mutagen.mp4 import MP4
from telethon import utils
from telethon.tl import types

from tad_tui.config import Settings, default_settings
from tad_tui.download.cover import COVER_FILE_NAME
from tad_tui.engine import Engine
from tad_tui.library.metadata import COVER_FIELD, TagInfo, complete_tags
from tad_tui.library.scan import scan_group
from tad_tui.paths import Paths
from tad_tui.store import AudioFile, FileStatus, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue, DemoFile
from tad_tui.telegram.sim.cover import COVER_SIDE, THUMB_TYPE, cover_for
from tad_tui.telegram.sim.server import FaultRule, SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

from test_metadata import minimal_m4a

CLASSICAL = "@tad_demo_classical"


def _settings(**metadata: object) -> Settings:
    base = default_settings()
    return replace(
        base,
        downloads=replace(base.downloads, retry_delay=0.0, filename_template="{performer}/{title}.{ext}"),
        metadata=replace(base.metadata, **metadata),  # type: ignore[arg-type]
    )


async def _download(
    tmp_path: Path, source: TelethonSource, username: str, settings: Settings, library: str = "data"
) -> dict[str, int]:
    """Scan and download the group into ``tmp_path/out`` with its library in ``tmp_path/library``."""
    paths = Paths(tmp_path / library, output_override=tmp_path / "out")
    paths.ensure()
    async with opened_store(paths.db):
        engine = Engine(settings, paths, source)
        try:
            info = await engine.resolve_group(username)
            await scan_group(engine.source, info)
            selection = await engine.select_for_download(info)
            scheduler = await engine.start_downloads()
            await scheduler.enqueue([row.pk for row in selection.to_fetch], batch_name=info.title)
            outcomes = await engine.scheduler.run(until_idle=True)
            rows = await AudioFile.filter(status=FileStatus.COMPLETED)
            return {"downloaded": 0, "failed": 0} | outcomes | {"rows": rows}  # type: ignore[dict-item]
        finally:
            await engine.stop_downloads()


def pictures(path: Path) -> list[bytes]:
    """Every picture embedded in the file, read with mutagen alone (not with our own code)."""
    audio = mutagen.File(path)
    if isinstance(audio, FLAC):
        return [picture.data for picture in audio.pictures]
    tags = audio.tags
    if isinstance(tags, ID3):
        return [frame.data for frame in tags.getall("APIC")]
    if isinstance(audio, MP4):
        return [bytes(cover) for cover in (tags or {}).get("covr", [])]
    blocks = (tags or {}).get("metadata_block_picture", [])
    return [Picture(base64.b64decode(block)).data for block in blocks]


def _segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """A JPEG's marker segments up to the scan: (marker, payload)."""
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    found, at = [], 2
    while True:
        marker, length = jpeg[at + 1], struct.unpack(">H", jpeg[at + 2:at + 4])[0]
        found.append((marker, jpeg[at + 4:at + 2 + length]))
        if marker == 0xDA:
            return found
        at += 2 + length


def test_demo_documents_carry_baseline_jpeg_thumbnails_and_some_none(demo_catalogue: Catalogue) -> None:
    server = SimulatedTelegram(demo_catalogue)
    covered = [f for f in demo_catalogue.files if f.cover is not None]
    bare = [f for f in demo_catalogue.files if f.cover is None]
    assert covered and bare
    assert all(f.has_audio_attribute for f in covered)  # audio sent as a plain file has no cover
    for file in (covered[0], bare[0]):
        thumbs = server.document(file).thumbs
        if file.cover is None:
            assert thumbs is None
            continue
        stripped, photo = thumbs
        cover = cover_for(file.cover)
        assert isinstance(stripped, types.PhotoStrippedSize) and stripped.type == "i"
        assert isinstance(photo, types.PhotoSize) and photo.type == THUMB_TYPE
        assert (photo.w, photo.h, photo.size) == (COVER_SIDE, COVER_SIDE, len(cover.jpeg))
        for jpeg, side in ((cover.jpeg, COVER_SIDE), (utils.stripped_photo_to_jpg(stripped.bytes), stripped.bytes[1])):
            segments = dict(_segments(jpeg))
            assert 0xC0 in segments and 0xC2 not in segments  # baseline, not progressive
            precision, height, width, components = struct.unpack(">BHHB", segments[0xC0][:6])
            assert (precision, height, width, components) == (8, side, side, 3)
    assert cover_for("Hostile Names") != cover_for("TAD Demo Mixes")  # each album its own cover


async def test_every_cover_is_embedded_and_saved_once_per_folder(
    tmp_path: Path, source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    result = await _download(tmp_path, source, CLASSICAL, _settings(save_cover_file=True))
    assert result["failed"] == 0
    rows: list[AudioFile] = result["rows"]  # type: ignore[assignment]
    covered = 0
    folders: dict[Path, set[str]] = {}
    for row in rows:
        file: DemoFile = demo_catalogue.document(row.document_id)
        path = Path(row.local_path)
        if file.cover is None:
            assert pictures(path) == [], path
        else:
            covered += 1
            assert pictures(path) == [cover_for(file.cover).jpeg], path
            folders.setdefault(path.parent, set()).add(file.cover)
        assert row.source_md5 == file.md5  # the bytes Telegram sent; checksum_md5 is the file on disk
        assert row.checksum_md5 == _md5(path) and (row.checksum_md5 != file.md5) == (file.cover is not None or not file.tags)
    assert covered and covered < len(rows)
    assert len(folders) > 1  # a performer a folder: each its own cover.jpg, the first that came
    for folder, albums in folders.items():
        assert (folder / COVER_FILE_NAME).read_bytes() in {cover_for(album).jpeg for album in albums}
        assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no temporary left
    uncovered = {Path(r.local_path).parent for r in rows} - folders.keys()
    assert all(not (folder / COVER_FILE_NAME).exists() for folder in uncovered)


async def test_a_cover_file_already_there_is_kept_and_none_is_written_by_default(
    tmp_path: Path, source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    result = await _download(tmp_path, source, "@tad_demo_mixes", _settings(save_cover_file=True))
    rows: list[AudioFile] = result["rows"]  # type: ignore[assignment]
    (folder,) = {Path(r.local_path).parent for r in rows}
    (folder / COVER_FILE_NAME).write_bytes(b"mine")
    for row in rows:
        Path(row.local_path).unlink()
    # Another library downloading into the same folder: the cover.jpg there is not its to replace.
    result = await _download(tmp_path, source, "@tad_demo_mixes", _settings(save_cover_file=True), "another")
    assert result["downloaded"] == len(rows)
    assert (folder / COVER_FILE_NAME).read_bytes() == b"mine"

    other = tmp_path / "default"
    other.mkdir()
    result = await _download(other, source, "@tad_demo_forum", _settings())
    assert result["downloaded"] and not list((other / "out").rglob(COVER_FILE_NAME))
    assert all(pictures(Path(r.local_path)) for r in result["rows"])  # type: ignore[union-attr]


async def test_a_failing_thumbnail_costs_the_cover_not_the_file(
    tmp_path: Path, server: SimulatedTelegram, source: TelethonSource, caplog: pytest.LogCaptureFixture
) -> None:
    server.inject(FaultRule("GetFileRequest", "FILE_ID_INVALID", thumb=True, times=-1))
    with caplog.at_level("WARNING", logger="tad_tui.download.cover"):
        result = await _download(tmp_path, source, "@tad_demo_mixes", _settings(save_cover_file=True))
    rows: list[AudioFile] = result["rows"]  # type: ignore[assignment]
    assert result["failed"] == 0 and result["downloaded"] == len(rows) == 5
    assert all(pictures(Path(r.local_path)) == [] for r in rows)
    assert not list((tmp_path / "out").rglob(COVER_FILE_NAME))
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == len(rows) and all("no cover" in line and "FILE_ID_INVALID" in line for line in said), said
    thumbs = [e for e in server.log if e.name == "GetFileRequest" and "thumb=m" in e.detail]
    assert len(thumbs) == len(rows)  # asked once each, never retried as a file part would be


async def test_embed_cover_false_fetches_no_thumbnail(
    tmp_path: Path, server: SimulatedTelegram, source: TelethonSource
) -> None:
    result = await _download(tmp_path, source, "@tad_demo_mixes", _settings(embed_cover=False))
    assert result["downloaded"] == 5
    assert all(pictures(Path(r.local_path)) == [] for r in result["rows"])  # type: ignore[union-attr]
    assert not [e for e in server.log if "thumb=" in e.detail]


def _with_picture(path: Path, data: bytes) -> None:
    """Give the file a picture of its own, as a tagger would."""
    audio = mutagen.File(path)
    if isinstance(audio, FLAC):
        picture = Picture()
        picture.data, picture.mime, picture.type = data, "image/png", 3
        audio.add_picture(picture)
    elif isinstance(audio, MP4):
        if audio.tags is None:
            audio.add_tags()
        audio.tags["covr"] = [data]  # type: ignore[index]
    elif isinstance(audio.tags, ID3):
        audio.tags.add(APIC(encoding=3, mime="image/png", type=3, desc="", data=data))
    else:
        picture = Picture()
        picture.data, picture.mime, picture.type = data, "image/png", 3
        audio.tags["metadata_block_picture"] = [base64.b64encode(picture.write()).decode()]
    audio.save()


def _samples(demo_catalogue: Catalogue, tmp_path: Path) -> list[Path]:
    """An MP3, a FLAC and an Ogg file from the catalogue, and an M4A."""
    paths = []
    for mime in ("audio/mpeg", "audio/flac", "audio/ogg"):
        file = next(f for f in demo_catalogue.files if f.mime_type == mime and f.tags)
        paths.append(Path(shutil.copy(file.path, tmp_path / file.path.name)))
    m4a = tmp_path / "track.m4a"
    m4a.write_bytes(minimal_m4a(1.0))
    return [*paths, m4a]


def test_a_cover_is_embedded_in_each_format_and_a_picture_already_there_is_kept(
    demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    jpeg = cover_for("a test album").jpeg
    for path in _samples(demo_catalogue, tmp_path):
        written, _ = complete_tags(path, TagInfo(), cover=jpeg)
        assert written == [COVER_FIELD] and pictures(path) == [jpeg], path
        assert complete_tags(path, TagInfo(), cover=jpeg)[0] == []  # once only
    own = tmp_path / "own"
    own.mkdir()
    for path in _samples(demo_catalogue, own):
        _with_picture(path, b"\x89PNG its own")
        before = path.read_bytes()
        assert complete_tags(path, TagInfo(), cover=jpeg)[0] == []
        assert pictures(path) == [b"\x89PNG its own"] and path.read_bytes() == before, path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
