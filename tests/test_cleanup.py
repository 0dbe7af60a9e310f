"""Clean-up and preview: `remove` and `verify` on real downloaded files, and the app's d and o."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tad_tui.engine import Engine
from tad_tui.store.models import AudioFile, FileStatus, QueueEntry
from tad_tui.ui.dialogs import ConfirmDialog
from tad_tui.ui.groups import GroupsPane
from tad_tui.ui.preview import NoPlayer, player_command
from tad_tui.ui.search import SearchPane
from test_download_cli import demo_download, dirs  # noqa: F401  (dirs: the fixture)
from test_ui import CLASSICAL, held, make_app, settle  # noqa: F401  (held: the fixture)
from test_ui_panes import quick, title_index
from test_ui_repaint import assert_screen_is_true
from test_ui_support import DEMO_GROUPS, Gate, queue_group, until

from helpers import assert_one_clean_line, run


def _cli(dirs: dict, *args: str):  # noqa: F811
    return run("--config", dirs["config"], "--demo", "--data-dir", dirs["data"], *args)


def test_verify_then_remove_on_the_command_line(dirs: dict) -> None:  # noqa: F811
    fetched = demo_download(dirs, CLASSICAL, "-l", "3", "--json")
    assert fetched.returncode == 0, fetched.stderr
    events = [json.loads(line) for line in fetched.stdout.splitlines()]
    files = {e["file_id"]: e["local_path"] for e in events if e.get("event") == "downloaded"}
    assert len(files) == 3 and all(Path(p).is_file() for p in files.values())
    (gone_id, gone), (changed_id, changed), (intact_id, intact) = sorted(files.items())
    Path(gone).unlink()
    with open(changed, "ab") as handle:
        handle.write(b"edited")

    verified = _cli(dirs, "verify", "--json")
    assert verified.returncode == 1, verified.stderr
    report = json.loads(verified.stdout)
    assert report["counts"] == {"intact": 1, "changed": 1, "missing": 1, "unchecked": 0}
    assert report["missing"] == [{"file_id": gone_id, "path": gone}]
    assert report["changed"] == [{"file_id": changed_id, "path": changed}]
    assert report["intact"] == [{"file_id": intact_id, "path": intact}]
    missing = json.loads(_cli(dirs, "search", "status:missing", "--json").stdout)
    assert [hit["file_id"] for hit in missing] == [gone_id]

    dry = _cli(dirs, "remove", changed_id, gone_id, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("would remove: ") == 2 and "2 tracks would be removed" in dry.stdout
    assert Path(changed).is_file()

    removed = _cli(dirs, "remove", changed_id, gone_id, "--json")
    assert removed.returncode == 0, removed.stderr
    tracks = {t["file_id"]: t for t in json.loads(removed.stdout)["tracks"]}
    assert tracks[changed_id]["file"] == "deleted" and tracks[gone_id]["file"] == "already gone"
    assert not Path(changed).exists() and Path(intact).is_file()
    again = _cli(dirs, "verify")  # only the track left: the dry run removed nothing, the real one both rows
    assert again.returncode == 0 and again.stdout.strip() == "1 intact, 0 changed, 0 missing"
    lines = [json.loads(line) for line in (Path(dirs["data"]) / "logs" / "audit.jsonl").read_text().splitlines()]
    audit = [line for line in lines if line["action"] == "remove"]
    assert len(audit) == 1 and audit[0]["count"] == 2 and audit[0]["files_deleted"] == [changed]
    wrong = _cli(dirs, "remove", "-100123_4")  # an id no track has
    assert wrong.returncode == 2 and assert_one_clean_line(wrong).startswith("tad-tui: error: remove: no track")


async def _download(engine: Engine, gate: Gate, count: int) -> list[AudioFile]:
    await queue_group(engine, CLASSICAL, limit=count)
    gate.open()
    await engine.scheduler.run(until_idle=True)
    return await AudioFile.filter(status=FileStatus.COMPLETED).order_by("message_id")


async def test_a_missing_file_is_fetched_again_when_queued_and_a_queued_track_is_not_removed(
    held: tuple[Engine, Gate],  # noqa: F811
) -> None:
    engine, gate = held
    [row] = await _download(engine, gate, 1)
    Path(row.local_path).unlink()
    found = await engine.verify_files([row.pk])
    assert [file_id for file_id, _ in found.missing] == [row.file_id] and not found.ok
    info = await engine.resolve_group(CLASSICAL)
    assert row.pk in [t.id for t in (await engine.select_for_download(info)).to_fetch]
    assert [t.word for t in await engine.group_tracks(info.group_id) if t.track.id == row.pk] == ["missing"]
    queued = await engine.enqueue([row.pk])
    assert queued.entry_ids  # a fresh entry: the finished one went with the file
    [refused] = await engine.remove_tracks([row.pk])
    assert refused.refused and "queued" in refused.refused
    await engine.scheduler.run(until_idle=True)
    again = await AudioFile.get(id=row.pk)
    assert again.status == FileStatus.COMPLETED and Path(again.local_path).is_file()
    assert (await engine.verify_files([row.pk])).intact == [(row.file_id, again.local_path)]


# ---- the app ----------------------------------------------------------------------------------


async def test_d_in_the_search_results_asks_naming_the_file_then_removes_it(held: tuple[Engine, Gate]) -> None:  # noqa: F811
    engine, gate = held
    rows = await _download(engine, gate, 2)
    doomed, kept = rows
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(SearchPane)
        await pilot.press("f3", *"beethoven", "enter")
        await settle(app, pilot)
        pane.table.go_to_key(doomed.pk)
        await pilot.press("d")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog) and doomed.local_path in dialog._question
        await pilot.press("escape")  # no: nothing goes
        await pilot.pause()
        assert Path(doomed.local_path).is_file() and await AudioFile.exists(id=doomed.pk)
        await pilot.press("d", "enter")  # the first choice: yes
        await settle(app, pilot)
        assert not Path(doomed.local_path).exists() and not await AudioFile.exists(id=doomed.pk)
        assert not await QueueEntry.exists(audio_id=doomed.pk)
        assert pane.table.index_of(doomed.pk) is None and pane.table.index_of(kept.pk) is not None
        await assert_screen_is_true(pane.table, pilot)
        assert Path(kept.local_path).is_file()


async def test_o_plays_with_the_player_and_over_ssh_shows_the_path(
    held: tuple[Engine, Gate], tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    engine, gate = held
    [row] = await _download(engine, gate, 1)
    argv_file = tmp_path / "argv.json"
    player = tmp_path / "player.py"
    player.write_text(f"import json, sys\njson.dump(sys.argv[1:], open({str(argv_file)!r}, 'w'))\n")
    engine.settings = replace(engine.settings, ui=replace(engine.settings.ui, player=f"{sys.executable} {player} --flag"))
    app = quick(make_app(engine))
    async with app.run_test(size=(80, 24)) as pilot:
        groups = app.query_one(GroupsPane)
        await until(lambda: len(groups._groups.rows) == DEMO_GROUPS, pilot.pause)
        groups._groups.go_to(title_index(groups, CLASSICAL.removeprefix("@")))
        await pilot.press("enter")
        await until(lambda: groups._tracks.index_of(row.pk) is not None, pilot.pause)
        groups._tracks.go_to_key(row.pk)
        await pilot.press("o")
        await until(argv_file.exists, pilot.pause)
        await until(lambda: argv_file.read_text().endswith("]"), pilot.pause)
        assert json.loads(argv_file.read_text()) == ["--flag", row.local_path]

        engine.settings = replace(engine.settings, ui=replace(engine.settings.ui, player=""))
        monkeypatch.setenv("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
        copied: list[str] = []
        monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
        await pilot.press("o")
        await pilot.pause()
        toast = list(app._notifications)[-1]
        assert "Over SSH" in toast.message and row.local_path in toast.message
        assert copied == [row.local_path]


def test_the_system_opener_is_used_unless_a_player_is_set_or_none_exists(tmp_path: Path) -> None:
    path = tmp_path / "a.mp3"
    assert player_command("", path, environ={}, platform="linux", which=lambda _: "/usr/bin/xdg-open") == ["xdg-open", str(path)]
    assert player_command("", path, environ={}, platform="darwin", which=lambda _: "/usr/bin/open") == ["open", str(path)]
    assert player_command("mpv --no-video", path, environ={"SSH_TTY": "/dev/pts/1"}) == ["mpv", "--no-video", str(path)]
    for environ, which in (({"SSH_TTY": "/dev/pts/1"}, lambda _: "/usr/bin/xdg-open"), ({}, lambda _: None)):
        with pytest.raises(NoPlayer):
            player_command("", path, environ=environ, platform="linux", which=which)
