"""``tad-tui playlist`` and ``tad-tui export``: the library written out, as a playlist or as data.

Both are read-only on the library: they run beside a running download or TUI and never reach Telegram.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tad_tui.words import counted

EXPORT_FORMATS = ("csv", "json")  # tad_tui.library.export.FORMATS (not imported: it loads Tortoise)

PLAYLIST_DESCRIPTION = """\
Write an extended M3U8 playlist of the downloaded tracks a search matches (every word and filter of
QUERY, in the search language of `tad-tui search`; no QUERY: every downloaded track). Tracks are
listed by group (title order), then in the order they were posted; paths are relative to the
playlist's folder. A downloaded track whose file is no longer on disk is left out and counted."""

EXPORT_DESCRIPTION = """\
Write the library (every field of every track, with its group's id, title and username), or the
tracks a search matches (QUERY, the search language of `tad-tui search`), as CSV or JSON, in library
order. CSV: a header line; an empty cell without quotes is a missing value (null), every other value
is quoted, so "" is an empty text."""


def add_library_out_parsers(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    not_empty: Callable[[str], str],
) -> None:
    playlist = commands.add_parser(
        "playlist", help="write an .m3u8 playlist of the downloaded tracks a search matches",
        description=PLAYLIST_DESCRIPTION,
    )
    common(playlist)
    playlist.add_argument("query", nargs="*", metavar="QUERY", help="words and filters (see tad-tui search --help)")
    playlist.add_argument("-o", "--output", metavar="FILE", type=not_empty,
                          help="the playlist file to write, e.g. jazz.m3u8 (replaced if it exists); without it, "
                               "the playlist goes to standard output, its paths relative to the current folder")
    playlist.add_argument("--json", action="store_true", help='print a JSON object: {"path", "tracks", "missing"}')

    export = commands.add_parser(
        "export", help="write the library (every field of every track) as CSV or JSON", description=EXPORT_DESCRIPTION
    )
    common(export)
    export.add_argument("query", nargs="*", metavar="QUERY", help="only the tracks this search matches (default: all)")
    export.add_argument("--format", choices=EXPORT_FORMATS,
                        help="csv or json (default: json for an -o FILE ending in .json, else csv)")
    export.add_argument("-o", "--output", metavar="FILE", type=not_empty, help="write to FILE (default: standard output)")


def _target(text: str) -> Path:
    """The file ``-o`` names, refused (exit 2) when it is a folder or its folder does not exist."""
    from tad_tui.cli import UsageError

    path = Path(os.path.abspath(os.path.expanduser(text)))
    if path.is_dir():
        raise UsageError(f"-o {text}: is a folder; name the file to write")
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"-o {text}: {path.parent} is not a folder")
    if not path.parent.is_dir():
        raise UsageError(f"-o {text}: the folder {path.parent} does not exist")
    return path


def _hints(hints: list[str]) -> None:
    for hint in hints:
        print(f"tad-tui: hint: {hint}", file=sys.stderr)


async def run_playlist(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli import EXIT_FAILED, _fail
    from tad_tui.runtime import open_engine

    target = _target(args.output) if args.output else None
    query = " ".join(args.query)
    async with open_engine(settings, paths, demo=args.demo, writer=False) as engine:
        ids, hints = await engine.query_tracks(query, downloaded=True)
        if target is None:
            listed = await engine.playlist_text(ids, Path.cwd())
            _hints(hints)
            sys.stdout.write(listed.text)
            return 0
        try:
            written = await engine.write_playlist(target, ids)
        except OSError as error:
            return _fail(f"cannot write the playlist {target}: {error.strerror or error}", EXIT_FAILED)
    _hints(hints)
    if args.json:
        print(json.dumps({"path": str(written.path), "tracks": written.written, "missing": written.missing}))
        return 0
    line = f"Wrote {counted(written.written, 'track')} to {written.path}"
    if written.missing:
        line += f"; left out {counted(written.missing, 'downloaded track')} whose file is missing"
    print(line)
    if not written.written and not written.missing:
        print("No downloaded track matches" + (f" {query!r}" if query else "") + ": the playlist is empty")
    return 0


async def run_export(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli import EXIT_FAILED, _fail
    from tad_tui.runtime import open_engine

    target = _target(args.output) if args.output else None
    kind = args.format or ("json" if target is not None and target.suffix.lower() == ".json" else "csv")
    async with open_engine(settings, paths, demo=args.demo, writer=False) as engine:
        export = await engine.export_library(" ".join(args.query), kind)
    _hints(list(export.hints))
    if target is None:
        sys.stdout.write(export.text)
        return 0
    from tad_tui.api import write_atomically

    try:
        await asyncio.to_thread(write_atomically, target, export.text)
    except OSError as error:
        return _fail(f"cannot write {target}: {error.strerror or error}", EXIT_FAILED)
    print(f"Wrote {counted(export.tracks, 'track')} to {target} ({kind})", file=sys.stderr)
    return 0
