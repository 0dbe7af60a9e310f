"""Reading tags from downloaded audio files and writing only the tags a file lacks."""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TCON, TPE1
from mutagen.mp4 import MP4, Atoms

from tad_tui.library import metadata
from tad_tui.library.metadata import TAG_FIELDS, TagInfo, complete_tags, read_tags, write_missing_tags
from tad_tui.library.text import clean_text
from tad_tui.telegram.sim.catalogue import Catalogue, DemoFile

# DemoFile.tags keys -> TagInfo fields, and the length each field is cut to.
_FIELD_OF_KEY = {
    "title": "title",
    "artist": "performer",
    "album": "album",
    "date": "date",
    "genre": "genre",
    "composer": "composer",
    "tracknumber": "track_number",
}
_MAX_LENGTH = {"genre": 255, "date": 32, "track_number": 16}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_EXTENSIONS = {"audio/mpeg": ".mp3", "audio/flac": ".flac", "audio/ogg": ".ogg"}


# ---- helpers ----------------------------------------------------------------------------------


def audio_files(catalogue: Catalogue) -> list[DemoFile]:
    return [f for f in catalogue.files if f.mime_type.startswith("audio/")]


def expected_tags(file: DemoFile) -> TagInfo:
    """What read_tags must return for ``file`` (minus duration): its written tags, cleaned."""
    values: dict[str, str | None] = {}
    for key, value in file.tags:
        name = _FIELD_OF_KEY[key]
        values[name] = clean_text(value, max_length=_MAX_LENGTH.get(name, 1024))
    return TagInfo(**values)


def tags_only(info: TagInfo) -> TagInfo:
    return TagInfo(**{name: getattr(info, name) for name in TAG_FIELDS})


def copy_of(file: DemoFile, tmp_path: Path) -> Path:
    """A private copy of a demo file, so the shared catalogue is never modified."""
    target = tmp_path / f"{file.document_id}{_EXTENSIONS[file.mime_type]}"
    shutil.copyfile(file.path, target)
    return target


def copy_of_pdf(file: DemoFile, tmp_path: Path) -> Path:
    target = tmp_path / "notes.pdf"
    shutil.copyfile(file.path, target)
    return target


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def untagged_classical(catalogue: Catalogue) -> list[DemoFile]:
    group = catalogue.group("tad_demo_classical")
    return [m.file for m in group.messages if m.file is not None and not m.file.tags]


def first_tagged(catalogue: Catalogue, mime_type: str) -> DemoFile:
    return next(f for f in audio_files(catalogue) if f.tags and f.mime_type == mime_type)


