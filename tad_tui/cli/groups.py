"""``groups`` (and ``groups --topics``) and ``scan``: the account's groups, a forum's topics, and a
group's audio read into the library."""

from __future__ import annotations

import argparse
from typing import Any

from tad_tui.cli import EXIT_OK, UsageError, print_json, window_of
from tad_tui.words import counted


async def run_groups(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine

    if args.topics is not None:
        return await _topics(args, settings, paths)
    async with open_engine(settings, paths, demo=args.demo, writer=not args.offline) as engine:
        groups = await engine.list_groups(refresh=not args.offline)
    if args.json:
        print_json([group.to_json() for group in groups])
        return EXIT_OK
    from tad_tui.cli.output import print_table

    print_table(
        ("Title", "Username", "Kind", "Audio", "Last scan"),
        [
            (
                g.title,
                f"@{g.username}" if g.username else "",
                "forum" if g.forum else g.kind,
                str(g.audio_count),
                g.last_checked.astimezone().strftime("%Y-%m-%d %H:%M") if g.last_checked else "never",
            )
            for g in groups
        ],
        numeric={3},
    )
    return EXIT_OK


async def _topics(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    """``groups --topics GROUP``: a forum group's topics and their audio in the library."""
    from tad_tui.api import TopicError
    from tad_tui.runtime import open_engine

    async with open_engine(settings, paths, demo=args.demo, writer=not args.offline, connect=not args.offline) as engine:
        try:
            topics = await engine.topics(args.topics, refresh=not args.offline)
        except TopicError as error:
            raise UsageError(str(error)) from None
    if args.json:
        print_json([topic.to_json() for topic in topics])
        return EXIT_OK
    from tad_tui.cli.output import print_table

    print_table(
        ("ID", "Topic", "Audio", "Last message"),
        [
            (str(t.id), t.title, str(t.tracks),
             t.last_posted_at.astimezone().strftime("%Y-%m-%d %H:%M") if t.last_posted_at else "")
            for t in topics
        ],
        numeric={0, 2},
    )
    return EXIT_OK


async def run_scan(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli.output import StatusLine
    from tad_tui.runtime import open_engine

    status = StatusLine(enabled=not args.json)
    window = window_of(args)
    from tad_tui.api import TopicError

    async with open_engine(settings, paths, demo=args.demo, writer=True) as engine:
        try:
            result = await engine.scan(
                args.group,
                on_progress=lambda p: status.show(f"Scanning {p.group.title}: {counted(p.new, 'new audio message')}…"),
                takeout=args.takeout,
                window=window,
                topic=args.topic,
            )
        except TopicError as error:
            raise UsageError(str(error)) from None
    status.clear()
    if args.json:
        group = result.group
        print_json(
            {
                "group": {"id": group.group_id, "title": group.title, "username": group.username},
                "new": result.new,
                "total": result.total,
            }
        )
    else:
        print(f"{result.group.title}: {result.new} new, {result.total} in the library")
    return EXIT_OK
