"""``tad-tui remove`` and ``tad-tui verify``: tracks taken out of the library and off the disk, and
downloaded files checked against the MD5 recorded when they were written (library/cleanup.py)."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tad_tui.words import counted

if TYPE_CHECKING:
    from tad_tui.api import Removal, Verification

FILE_ID = re.compile(r"^-\d+(_\d+)?$")
REMOVE_DESCRIPTION = """\
Take tracks out of the library — their rows and queue entries — and delete their downloaded files
(a file another remaining track also names stays). Name them by file id (GROUP_MESSAGE, as
`tad-tui search --json` lists them) or by --query in the search language (every word and filter
must match). A track still in the queue (queued, waiting, running, paused) is refused: cancel it
first. A file already gone still has its row removed. One audit line. Exit 1 if any was refused."""

VERIFY_DESCRIPTION = """\
Re-hash the downloaded files (those QUERY matches in the search language, else all) and compare
them with the MD5 recorded when each was written: intact, changed, missing (and unchecked: no MD5
recorded). A missing file's track is marked "missing" in the library (status:missing finds it):
queueing it, or `tad-tui download GROUP`, fetches it again. Exit 1 if any file is missing or changed."""


def add_cleanup_parsers(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    not_empty: Callable[[str], str],
) -> None:
    remove = commands.add_parser(
        "remove", help="remove tracks from the library and their files from disk (by file id or --query)",
        description=REMOVE_DESCRIPTION,
    )
    common(remove)
    # A channel's file ids start with "-100…": read as ids, not as unknown options (argparse's own
    # test for negative numbers, widened to GROUP_MESSAGE; no option of `remove` looks like one).
    remove._negative_number_matcher = FILE_ID  # type: ignore[attr-defined]
    remove.add_argument("file_ids", nargs="*", metavar="FILE_ID", type=not_empty, help="tracks' file ids (GROUP_MESSAGE)")
    remove.add_argument("--query", metavar="QUERY", type=not_empty, help="every track this search matches in full")
    remove.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    remove.add_argument("--keep-file", action="store_true", help="remove the library rows only; the files stay on disk")
    remove.add_argument("--json", action="store_true", help="print a JSON object")
    verify = commands.add_parser(
        "verify", help="re-hash downloaded files: intact, changed, missing (missing ones are fetched again when queued)",
        description=VERIFY_DESCRIPTION,
    )
    common(verify)
    verify.add_argument("query", nargs="*", metavar="QUERY", help="only the downloaded tracks this search matches")
    verify.add_argument("--json", action="store_true", help="print a JSON object")


async def run_remove(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli import EXIT_FAILED, EXIT_OK, UsageError
    from tad_tui.runtime import open_engine

    if bool(args.file_ids) == bool(args.query):
        raise UsageError("remove: give file ids or --query QUERY (one of the two)")
    async with open_engine(settings, paths, demo=args.demo, writer=not args.dry_run, connect=False) as engine:
        if args.query:
            ids, unknown = await engine.all_matching(args.query), []
        else:
            ids, unknown = await engine.track_ids(args.file_ids)
        if unknown:
            raise UsageError(f"remove: no track has the file id {', '.join(unknown)} (see `tad-tui search --json`)")
        removed = await engine.remove_tracks(ids, keep_file=args.keep_file, dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, "tracks": [item.to_json() for item in removed]}, ensure_ascii=False, indent=2))
    else:
        _print_removal(removed, dry_run=args.dry_run)
    return EXIT_FAILED if any(item.refused for item in removed) else EXIT_OK


_FILE_WORDS = {
    "deleted": "file deleted", "already gone": "file already gone", "kept": "file kept",
    "shared": "file kept: another track names it", "none": "no file",
}


def _print_removal(removed: list[Removal], *, dry_run: bool) -> None:
    from tad_tui.api import escape_unsafe

    if not removed:
        print("No track matches: nothing removed")
        return
    for item in removed:
        what = "file would be deleted" if dry_run and item.file == "deleted" else _FILE_WORDS.get(item.file, item.file)
        where = f" ({escape_unsafe(item.path)})" if item.path else ""
        head = f"refused: {item.refused}" if item.refused else ("would remove" if dry_run else "removed")
        print(f"{head}: {escape_unsafe(item.name)} [{item.file_id}] — {what}{where}")
    done = sum(item.refused is None for item in removed)
    verb = "would be removed" if dry_run else "removed"
    print(f"{counted(done, 'track')} {verb}" + (f", {len(removed) - done} refused" if done < len(removed) else ""))


async def run_verify(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli import EXIT_FAILED, EXIT_OK
    from tad_tui.runtime import open_engine

    async with open_engine(settings, paths, demo=args.demo, writer=True, connect=False) as engine:
        ids = await engine.all_matching(" ".join(args.query), downloaded_only=True)
        found = await engine.verify_files(ids)
    if args.json:
        print(json.dumps(found.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_verification(found)
    return EXIT_OK if found.ok else EXIT_FAILED


def _print_verification(found: Verification) -> None:
    from tad_tui.api import escape_unsafe

    for label, files in (("changed", found.changed), ("missing", found.missing)):
        for file_id, path in files:
            print(f"{label}: {escape_unsafe(path)} [{file_id}]")
    counts = [f"{len(found.intact)} intact", f"{len(found.changed)} changed", f"{len(found.missing)} missing"]
    if found.unchecked:
        counts.append(f"{len(found.unchecked)} unchecked (no MD5 recorded)")
    print(", ".join(counts))
    if found.missing:
        print("Missing files are marked \"missing\": queue them again (or `tad-tui download GROUP`) to fetch them")
