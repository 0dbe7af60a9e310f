"""``tad-tui download``: scan, pick, queue, download — progress bars on a terminal, lines or JSON otherwise."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tad_tui.api import (
    EntryFinished,
    EntryProgress,
    EntryResumed,
    EntryStarted,
    EntryWaiting,
    Event,
    LinkError,
    MessageLink,
    NewAudio,
    Notice,
    Track,
    is_chat_link,
    looks_like_link,
    parse_links,
    read_link_file,
)
from tad_tui.notify import terminal_fallback
from tad_tui.sizes import format_size
from tad_tui.words import counted


class JsonLines:
    """One JSON object per line on stdout: resumes and finished files, then the summary."""

    def __init__(self) -> None:
        self.file_ids: dict[int, str] = {}

    def handle(self, event: Event) -> None:
        if isinstance(event, Notice):
            self.note(event.text)
        elif isinstance(event, EntryStarted):
            self.file_ids[event.entry_id] = event.file_id
        elif isinstance(event, EntryWaiting):  # a flood or premium wait: its start and its end (reason null)
            self.emit({"event": "waiting", "file_id": self.file_ids.get(event.entry_id), "reason": event.kind,
                       "message": event.reason, "until": event.until})
        elif isinstance(event, EntryResumed):
            self.emit({"event": "resumed", "file_id": event.file_id, "resume_offset": event.resume_offset,
                       "downloaded_bytes": event.downloaded_bytes})
        elif isinstance(event, NewAudio):  # a followed group's new file, queued (watch)
            self.emit({"event": "new", "group_id": event.group_id, "group": event.group_title,
                       "file_id": event.file_id, "name": event.name})
        elif isinstance(event, EntryFinished) and event.outcome in ("downloaded", "skipped", "failed"):
            self.emit({"event": event.outcome, "file_id": event.file_id, "local_path": event.local_path,
                       "file_size": event.file_size, "checksum_md5": event.checksum_md5,
                       "source_md5": event.source_md5, "error_message": event.error_message})

    def note(self, text: str) -> None:
        """Human notes go to stderr so stdout stays pure JSON."""
        print(text, file=sys.stderr, flush=True)

    # The notifier's terminal fallback: no live display here, so a notification is written at once.
    notify = staticmethod(terminal_fallback)

    def link_failed(self, link: str, error: str) -> None:
        self.emit({"event": "failed", "link": link, "file_id": None, "local_path": None, "file_size": None,
                   "checksum_md5": None, "source_md5": None, "error_message": error})

    def already(self, row: Track) -> None:
        self.emit({"event": "skipped", "file_id": row.file_id, "local_path": row.local_path,
                   "file_size": row.file_size, "checksum_md5": row.checksum_md5, "source_md5": row.source_md5,
                   "error_message": None})

    @staticmethod
    def emit(value: dict[str, Any]) -> None:
        print(json.dumps(value, ensure_ascii=False), flush=True)

    def close(self) -> None:
        pass


class PlainLines:
    """A line per resumed or finished file: for logs, pipes and cron."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def handle(self, event: Event) -> None:
        if isinstance(event, EntryStarted):
            self.names[event.entry_id] = event.name
        elif isinstance(event, EntryResumed):
            print(f"resuming {event.file_id} at {format_size(event.resume_offset)} "
                  f"({format_size(event.downloaded_bytes)} already on disk)", flush=True)
        elif isinstance(event, EntryWaiting) and event.reason:
            print(f"{self.names.get(event.entry_id, event.entry_id)}: {event.reason}", flush=True)
        elif isinstance(event, Notice):
            print(event.text, flush=True)
        elif isinstance(event, NewAudio):
            print(f"new in {event.group_title}: {event.name}", flush=True)
        elif isinstance(event, EntryFinished):
            name = self.names.pop(event.entry_id, event.file_id)
            print(f"{event.outcome} {name}: {_detail(event)}", flush=True)

    def note(self, text: str) -> None:
        print(text, flush=True)

    notify = staticmethod(terminal_fallback)  # stderr is no terminal here, so this writes nothing

    def link_failed(self, link: str, error: str) -> None:
        print(f"failed {link}: {error}", flush=True)

    def already(self, row: Track) -> None:
        pass

    def close(self) -> None:
        pass


