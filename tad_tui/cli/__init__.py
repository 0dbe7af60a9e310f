"""The ``tad-tui`` command: headless commands over the same engine the TUI drives.

Exit status: 0 done, 1 the work failed (Telegram, disk…), 2 bad input (options, config, a data dir in
use, a damaged database), 130 interrupted. No traceback ever reaches the terminal: unexpected errors
go to the log file and the user gets one line saying where.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import select
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tad_tui import __version__
from tad_tui.words import counted

if TYPE_CHECKING:
    from tad_tui.api import QueueRow

PRIORITIES = ("low", "normal", "high", "critical")

log = logging.getLogger("tad_tui.cli")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


# Command-line options that override a config key (None: not given).
_OPTION_KEYS = {
    "data_dir": "general.data_dir",
    "output": "downloads.output_dir",
    "parallel": "downloads.max_concurrent",
    "filename_template": "downloads.filename_template",
    "host": "serve.host",
    "port": "serve.port",
    "token": "serve.token",
}
_OPTION_FLAGS = {
    "general.data_dir": "--data-dir",
    "downloads.output_dir": "-o/--output",
    "downloads.max_concurrent": "-p/--parallel",
    "downloads.filename_template": "-t/--filename-template",
    "serve.host": "--host",
    "serve.port": "--port",
    "serve.token": "--token",
}


TAKEOUT_HELP = (
    "read the group inside a Telegram data-export (takeout) session, which has lower flood limits for big "
    "groups; Telegram may first ask you to confirm the export in its app"
)


RANGE_HELP = {
    "since": "only messages posted on or after DATE (UTC): 2024-06-01, 2024-06 (from the 1st), 2024, "
             "or 7d, 2w, 3m, 1y before now",
    "until": "only messages posted on or before DATE (UTC), all of it: 2024-06 takes June to its last second",
    "ids": "only these message ids, both included: 100-250, 100- (from 100 on) or 100",
}


class UsageError(Exception):
    """Bad input that argparse could not catch; exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (what is wrong, where to read more) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        from tad_tui.api import escape_unsafe

        self.exit(EXIT_USAGE, f"{self.prog}: error: {escape_unsafe(message)} (see {self.prog} --help)\n")


def _not_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _phone_number(text: str) -> str:
    digits = sum(ch.isdigit() for ch in text)
    if not all(ch.isdigit() or ch in "+ -()." for ch in text) or not 5 <= digits <= 15:
        raise argparse.ArgumentTypeError("not a phone number: write it in international form, e.g. +44 7700 900123")
    return text


GROUP_HELP = "@username, username, a t.me link, numeric id, or the title (any case or accents; its start is enough)"


