"""``tad-tui download`` with message links, and groups found by what people type, on the simulated Telegram."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.catalogue.content import PRIVATE_DELETED, PRIVATE_GROUP_ID
from helpers import assert_one_clean_line, cli_dirs, json_lines, md5_file, run




@pytest.fixture
def dirs(tmp_path: Path, demo_config: Path):
    return cli_dirs(tmp_path, demo_config)


def tad(dirs, *args: str) -> subprocess.CompletedProcess[str]:
    return run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], *args)


def download(dirs, *args: str) -> subprocess.CompletedProcess[str]:
    return tad(dirs, "download", "-o", str(dirs["out"]), "--json", *args)


def _file_id(group_id: int, message_id: int) -> str:
    return f"-100{group_id}_{message_id}"


def _is_audio(message) -> bool:
    return message.file is not None and message.file.mime_type.startswith("audio/")


def _check_downloaded(events: list[dict], catalogue: Catalogue, expected: dict[str, tuple[int, int]]) -> None:
    """Exactly ``expected`` (file id -> (group, message)) downloaded, each with the source's MD5."""
    done = {e["file_id"]: e for e in events if e.get("event") == "downloaded"}
    assert set(done) == set(expected)
    for file_id, (group_id, message_id) in expected.items():
        source = next(m for m in catalogue.group(group_id).messages if m.id == message_id).file
        event = done[file_id]
        assert event["source_md5"] == source.md5 and md5_file(event["local_path"]) == event["checksum_md5"]
        assert event["file_size"] == Path(event["local_path"]).stat().st_size


def test_a_link_downloads_exactly_its_message_audio(dirs, demo_catalogue: Catalogue) -> None:
    mixes = demo_catalogue.group("tad_demo_mixes")
    result = download(dirs, "https://t.me/tad_demo_mixes/3")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    _check_downloaded(events, demo_catalogue, {_file_id(mixes.id, 3): (mixes.id, 3)})
    assert events[-1] == {"downloaded": 1, "skipped": 0, "failed": 0}
    again = download(dirs, "tg://resolve?domain=tad_demo_mixes&post=3")  # the same message, another form
    assert again.returncode == 0 and json_lines(again.stdout)[-1] == {"downloaded": 0, "skipped": 1, "failed": 0}


def test_a_range_downloads_exactly_the_audio_in_it(dirs, demo_catalogue: Catalogue) -> None:
    archive = demo_catalogue.group("tad_demo_archive")
    # A range around the first PDF, so that documents, text and audio sent as a file are all in it.
    pdf = next(m for m in archive.messages if m.file is not None and m.file.mime_type == "application/pdf")
    first, last = max(1, pdf.id - 25), pdf.id + 25
    inside = [m for m in archive.messages if first <= m.id <= last]
    assert any(m.file is None for m in inside)  # the reference below leaves text out
    expected = {_file_id(archive.id, m.id): (archive.id, m.id) for m in inside if _is_audio(m)}
    result = download(dirs, f"https://t.me/tad_demo_archive/{first}-{last}")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    _check_downloaded(events, demo_catalogue, expected)
    assert events[-1] == {"downloaded": len(expected), "skipped": 0, "failed": 0}


def test_failed_links_are_told_in_words_and_the_others_finish(dirs, demo_catalogue: Catalogue) -> None:
    hostile, classical = demo_catalogue.group("tad_demo_hostile"), demo_catalogue.group("tad_demo_classical")
    text_only = next(m for m in classical.messages if m.file is None)
    audio = next(m for m in hostile.messages if _is_audio(m))
    links = [
        f"https://t.me/tad_demo_classical/{text_only.id}",
        f"https://t.me/c/{PRIVATE_GROUP_ID}/{PRIVATE_DELETED[0]}",
        f"https://t.me/tad_demo_hostile/{audio.id}",
        "https://t.me/c/999999/1",
        "https://t.me/tad_demo_nobody/5",
    ]
    result = download(dirs, *links)
    assert result.returncode == 1, result.stderr
    events = json_lines(result.stdout)
    _check_downloaded(events, demo_catalogue, {_file_id(hostile.id, audio.id): (hostile.id, audio.id)})
    failed = {e["link"]: e["error_message"] for e in events if e.get("event") == "failed"}
    assert set(failed) == {links[0], links[1], links[3], links[4]}
    assert "holds no audio" in failed[links[0]]
    assert "was deleted" in failed[links[1]]
    assert "cannot be reached" in failed[links[3]] and "members" in failed[links[3]]
    assert "cannot be reached" in failed[links[4]] and "@tad_demo_nobody" in failed[links[4]]
    assert events[-1] == {"downloaded": 1, "skipped": 0, "failed": 4}
    plain = tad(dirs, "download", "-o", str(dirs["out"]), links[1], links[2])
    assert plain.returncode == 1
    assert f"failed {links[1]}: message {PRIVATE_DELETED[0]} of private channel {PRIVATE_GROUP_ID}" in plain.stdout
    assert plain.stdout.strip().endswith("0 downloaded, 1 skipped, 1 failed")