def write_tone(path: Path, *, format: str, subtype: str, seconds: float = 2.0, rate: int = 48_000) -> np.ndarray:
    """A short stereo sine written with libsndfile; returns the samples written."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stereo = np.column_stack([samples, samples])
    sf.write(path, stereo, rate, format=format, subtype=subtype)
    return stereo


def assert_clean(value: str | None, limit: int) -> None:
    assert value is not None and len(value) <= limit and not _CONTROL.search(value), value


# ---- reading ----------------------------------------------------------------------------------


def test_read_tags_returns_what_each_demo_file_holds(demo_catalogue: Catalogue) -> None:
    tagged = [f for f in audio_files(demo_catalogue) if f.tags]
    assert {f.mime_type for f in tagged} == {"audio/mpeg", "audio/flac", "audio/ogg"}
    for file in tagged:
        info = read_tags(file.path)
        assert tags_only(info) == expected_tags(file), file.path
        assert info.duration is not None and abs(info.duration - sf.info(str(file.path)).duration) <= 1, file.path


def test_cyrillic_and_japanese_tags_read_back_exactly(demo_catalogue: Catalogue) -> None:
    files = {f.title: f for f in audio_files(demo_catalogue) if f.tags}
    for title, artist in (("Полёт шмеля", "Николай Римский-Корсаков"), ("戦場のメリークリスマス", "坂本龍一"),
                          ("あの夏へ", "久石譲")):
        info = read_tags(files[title].path)
        assert (info.title, info.performer) == (title, artist)
        assert info.album == dict(files[title].tags)["album"]


def test_hostile_tag_values_are_cleaned_and_cut(demo_catalogue: Catalogue) -> None:
    files = {f.title: f for f in audio_files(demo_catalogue) if f.tags}
    long = read_tags(files["Long Performer"].path)
    assert len(dict(files["Long Performer"].tags)["artist"]) == 10_000
    assert_clean(long.performer, 1024)
    assert long.performer is not None and long.performer.endswith("…")
    assert read_tags(files["Bell\x07 and\nnew\tline"].path).title == "Bell and new line"
    assert_clean(read_tags(files["\u202eRight-to-left Override"].path).title, 1024)


def test_a_10000_character_value_with_controls_is_cut_to_its_field_limit(
    demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    path = copy_of(next(f for f in untagged_classical(demo_catalogue) if f.mime_type == "audio/flac"), tmp_path)
    hostile = ("\x1b[31mЖ\x00\x07\u202e日本 " * 1_000)[:10_000]
    audio = FLAC(path)
    audio.add_tags()
    for key in ("title", "artist", "album", "date", "genre", "composer", "tracknumber"):
        audio.tags[key] = [hostile]
    audio.save()

    info = read_tags(path)
    for name in TAG_FIELDS:
        limit = _MAX_LENGTH.get(name, 1024)
        value = getattr(info, name)
        assert_clean(value, limit)
        assert value.endswith("…") and len(value) >= limit - 2  # cut at the limit, less a trailing space


def test_extended_false_reads_only_title_performer_and_duration(demo_catalogue: Catalogue) -> None:
    file = next(f for f in audio_files(demo_catalogue) if dict(f.tags).get("composer"))
    full, basic = read_tags(file.path), read_tags(file.path, extended=False)
    assert full.album and full.composer and full.track_number
    assert basic == TagInfo(title=full.title, performer=full.performer, duration=full.duration)


def test_garbage_truncated_missing_and_non_audio_files_give_empty_results(
    demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(bytes(range(256)) * 40)
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    pdf = next(f for f in demo_catalogue.files if f.mime_type == "application/pdf")
    broken = [garbage, empty, tmp_path / "missing.ogg", copy_of_pdf(pdf, tmp_path)]
    for mime_type, extension in _EXTENSIONS.items():
        # Cut inside the header, where the tags and stream info live.
        source = first_tagged(demo_catalogue, mime_type)
        truncated = tmp_path / f"truncated{extension}"
        truncated.write_bytes(source.path.read_bytes()[:100])
        broken.append(truncated)

    for path in broken:
        before = path.read_bytes() if path.exists() else None
        assert read_tags(path) == TagInfo(), path
        assert write_missing_tags(path, TagInfo(title="T", performer="P")) == [], path
        assert (path.read_bytes() if path.exists() else None) == before, path


# ---- writing ----------------------------------------------------------------------------------


def test_untagged_demo_files_get_telegram_title_and_performer(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    untagged = untagged_classical(demo_catalogue)
    assert {f.mime_type for f in untagged} == {"audio/mpeg", "audio/flac", "audio/ogg"}
    for file in untagged:
        assert file.title and file.performer
        path = copy_of(file, tmp_path)
        before = sf.info(str(path))
        samples_before, _ = sf.read(path)
        assert read_tags(path).title is None

        assert write_missing_tags(path, TagInfo(title=file.title, performer=file.performer)) == ["title", "performer"]

        after = read_tags(path)
        assert (after.title, after.performer, after.album) == (file.title, file.performer, None)
        assert after.duration == read_tags(file.path).duration
        samples_after, _ = sf.read(path)  # the audio still decodes, sample for sample
        assert sf.info(str(path)).frames == before.frames and np.array_equal(samples_after, samples_before)
        written = md5(path)
        assert write_missing_tags(path, TagInfo(title=file.title, performer=file.performer)) == []
        assert md5(path) == written
        assert md5(file.path) == file.md5  # the shared catalogue is untouched


def test_mp3_gets_an_id3v24_header(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    file = next(f for f in untagged_classical(demo_catalogue) if f.mime_type == "audio/mpeg")
    path = copy_of(file, tmp_path)
    wanted = TagInfo(title="T", performer="P", album="A", date="1894", genre="Romantic", composer="C",
                     track_number="7/12")
    assert write_missing_tags(path, wanted) == list(TAG_FIELDS)
    assert ID3(path).version == (2, 4, 0)
    assert tags_only(read_tags(path)) == wanted


def test_existing_tags_are_never_overwritten(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    for mime_type in _EXTENSIONS:
        file = first_tagged(demo_catalogue, mime_type)
        path = copy_of(file, tmp_path)
        assert write_missing_tags(path, TagInfo(title="A Different Title", performer="Someone Else")) == []
        assert md5(path) == file.md5  # nothing to write, so the file is not even rewritten
        assert tags_only(read_tags(path)) == expected_tags(file)


def test_nothing_wanted_leaves_an_untagged_file_byte_for_byte(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    for file in untagged_classical(demo_catalogue):
        path = copy_of(file, tmp_path)
        assert write_missing_tags(path, TagInfo(album="  ", duration=99)) == []
        assert md5(path) == file.md5  # no empty tag header was added


def test_id3_genre_numbers_and_multiple_values_are_read(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    path = copy_of(next(f for f in untagged_classical(demo_catalogue) if f.mime_type == "audio/mpeg"), tmp_path)
    tags = ID3()
    tags.add(TCON(encoding=3, text=["(13)"]))
    tags.add(TPE1(encoding=3, text=["Anna", "Boris"]))
    tags.save(path)  # ID3v2.4, which keeps the two artists apart
    info = read_tags(path)
    assert (info.genre, info.performer) == ("Pop", "Anna; Boris")


def test_only_the_lacking_fields_are_added(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    # The archive recordings carry title/artist/album/date/genre but no composer or track number.
    for mime_type in ("audio/mpeg", "audio/ogg"):
        file = next(f for f in audio_files(demo_catalogue)
                    if f.mime_type == mime_type and f.tags and "composer" not in dict(f.tags))
        path = copy_of(file, tmp_path)
        wanted = TagInfo(title="Other", performer="Other", composer="Composer", track_number="3")
        assert write_missing_tags(path, wanted) == ["composer", "track_number"]
        info = read_tags(path)
        assert (info.title, info.composer, info.track_number) == (expected_tags(file).title, "Composer", "3")


def test_written_values_are_cleaned_first(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    path = copy_of(next(f for f in untagged_classical(demo_catalogue) if f.mime_type == "audio/ogg"), tmp_path)
    written = write_missing_tags(path, TagInfo(title="\x1b[31mRed\x1b[0m\n", performer="\u202eevil", album="  "))
    assert written == ["title", "performer"]  # a value that cleans to nothing is not written
    raw = mutagen.File(path).tags
    assert raw["title"] == ["Red"] and raw["artist"] == ["evil"] and "album" not in raw  # escapes dropped whole


def test_an_unparseable_id3_date_is_skipped(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    path = copy_of(next(f for f in untagged_classical(demo_catalogue) if f.mime_type == "audio/mpeg"), tmp_path)
    assert write_missing_tags(path, TagInfo(title="T", date="circa 1900")) == ["title"]
    assert read_tags(path).date is None


@pytest.mark.parametrize("extended", [True, False])
def test_complete_tags_writes_and_reads_as_the_two_calls_would(
    demo_catalogue: Catalogue, tmp_path: Path, extended: bool
) -> None:
    files = untagged_classical(demo_catalogue) + [first_tagged(demo_catalogue, m) for m in _EXTENSIONS]
    for index, file in enumerate(files):
        wanted = TagInfo(title=file.title or "T", performer=file.performer or "P", album="Album")
        (tmp_path / f"apart{index}").mkdir()
        (tmp_path / f"together{index}").mkdir()
        apart, together = copy_of(file, tmp_path / f"apart{index}"), copy_of(file, tmp_path / f"together{index}")
        expected_written = write_missing_tags(apart, wanted)
        written, info = complete_tags(together, wanted, extended=extended)
        assert written == expected_written, file.path
        assert info == read_tags(together, extended=extended) == read_tags(apart, extended=extended), file.path
        assert md5(together) == md5(apart)


def test_complete_tags_after_a_failed_save_says_what_the_file_holds(
    demo_catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = next(f for f in untagged_classical(demo_catalogue) if f.mime_type == "audio/mpeg")
    path = copy_of(file, tmp_path)

    def full_disk(audio: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(metadata, "_save", full_disk)
    written, info = complete_tags(path, TagInfo(title="Never Written", performer="Nobody"))
    assert written == [] and info == read_tags(path) and info.title is None  # not the title kept in memory
    assert md5(path) == file.md5


@pytest.mark.parametrize(
    ("name", "format", "subtype"),
    [("tone.opus", "OGG", "OPUS"), ("tone.wav", "WAV", "PCM_16")],
)
def test_opus_and_wav_get_every_field(tmp_path: Path, name: str, format: str, subtype: str) -> None:
    path = tmp_path / name
    write_tone(path, format=format, subtype=subtype)
    before, _ = sf.read(path)
    wanted = TagInfo(title="Вальс", performer="久石譲", album="A", date="2001-07-20", genre="Soundtrack",
                     composer="C", track_number="2")
    assert write_missing_tags(path, wanted) == list(TAG_FIELDS)
    info = read_tags(path)
    assert tags_only(info) == wanted and info.duration == 2
    after, _ = sf.read(path)
    assert np.array_equal(after, before)
    assert write_missing_tags(path, wanted) == []


# ---- m4a --------------------------------------------------------------------------------------
# Neither mutagen nor libsndfile can encode AAC, so this is a hand-built, structurally valid M4A:
# a real moov/trak/stsd(mp4a + esds) whose one chunk offset points at marker bytes in mdat. It
# checks the atoms we write and that mutagen moves the chunk offset when the tags grow moov.

_MARKER = b"AUDIO-SAMPLES-" * 64


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, *payload: bytes) -> bytes:
    return _box(kind, bytes(4), *payload)  # version 0, flags 0


def _descriptor(tag: int, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return bytes([tag, len(body)]) + body


def minimal_m4a(seconds: float, rate: int = 44_100) -> bytes:
    audio_specific = _descriptor(5, b"\x12\x10")  # AAC-LC, 44.1 kHz, stereo
    decoder = _descriptor(4, b"\x40\x15", bytes(3), struct.pack(">II", 128_000, 128_000), audio_specific)
    esds = _full_box(b"esds", _descriptor(3, struct.pack(">HB", 1, 0), decoder, _descriptor(6, b"\x02")))
    entry = _box(b"mp4a", bytes(6), struct.pack(">H", 1), bytes(8), struct.pack(">HHHH", 2, 16, 0, 0),
                 struct.pack(">I", rate << 16), esds)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _full_box(b"mvhd", struct.pack(">IIIIIH", 0, 0, 1000, round(seconds * 1000), 0x10000, 0x100), bytes(10),
                     matrix, bytes(24), struct.pack(">I", 2))
    mdhd = _full_box(b"mdhd", struct.pack(">IIIIHH", 0, 0, rate, round(seconds * rate), 0x55C4, 0))
    hdlr = _full_box(b"hdlr", bytes(4), b"soun", bytes(12), b"\0")
    stsd = _full_box(b"stsd", struct.pack(">I", 1), entry)

    def moov(chunk_offset: int) -> bytes:
        stco = _full_box(b"stco", struct.pack(">II", 1, chunk_offset))
        return _box(b"moov", mvhd, _box(b"trak", _box(b"mdia", mdhd, hdlr, _box(b"minf", _box(b"stbl", stsd, stco)))))

    ftyp = _box(b"ftyp", b"M4A ", bytes(4), b"M4A isom")
    header = len(ftyp) + len(moov(0))
    return ftyp + moov(header + 8) + _box(b"mdat", _MARKER)


def chunk_offset(path: Path) -> int:
    with path.open("rb") as source:
        stco = Atoms(source).path(b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco")[-1]
        _, data = stco.read(source)
    return struct.unpack(">I", data[8:12])[0]


def test_m4a_gets_mp4_atoms_and_keeps_its_sample_offsets(tmp_path: Path) -> None:
    path = tmp_path / "track.m4a"
    path.write_bytes(minimal_m4a(2.6))
    assert read_tags(path) == TagInfo(duration=3)  # rounded, not truncated

    wanted = TagInfo(title="Тест", performer="坂本龍一", album="A", date="1983", genre="Soundtrack",
                     composer="C", track_number="3/12")
    assert write_missing_tags(path, wanted) == list(TAG_FIELDS)

    assert read_tags(path) == TagInfo(**{n: getattr(wanted, n) for n in TAG_FIELDS}, duration=3)
    tags = MP4(path).tags
    assert tags is not None and tags["trkn"] == [(3, 12)] and tags["\xa9wrt"] == ["C"]
    offset = chunk_offset(path)
    assert path.read_bytes()[offset:offset + len(_MARKER)] == _MARKER
    assert write_missing_tags(path, TagInfo(title="Other", performer="Other")) == []
