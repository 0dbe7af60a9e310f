"""``queue``: the download queue in order, and ``--clear-finished``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tad_tui.cli import EXIT_OK, print_json
from tad_tui.words import counted

if TYPE_CHECKING:
    from tad_tui.api import QueueRow


async def run_queue(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine

    if args.clear_finished:
        async with open_engine(settings, paths, demo=args.demo, writer=True, connect=False) as engine:
            cleared = await engine.clear_finished()
        if args.json:
            print_json({"cleared": len(cleared), "entry_ids": cleared})
        else:
            print(f"Cleared {counted(len(cleared), 'finished entry')} from the queue (their files and library rows stay)")
        return EXIT_OK
    async with open_engine(settings, paths, demo=args.demo, writer=False) as engine:
        rows = await engine.queue_rows()
    if args.json:
        print_json([row.to_json() for row in rows])
        return EXIT_OK
    from tad_tui.cli.output import print_table
    from tad_tui.api import status_word as word
    from tad_tui.sizes import format_size

    print_table(
        ("#", "File", "Group", "Priority", "State", "Done", "Size"),
        [
            (str(r.id), r.file, r.group, r.priority,
             f"{word(r.state)}: {reason}" if (reason := _why(r)) else word(r.state),
             format_size(r.downloaded_bytes), format_size(r.file_size))
            for r in rows
        ],
        numeric={0, 5, 6},
    )
    return EXIT_OK


def _why(row: QueueRow) -> str | None:
    """What the state cell adds: the error, or why a queued entry that had started waits again."""
    return row.error_message or (row.note if row.state == "queued" else None)
