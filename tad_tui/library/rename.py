"""``tad-tui rename``: downloaded files moved to the names a filename template gives them now.

Files are named from the library's rows (their tags merged with Telegram's attributes when the
download finished), under the same rules as a download (``download.naming``). Only files inside the
download folder are renamed, relative to it; a clash gets a numbered name; folders left empty go.

Crash-safe through a journal, ``<data_dir>/rename-journal.jsonl``: every planned move is written
(and fsynced) before the first file moves, and each finished move (file renamed, then every row
naming it updated) is recorded after it. A run that finds a journal first completes it: a move whose
file is at its new name while rows still name the old one gets its rows updated; then the journal is
removed and the run plans afresh. So a SIGKILL anywhere loses no file and no row, and running the
command again finishes the job.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tad_tui import failpoints
from tad_tui.audit import record
from tad_tui.download.job import track_relative
from tad_tui.download.naming import remove_empty_folders, same_name, unique_target
from tad_tui.store.models import AudioFile, FileStatus
from tad_tui.store.transactions import transaction

log = logging.getLogger(__name__)
JOURNAL_FILE = "rename-journal.jsonl"


@dataclass(frozen=True)
class Move:
    """One file to move: the library's row id (``AudioFile.id``), its path now and its new one."""

    audio_id: int
    old: Path
    new: Path

    def to_json(self) -> dict[str, object]:
        return {"id": self.audio_id, "old": str(self.old), "new": str(self.new)}


@dataclass(frozen=True)
class RenamePlan:
    moves: tuple[Move, ...]
    in_place: int  # files already named as the template says
    outside: tuple[Path, ...]  # downloaded files not inside the download folder (left alone)
    missing: tuple[Path, ...]  # recorded as downloaded, not on disk (left alone)


async def downloaded_rows() -> list[AudioFile]:
    """Rows of downloaded files, by id, groups fetched (completed ones: a skipped twin names its
    twin's file, and follows it through ``_point_rows``)."""
    query = AudioFile.filter(status=FileStatus.COMPLETED, local_path__isnull=False).order_by("id")
    return await query.prefetch_related("group")


async def plan_renames(rows: Sequence[AudioFile], root: Path, template: str, unknown: str) -> RenamePlan:
    """Where each row's file goes under ``template`` in ``root`` (rows need ``group`` fetched)."""
    moves: list[Move] = []
    claimed: set[Path] = set()
    in_place = 0
    outside: list[Path] = []
    missing: list[Path] = []
    for row in rows:
        old = Path(row.local_path or "")
        if not old.is_relative_to(root):
            outside.append(old)
            continue
        if not old.is_file():
            missing.append(old)
            continue
        relative = track_relative(row, template, unknown)
        wanted = root.joinpath(*relative.parts)
        if wanted == old:
            in_place += 1
            continue
        if wanted.parent == old.parent and same_name(wanted.name, old.name):
            new = wanted  # only the case or normalisation changes: the file itself holds the name
        else:
            new = unique_target(root, relative, reserved=claimed)
        if new == old:
            in_place += 1
            continue
        claimed.add(new)
        moves.append(Move(row.pk, old, new))
    return RenamePlan(tuple(moves), in_place, tuple(outside), tuple(missing))


async def finish_journal(journal: Path) -> int:
    """Complete what an interrupted run left (see the module docstring); the rows updated."""
    if not journal.exists():
        return 0
    fixed = 0
    for move in _planned(journal):
        if move.new.exists() and not move.old.exists():
            fixed += await _point_rows(move)
    journal.unlink()
    return fixed


async def apply_renames(plan: RenamePlan, root: Path, journal: Path, on_move: Callable[[Move], None]) -> int:
    """Move every planned file and update its rows, journalled; the number moved."""
    if not plan.moves:
        return 0
    _write_plan(journal, plan.moves)
    moved = 0
    with open(journal, "a", encoding="utf-8") as done:
        for move in plan.moves:
            if not _move_file(move):
                continue
            failpoints.hit("rename.moved")
            await _point_rows(move)
            done.write(json.dumps({"done": move.audio_id}) + "\n")
            done.flush()
            record("file_renamed", old=str(move.old), new=str(move.new), audio_id=move.audio_id)
            remove_empty_folders(move.old.parent, root)
            moved += 1
            on_move(move)
    journal.unlink()
    return moved


def _move_file(move: Move) -> bool:
    """Rename one file, never over another; False (and a log line) if it cannot be moved."""
    try:
        move.new.parent.mkdir(parents=True, exist_ok=True)
        if move.new.exists() and not (move.new.parent == move.old.parent and same_name(move.new.name, move.old.name)):
            raise FileExistsError(f"{move.new} appeared meanwhile")
        os.rename(move.old, move.new)
    except OSError as error:
        log.warning("cannot move %s to %s: %s", move.old, move.new, error)
        record("file_renamed", "failed", str(error), old=str(move.old), new=str(move.new), audio_id=move.audio_id)
        return False
    return True


async def _point_rows(move: Move) -> int:
    """Every row naming the old path (the file's own and its skipped twins') names the new one."""
    async with transaction():
        return await AudioFile.filter(local_path=str(move.old)).update(local_path=str(move.new))


def _write_plan(journal: Path, moves: Sequence[Move]) -> None:
    temporary = journal.with_name(journal.name + ".new")
    with open(temporary, "w", encoding="utf-8") as handle:
        for move in moves:
            handle.write(json.dumps(move.to_json(), ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, journal)  # a journal is whole or absent


def _planned(journal: Path) -> list[Move]:
    moves: list[Move] = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a "done" line cut short by the crash
        if isinstance(item, dict) and {"id", "old", "new"} <= item.keys():
            moves.append(Move(int(item["id"]), Path(item["old"]), Path(item["new"])))
    return moves
