"""The command line's grammar: ``build_parser`` with every subcommand, and the checks its values pass.

Each ``type=`` function turns bad text into argparse's one-line error (exit status 2) before anything
starts; the commands that live in their own modules add their subparsers through the hooks here.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from tad_tui import __version__

PRIORITIES = ("low", "normal", "high", "critical")

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


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (what is wrong, where to read more) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        from tad_tui.api import escape_unsafe
        from tad_tui.cli import EXIT_USAGE

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

