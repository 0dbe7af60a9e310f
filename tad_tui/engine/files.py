"""The downloaded files: taking tracks and their files out, re-hashing them, moving them to the names
the filename template gives; after each, the playlists of the groups concerned are rewritten."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tad_tui.api import RenameOutcome
from tad_tui.store.models import AudioFile

if TYPE_CHECKING:
    from tad_tui.engine.facade import Engine
    from tad_tui.library.cleanup import Removal, Verification


async def remove_tracks(engine: Engine, track_ids: Sequence[int], *, keep_file: bool, dry_run: bool) -> list[Removal]:
    from tad_tui.library.cleanup import remove_tracks

    removed = await remove_tracks(track_ids, keep_file=keep_file, dry_run=dry_run)
    if not dry_run:  # the groups' playlists list only what is left
        await engine.refresh_group_playlists(sorted({r.group_id for r in removed if r.refused is None}))
    return removed


async def verify_files(engine: Engine, track_ids: Sequence[int]) -> Verification:
    from tad_tui.library.cleanup import verify_tracks

    verification = await verify_tracks(track_ids)
    if verification.missing:  # a playlist lists only files on disk
        gone = [file_id for file_id, _ in verification.missing]
        await engine.refresh_group_playlists(
            sorted(set(await AudioFile.filter(file_id__in=gone).values_list("group_id", flat=True)))
        )
    return verification


async def rename_files(
    engine: Engine, root: Path, *, query: str | None, dry_run: bool, on_move: Callable[[Path, Path], None]
) -> RenameOutcome:
    from tad_tui.library.rename import JOURNAL_FILE, apply_renames, downloaded_rows, finish_journal, plan_renames

    journal = engine.paths.data_dir / JOURNAL_FILE
    finished = 0 if dry_run else await finish_journal(journal)
    rows = await downloaded_rows()
    if query:
        matched = await engine.matching_tracks(query, [row.pk for row in rows])
        rows = [row for row in rows if row.pk in matched]
    downloads = engine.settings.downloads
    plan = await plan_renames(rows, root, downloads.filename_template, downloads.unknown)
    moved = 0 if dry_run else await apply_renames(plan, root, journal, lambda move: on_move(move.old, move.new))
    if moved or finished:  # the groups' playlists name the files where they are now
        rows = AudioFile.all() if finished else AudioFile.filter(id__in=[move.audio_id for move in plan.moves])
        await engine.refresh_group_playlists(sorted(set(await rows.values_list("group_id", flat=True))))
    return RenameOutcome(
        moves=tuple((move.audio_id, move.old, move.new) for move in plan.moves), moved=moved,
        in_place=plan.in_place, outside=len(plan.outside), missing=len(plan.missing), finished=finished,
    )