class ProgressBars(PlainLines):
    """Rich progress bars on stderr: one per running file, finished files printed above them."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.progress.start()
        self.tasks: dict[int, Any] = {}
        self.held: list[tuple[str, str]] = []

    def notify(self, title: str, message: str) -> None:
        """Held until the display stops: an OSC sequence written while Rich redraws the bars
        would be cut by the redraw or coloured by Rich, and left as text on the screen."""
        self.held.append((title, message))

    def handle(self, event: Event) -> None:
        if isinstance(event, EntryStarted):
            self.names[event.entry_id] = event.name
            label = event.name if len(event.name) <= 40 else event.name[:39] + "…"
            self.tasks[event.entry_id] = self.progress.add_task(label, total=event.file_size)
        elif isinstance(event, EntryProgress) and event.entry_id in self.tasks:
            self.progress.update(self.tasks[event.entry_id], completed=event.downloaded_bytes)
        elif isinstance(event, EntryResumed) and event.entry_id in self.tasks:
            self.progress.update(self.tasks[event.entry_id], completed=event.downloaded_bytes)
            self.console.print(f"resuming {self.names.get(event.entry_id)} at {format_size(event.resume_offset)}",
                               markup=False, highlight=False)
        elif isinstance(event, EntryWaiting) and event.entry_id in self.tasks:
            name = self.names.get(event.entry_id, "")
            self.progress.update(self.tasks[event.entry_id], description=f"{name[:30]} ({event.reason})" if event.reason else name[:40])
        elif isinstance(event, Notice):
            self.console.print(event.text, markup=False, highlight=False)
        elif isinstance(event, EntryFinished):
            task = self.tasks.pop(event.entry_id, None)
            if task is not None:
                self.progress.remove_task(task)
            name = self.names.pop(event.entry_id, event.file_id)
            mark = {"downloaded": "✓", "skipped": "=", "failed": "✗"}.get(event.outcome, "·")
            self.console.print(f"{mark} {name}: {_detail(event)}", markup=False, highlight=False)

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def link_failed(self, link: str, error: str) -> None:
        self.console.print(f"✗ {link}: {error}", markup=False, highlight=False)

    def close(self) -> None:
        self.progress.stop()
        held, self.held = self.held, []
        for title, message in held:
            terminal_fallback(title, message)


def _detail(event: EntryFinished) -> str | None:
    """What follows a finished file's name: where it is, why it failed, or why it waits again."""
    if event.outcome == "failed":
        return event.error_message
    if event.outcome == "preempted":  # it gave its slot to a more urgent file and runs again later
        return event.note
    return event.local_path


def _reporter(as_json: bool) -> JsonLines | PlainLines:
    if as_json:
        return JsonLines()
    return ProgressBars() if sys.stderr.isatty() else PlainLines()


