"""The demo catalogue: content, real tagged audio, determinism, atomic generation, and benchmarks."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import multiprocessing.queues
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st
from mutagen.id3 import ID3
from mutagen.ogg import OggPage

from tad_tui.telegram.sim import catalogue as catalogue_module
from tad_tui.telegram.sim.catalogue.content import PRIVATE_DELETED, PRIVATE_GROUP_ID
from tad_tui.telegram.sim.catalogue import render as render_module
from tad_tui.telegram.sim.client import SimulatedClient
from tad_tui.telegram.sim.demo import ProgressLine
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.sim.audio import Encoding, Tone, encode, polynomial_sine, restamp_ogg_serial
from tad_tui.telegram.sim.catalogue import (
    CATALOGUE_VERSION,
    MANIFEST_NAME,
    Catalogue,
    DemoFile,
    DemoGroup,
    build_demo_plan,
    load_catalogue,
    load_plan,
    open_catalogue,
    read_catalogue,
    synthetic_catalogue,
)

MB = 1_000_000
MIB = 1 << 20
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
HOSTILE = "tad_demo_hostile"

_ID3_KEYS = {
    "TIT2": "title",
    "TPE1": "artist",
    "TALB": "album",
    "TDRC": "date",
    "TCON": "genre",
    "TCOM": "composer",
    "TRCK": "tracknumber",
}


# ---- helpers ----------------------------------------------------------------------------------


def read_tags(path: Path) -> dict[str, str]:
    """The tags inside an audio file, as lower-case keys like those in DemoFile.tags."""
    audio = mutagen.File(path)
    assert audio is not None, path
    if audio.tags is None:
        return {}
    if isinstance(audio.tags, ID3):
        return {_ID3_KEYS[frame.FrameID]: str(frame.text[0]) for frame in audio.tags.values()}
    return {key.lower(): value for key, value in audio.tags}


def audio_files(catalogue: Catalogue) -> list[DemoFile]:
    return [file for file in catalogue.files if file.mime_type.startswith("audio/")]


def group_files(group: DemoGroup) -> list[DemoFile]:
    return [message.file for message in group.messages if message.file is not None]


def file_mtimes(root: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()}


def hostile_plan_catalogue(root: Path, workers: int | None = None) -> Catalogue:
    return load_plan(root, build_demo_plan().only(HOSTILE), workers=workers)


def _load_hostile_in_child(root: str, results: multiprocessing.queues.Queue[list[tuple[int, str]]]) -> None:
    catalogue = hostile_plan_catalogue(Path(root), workers=1)
    results.put(sorted((file.document_id, file.md5) for file in catalogue.files))


@pytest.fixture(scope="session")
def demo(demo_catalogue: Catalogue) -> Catalogue:
    """The full demo catalogue, generated once per test run (see conftest.py)."""
    return demo_catalogue


# ---- structure --------------------------------------------------------------------------------


def test_groups_are_the_demo_channels(demo: Catalogue) -> None:
    expected = {
        "tad_demo_classical": (1_000_000_001, "TAD Demo · Classical", False),
        "tad_demo_archive": (1_000_000_002, "TAD Demo · Radio Archive", True),
        "tad_demo_mixes": (1_000_000_003, "TAD Demo · DJ Mixes", False),
        "tad_demo_hostile": (1_000_000_004, "TAD Demo · Hostile Names", True),
        "": (1_000_000_077, "TAD Demo · Séances Privées", False),  # private: no username
        "tad_demo_forum": (1_000_000_016, "TAD Demo · Forum", True),  # a forum supergroup
    }
    assert {g.username: (g.id, g.title, g.megagroup) for g in demo.groups} == expected
    assert [g.username for g in demo.groups if g.forum] == ["tad_demo_forum"]
    for group in demo.groups:
        assert group.access_hash != 0 and INT64_MIN <= group.access_hash <= INT64_MAX
        assert group.about


def test_message_ids_count_up_with_strictly_increasing_utc_dates(demo: Catalogue) -> None:
    for group in demo.groups:
        deleted = PRIVATE_DELETED if not group.username else ()  # the private channel's deleted posts leave gaps
        ids = [m.id for m in group.messages]
        assert ids == [n for n in range(1, ids[-1] + 1) if n not in deleted]
        dates = [m.date for m in group.messages]
        assert all(earlier < later for earlier, later in zip(dates, dates[1:]))
        assert all(d.utcoffset() == timedelta(0) and 2024 <= d.year <= 2025 for d in dates)


def test_lookup_by_username_id_and_document(demo: Catalogue) -> None:
    classical = demo.group("tad_demo_classical")
    assert demo.group("@TAD_Demo_Classical") is classical
    assert demo.group(1_000_000_001) is classical
    assert demo.group(-1001000000001) is classical  # Telethon's marked channel id
    first = group_files(classical)[0]
    assert demo.document(first.document_id) is first
    with pytest.raises(KeyError):
        demo.group("nope")
    with pytest.raises(KeyError):
        demo.group(42)
    with pytest.raises(KeyError):
        demo.document(1)


@settings(max_examples=40, deadline=None)
@given(flips=st.lists(st.booleans(), min_size=18, max_size=18), at=st.booleans())
def test_username_lookup_ignores_case_and_at_sign(flips: list[bool], at: bool) -> None:
    catalogue = Catalogue(Path("/nonexistent"), (DemoGroup(7, 1, "T", "tad_demo_mixes", False, "", ()),))
    name = "".join(c.upper() if flip else c for c, flip in zip("tad_demo_mixes", flips))
    assert catalogue.group(("@" if at else "") + name).id == 7


def test_document_ids_are_unique_except_the_shared_track(demo: Catalogue) -> None:
    postings = Counter(file.document_id for group in demo.groups for file in group_files(group))
    assert [doc for doc, count in postings.items() if count > 1] == [_shared_track(demo).document_id]
    for file in demo.files:
        assert 0 < file.document_id <= INT64_MAX
        assert file.access_hash != 0 and INT64_MIN <= file.access_hash <= INT64_MAX
        assert file.dc_id == 2
        assert file.path.parent == demo.root / "files"


def test_manifest_md5_and_size_match_the_bytes(demo: Catalogue) -> None:
    for file in demo.files:
        data = file.path.read_bytes()
        assert len(data) == file.size, file.path
        assert hashlib.md5(data).hexdigest() == file.md5, file.path


def test_second_load_reads_the_manifest_and_rewrites_nothing(demo: Catalogue) -> None:
    before = file_mtimes(demo.root)
    again = load_catalogue(demo.root)
    assert again == demo
    assert file_mtimes(demo.root) == before


# ---- real, tagged audio -----------------------------------------------------------------------


def test_every_audio_file_is_real_audio_with_the_expected_tags(demo: Catalogue) -> None:
    for file in audio_files(demo):
        audio = mutagen.File(file.path)
        assert audio is not None, file.path
        assert audio.info.length > 0.5
        if file.has_audio_attribute:
            assert abs(audio.info.length - file.duration) < 0.5, file.path
        assert read_tags(file.path) == dict(file.tags), file.path


def test_audio_decodes_to_quiet_sound(demo: Catalogue) -> None:
    for file in group_files(demo.group("tad_demo_classical"))[:6]:
        samples, _rate = sf.read(file.path, dtype="float32")
        assert 0.01 < float(np.abs(samples).max()) < 0.5


def test_cyrillic_tags_round_trip_with_a_latin_spelling_alongside(demo: Catalogue) -> None:
    classical = demo.group("tad_demo_classical")
    swan_lake = [
        m
        for m in classical.messages
        if m.file is not None
        and m.file.performer == "Пётр Ильич Чайковский"
        and (m.file.title or "").startswith("Лебединое озеро")
    ]
    assert len(swan_lake) == 1
    message = swan_lake[0]
    assert message.file is not None
    assert "Tchaikovsky" in (message.file.file_name or "") or "Tchaikovsky" in message.text
    tags = read_tags(message.file.path)
    assert tags["artist"] == "Пётр Ильич Чайковский"
    assert tags["title"].startswith("Лебединое озеро")


def test_japanese_tags_round_trip(demo: Catalogue) -> None:
    tagged = [read_tags(f.path) for f in group_files(demo.group("tad_demo_classical"))]
    artists = {tags.get("artist") for tags in tagged}
    titles = {tags.get("title") for tags in tagged}
    assert {"坂本龍一", "久石譲"} <= artists
    assert {"戦場のメリークリスマス", "あの夏へ"} <= titles


# ---- the groups' contents ---------------------------------------------------------------------


def test_classical_mixes_formats_sizes_and_tagging_cases(demo: Catalogue) -> None:
    classical = demo.group("tad_demo_classical")
    files = group_files(classical)
    assert 36 <= len(files) <= 48
    assert len(classical.messages) > len(files)  # a few text-only messages
    assert {f.mime_type for f in files} == {"audio/mpeg", "audio/flac", "audio/ogg"}
    assert all(2 <= f.duration <= 20 and f.size >= 4_096 for f in files)
    assert any(f.performer == "Antonín Dvořák" for f in files)
    big = [f for f in files if f.size >= MIB]
    assert len(big) == 2 and all(f.mime_type == "audio/flac" for f in big)
    assert [f for f in files if f.size >= MB] == big
    untagged = [f for f in files if not f.tags]
    assert len(untagged) >= 3 and all(f.title and f.performer and read_tags(f.path) == {} for f in untagged)
    untitled = [f for f in files if f.title is None]
    assert len(untitled) >= 2 and all(read_tags(f.path)["title"] for f in untitled)


def test_archive_has_over_a_thousand_tiny_recordings_and_some_odd_documents(demo: Catalogue) -> None:
    archive = demo.group("tad_demo_archive")
    files = group_files(archive)
    recordings = [f for f in files if f.has_audio_attribute]
    assert len(recordings) >= 1_050
    assert len({f.document_id for f in recordings}) == len(recordings)
    assert 0.03 <= (len(archive.messages) - len(files)) / len(archive.messages) <= 0.08
    for file in recordings:
        assert file.mime_type in {"audio/mpeg", "audio/ogg"}
        assert file.size < 32_000 and file.duration in (1, 2)
        assert re.fullmatch(r".+ \d{4}-\d{2}-\d{2}", file.title or "")
    pdfs = [f for f in files if f.mime_type == "application/pdf"]
    assert pdfs and all(re.fullmatch(r"notes-\d+\.pdf", f.file_name or "") for f in pdfs)
    assert all(f.path.read_bytes().startswith(b"%PDF-") and not f.has_audio_attribute for f in pdfs)
    plain = [f for f in files if not f.has_audio_attribute and f.mime_type.startswith("audio/")]
    assert 8 <= len(plain) <= 12
    assert all(f.title is None and f.performer is None and f.file_name for f in plain)
    assert {f.mime_type for f in plain} == {"audio/mpeg", "audio/flac"}


def test_the_private_channel_has_no_username_and_two_deleted_posts(demo: Catalogue) -> None:
    private = demo.group(PRIVATE_GROUP_ID)
    assert private.username == "" and PRIVATE_DELETED == (4, 5)
    assert [m.id for m in private.messages] == [1, 2, 3, 6, 7]
    assert [m.file.title for m in private.messages if m.file] == ["Rehearsal Take 1", "Rehearsal Take 2", "Soundcheck"]
    with pytest.raises(KeyError):
        demo.group("")  # a private channel is not found by a username


def test_mixes_has_one_file_over_50_mb_and_others_between_3_and_15(demo: Catalogue) -> None:
    files = group_files(demo.group("tad_demo_mixes"))
    assert 4 <= len(files) <= 6
    huge = [f for f in files if f.size >= 50 * MIB]
    assert len(huge) == 1 and huge[0].mime_type == "audio/flac"
    assert all(3 * MIB <= f.size <= 15 * MB for f in files if f not in huge)
    assert all(read_tags(f.path)["artist"] == f.performer for f in files)


def test_hostile_names_are_all_there(demo: Catalogue) -> None:
    files = group_files(demo.group(HOSTILE))
    names = {f.file_name for f in files}
    expected = {
        "../../x.mp3", "/etc/passwd.mp3", "..\\..\\win.mp3", "bell\x07\nnew\tline.mp3", "\x1b[31mred\x1b[0m.mp3",
        "CON.mp3", "nul.flac", "Track.mp3", "track.mp3", "\u202egnp.mp3", "...mp3", "", None,
    }
    assert expected <= names
    assert any(name and len(name) == 300 for name in names)
    assert any(name and name != name.rstrip(" .") for name in names)  # trailing spaces / dots
    assert any(f.performer and len(f.performer) == 10_000 for f in files)
    assert any(f.title and re.search(r"[\x01-\x08\x0b-\x1f]", f.title) for f in files)
    strings = [s for f in files for s in (f.file_name, f.title, f.performer) if s] + [
        m.text for m in demo.group(HOSTILE).messages
    ]
    assert not any("\x00" in s for s in strings)  # TL strings cannot carry NUL


def test_shared_track_is_the_very_same_file_in_both_groups(demo: Catalogue) -> None:
    shared = _shared_track(demo)
    in_classical = {f.document_id: f for f in group_files(demo.group("tad_demo_classical"))}
    twin = in_classical[shared.document_id]
    assert twin is shared
    assert (twin.access_hash, twin.path, twin.md5) == (shared.access_hash, shared.path, shared.md5)


def _shared_track(demo: Catalogue) -> DemoFile:
    classical = {f.document_id for f in group_files(demo.group("tad_demo_classical"))}
    shared = [f for f in group_files(demo.group(HOSTILE)) if f.document_id in classical]
    assert len(shared) == 1
    return shared[0]


# ---- determinism and generation mechanics (on the small hostile group) ------------------------


def test_plan_is_deterministic() -> None:
    assert build_demo_plan() == build_demo_plan()


def test_generation_is_byte_identical_across_dirs_and_worker_counts(tmp_path: Path) -> None:
    one = hostile_plan_catalogue(tmp_path / "one", workers=1)
    two = hostile_plan_catalogue(tmp_path / "two", workers=2)
    manifest_one = (one.root / MANIFEST_NAME).read_bytes()
    assert manifest_one == (two.root / MANIFEST_NAME).read_bytes()
    assert {f.mime_type for f in one.files} >= {"audio/mpeg", "audio/flac", "audio/ogg"}
    for file in one.files:
        assert file.path.read_bytes() == (two.root / file.path.relative_to(one.root)).read_bytes()


def test_another_version_is_regenerated(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    hostile_plan_catalogue(root)
    manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["version"] = CATALOGUE_VERSION - 1
    (root / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    assert read_catalogue(root, build_demo_plan().only(HOSTILE).name) is None
    catalogue = hostile_plan_catalogue(root)
    assert json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))["version"] == CATALOGUE_VERSION
    assert all(f.path.stat().st_size == f.size for f in catalogue.files)


def test_a_missing_file_triggers_regeneration(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    victim = hostile_plan_catalogue(root).files[0]
    victim.path.unlink()
    again = hostile_plan_catalogue(root)
    assert again.document(victim.document_id).path.read_bytes()
    assert again.document(victim.document_id).md5 == victim.md5


def test_a_catalogue_of_another_plan_is_not_mistaken_for_the_demo(tmp_path: Path) -> None:
    hostile_plan_catalogue(tmp_path / "demo")
    assert read_catalogue(tmp_path / "demo") is None


def test_a_failed_render_is_finished_by_the_next_load_keeping_what_landed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_render = render_module.render_file
    calls = 0

    def crash_on_the_fifth(root: Path, file: catalogue_module.FilePlan) -> render_module.Rendered:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise OSError("disk on fire")
        return real_render(root, file)

    root = tmp_path / "demo"
    monkeypatch.setattr(render_module, "render_file", crash_on_the_fifth)
    with pytest.raises(OSError, match="disk on fire"):
        hostile_plan_catalogue(root, workers=1)
    assert read_catalogue(root, build_demo_plan().only(HOSTILE).name) is None  # no manifest: incomplete
    landed = file_mtimes(root / "files")
    assert len(landed) == 4  # whole files only: the fifth was never renamed into place
    monkeypatch.setattr(render_module, "render_file", real_render)
    catalogue = hostile_plan_catalogue(root, workers=1)
    assert all(file_mtimes(root / "files")[path] == mtime for path, mtime in landed.items())
    for file in catalogue.files:
        assert hashlib.md5(file.path.read_bytes()).hexdigest() == file.md5
    assert sorted(p.name for p in root.iterdir()) == ["files", MANIFEST_NAME]


def test_a_half_written_file_is_never_taken_for_a_rendered_one(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    plan = build_demo_plan().only(HOSTILE)
    first = render_module.render_order(plan.files())[0]
    (root / "files").mkdir(parents=True)
    (root / first.relpath).write_bytes(b"\xff\xfb half")  # as if a crash cut it, not renamed
    (root / "files" / f".x.mp3{render_module.PART_MARK}123").write_bytes(b"debris")
    catalogue = hostile_plan_catalogue(root, workers=1)
    assert hashlib.md5(catalogue.document(first.document_id).path.read_bytes()).hexdigest() == (
        catalogue.document(first.document_id).md5
    )
    assert not list((root / "files").glob(".*"))


async def test_the_server_answers_for_a_file_once_it_has_rendered(tmp_path: Path) -> None:
    """While the catalogue renders, a request for a file still to come waits for it (it is rendered
    next) and gets the final bytes; a group's messages come with their final sizes."""
    plan = build_demo_plan().only(HOSTILE)
    catalogue = open_catalogue(tmp_path / "demo", plan, workers=1)
    rendering = catalogue.rendering
    assert rendering is not None
    last = render_module.render_order(plan.files())[-1]
    client = SimulatedClient(SimulatedTelegram(catalogue, authorized=True))
    await client.connect()
    try:
        group = await client.get_entity("tad_demo_hostile")
        messages = await client.get_messages(group, limit=None)
        data = await client.download_media(next(m for m in messages if m.file and m.document.id == last.document_id), bytes)
    finally:
        await client.disconnect()
    final = rendering.wait()
    assert hashlib.md5(data).hexdigest() == final.document(last.document_id).md5
    sizes = {m.document.id: m.document.size for m in messages if m.document is not None}
    assert sizes == {f.document_id: final.document(f.document_id).size for f in final.files}
    assert rendering.progress().complete


