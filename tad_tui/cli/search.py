"""``tad-tui search``: the library's tracks that match a line of words and filters.

Read-only: it opens the library beside a running download or TUI, never takes the writer lock and
never talks to Telegram. It searches every known track: downloaded, queued, or only scanned.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tad_tui.api import SearchFilters, SearchResult

# The same as tad_tui.library.search.FORMATS / STATUSES (a test keeps them equal): importing that
# module here would load Tortoise for every `tad-tui --help`.
FORMAT_CHOICES = ("mp3", "m4a", "flac", "ogg", "wav")
STATUS_CHOICES = ("new", "queued", "waiting", "running", "paused", "downloaded", "missing", "failed", "cancelled")
MAX_LIMIT = 10_000

QUERY_HELP = """\
query language (one line; accents and case never matter):
  words             tracks with every word (as the start of a word; typos forgiven: "bethoven"
                    finds Beethoven); if none has them all, tracks with some of them
  format:flac       also format:mp3|flac; formats: mp3 m4a flac ogg wav (opus counts as ogg)
  size>10MB         also size<1GB, size>=…, size<=…; units as in config (10MB, 512KiB)
  duration>5m       also duration<3:30, duration>=90s
  group:jazz        part of the group's title, its @username or its id
  performer:"Bill Evans"  these words of the performer, in this order
  year:1959         also year:1950-1959, year>1950 (the year tag of downloaded files)
  date>2024-06      posted after June 2024 (the message's date, UTC); also date<2024-07-01,
                    date>=7d (the last 7 days; 2w, 3m, 1y), posted:2024-06 (that month),
                    posted:2024-06-03 (that day), date:2024 (that year)
  status:queued     new, queued, waiting, running, paused, downloaded, missing, failed,
                    cancelled;
                    also status:failed|queued, and status:active (queued to paused)
Unknown or malformed filters are reported as hints and ignored ("AC:DC" is searched as text).
Quotes, *, -, parentheses, AND/OR/NOT/NEAR are ordinary text, never search syntax.

examples:
  tad-tui search bethoven
  tad-tui search 'moonlight format:flac size>10MB'
  tad-tui search --group @tad_demo_classical --status downloaded --json
"""


def add_search_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register ``search`` on the CLI's subcommands; ``common`` adds --config/--data-dir/--demo."""
    parser = commands.add_parser(
        "search",
        help="search the library: words and filters, typo-tolerant (works beside a running download)",
        description="Search every known track — downloaded, queued or only scanned — by words and filters.",
        epilog=QUERY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(parser)
    parser.add_argument(
        "query", nargs="*", metavar="QUERY", help="words and filters (see below); none: the newest tracks"
    )
    parser.add_argument(
        "--fuzzy",
        action="store_true",
        help="more tolerant: looser typo matching, more spellings tried per word, tracks that have only "
        "some of the words, and more candidates ranked (slower)",
    )
    parser.add_argument("--format", choices=FORMAT_CHOICES, help="only this format")
    parser.add_argument("--min-size", metavar="S", help="only files of at least S (e.g. 1MB, 512KiB)")
    parser.add_argument("--max-size", metavar="S", help="only files of at most S")
    parser.add_argument("--group", metavar="G", type=_group_filter, help="only this group: part of its title, @username or id")
    parser.add_argument("--status", choices=(*STATUS_CHOICES, "active"), help="only tracks in this state")
    parser.add_argument("--limit", metavar="N", default="50", help=f"show at most N tracks (1-{MAX_LIMIT}, default 50)")
    parser.add_argument("--json", action="store_true", help="print a JSON array")


def _group_filter(text: str) -> str:
    if not text.strip():  # "" would match every group: surely not what was meant
        raise argparse.ArgumentTypeError("must not be empty: give part of a group's title, its @username or id")
    return text


async def run_search(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    """Run ``tad-tui search``; bad options raise tad_tui.cli.UsageError (exit status 2)."""
    from tad_tui.runtime import open_engine

    filters = _filters(args)
    limit = _limit(args.limit)
    text = " ".join(args.query)
    async with open_engine(settings, paths, demo=args.demo, writer=False) as engine:
        result = await engine.search(text, limit=limit, fuzzy=args.fuzzy, filters=filters)
    if args.json:
        print(json.dumps([hit.to_json() for hit in result.hits], ensure_ascii=False, indent=2))
        for hint in result.hints:
            print(f"tad-tui: hint: {hint}", file=sys.stderr)
    else:
        _print_human(result)
    return 0


def _filters(args: argparse.Namespace) -> SearchFilters:
    from tad_tui.api import SearchFilters, status_names

    return SearchFilters(
        formats=frozenset({args.format}) if args.format else None,
        min_size=_size("--min-size", args.min_size),
        max_size=_size("--max-size", args.max_size),
        groups=(args.group,) if args.group else (),
        statuses=status_names(args.status) if args.status else None,
    )


def _size(option: str, text: str | None) -> int | None:
    from tad_tui.cli import UsageError
    from tad_tui.sizes import parse_size

    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as error:
        raise UsageError(f"{option}: {error}") from None


def _limit(text: str) -> int:
    from tad_tui.cli import UsageError

    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--limit: {text!r} is not a whole number (1-{MAX_LIMIT})") from None
    if not 1 <= value <= MAX_LIMIT:
        raise UsageError(f"--limit: {value} is outside 1-{MAX_LIMIT}")
    return value


def _print_human(result: SearchResult) -> None:
    from tad_tui.cli.output import print_table
    from tad_tui.sizes import format_size

    headers = ["Score", "Track", "Album", "Group", "Type", "Size", "Time", "Status"]
    rows = [
        [str(hit.score), hit.name, hit.album or "", hit.group, hit.format or "?", format_size(hit.file_size),
         _clock(hit.duration), hit.status]
        for hit in result.hits
    ]
    if not any(row[2] for row in rows):  # scanned tracks have no album until they are downloaded
        del headers[2]
        for row in rows:
            del row[2]
    # Album and group give way first: at 80 columns the track's title stays readable.
    squeezed = {i for i, header in enumerate(headers) if header in ("Album", "Group")}
    print_table(
        headers, rows, numeric={0, len(headers) - 3, len(headers) - 2}, shrink_first=squeezed,
        empty="(no matching tracks)",
    )
    if result.relaxed:
        print("No track has every word; these have some of them.")
    if result.more or result.matched > len(result.hits):
        print(f"{len(result.hits)} of {result.matched}{'+' if result.more else ''} matching tracks; "
              "narrow the search or raise --limit")
    for hint in result.hints:
        print(f"hint: {hint}")


def _clock(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02}:{rest % 60:02}" if hours else f"{rest // 60}:{rest % 60:02}"