def _group_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty: give an @username, a t.me link, a numeric id or the title")
    from tad_tui.api import LinkError, is_chat_link

    try:
        is_chat_link(text)  # a link must name a chat
    except LinkError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _link_or_group(text: str) -> str:
    """download's first argument: a message link (checked in full), or a group (a chat's link too)."""
    from tad_tui.api import LinkError, is_chat_link, looks_like_link, parse_link

    if not looks_like_link(text):
        return _group_name(text)
    try:
        if not is_chat_link(text):
            parse_link(text)
    except LinkError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _message_link(text: str) -> str:
    from tad_tui.api import LinkError, parse_link

    try:
        parse_link(text)
    except LinkError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _date(text: str) -> str:
    from tad_tui.api import parse_period

    try:
        parse_period(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _id_range(text: str) -> str:
    from tad_tui.api import parse_id_range

    try:
        parse_id_range(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _match_query(text: str) -> str:
    """A match the search language reads in full (as a follow's), else the option's error."""
    from tad_tui.api import FollowError, check_match

    try:
        cleaned = check_match(text)
    except FollowError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--match ")) from None
    if cleaned is None:
        raise argparse.ArgumentTypeError("must not be empty: give words and filters, e.g. 'format:flac'")
    return cleaned


def _range_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="DATE", type=_date, help=RANGE_HELP["since"])
    parser.add_argument("--until", metavar="DATE", type=_date, help=RANGE_HELP["until"])
    parser.add_argument("--ids", metavar="A-B", type=_id_range, help=RANGE_HELP["ids"])


TOPIC_HELP = (
    "only this topic of a forum group: its id (see `tad-tui groups --topics GROUP`) or its title in any case "
    "or accents (its start is enough); General is topic 1"
)


def _topic_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topic", metavar="ID|TITLE", type=_not_empty, help=TOPIC_HELP)


def window_of(args: argparse.Namespace) -> Any:
    """The ScanWindow of --since, --until and --ids (UsageError if --since is after --until)."""
    from tad_tui.api import scan_window

    try:
        return scan_window(args.since, args.until, args.ids)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", metavar="PATH", type=_not_empty, default=default, help="config file (default: the user config dir)")
    parser.add_argument("--data-dir", metavar="DIR", type=_not_empty, default=default, help="keep the library, session and logs here")
    parser.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="use the built-in simulated Telegram and demo catalogue (no account, no network)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tad-tui",
        description="Find, queue, download and manage audio from Telegram channels and groups.",
    )
    parser.add_argument("--version", action="version", version=f"tad-tui {__version__}")
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    groups = commands.add_parser("groups", help="list the account's groups and channels")
    _common_options(groups, suppress=True)
    groups.add_argument("--json", action="store_true", help="print a JSON array")
    groups.add_argument("--offline", action="store_true", help="list the library's groups without asking Telegram")
    groups.add_argument(
        "--topics", metavar="GROUP", type=_group_name,
        help="list the topics of this forum group instead (id, title, audio in the library); with --offline, "
             "those the library's tracks name",
    )

    scan = commands.add_parser("scan", help="scan a group's audio into the library (only newer messages after the first scan)")
    _common_options(scan, suppress=True)
    scan.add_argument("group", metavar="GROUP", type=_group_name, help=GROUP_HELP)
    scan.add_argument("--json", action="store_true", help="print a JSON object")
    scan.add_argument("--takeout", action="store_true", help=TAKEOUT_HELP)
    _range_options(scan)
    _topic_option(scan)

    download = commands.add_parser(
        "download", help="scan a group, queue its audio and download it (resumes what a previous run left)"
    )
    _common_options(download, suppress=True)
    download.add_argument(
        "group", metavar="GROUP|LINK", nargs="?", type=_link_or_group,
        help=f"a group ({GROUP_HELP}), or a message link: https://t.me/USERNAME/ID, https://t.me/c/CHANNEL_ID/ID, "
        "https://t.me/USERNAME/TOPIC/ID, tg://resolve?domain=USERNAME&post=ID, tg://privatepost?channel=ID&post=ID, "
        "or a range https://t.me/USERNAME/100-250",
    )
    download.add_argument("links", metavar="LINK", nargs="*", type=_message_link, help="more message links")
    download.add_argument(
        "-f", "--file", metavar="FILE", type=_not_empty, help="read message links from FILE, one a line (# comments)"
    )
    download.add_argument("-l", "--limit", type=_positive_int, metavar="N", help="download at most N files")
    download.add_argument("-o", "--output", metavar="DIR", type=_not_empty, help="save files here (default: downloads.output_dir)")
    download.add_argument("-p", "--parallel", type=_positive_int, metavar="N", help="files of several parts downloaded at once (1-32; max_concurrent)")
    download.add_argument("-t", "--filename-template", metavar="TEMPLATE", help="e.g. '{performer}/{album}/{title}.{ext}'")
    download.add_argument("-i", "--interactive", action="store_true", help="pick the files to download from a list")
    download.add_argument(
        "--priority", choices=PRIORITIES, default="normal", help="queue priority (default normal)"
    )
    download.add_argument("--json", action="store_true", help="print one JSON object per line: events, then a summary")
    download.add_argument("--takeout", action="store_true", help=TAKEOUT_HELP + " (the scan before downloading)")
    _range_options(download)
    _topic_option(download)
    download.add_argument(
        "--match", metavar="QUERY", type=_match_query,
        help="only the tracks this search matches (the search language of `tad-tui search`, e.g. "
             "'\"guns n roses\" format:flac' or 'date>2024-06 duration>5m'); with -i, pick among them",
    )

    performance = commands.add_parser(
        "performance", help="live figures of a running tad-tui, or the machine and the download history"
    )
    _common_options(performance, suppress=True)
    performance.add_argument("--watch", action="store_true", help="redraw every second until Ctrl+C")
    performance.add_argument("--json", action="store_true", help="print one JSON object (a line per second with --watch)")
    performance.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if a tad-tui (the app, watch or a download) is running on this data dir, 1 if not (a container's health check)",
    )

    queue = commands.add_parser("queue", help="list the download queue in order (works beside a running download)")
    _common_options(queue, suppress=True)
    queue.add_argument("--json", action="store_true", help="print a JSON array")
    queue.add_argument(
        "--clear-finished",
        action="store_true",
        help="take completed and cancelled entries off the queue (files and library stay; failed ones stay)",
    )

    login = commands.add_parser(
        "login", help="sign in to Telegram here: phone, code, then the two-step verification password if there is one"
    )
    _common_options(login, suppress=True)
    login.add_argument(
        "--phone", metavar="NUMBER", type=_phone_number, help="the account's phone number in international form (+44 7700 900123) instead of asking"
    )
    logout = commands.add_parser(
        "logout", help="end the Telegram session (on Telegram's side too) and delete the session file"
    )
    _common_options(logout, suppress=True)

    serve = commands.add_parser(
        "serve", help="serve the app to a web browser (HTTP and WebSocket; one browser session at a time)"
    )
    _common_options(serve, suppress=True)
    serve.add_argument("--host", metavar="ADDRESS", type=_not_empty, help="listen on this address (default 127.0.0.1; another needs a token)")
    serve.add_argument("--port", metavar="PORT", type=_not_empty, help="listen on this TCP port (default 8765)")
    serve.add_argument(
        "--token", metavar="TOKEN", type=_not_empty,
        help="the token a browser must give (at least 16 characters); other users can read it here in `ps`, so "
             "prefer TAD_SERVE_TOKEN or [serve] token; default on loopback: a new random one, printed in the URL",
    )

    from tad_tui.cli.search import add_search_parser

    add_search_parser(commands, lambda sub: _common_options(sub, suppress=True))
    from tad_tui.cli.follow import add_follow_parsers

    add_follow_parsers(commands, lambda sub: _common_options(sub, suppress=True), _group_name)
    from tad_tui.cli.import_export import add_import_parser

    add_import_parser(commands, lambda sub: _common_options(sub, suppress=True), _not_empty, _positive_int)
    from tad_tui.cli.cleanup import add_cleanup_parsers

    add_cleanup_parsers(commands, lambda sub: _common_options(sub, suppress=True), _not_empty)
    from tad_tui.cli.library_out import add_library_out_parsers

    add_library_out_parsers(commands, lambda sub: _common_options(sub, suppress=True), _not_empty)
    from tad_tui.cli.rename import add_rename_parser

    add_rename_parser(commands, lambda sub: _common_options(sub, suppress=True), _not_empty, _match_query)
    from tad_tui.cli.notify_test import add_notify_test_parser

    add_notify_test_parser(commands, lambda sub: _common_options(sub, suppress=True))
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _stdout_gone() -> bool:
    """Whether nobody reads our standard output any more (a pipe whose reader closed)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.command = "tui"  # no command: the full-screen app
    terminated: list[int] = []
    try:
        return asyncio.run(_stoppable(args, terminated))
    except KeyboardInterrupt:
        print("tad-tui: interrupted; run the same command again to go on where it stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        if not terminated:
            raise
        print("tad-tui: stopped (SIGTERM); run the same command again to go on where it stopped", file=sys.stderr)
        return EXIT_TERMINATED


async def _stoppable(args: argparse.Namespace, terminated: list[int]) -> int:
    """``_dispatch``, stopped by SIGTERM as by Ctrl+C: the command's task is cancelled, so the engine
    closes and every download keeps its parts (``docker stop``, ``systemctl stop``, ``kill``; in a
    container tad-tui is process 1, which SIGTERM would not stop at all without a handler). The app
    and ``watch`` stop on SIGTERM their own way."""
    if args.command != "tui":
        task = asyncio.current_task()
        try:
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGTERM, lambda: (terminated.append(signal.SIGTERM), task and task.cancel())
            )
        except (NotImplementedError, RuntimeError):  # not on this platform
            pass
    return await _dispatch(args)


async def _dispatch(args: argparse.Namespace) -> int:
    from tad_tui.config import ConfigError, build_paths, ignored_by_demo, load_settings
    from tad_tui.lock import DataDirBusy
    from tad_tui.runtime import LOG_FILE
    from tad_tui.api import DATABASE_BUSY, StoreError, database_busy
    from tad_tui.cli.folders import check_folders, ignored_folders, make_data_dir, tell_ignored

    try:
        overrides = {key: getattr(args, name, None) for name, key in _OPTION_KEYS.items()}
        settings = load_settings(Path(args.config) if args.config else None, overrides=overrides)
        # `--demo --data-dir DIR` names the demo's folder; a data dir from anywhere else is the account's.
        # The demo's database and downloads stay in that folder, whatever db_path and output_dir say
        # (a real library's places), unless `-o DIR` names a download folder on this command line.
        output_named = getattr(args, "output", None) is not None
        paths = build_paths(
            settings,
            demo=args.demo,
            named_for_demo=args.demo and bool(args.data_dir),
            output_on_command_line=output_named,
        )
        ignored = ignored_by_demo(settings, output_on_command_line=output_named) if args.demo else []
        check_folders(args, paths, ignored=ignored_folders(args, settings, ignored))
        make_data_dir(paths)
    except ConfigError as error:
        flag = _OPTION_FLAGS.get(error.key or "")
        option = f"command-line option for {error.key}"  # config.py's words for an override
        return _fail(str(error).replace(option, f"option {flag} (for {error.key})") if flag else str(error), EXIT_USAGE)
    except UsageError as error:
        return _fail(str(error), EXIT_USAGE)
    _start_logs(settings, paths, via="tui" if args.command == "tui" else "cli")
    if args.command != "tui":  # the app takes the screen at once: the line would go unseen
        tell_ignored(settings, paths, ignored)
    handler = _COMMANDS[args.command]
    try:
        return await handler(args, settings, paths)
    except (ConfigError, DataDirBusy, StoreError, UsageError) as error:
        return _fail(str(error), EXIT_USAGE)
    except Exception as error:  # the one place an unexpected error is turned into words
        from tad_tui.api import SourceError  # here: it loads Telethon, which a read-only command never needs

        if isinstance(error, SourceError):
            return _fail(str(error), EXIT_FAILED)
        if database_busy(error):
            return _fail(f"{DATABASE_BUSY} ({paths.db}): close it, or wait and run the command again", EXIT_USAGE)
        if isinstance(error, BrokenPipeError) and _stdout_gone():
            # `tad-tui queue | head`: the reader has all it wanted; nothing more goes to stdout (a
            # connection's broken pipe, with stdout fine, is told in words below).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        from telethon.errors import RPCError, UnauthorizedError

        from tad_tui.api import explain_takeout

        if isinstance(error, UnauthorizedError):
            login = "tad-tui --demo login" if args.demo else "tad-tui login"
            return _fail(
                "Telegram does not accept this session: it is not signed in, or was signed out from another "
                f"device; sign in with `{login}`",
                EXIT_FAILED,
            )
        if isinstance(error, RPCError):
            return _fail(explain_takeout(error) or f"Telegram refused the request: {error}", EXIT_FAILED)
        log.exception("unexpected error in %s", args.command)
        return _fail(f"unexpected error: {error!r} (details in {paths.logs_dir / LOG_FILE})", EXIT_FAILED)


def _fail(message: str, status: int) -> int:
    from tad_tui.api import escape_unsafe

    # One line whatever the message quotes (a group name typed with an escape sequence or newline).
    print(f"tad-tui: error: {escape_unsafe(message)}", file=sys.stderr)
    return status


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


async def _groups(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine

    if args.topics is not None:
        return await _topics(args, settings, paths)
    async with open_engine(settings, paths, demo=args.demo, writer=not args.offline) as engine:
        groups = await engine.list_groups(refresh=not args.offline)
    if args.json:
        _print_json([group.to_json() for group in groups])
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
        _print_json([topic.to_json() for topic in topics])
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


async def _scan(args: argparse.Namespace, settings: Any, paths: Any) -> int:
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
        _print_json(
            {
                "group": {"id": group.group_id, "title": group.title, "username": group.username},
                "new": result.new,
                "total": result.total,
            }
        )
    else:
        print(f"{result.group.title}: {result.new} new, {result.total} in the library")
    return EXIT_OK


async def _queue(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.runtime import open_engine

    if args.clear_finished:
        async with open_engine(settings, paths, demo=args.demo, writer=True, connect=False) as engine:
            cleared = await engine.clear_finished()
        if args.json:
            _print_json({"cleared": len(cleared), "entry_ids": cleared})
        else:
            print(f"Cleared {counted(len(cleared), 'finished entry')} from the queue (their files and library rows stay)")
        return EXIT_OK
    async with open_engine(settings, paths, demo=args.demo, writer=False) as engine:
        rows = await engine.queue_rows()
    if args.json:
        _print_json([row.to_json() for row in rows])
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


async def _login(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli.login import run_login

    return await run_login(args, settings, paths)


async def _logout(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli.login import run_logout

    return await run_logout(args, settings, paths)


def _start_logs(settings: Any, paths: Any, *, via: str) -> None:
    """The log file and the audit log, in the data dir of ``paths``."""
    from tad_tui.audit import setup_audit
    from tad_tui.runtime import setup_logging

    setup_logging(settings, paths)
    setup_audit(paths, via=via, enabled=settings.general.audit_log, max_bytes=settings.general.audit_log_max_size)


async def _tui(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.cli.folders import make_data_dir
    from tad_tui.config import build_paths
    from tad_tui.paths import default_config_file
    from tad_tui.runtime import open_engine
    from tad_tui.ui.app import run_tui

    demo = args.demo
    if not demo and not settings.telegram.has_credentials:
        from tad_tui.ui.welcome import WelcomeApp

        chosen = await WelcomeApp(str(settings.config_file or default_config_file())).run_async()
        if not chosen:
            return EXIT_OK
        demo, paths = True, build_paths(settings, demo=True)  # its demo/, never the account's data dir, db_path or output_dir
        make_data_dir(paths)
        _start_logs(settings, paths, via="tui")  # the demo's data dir keeps its own logs
    async with open_engine(
        settings, paths, demo=demo, writer=True, connect=False, print_warnings=False, in_app=True,
        receive_updates=True,  # the followed groups' new posts arrive as Telegram pushes them
    ) as engine:
        await run_tui(engine)
    return EXIT_OK


async def _serve(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.ui.serve import ServeError, run_serve

    try:
        return await run_serve(args, settings, paths)
    except ServeError as error:
        raise UsageError(str(error)) from None


def _lazy(module: str, function: str) -> Callable[..., Awaitable[int]]:
    """A command run by ``module.function(args, settings, paths)``, imported only when it runs (a
    command's start pays for its own imports alone)."""

    async def run(args: argparse.Namespace, settings: Any, paths: Any) -> int:
        return await getattr(importlib.import_module(module), function)(args, settings, paths)

    return run


_COMMANDS: dict[str, Callable[..., Awaitable[int]]] = {
    "performance": _lazy("tad_tui.cli.performance", "run_performance"),
    "search": _lazy("tad_tui.cli.search", "run_search"),
    "tui": _tui,
    "serve": _serve,
    "groups": _groups,
    "scan": _scan,
    "download": _lazy("tad_tui.cli.download", "run_download"),
    "queue": _queue,
    "login": _login,
    "logout": _logout,
    "follow": _lazy("tad_tui.cli.follow", "run_follow"),
    "unfollow": _lazy("tad_tui.cli.follow", "run_unfollow"),
    "following": _lazy("tad_tui.cli.follow", "run_following"),
    "watch": _lazy("tad_tui.cli.follow", "run_watch"),
    "import-export": _lazy("tad_tui.cli.import_export", "run_import_export"),
    "remove": _lazy("tad_tui.cli.cleanup", "run_remove"),
    "verify": _lazy("tad_tui.cli.cleanup", "run_verify"),
    "playlist": _lazy("tad_tui.cli.library_out", "run_playlist"),
    "export": _lazy("tad_tui.cli.library_out", "run_export"),
    "rename": _lazy("tad_tui.cli.rename", "run_rename"),
    "notify-test": _lazy("tad_tui.cli.notify_test", "run_notify_test"),
}


if __name__ == "__main__":
    sys.exit(main())
