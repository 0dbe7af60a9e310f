"""``tad-tui notify-test``: a test message to each configured notification URL, and how each went."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

from tad_tui.words import counted

DESCRIPTION = """\
Send a test message ("tad-tui test", saying which machine and data dir it comes from) to each URL of
[notifications] urls (or TAD_NOTIFY_URLS), and print for each, masked, whether it worked and why not.
Exit 0 if every URL worked, 1 if any failed, 2 if none is configured."""

TITLE = "tad-tui test"
HOW_TO_CONFIGURE = (
    "no notification URL is configured: set [notifications] urls in config.toml "
    '(e.g. urls = ["ntfy://ntfy.sh/YOUR-TOPIC"]) or the environment variable TAD_NOTIFY_URLS '
    "to one or more Apprise URLs"
)


def add_notify_test_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    parser = commands.add_parser(
        "notify-test", help="send a test notification to each configured URL (Apprise) and say how each went",
        description=DESCRIPTION,
    )
    common(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON object")


async def run_notify_test(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui import audit
    from tad_tui.cli import EXIT_FAILED, EXIT_OK, UsageError
    from tad_tui.notify_urls import send_test

    urls = settings.notifications.urls
    if not urls:
        raise UsageError(HOW_TO_CONFIGURE)
    body = f"A test notification from tad-tui on {socket.gethostname()}, data dir {paths.data_dir}" + (
        " (demo)" if args.demo else ""
    )
    deliveries = await asyncio.to_thread(send_test, urls, TITLE, body)
    for delivery in deliveries:
        audit.record("notify_test", "ok" if delivery.ok else "failed", delivery.reason, url=delivery.url)
    worked = sum(delivery.ok for delivery in deliveries)
    if args.json:
        print(json.dumps({
            "urls": [delivery.to_json() for delivery in deliveries],
            "worked": worked, "failed": len(deliveries) - worked,
            "enabled": settings.notifications.enabled,
        }, ensure_ascii=False, indent=2))  # fmt: skip
    else:
        for delivery in deliveries:
            print(f"ok      {delivery.url}" if delivery.ok else f"failed  {delivery.url}: {delivery.reason}")
        print(f"{worked} of {counted(len(deliveries), 'URL')} worked")
        if not settings.notifications.enabled:
            print("note: [notifications] enabled is false, so downloads send nothing to them")
    return EXIT_OK if worked == len(deliveries) else EXIT_FAILED