def test_progress_line_redraws_one_line_on_a_terminal_and_prints_now_and_then_elsewhere(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    progress = [render_module.Progress(n, 4, n * 1_500_000, n / 4) for n in range(1, 5)]
    piped, terminal = io.StringIO(), Terminal()
    for stream in (piped, terminal):
        line = ProgressLine(stream, tmp_path)
        line(progress[0])
        assert ("demo catalogue ▕" in stream.getvalue()) is (stream is piped)  # a terminal waits
        line.go_live()  # the command's output is out: a terminal draws from now on
        for step in progress[1:]:
            line(step)
    piped_lines = piped.getvalue().splitlines()
    assert piped_lines[0].startswith("Rendering the demo catalogue")
    # The first and the last always; between them at most one line every few seconds.
    assert piped_lines[1] == f"demo catalogue {progress[0].line()}"
    assert piped_lines[-1] == f"demo catalogue {progress[-1].line()}"
    assert "4/4 files, 6.0 MB" in piped_lines[-1] and "100%" in piped_lines[-1]
    # On a terminal: one line, redrawn in place, ended when the render is; nothing before go_live.
    heading, drawn, rest = terminal.getvalue().split("\n")
    assert heading.startswith("Rendering the demo catalogue") and rest == ""
    assert drawn.startswith(f"\r\x1b[2Kdemo catalogue {progress[0].line()}")
    assert drawn.endswith(f"\r\x1b[2Kdemo catalogue {progress[-1].line()}")


def test_leftovers_of_a_crashed_generation_are_cleaned_up(tmp_path: Path) -> None:
    debris = tmp_path / ".demo.staging-crashed"
    (debris / "files").mkdir(parents=True)
    (debris / "files" / "half.mp3").write_bytes(b"\xff\xfb")
    hostile_plan_catalogue(tmp_path / "demo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "demo.lock"]


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_two_processes_generating_at_once_both_get_the_same_valid_catalogue(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    children = [context.Process(target=_load_hostile_in_child, args=(str(tmp_path / "demo"), results)) for _ in "ab"]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert outcomes[0] == outcomes[1]
    catalogue = read_catalogue(tmp_path / "demo", build_demo_plan().only(HOSTILE).name)
    assert catalogue is not None
    assert sorted((f.document_id, f.md5) for f in catalogue.files) == outcomes[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "demo.lock"]


# ---- audio building blocks --------------------------------------------------------------------


def test_polynomial_sine_tracks_the_real_sine() -> None:
    phase = np.linspace(0.0, 1.0, 10_001, endpoint=False)
    assert float(np.abs(polynomial_sine(phase) - np.sin(2 * np.pi * phase)).max()) < 0.002


@settings(max_examples=10, deadline=None)
@given(serial=st.integers(min_value=0, max_value=(1 << 32) - 1))
def test_restamped_ogg_keeps_decoding_under_the_new_serial(serial: int) -> None:
    tone = Tone(seconds=0.5, sample_rate=8_000, channels=1, seed=1, chords=((220.0, 330.0),))
    buffer = io.BytesIO()
    encode(tone, Encoding("ogg"), buffer)
    stamped = restamp_ogg_serial(buffer.getvalue(), serial)
    assert OggPage(io.BytesIO(stamped)).serial == serial
    audio = mutagen.File(io.BytesIO(stamped))
    assert audio is not None and abs(audio.info.length - 0.5) < 0.01
    samples, _rate = sf.read(io.BytesIO(stamped))
    assert len(samples) == 4_000


# ---- synthetic catalogue ----------------------------------------------------------------------


def test_synthetic_catalogue_has_files_of_exactly_the_requested_sizes(tmp_path: Path) -> None:
    sizes = [1, 1_000, MIB + 3, 0]
    catalogue = synthetic_catalogue(tmp_path / "bench", sizes=sizes, seed=3)
    (group,) = catalogue.groups
    assert catalogue.group("@TAD_BENCH") is group
    files = group_files(group)
    assert [f.size for f in files] == sizes
    assert len({f.document_id for f in files}) == len(files)
    for file in files:
        data = file.path.read_bytes()
        assert len(data) == file.size and hashlib.md5(data).hexdigest() == file.md5
        assert file.mime_type == "audio/mpeg" and catalogue.document(file.document_id) is file


def test_synthetic_catalogue_is_deterministic_in_its_seed(tmp_path: Path) -> None:
    sizes = [5_000, 70_000]
    first = synthetic_catalogue(tmp_path / "a", sizes=sizes, seed=1)
    second = synthetic_catalogue(tmp_path / "b", sizes=sizes, seed=1)
    other = synthetic_catalogue(tmp_path / "c", sizes=sizes, seed=2)
    digest = lambda c: [(f.document_id, f.access_hash, f.md5) for f in c.files]  # noqa: E731
    assert digest(first) == digest(second)
    assert [f.md5 for f in first.files] != [f.md5 for f in other.files]


def test_synthetic_files_are_written_once_and_reused(tmp_path: Path) -> None:
    root = tmp_path / "bench"
    first = synthetic_catalogue(root, sizes=[10_000, 20_000])
    before = file_mtimes(root / "files")
    again = synthetic_catalogue(root, sizes=[10_000, 20_000])
    assert file_mtimes(root / "files") == before
    assert again == first
    first.files[1].path.write_bytes(b"truncated")
    repaired = synthetic_catalogue(root, sizes=[10_000, 20_000])
    assert repaired.files[1].path.stat().st_size == 20_000
    assert repaired.files[1].md5 == first.files[1].md5