def test_the_private_channel_by_its_links(dirs, demo_catalogue: Catalogue) -> None:
    private = demo_catalogue.group(PRIVATE_GROUP_ID)
    audio = [m for m in private.messages if _is_audio(m)]
    result = download(dirs, f"https://t.me/c/{PRIVATE_GROUP_ID}/{audio[0].id}",
                      f"tg://privatepost?channel={PRIVATE_GROUP_ID}&post={audio[1].id}")
    assert result.returncode == 0, result.stderr
    expected = {_file_id(private.id, m.id): (private.id, m.id) for m in audio[:2]}
    _check_downloaded(json_lines(result.stdout), demo_catalogue, expected)
    # The whole channel as a range: the deleted audio post (5) is not there, the rest is already here.
    whole = download(dirs, f"https://t.me/c/{PRIVATE_GROUP_ID}/1-{private.messages[-1].id}")
    assert whole.returncode == 0, whole.stderr
    _check_downloaded(json_lines(whole.stdout), demo_catalogue, {_file_id(private.id, audio[2].id): (private.id, audio[2].id)})
    assert json_lines(whole.stdout)[-1] == {"downloaded": 1, "skipped": 2, "failed": 0}


def test_links_from_a_file(dirs, demo_catalogue: Catalogue, tmp_path: Path) -> None:
    hostile = demo_catalogue.group("tad_demo_hostile")
    audio = [m for m in hostile.messages if _is_audio(m)][:3]
    links = tmp_path / "links.txt"
    links.write_text(
        "# picked by hand\n\n"
        f"https://t.me/tad_demo_hostile/{audio[0].id}\n"
        f"   https://t.me/tad_demo_hostile/{audio[1].id}   \n"
        "# https://t.me/tad_demo_mixes/1 is commented out\n",
        encoding="utf-8",
    )
    result = download(dirs, "-f", str(links), f"https://t.me/tad_demo_hostile/{audio[2].id}")
    assert result.returncode == 0, result.stderr
    _check_downloaded(json_lines(result.stdout), demo_catalogue, {_file_id(hostile.id, m.id): (hostile.id, m.id) for m in audio})


def test_bad_links_and_link_files_exit_2_in_one_line(dirs, tmp_path: Path) -> None:
    bad_file = tmp_path / "bad.txt"
    bad_file.write_text("https://t.me/tad_demo_mixes/3\nhttps://t.me/tad_demo_mixes/three\n", encoding="utf-8")
    cases = [
        (["https://t.me/tad_demo_mixes/3", "@tad_demo_mixes"], "'@tad_demo_mixes' is not a t.me link"),
        (["@tad_demo_mixes", "https://t.me/tad_demo_mixes/3"], "give one group, or message links"),
        (["-f", str(bad_file)], f"-f/--file: {bad_file}, line 2: "),
        (["-f", str(tmp_path / "missing.txt")], "cannot read the link file"),
        (["https://t.me/tad_demo_mixes/3", "--takeout"], "--takeout"),
        ([], "download needs a group, message links or -f FILE"),
    ]
    for args, words in cases:
        result = download(dirs, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert words in assert_one_clean_line(result), (args, result.stderr)


def _scan_group(dirs, key: str) -> subprocess.CompletedProcess[str]:
    return tad(dirs, "scan", key, "--json")


@pytest.mark.parametrize(
    "key",
    [
        "TAD DEMO · SEANCES PRIVEES",  # case and accents
        "tad demo · séances",  # a unique prefix
        "tad demo seances",  # punctuation folded away, as the search does
        "Séances",  # a word of the title
        f"https://t.me/c/{PRIVATE_GROUP_ID}",
        str(PRIVATE_GROUP_ID),
        f"-100{PRIVATE_GROUP_ID}",
    ],
)
def test_groups_are_found_by_folded_title_prefix_link_and_id(dirs, key: str) -> None:
    result = _scan_group(dirs, key)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["group"] == {"id": -1000000000000 - PRIVATE_GROUP_ID,
                                                  "title": "TAD Demo · Séances Privées", "username": None}


@pytest.mark.parametrize("key", ["@tad_demo_mixes", "tad_demo_mixes", "TAD_DEMO_MIXES", "https://t.me/tad_demo_mixes",
                                 "t.me/tad_demo_mixes", "tad demo · dj", "dj mixes"])
def test_groups_are_found_by_username_with_or_without_at_and_by_title(dirs, key: str) -> None:
    result = _scan_group(dirs, key)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["group"]["username"] == "tad_demo_mixes"


def test_an_ambiguous_or_unknown_group_is_refused_naming_the_matches(dirs) -> None:
    result = _scan_group(dirs, "tad demo")
    assert result.returncode == 1
    line = assert_one_clean_line(result)
    assert re.search(r"'tad demo' matches \d+ groups: TAD Demo · Classical \(@tad_demo_classical\);", line)
    assert "TAD Demo · Séances Privées;" in line and line.endswith("give more of the title or the @username")
    # Found in the library now (scanned before): the same answer without asking Telegram's dialogs.
    assert _scan_group(dirs, "@tad_demo_mixes").returncode == 0
    assert "'TAD DEMO' matches" in assert_one_clean_line(_scan_group(dirs, "TAD DEMO"))
    unknown = _scan_group(dirs, "no such title anywhere")
    assert unknown.returncode == 1
    assert "no group or channel matches 'no such title anywhere'" in assert_one_clean_line(unknown)
