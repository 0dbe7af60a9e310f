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
    show = (lambda old, new: None) if args.json else (lambda old, new: print(f"{_shown(old, root)} -> {_shown(new, root)}"))
    async with open_engine(settings, paths, demo=args.demo, writer=True, connect=False) as engine:
        outcome = await engine.rename_files(root, query=args.query, dry_run=args.dry_run, on_move=show)
    if args.dry_run:
        for _, old, new in outcome.moves:
            show(old, new)
    moved, planned = outcome.moved, len(outcome.moves)
    summary = {
        "dry_run": args.dry_run,
        "moved": moved,
        "to_move": planned - moved,
        "in_place": outcome.in_place,
        "outside": outcome.outside,
        "missing": outcome.missing,
        "finished_from_journal": outcome.finished,
        "moves": [{"id": id_, "old": str(old), "new": str(new)} for id_, old, new in outcome.moves],
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    if outcome.finished:
        print(f"finished an interrupted rename: {outcome.finished} library rows updated")
    verb = "would move" if args.dry_run else "moved"
    count = planned if args.dry_run else moved
    print(
        f"{count} {verb}, {outcome.in_place} already so named, {outcome.missing} missing from disk, "
        f"{outcome.outside} outside {root}"
    )
    return 0 if args.dry_run or moved == planned else 1


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