async def run_download(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.api import TopicError
    from tad_tui.cli import UsageError, window_of
    from tad_tui.runtime import open_engine

    window = window_of(args)  # a bad range is said before anything starts
    links = message_links(args)
    if links:
        return await run_link_download(args, settings, paths, links)
    reporter = _reporter(args.json)
    already = 0
    try:
        async with open_engine(settings, paths, demo=args.demo, writer=True) as engine:
            engine.events.subscribe(reporter.handle)
            info = await engine.resolve_group(args.group)
            try:
                topic = await engine.find_topic(info, args.topic) if args.topic is not None else None
            except TopicError as error:
                raise UsageError(str(error)) from None
            reporter.note(f"Scanning {info.title}" + (f" · {topic.title}…" if topic else "…"))
            await engine.warm_up_downloads()
            scanned = await engine.scan_info(info, takeout=args.takeout, window=window, topic=topic)
            selection = await engine.select_for_download(
                info, limit=args.limit, window=window, match=args.match, topic=topic.id if topic else None
            )
            chosen = list(selection.to_fetch)
            if args.interactive:
                chosen = await asyncio.to_thread(pick_files, chosen)
            for row in selection.already_downloaded:
                reporter.already(row)
            already = len(selection.already_downloaded)
            total = counted(scanned.total, "audio file")
            if window.bounded or args.match or topic:  # how many of them the range, topic and match took
                taken = len(selection.to_fetch) + len(selection.already_downloaded)
                total += f" ({taken} of them {_chosen_by(args, topic.title if topic else None)})"
            reporter.note(f"{info.title}: {total}, {len(chosen)} to download, {already} already here")
            batch = info.title + (f" › {topic.title}" if topic else "")
            outcomes = await queue_and_run(engine, args, settings, reporter, chosen, batch)
    finally:
        reporter.close()
    return summary(args, outcomes, already)


def _chosen_by(args: argparse.Namespace, topic: str | None) -> str:
    named = (("in topic", topic), ("since", args.since), ("until", args.until), ("ids", args.ids))
    parts = [f"{word} {value}" for word, value in named if value]
    if args.match:
        parts.append(f"matching {args.match!r}")
    return " ".join(parts)
def message_links(args: argparse.Namespace) -> list[MessageLink]:
    """The message links of ``download`` (its arguments and ``-f FILE``); [] for a group.
    UsageError (exit 2) for a mix of a group and links, or a bad link file."""
    from tad_tui.cli import UsageError

    given = ([args.group] if args.group else []) + list(getattr(args, "links", []) or [])
    link_file = getattr(args, "file", None)
    if not given and not link_file:
        raise UsageError("download needs a group, message links or -f FILE (see tad-tui download --help)")
    if not link_file and len(given) == 1 and (not looks_like_link(given[0]) or is_chat_link(given[0])):
        return []  # one group
    for text in given:
        if not looks_like_link(text) or is_chat_link(text):
            raise UsageError(f"{text!r} is not a message link: give one group, or message links (and -f FILE)")
    try:
        links = parse_links(given)
    except LinkError as error:
        raise UsageError(str(error)) from None
    if link_file:
        try:
            links += read_link_file(Path(link_file))
        except LinkError as error:
            raise UsageError(f"-f/--file: {error}") from None
    if args.takeout:
        raise UsageError("--takeout reads a whole group; it does not apply to message links")
    if getattr(args, "topic", None) is not None:
        raise UsageError("--topic chooses within a group; it does not apply to message links")
    return links


async def run_link_download(args: argparse.Namespace, settings: Any, paths: Any, links: list[MessageLink]) -> int:
    """Download the audio of message links: each link's failure said in words, the others go on."""
    from tad_tui.runtime import open_engine

    reporter = _reporter(args.json)
    already = failed_links = 0
    try:
        async with open_engine(settings, paths, demo=args.demo, writer=True) as engine:
            engine.events.subscribe(reporter.handle)
            await engine.warm_up_downloads()
            chosen: dict[int, Track] = {}
            here: dict[int, Track] = {}
            for link in links:
                linked = await engine.select_linked(link)
                if linked.error is not None:
                    failed_links += 1
                    reporter.link_failed(link.text, linked.error)
                    continue
                reporter.note(
                    f"{link.text}: {counted(len(linked.to_fetch), 'audio file')} to download, "
                    f"{len(linked.already_downloaded)} already here"
                )
                chosen.update((row.id, row) for row in linked.to_fetch)
                here.update((row.id, row) for row in linked.already_downloaded)
            picked = list(chosen.values())[: args.limit] if args.limit else list(chosen.values())
            if args.interactive:
                picked = await asyncio.to_thread(pick_files, picked)
            for row in here.values():
                reporter.already(row)
            already = len(here)
            batch = links[0].describe() if len(links) == 1 else counted(len(links), "link")
            outcomes = await queue_and_run(engine, args, settings, reporter, picked, batch)
    finally:
        reporter.close()
    return summary(args, outcomes, already, failed_links)


async def queue_and_run(
    engine: Any, args: argparse.Namespace, settings: Any, reporter: JsonLines | PlainLines, rows: list[Track], batch: str
) -> Any:
    """Queue ``rows`` as one batch as the options say, and download the whole queue; the outcomes."""
    await engine.start_downloads()
    engine.start_monitor()
    engine.start_notifier(reporter.notify)
    # Priority is one of Tortoise's models: imported here, when open_engine has loaded them.
    from tad_tui.api import Priority

    await engine.enqueue(
        [row.id for row in rows],
        priority=Priority[args.priority.upper()],
        batch_name=batch,
        output_dir=Path(args.output).resolve() if args.output else None,
        filename_template=args.filename_template,
    )
    return await engine.run_downloads(until_idle=True)


def summary(args: argparse.Namespace, outcomes: Any, already: int, failed_before: int = 0) -> int:
    """The last line (or JSON object) of a download, and its exit status: 1 if anything failed."""
    downloaded, failed = outcomes["downloaded"], outcomes["failed"] + failed_before
    skipped = already + outcomes["skipped"]
    if args.json:
        JsonLines.emit({"downloaded": downloaded, "skipped": skipped, "failed": failed})
    else:
        print(f"{downloaded} downloaded, {skipped} skipped, {failed} failed")
    return 0 if failed == 0 else 1


def pick_files(rows: list[Track]) -> list[Track]:
    """Ask on the terminal which files to download: numbers and ranges, Enter for all."""
    if not rows:
        return rows
    for number, row in enumerate(rows, start=1):
        name = row.name
        print(f"{number:4}  {name}  ({format_size(row.file_size)})")
    while True:
        try:
            answer = input("Files to download (e.g. 1-3,7; Enter for all, q to quit): ").strip()
        except EOFError:
            answer = "q"
        if answer.lower() == "q":
            return []
        if not answer:
            return rows
        try:
            return [rows[i - 1] for i in parse_selection(answer, len(rows))]
        except ValueError as error:
            print(error)


def parse_selection(text: str, count: int) -> list[int]:
    """'1-3, 7' → [1, 2, 3, 7] (1-based, in order, no repeats); ValueError in words otherwise."""
    chosen: dict[int, None] = {}
    for piece in text.replace(" ", "").split(","):
        if not piece:
            continue
        low, dash, high = piece.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{piece!r} is not a number or a range such as 2-5")
        start, end = int(low), int(high or low)
        if not 1 <= start <= end <= count:
            raise ValueError(f"{piece!r} is outside 1-{count}")
        chosen.update(dict.fromkeys(range(start, end + 1)))
    return list(chosen)
