"""The full-screen app (no command) and ``serve`` (the app in a browser)."""

from __future__ import annotations

import argparse
from typing import Any

from tad_tui.cli import EXIT_OK, UsageError, start_logs


async def run_app(args: argparse.Namespace, settings: Any, paths: Any) -> int:
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
        start_logs(settings, paths, via="tui")  # the demo's data dir keeps its own logs
    async with open_engine(
        settings, paths, demo=demo, writer=True, connect=False, print_warnings=False, in_app=True,
        receive_updates=True,  # the followed groups' new posts arrive as Telegram pushes them
    ) as engine:
        await run_tui(engine)
    return EXIT_OK


async def run_in_browser(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    from tad_tui.ui.serve import ServeError, run_serve

    try:
        return await run_serve(args, settings, paths)
    except ServeError as error:
        raise UsageError(str(error)) from None
