"""``tad-tui import-export``: a Telegram Desktop export's audio into the library; files it holds are
copied in, the others downloaded from Telegram as ``download`` downloads them."""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tad_tui.words import counted

PRIORITIES = ("low", "normal", "high", "critical")
DESCRIPTION = """\
Import the audio of a chat exported with Telegram Desktop (Settings > Advanced > Export Telegram
data, or a chat's menu > Export chat history; format "Machine-readable JSON"). PATH is the export's
result.json (or its folder); a whole account's export imports every group and channel in it. Audio
files the export holds are copied into the download folder, named by the filename template, checked
against Telegram's size and recorded as downloaded; the others are downloaded from Telegram. Tracks
already downloaded are skipped. --json: one JSON object per line ({"event": "imported"|"queued"|
"skipped"|"failed"|"downloaded"|…}), then a summary."""


def add_import_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
    not_empty: Callable[[str], str],
    positive_int: Callable[[str], int],
) -> None:
    parser = commands.add_parser(
        "import-export", help="import the audio of a Telegram Desktop export (result.json): copy what it holds, download the rest",
        description=DESCRIPTION,
    )
    common(parser)
    parser.add_argument("path", metavar="PATH", type=not_empty, help="the export's result.json, or the folder holding it")
    parser.add_argument("-o", "--output", metavar="DIR", type=not_empty, help="save files here (default: downloads.output_dir)")
    parser.add_argument("-t", "--filename-template", metavar="TEMPLATE", help="e.g. '{performer}/{album}/{title}.{ext}'")
    parser.add_argument("-p", "--parallel", type=positive_int, metavar="N", help="files of several parts downloaded at once (1-32; max_concurrent)")
    parser.add_argument("--priority", choices=PRIORITIES, default="normal", help="queue priority of the files to download (default normal)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line: events, then a summary")


async def run_import_export(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.api import ExportError, read_desktop_export
    from tad_tui.cli import UsageError
    from tad_tui.cli.download import JsonLines, _reporter
    from tad_tui.runtime import open_engine

    try:  # before the engine (and the demo's catalogue) starts: a bad file costs nothing
        export = await asyncio.to_thread(read_desktop_export, args.path)
    except ExportError as error:
        raise UsageError(f"import-export PATH: {error}") from None
    reporter = _reporter(args.json)
    output_dir = Path(args.output).resolve() if args.output else None
    found: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()

    def tell(item: Any) -> None:
        found[item.outcome] += 1
        if args.json:
            JsonLines.emit(item.to_json())
            return
        if item.outcome == "imported":
            reporter.note(f"imported {item.name}: {item.local_path}")
        elif item.outcome == "failed":
            reporter.note(f"failed {item.name or f'message {item.message_id}'} (message {item.message_id} of {item.group}): {item.reason}")
        elif item.outcome == "queued" and item.in_export:
            reporter.note(f"to download {item.name}: {item.reason}")

    if not export.chats:
        reporter.note(f"{export.path}: no audio messages in this export; nothing to import")
    try:
        async with open_engine(settings, paths, demo=args.demo, writer=True) as engine:
            engine.events.subscribe(reporter.handle)
            chats = ", ".join(chat.name for chat in export.chats)
            if export.chats:
                reporter.note(f"Importing {counted(export.audio_count, 'audio message')} of {chats} from {export.path}…")
            result = await engine.import_desktop_export(
                export, output_dir=output_dir, filename_template=args.filename_template, on_item=tell
            )
            reporter.note(
                f"{counted(found['imported'], 'file')} copied from the export, {found['queued']} to download, "
                f"{found['skipped']} already here, {found['failed']} failed"
            )
            if result.to_fetch:
                await engine.start_downloads()
                engine.start_monitor()
                engine.start_notifier(reporter.notify)
                from tad_tui.api import Priority  # a Tortoise model's enum: open_engine has loaded them

                await engine.enqueue(
                    list(result.to_fetch),
                    priority=Priority[args.priority.upper()],
                    batch_name=export.chats[0].name if len(export.chats) == 1 else "Telegram Desktop export",
                    output_dir=output_dir,
                    filename_template=args.filename_template,
                )
                outcomes = await engine.run_downloads(until_idle=True)
    finally:
        reporter.close()
    failed = found["failed"] + outcomes["failed"]
    summary = {
        "imported": found["imported"],
        "downloaded": outcomes["downloaded"],
        "skipped": found["skipped"] + outcomes["skipped"],
        "failed": failed,
    }
    if args.json:
        JsonLines.emit(summary)
    else:
        print(f"{summary['imported']} imported, {summary['downloaded']} downloaded, {summary['skipped']} skipped, {failed} failed")
    return 0 if failed == 0 else 1
