"""``tad-tui import-export``: a Telegram Desktop export's audio into the library, on the simulated
Telegram, with the sample export the demo catalogue writes (``desktop-export/ChatExport_…``)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tad_tui.library.desktop_export import ExportError, UnsafePath, locate, read_export
from tad_tui.telegram.sim.catalogue import Catalogue, DemoFile, export_result
from tad_tui.telegram.sim.catalogue.desktop_export import NOT_INCLUDED, TOO_BIG
from helpers import assert_one_clean_line, cli_dirs, json_lines, md5_file, run

GROUP = "tad_demo_classical"


def _files(catalogue: Catalogue) -> dict[int, DemoFile]:
    """The classical channel's audio by message id: what Telegram serves."""
    return {m.id: m.file for m in catalogue.group(GROUP).messages if m.file is not None}


@pytest.fixture
def dirs(tmp_path: Path, demo_config: Path) -> dict[str, Any]:
    return cli_dirs(tmp_path, demo_config)


def import_export(dirs: dict[str, Any], path: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        "--config", dirs["config"], "--demo", "--data-dir", dirs["data"], "import-export", str(path),
        "-o", str(dirs["out"]), *args,
    )


def _rows(dirs: dict[str, Any]) -> dict[int, tuple[str, str | None, str | None, str | None]]:
    db = Path(dirs["data"]) / "library.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT message_id, status, local_path, checksum_md5, source_md5 FROM audio_file WHERE group_id = ?",
            (int(f"-100{1_000_000_001}"),),
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _copy_export(catalogue: Catalogue, to: Path) -> tuple[Path, dict[str, Any]]:
    """A private copy of the sample (real copies, not the catalogue's links) and its JSON, to change."""
    folder = to / "ChatExport"
    shutil.copytree(export_result(catalogue.root).parent, folder, copy_function=shutil.copyfile)
    return folder / "result.json", json.loads((folder / "result.json").read_text(encoding="utf-8"))


def _write(result: Path, data: dict[str, Any]) -> None:
    result.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


# ---- the sample ---------------------------------------------------------------------------------


def test_the_sample_is_desktops_format_with_some_files_and_some_not_included(demo_catalogue: Catalogue) -> None:
    result = export_result(demo_catalogue.root)
    data = json.loads(result.read_text(encoding="utf-8"))
    group = demo_catalogue.group(GROUP)
    assert (data["name"], data["type"], data["id"]) == (group.title, "public_channel", group.id)
    files = _files(demo_catalogue)
    audio = [m for m in data["messages"] if m.get("media_type") == "audio_file"]
    assert {m["id"] for m in audio} == set(files)
    for message in audio:
        file = files[message["id"]]
        assert message["type"] == "message" and message["date_unixtime"] == str(int(
            next(m for m in group.messages if m.id == message["id"]).date.timestamp()))
        assert (message["file_size"], message["mime_type"]) == (file.size, file.mime_type)
        assert message.get("title") == file.title and message.get("performer") == file.performer
        if message["file"] not in (NOT_INCLUDED, TOO_BIG):
            held = result.parent / message["file"]
            assert message["file"].startswith("files/") and held.stat().st_size == file.size
            assert md5_file(held) == file.md5
    kinds = [m["file"] if m["file"] in (NOT_INCLUDED, TOO_BIG) else "held" for m in audio]
    assert kinds.count("held") > 20 and kinds.count(NOT_INCLUDED) > 10 and kinds.count(TOO_BIG) == 2
    parsed = read_export(result)
    assert len(parsed.chats) == 1 and parsed.chats[0].marked_id == int(f"-100{group.id}")
    assert parsed.audio_count == len(files)


# ---- importing ----------------------------------------------------------------------------------


