"""The ``tad-tui`` command: headless commands over the same engine the TUI drives.

Exit status: 0 done, 1 the work failed (Telegram, disk…), 2 bad input (options, config, a data dir in
use, a damaged database), 130 interrupted. No traceback ever reaches the terminal: unexpected errors
go to the log file and the user gets one line saying where.

Here: ``main`` (parse, load the settings and paths, start the logs, run the command, turn its errors
into one line and an exit status) and the command table. The grammar is in ``parser``; each command
runs from its own module, imported only when it runs.
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
from typing import Any

from tad_tui.cli.parser import build_parser

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


class UsageError(Exception):
    """Bad input that argparse could not catch; exit status 2."""


def window_of(args: argparse.Namespace) -> Any:
    """The ScanWindow of --since, --until and --ids (UsageError if --since is after --until)."""
    from tad_tui.api import scan_window

    try:
        return scan_window(args.since, args.until, args.ids)
    except ValueError as error:
        raise UsageError(str(error)) from None


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
        option = f"command-line option for {error.key}"  # tad_tui.config's words for an override
        return _fail(str(error).replace(option, f"option {flag} (for {error.key})") if flag else str(error), EXIT_USAGE)
    except UsageError as error:
        return _fail(str(error), EXIT_USAGE)
    start_logs(settings, paths, via="tui" if args.command == "tui" else "cli")
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


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def start_logs(settings: Any, paths: Any, *, via: str) -> None:
    """The log file and the audit log, in the data dir of ``paths``."""
    from tad_tui.audit import setup_audit
    from tad_tui.runtime import setup_logging

    setup_logging(settings, paths)
    setup_audit(paths, via=via, enabled=settings.general.audit_log, max_bytes=settings.general.audit_log_max_size)


def _lazy(module: str, function: str) -> Callable[..., Awaitable[int]]:
    """A command run by ``module.function(args, settings, paths)``, imported only when it runs (a
    command's start pays for its own imports alone)."""

    async def run(args: argparse.Namespace, settings: Any, paths: Any) -> int:
        return await getattr(importlib.import_module(module), function)(args, settings, paths)

    return run


_COMMANDS: dict[str, Callable[..., Awaitable[int]]] = {
    "performance": _lazy("tad_tui.cli.performance", "run_performance"),
    "search": _lazy("tad_tui.cli.search", "run_search"),
    "tui": _lazy("tad_tui.cli.app", "run_app"),
    "serve": _lazy("tad_tui.cli.app", "run_in_browser"),
    "groups": _lazy("tad_tui.cli.groups", "run_groups"),
    "scan": _lazy("tad_tui.cli.groups", "run_scan"),
    "download": _lazy("tad_tui.cli.download", "run_download"),
    "queue": _lazy("tad_tui.cli.queue", "run_queue"),
    "login": _lazy("tad_tui.cli.login", "run_login"),
    "logout": _lazy("tad_tui.cli.login", "run_logout"),
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