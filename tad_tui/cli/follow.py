"""``tad-tui follow``, ``unfollow``, ``following`` and ``watch``: new audio of followed groups is
queued as it is posted, and ``watch`` downloads it, headless, until stopped."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tad_tui.words import counted

EXIT_OK, EXIT_USAGE = 0, 2
PRIORITIES = ("low", "normal", "high", "critical")
MATCH_HELP = (
    "queue only new audio that this search matches (the search language of `tad-tui search`, e.g. "
    "'bethoven format:flac size>5MB' or 'performer:\"Bill Evans\" duration>5m')"
)

WATCH_DESCRIPTION = """\
Follow every followed group until stopped (Ctrl+C or SIGTERM: exit 0, everything resumable): what
was posted while nothing ran is fetched first, then new audio is queued as Telegram pushes it and
downloaded. One line per event; --json: one JSON object per line ({"event": "new"|"downloaded"|
"failed"|"waiting"|…}). A lost connection is retried with a growing delay."""


def add_follow_parsers(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    group_name: Callable[[str], str],
) -> None:
    """Register the four commands; ``common`` adds --config/--data-dir/--demo."""
    follow = commands.add_parser(
        "follow", help="follow a group: its new audio is queued (and downloaded by the app or `watch`) as it is posted"
    )
    common(follow)
    follow.add_argument("group", metavar="GROUP", type=group_name, help="@username, username, a t.me link, numeric id, or the title (any case or accents; its start is enough)")
    follow.add_argument("--match", metavar="QUERY", help=MATCH_HELP)
    follow.add_argument("--priority", choices=PRIORITIES, default="normal", help="queue priority of new files (default normal)")
    follow.add_argument("-o", "--output", metavar="DIR", help="save its new files here (default: downloads.output_dir)")
    follow.add_argument("-t", "--filename-template", metavar="TEMPLATE", help="file names of its new files, e.g. '{performer}/{title}.{ext}'")
    follow.add_argument("--json", action="store_true", help="print the follow as a JSON object")

    unfollow = commands.add_parser("unfollow", help="stop following a group (what is queued stays queued)")
    common(unfollow)
    unfollow.add_argument("group", metavar="GROUP", type=group_name, help="@username, username, a t.me link, numeric id, or the title (any case or accents; its start is enough)")

    following = commands.add_parser("following", help="list the followed groups")
    common(following)
    following.add_argument("--json", action="store_true", help="print a JSON array")

    watch = commands.add_parser(
        "watch", help="download new audio of the followed groups as it is posted, until stopped",
        description=WATCH_DESCRIPTION,
    )
    common(watch)
    watch.add_argument("--json", action="store_true", help="print one JSON object per line")


def follow_json(follow: Any) -> dict[str, Any]:
    return {
        "group_id": follow.group_id,
        "title": follow.title,
        "username": follow.username,
        "match": follow.match,
        "priority": follow.priority,
        "output_dir": follow.output_dir,
        "filename_template": follow.filename_template,
        "last_message_id": follow.last_message_id,
        "last_new": follow.last_new_title,
        "last_new_at": follow.last_new_at.isoformat() if follow.last_new_at else None,
    }


async def run_follow(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.api import FollowError, Priority, check_match
    from tad_tui.cli.output import StatusLine
    from tad_tui.runtime import open_engine

    status = StatusLine(enabled=not args.json)
    try:
        check_match(args.match)  # bad input is said before anything starts (the demo's catalogue…)
        async with open_engine(settings, paths, demo=args.demo, writer=True) as engine:
            follow, created = await engine.follow(
                args.group,
                match=args.match,
                priority=Priority[args.priority.upper()],
                output_dir=settings.downloads.output_dir if args.output else None,
                filename_template=args.filename_template,
                on_progress=lambda p: status.show(f"Scanning {p.group.title}: {counted(p.new, 'new audio message')}…"),
            )
    except FollowError as error:
        status.clear()
        print(f"tad-tui: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    status.clear()
    if args.json:
        print(json.dumps(follow_json(follow) | {"created": created}, ensure_ascii=False))
        return EXIT_OK
    what = f"new audio matching {follow.match!r}" if follow.match else "its new audio"
    verb = "Following" if created else "Still following (changed)"
    print(f"{verb} {follow.title}: {what} is queued ({follow.priority} priority) while `tad-tui watch` or the app runs")
    return EXIT_OK


async def run_unfollow(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine

    async with open_engine(settings, paths, demo=args.demo, writer=True, connect=False) as engine:
        follow = await engine.unfollow(args.group)
    if follow is None:
        print(f"tad-tui: {args.group} was not followed", file=sys.stderr)
        return EXIT_OK
    print(f"No longer following {follow.title} (files already queued stay queued)")
    return EXIT_OK


async def run_following(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine

    async with open_engine(settings, paths, demo=args.demo, writer=False) as engine:
        follows = await engine.follows()
    if args.json:
        print(json.dumps([follow_json(f) for f in follows], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not follows:
        print("No group is followed: `tad-tui follow GROUP` follows one")
        return EXIT_OK
    from tad_tui.cli.output import print_table

    print_table(
        ("Group", "Match", "Priority", "Last new file"),
        [
            (
                f"{f.title} (@{f.username})" if f.username else f.title,
                f.match or "(every new file)",
                f.priority,
                f"{f.last_new_title} ({f.last_new_at.astimezone():%Y-%m-%d %H:%M})" if f.last_new_at else "none yet",
            )
            for f in follows
        ],
    )
    return EXIT_OK


async def run_watch(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli.download import JsonLines, PlainLines
    from tad_tui.runtime import open_engine

    reporter = JsonLines() if args.json else PlainLines()
    stopped = _stop_on_signals(asyncio.current_task())
    try:
        async with open_engine(settings, paths, demo=args.demo, writer=True, receive_updates=True) as engine:
            follows = await engine.follows()
            if not follows:
                print("tad-tui: error: no group is followed: `tad-tui follow GROUP` first", file=sys.stderr)
                return EXIT_USAGE
            engine.events.subscribe(reporter.handle)
            await engine.start_downloads()
            engine.start_monitor()
            engine.start_notifier(reporter.notify)
            reporter.note(f"Watching {counted(len(follows), 'group')}: {', '.join(f.title for f in follows)}")
            follower = await engine.start_following()  # a catch-up's problems are Notices: the reporter says them
            await asyncio.gather(engine.run_downloads(until_idle=False), follower.stay_connected())
    except asyncio.CancelledError:
        if not stopped:
            raise
    finally:
        reporter.close()
    reporter.note("Stopped; everything queued resumes next time")
    return EXIT_OK


def _stop_on_signals(task: asyncio.Task[Any] | None) -> list[int]:
    """Ctrl+C and SIGTERM cancel ``task`` (the engine closes, saving every download's parts); the
    list returned holds the signals received."""
    received: list[int] = []
    loop = asyncio.get_running_loop()

    def stop(number: int) -> None:
        received.append(number)
        if task is not None:
            task.cancel()

    for number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(number, stop, number)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not on this platform
            pass
    return received
