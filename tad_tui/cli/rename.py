"""``tad-tui rename``: downloaded files moved to the names a filename template gives them now."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Re-apply a filename template (default: downloads.filename_template) to the files already downloaded
into the download folder (-o DIR, default downloads.output_dir): each file is moved to the name the
template gives it from the library's tags, and the library is updated with it. A clash gets a
numbered name; folders left empty are removed. QUERY (the search language) picks the tracks. The
moves are journalled in the data dir: if the command is killed half-way, run it again to finish.
--dry-run lists old -> new and moves nothing."""


def add_rename_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    not_empty: Callable[[str], str],
    match_query: Callable[[str], str],
) -> None:
    parser = commands.add_parser(
        "rename", help="move downloaded files to the names a filename template gives them (library updated too)",
        description=DESCRIPTION,
    )
    common(parser)
    parser.add_argument("query", metavar="QUERY", nargs="?", type=match_query, help="only the tracks this search matches")
    parser.add_argument("-t", "--filename-template", metavar="TEMPLATE", help="e.g. '{performer}/{album}/{track_number:02} {title}.{ext}'")
    parser.add_argument("-o", "--output", metavar="DIR", type=not_empty, help="the download folder whose files are renamed (default: downloads.output_dir)")
    parser.add_argument("--dry-run", action="store_true", help="list old -> new, move nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


async def run_rename(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine

    root = paths.downloads_dir.resolve()
    downloads = settings.downloads
    async with open_engine(settings, paths, demo=args.demo, writer=True, connect=False) as engine:
        from tad_tui.library.rename import JOURNAL_FILE, apply_renames, downloaded_rows, finish_journal, plan_renames

        journal = paths.data_dir / JOURNAL_FILE
        finished = 0 if args.dry_run else await finish_journal(journal)
        rows = await downloaded_rows()
        if args.query:
            matched = await engine.matching_tracks(args.query, [row.pk for row in rows])
            rows = [row for row in rows if row.pk in matched]
        plan = await plan_renames(rows, root, downloads.filename_template, downloads.unknown)
        if args.dry_run:
            moved = 0
            for move in plan.moves if not args.json else ():
                print(f"{_shown(move.old, root)} -> {_shown(move.new, root)}")
        else:
            tell = (lambda move: None) if args.json else (
                lambda move: print(f"{_shown(move.old, root)} -> {_shown(move.new, root)}")
            )
            moved = await apply_renames(plan, root, journal, tell)
    summary = {
        "dry_run": args.dry_run,
        "moved": moved,
        "to_move": len(plan.moves) - moved,
        "in_place": plan.in_place,
        "outside": len(plan.outside),
        "missing": len(plan.missing),
        "finished_from_journal": finished,
        "moves": [move.to_json() for move in plan.moves],
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    if finished:
        print(f"finished an interrupted rename: {finished} library rows updated")
    verb = "would move" if args.dry_run else "moved"
    count = len(plan.moves) if args.dry_run else moved
    print(
        f"{count} {verb}, {plan.in_place} already so named, {len(plan.missing)} missing from disk, "
        f"{len(plan.outside)} outside {root}"
    )
    return 0 if args.dry_run or moved == len(plan.moves) else 1


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
