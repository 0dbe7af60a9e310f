"""The folders one command writes in: checked before any work, made, and, for the demo, which of a
real library's settings it leaves aside (its database and downloads stay in its own data dir)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DB_FOLDER = "database folder (general.db_path or DB_PATH)"
DOWNLOAD_FOLDER = "download folder (-o/--output, downloads.output_dir or DEFAULT_DOWNLOAD_DIR)"
DEMO_DOWNLOAD_FOLDER = "demo download folder (demo.output_dir or TAD_DEMO_OUTPUT_DIR)"


def check_folders(args: argparse.Namespace, paths: Any, *, ignored: Sequence[tuple[Path, str]] = ()) -> None:
    """UsageError naming the option and key when a folder tad-tui writes in cannot be made or written.

    ``ignored``: the folders of a real library's settings that the demo leaves aside, with their
    names. They are not written, so only a value that can never be a folder (one under a regular
    file) is refused: a broken config is reported as it would be without ``--demo``, while a real
    library's drive that is not mounted or not writable right now does not stop the demo.
    """
    from tad_tui.cli import UsageError
    from tad_tui.paths import folder_problem

    folders = [(paths.data_dir, "data dir (--data-dir, general.data_dir or TAD_DATA_DIR)"), (paths.db.parent, DB_FOLDER)]
    if args.demo:
        folders.append((paths.demo_catalogue_dir, "demo catalogue folder (demo.catalogue_dir)"))
    if _downloading(args):
        demo_folder = args.demo and paths.output_override is not None and getattr(args, "output", None) is None
        folders.append((paths.downloads_dir, DEMO_DOWNLOAD_FOLDER if demo_folder else DOWNLOAD_FOLDER))
    problems = [(folder_problem(folder), what) for folder, what in folders]
    problems += [(folder_problem(folder, writing=False), what) for folder, what in ignored]
    for problem, what in problems:
        if problem is not None:
            raise UsageError(f"{what}: {problem}")


def _downloading(args: argparse.Namespace) -> bool:
    """Whether this command's download folder is checked before it starts (it downloads, or names one)."""
    return args.command in ("download", "tui", "watch", "import-export", "rename") or (args.command == "follow" and bool(args.output))


def ignored_folders(args: argparse.Namespace, settings: Any, keys: Sequence[Any]) -> list[tuple[Path, str]]:
    """The folders of the settings in ``keys`` (``config.ignored_by_demo``), named as ``check_folders`` names them."""
    folders = []
    for key in keys:
        if key.dotted == "general.db_path":
            folders.append((settings.general.db_path.parent, DB_FOLDER))
        elif _downloading(args):
            folders.append((settings.downloads.output_dir, DOWNLOAD_FOLDER))
    return folders


def tell_ignored(settings: Any, paths: Any, keys: Sequence[Any]) -> None:
    """One stderr line naming the real library's settings the demo leaves aside, and what it uses instead."""
    if not keys:
        return
    from tad_tui.api import escape_unsafe

    instead = {"general.db_path": f"its library is {paths.db}", "downloads.output_dir": f"it saves to {paths.downloads_dir}"}
    parts = [f"{key.dotted} from {_origin(settings, key)} ({instead[key.dotted]})" for key in keys]
    print(escape_unsafe(f"tad-tui: demo: ignoring {' and '.join(parts)}"), file=sys.stderr)


def _origin(settings: Any, key: Any) -> str:
    """Where a path key the demo ignores was set: its environment variable wins over the config file
    (neither has a command-line option the demo would leave aside: ``-o`` is used)."""
    if os.environ.get(key.env, "").strip():
        return f"environment variable {key.env}"
    return f"config file {settings.config_file}"


def make_data_dir(paths: Any) -> None:
    """Create the data dir and its folders, or a UsageError naming the one that cannot be made.

    ``folder_problem`` cannot foresee everything: as root ``os.access`` allows writing in /sys or
    /proc, where ``mkdir`` still fails (EPERM, ENOENT).
    """
    from tad_tui.cli import UsageError

    try:
        paths.ensure()
    except OSError as error:
        folder = error.filename or paths.data_dir
        raise UsageError(
            f"data dir (--data-dir, general.data_dir or TAD_DATA_DIR): {folder} cannot be created: "
            f"{error.strerror or error}"
        ) from None