def test_import_copies_what_the_export_holds_downloads_the_rest_then_skips_them(
    dirs: dict[str, Any], demo_catalogue: Catalogue
) -> None:
    result_json = export_result(demo_catalogue.root)
    files = _files(demo_catalogue)
    held = {m["id"] for m in json.loads(result_json.read_text(encoding="utf-8"))["messages"]
            if m.get("file") and not m["file"].startswith("(")}
    first = import_export(dirs, result_json, "--json")
    assert first.returncode == 0, first.stderr
    events = json_lines(first.stdout)
    imported = {e["message_id"]: e for e in events if e.get("event") == "imported"}
    queued = {e["message_id"] for e in events if e.get("event") == "queued"}
    downloaded = [e for e in events if e.get("event") == "downloaded"]
    assert set(imported) == held and queued == set(files) - held
    for message_id, event in imported.items():
        source = files[message_id]
        path = Path(event["local_path"])
        assert path.is_relative_to(dirs["out"]) and path.is_file()
        assert event["source_md5"] == source.md5  # the export's bytes are Telegram's
        assert md5_file(path) == event["checksum_md5"]
        assert event["file_size"] == path.stat().st_size
    by_file_id = {f"-100{1_000_000_001}_{message_id}": message_id for message_id in queued}
    assert {by_file_id[e["file_id"]] for e in downloaded} == queued
    for event in downloaded:
        assert event["source_md5"] == files[by_file_id[event["file_id"]]].md5
    assert events[-1] == {"imported": len(held), "downloaded": len(queued), "skipped": 0, "failed": 0}
    rows = _rows(dirs)
    assert set(rows) == set(files)
    for message_id, (status, local_path, checksum, source_md5) in rows.items():
        assert status == "completed" and source_md5 == files[message_id].md5
        assert local_path is not None and md5_file(local_path) == checksum

    again = import_export(dirs, result_json, "--json")
    assert again.returncode == 0, again.stderr
    events = json_lines(again.stdout)
    assert {e["message_id"] for e in events if e.get("event") == "skipped"} == set(files)
    assert events[-1] == {"imported": 0, "downloaded": 0, "skipped": len(files), "failed": 0}
    plain = import_export(dirs, result_json.parent)  # the folder does as well as its result.json
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip().endswith(f"0 imported, 0 downloaded, {len(files)} skipped, 0 failed")


def test_a_track_downloaded_before_is_skipped_and_the_template_names_the_copies(
    dirs: dict[str, Any], demo_catalogue: Catalogue
) -> None:
    download = run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], "download",
                   "@" + GROUP, "-l", "3", "-o", str(dirs["out"]), "--json")
    assert download.returncode == 0, download.stderr
    before = {e["file_id"] for e in json_lines(download.stdout) if e.get("event") == "downloaded"}
    assert len(before) == 3
    result = import_export(dirs, export_result(demo_catalogue.root), "--json", "-t", "{group}/{message_id} {title}.{ext}")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert {e["file_id"] for e in events if e.get("event") == "skipped"} == before
    for event in (e for e in events if e.get("event") == "imported"):
        path = Path(event["local_path"])
        assert path.parent == dirs["out"] / "TAD Demo · Classical"
        assert path.name.startswith(f"{event['message_id']} ")


