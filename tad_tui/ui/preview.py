"""A downloaded track played with the system's player, and a file's path shown and copied.

``o`` starts ``[ui] player`` (or the system's opener: xdg-open on Linux, open on macOS) on the file,
detached: its own session, stdin/stdout/stderr on /dev/null, so it never takes the terminal over.
Over SSH without a player of your own (the opener would open it on the far machine, if anywhere),
or when the command cannot start, the app says so and shows the path, copied via OSC 52.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from textual.widget import Widget

from tad_tui.ui import figures

SSH_VARIABLES = ("SSH_CONNECTION", "SSH_TTY")
OPENERS = {"darwin": "open"}  # elsewhere (Linux, the BSDs): xdg-open
DEFAULT_OPENER = "xdg-open"


class NoPlayer(Exception):
    """Nothing here can play the file: the reason, in words."""


def over_ssh(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) for name in SSH_VARIABLES)


def player_command(
    player: str,
    path: Path,
    *,
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str]:
    """The command line that plays ``path``: ``player`` with the path last, else the system's opener.
    Raises NoPlayer over SSH (with no player of one's own) or when the opener is not installed."""
    if player.strip():
        return [*shlex.split(player), str(path)]
    if over_ssh(environ):
        raise NoPlayer("Over SSH nothing here can play it: set [ui] player to a command that can")
    opener = OPENERS.get(platform, DEFAULT_OPENER)
    if which(opener) is None:
        raise NoPlayer(f"There is no {opener} here to open it: set [ui] player, e.g. \"mpv --no-video\"")
    return [opener, str(path)]


def start_detached(argv: list[str]) -> None:
    """Start ``argv`` in its own session with no terminal: it outlives nothing and draws nothing here.
    Raises NoPlayer if it cannot start."""
    try:
        subprocess.Popen(  # noqa: S603 - the user's own player, no shell
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
    except OSError as error:
        raise NoPlayer(f"The player {argv[0]} could not start: {error.strerror or error}") from None


def show_path(widget: Widget, path: Path, *, title: str, note: str = "", severity: str = "information") -> None:
    """The file's path and folder in a toast, the path copied to the clipboard (OSC 52: works over SSH)."""
    widget.app.copy_to_clipboard(str(path))
    widget.notify(
        f"{path}\nFolder: {path.parent}{note}\nThe path is copied to the clipboard",
        title=title, timeout=15, markup=False, severity=severity,  # type: ignore[arg-type]
    )


def play(widget: Widget, player: str, local_path: str | None, name: str) -> None:
    """``o`` on a track: play its file, or say why not (and show the path where there is one)."""
    shown = figures.clean(name)
    if not local_path:
        widget.notify(f"{shown} has no file of its own on disk: queue it first", severity="warning", markup=False)
        return
    path = Path(local_path)
    if not path.is_file():
        widget.notify(
            f"{shown}: its file is gone from disk ({path}); queue it again to fetch it", severity="warning",
            markup=False,
        )
        return
    try:
        start_detached(player_command(player, path))
    except NoPlayer as why:
        show_path(widget, path, title=f"Not played: {shown}", note=f"\n{why}", severity="warning")
        return
    widget.notify(f"Playing {shown}", markup=False)


def seen_word(word: str, local_path: str | None) -> str:
    """A track's word as the app shows it: "missing" for a downloaded one whose file is gone."""
    if word == "downloaded" and local_path and not os.path.exists(local_path):
        return "missing"
    return word