def test_imported_files_are_named_from_their_tags_as_downloads_are(dirs: dict[str, Any], demo_catalogue: Catalogue) -> None:
    """{album} is in the file's tags only (Telegram's attributes have none): a copy is named after
    its tags are read, exactly as a download of the same track, and no empty folder is left."""
    template = "{album}/{performer} - {title}.{ext}"
    result = import_export(dirs, export_result(demo_catalogue.root), "--json", "-t", template)
    assert result.returncode == 0, result.stderr
    imported = [e for e in json_lines(result.stdout) if e.get("event") == "imported"]
    assert imported
    fresh = {k: v for k, v in dirs.items()}
    fresh["data"], fresh["out"] = str(Path(dirs["data"]) / "again"), dirs["out"].parent / "downloaded"
    downloaded = run("--config", fresh["config"], "--demo", "--data-dir", fresh["data"], "download", "@" + GROUP,
                     "-o", str(fresh["out"]), "-t", template, "--json")
    assert downloaded.returncode == 0, downloaded.stderr
    # The same names, the copies' and the downloads' (which of two same-named tracks gets " (2)"
    # depends on the order they finish in, so the names are compared as a whole).
    assert sorted(p.relative_to(dirs["out"]) for p in dirs["out"].rglob("*") if p.is_file()) == sorted(
        p.relative_to(fresh["out"]) for p in fresh["out"].rglob("*") if p.is_file()
    )
    albums = {Path(e["local_path"]).relative_to(dirs["out"]).parts[0] for e in imported}
    assert len(albums - {"Unknown"}) >= 3  # named from tags: before, every copy was under "Unknown"
    assert not [p for p in dirs["out"].rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert not list(dirs["out"].rglob("*.part"))


def test_hostile_paths_are_refused_and_nothing_outside_the_export_is_read(
    dirs: dict[str, Any], demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    result_json, data = _copy_export(demo_catalogue, tmp_path / "export")
    files = _files(demo_catalogue)
    audio = [m for m in data["messages"] if m.get("media_type") == "audio_file" and m["file"].startswith("files/")]
    # Outside the export: Telegram's very bytes, so a reader that followed the path would import them.
    outside = tmp_path / "outside.mp3"
    hostile = {
        audio[0]["id"]: "../../outside.mp3",
        audio[1]["id"]: str(outside),
        audio[2]["id"]: "files/link.mp3",
        audio[3]["id"]: "files\\..\\..\\..\\outside.mp3",
        audio[4]["id"]: "files/../../outside.mp3",
    }
    shutil.copyfile(files[audio[0]["id"]].path, outside)
    (result_json.parent / "files" / "link.mp3").symlink_to(outside)
    missing, resized = audio[5], audio[6]
    (result_json.parent / missing["file"]).unlink()
    with open(result_json.parent / resized["file"], "r+b") as handle:
        handle.truncate(100)
    for message in data["messages"]:
        if message["id"] in hostile:
            message["file"] = hostile[message["id"]]
    _write(result_json, data)
    before = outside.stat()

    result = import_export(dirs, result_json, "--json")
    assert result.returncode == 1, result.stderr
    events = {e["message_id"]: e for e in json_lines(result.stdout) if "message_id" in e}
    for message_id in hostile:
        assert events[message_id]["event"] == "failed", events[message_id]
        assert "refused" in events[message_id]["error_message"]
    # A file missing from the export, or cut short, is downloaded from Telegram instead.
    assert events[missing["id"]]["event"] == "queued" and events[resized["id"]]["event"] == "queued"
    downloaded = {e["file_id"]: e for e in json_lines(result.stdout) if e.get("event") == "downloaded"}
    for message in (missing, resized):
        assert downloaded[f"-1001000000001_{message['id']}"]["source_md5"] == files[message["id"]].md5
    rows = _rows(dirs)
    for message_id in hostile:
        status, local_path, _, _ = rows[message_id]
        assert status != "completed" and local_path is None
    assert outside.stat().st_mtime_ns == before.st_mtime_ns
    assert all(p.resolve() != outside for p in dirs["out"].rglob("*"))
    assert json_lines(result.stdout)[-1]["failed"] == len(hostile)
    plain = import_export(dirs, result_json)
    assert "Traceback" not in plain.stderr and plain.returncode == 1
    assert "refused" in plain.stdout


def test_a_whole_account_export_imports_its_groups_and_says_why_not_a_personal_chat(
    dirs: dict[str, Any], demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    result_json, chat = _copy_export(demo_catalogue, tmp_path / "export")
    shutil.move(result_json.parent / "files", tmp_path / "files")
    account = tmp_path / "export" / "DataExport"
    (account / "chats" / "chat_001").mkdir(parents=True)
    shutil.move(tmp_path / "files", account / "chats" / "chat_001" / "files")
    chat["messages"] = [m for m in chat["messages"] if m.get("media_type") == "audio_file"][:4]
    for message in chat["messages"]:
        if message["file"].startswith("files/"):
            message["file"] = "chats/chat_001/" + message["file"]
    person = {"name": "Ann", "type": "personal_chat", "id": 777, "messages": [
        {"id": 5, "type": "message", "date": "2024-01-01T10:00:00", "date_unixtime": "1704103200", "from": "Ann",
         "from_id": "user777", "file": NOT_INCLUDED, "file_name": "song.mp3", "file_size": 1000,
         "media_type": "audio_file", "title": "Song", "mime_type": "audio/mpeg", "duration_seconds": 3, "text": ""},
        {"id": 6, "type": "message", "date": "2024-01-01T10:00:00", "date_unixtime": "1704103200",
         "file": "(File not included. Change data exporting settings to download.)", "media_type": "voice_message",
         "mime_type": "audio/ogg", "duration_seconds": 3, "text": ""},
    ]}
    _write(account / "result.json", {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 1, "first_name": "Demo", "last_name": "", "phone_number": "+42 000"},
        "chats": {"about": "This page lists all chats from this export.", "list": [person, chat]},
        "left_chats": {"about": "This page lists all supergroups and channels you've left.", "list": []},
    })
    result = import_export(dirs, account / "result.json", "--json")
    assert result.returncode == 1, result.stderr
    events = json_lines(result.stdout)
    failed = [e for e in events if e.get("event") == "failed"]
    assert [(e["group"], e["message_id"]) for e in failed] == [("Ann", 5)]  # the voice message is no audio
    assert "a chat with a person" in failed[0]["error_message"]
    summary = events[-1]
    assert summary["imported"] + summary["downloaded"] == 4 and summary["failed"] == 1
    assert summary["imported"] >= 2


def test_a_message_deleted_since_the_export_fails_in_words_and_the_others_go_on(
    dirs: dict[str, Any], demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    result_json, data = _copy_export(demo_catalogue, tmp_path / "export")
    audio = [m for m in data["messages"] if m.get("media_type") == "audio_file"][:3]
    ghost = dict(audio[0], id=99_999)
    data["messages"] = [*audio, ghost, audio[0], ghost]  # and each listed twice: one import, one failure
    _write(result_json, data)
    result = import_export(dirs, result_json, "--json")
    assert result.returncode == 1, result.stderr
    assert [e["message_id"] for e in json_lines(result.stdout) if "message_id" in e].count(audio[0]["id"]) == 1
    assert json_lines(result.stdout)[-1]["failed"] == 1
    assert len(list(dirs["out"].iterdir())) == 3
    events = {e["message_id"]: e for e in json_lines(result.stdout) if "message_id" in e}
    assert events[99_999]["event"] == "failed"
    assert "no longer on Telegram" in events[99_999]["error_message"]
    assert json_lines(result.stdout)[-1]["imported"] + json_lines(result.stdout)[-1]["downloaded"] == 3


# ---- bad input ----------------------------------------------------------------------------------

_CHAT = {"name": "x", "type": "public_channel", "id": 1_000_000_001}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("this is no JSON", "is not JSON"),
        ("\xff\xfe", "is not JSON"),
        ("[1, 2]", "a JSON array, not an object"),
        (json.dumps({"about": "x"}), "neither a \"messages\" list"),
        (json.dumps({**_CHAT, "messages": {}}), "no \"messages\" list"),
        (json.dumps({**_CHAT, "id": "1000000001", "messages": []}), "whole-number \"id\""),
        (json.dumps({"chats": {"list": [[]]}}), "not a chat object"),
        (json.dumps({**_CHAT, "messages": [7]}), "not a message object"),
        (json.dumps({**_CHAT, "messages": [{"id": "1", "type": "message", "media_type": "audio_file"}]}), "whole-number \"id\""),
        (json.dumps({**_CHAT, "messages": [{"id": 1, "type": "message", "media_type": "audio_file", "file": 5}]}), "not text"),
        (json.dumps({**_CHAT, "messages": [{"id": 1, "type": "message", "media_type": "audio_file", "file_size": -1}]}), "\"file_size\""),
        ("[" * 100_000, "nests too deep"),
    ],
)
def test_a_file_that_is_no_desktop_export_exits_2_with_one_line(
    dirs: dict[str, Any], tmp_path: Path, content: str, words: str
) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape") if content != "\xff\xfe" else b"\xff\xfe")
    result = import_export(dirs, path)
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert "import-export PATH" in line and words in line, line
    assert not Path(dirs["data"], "library.sqlite3").exists()  # refused before the library opened


@pytest.mark.parametrize("path", ["/dev/null", "<missing>", "<folder>"])
def test_no_file_or_a_device_exits_2_with_one_line(dirs: dict[str, Any], tmp_path: Path, path: str) -> None:
    (tmp_path / "folder").mkdir()
    given = {"<missing>": str(tmp_path / "nothing.json"), "<folder>": str(tmp_path / "folder")}.get(path, path)
    result = import_export(dirs, given)
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert given in line and ("not a file" in line or "no such file" in line or "holds no result.json" in line)


def test_an_html_export_is_told_to_export_again_as_json(dirs: dict[str, Any], tmp_path: Path) -> None:
    page = tmp_path / "messages.html"
    page.write_text("<html></html>")
    result = import_export(dirs, page)
    assert result.returncode == 2 and "Machine-readable JSON" in assert_one_clean_line(result)


@pytest.mark.parametrize(
    "relative",
    ["../x.mp3", "files/../../x.mp3", "/etc/passwd", "C:\\Windows\\win.ini", "\\\\server\\share\\x.mp3",
     "files\\..\\..\\x.mp3", "", "a\x00b", ".", "files/.."],
)
def test_locate_refuses_paths_out_of_the_export(tmp_path: Path, relative: str) -> None:
    (tmp_path / "files").mkdir()
    with pytest.raises(UnsafePath):
        locate(tmp_path, relative)


def test_locate_refuses_a_link_out_and_finds_files_inside(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "song (1).mp3").write_bytes(b"x")
    (tmp_path / "files" / "out.mp3").symlink_to("/etc/hostname")
    (tmp_path / "files" / "in.mp3").symlink_to(tmp_path / "files" / "song (1).mp3")
    assert locate(tmp_path, "files/song (1).mp3") == (tmp_path / "files" / "song (1).mp3").resolve()
    assert locate(tmp_path, "files/in.mp3") == (tmp_path / "files" / "song (1).mp3").resolve()
    with pytest.raises(UnsafePath):
        locate(tmp_path, "files/out.mp3")


def test_read_export_words_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no such file"):
        read_export(tmp_path / "nothing.json")
