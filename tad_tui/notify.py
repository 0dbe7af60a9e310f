"""Notifications: a batch finished, a file failed for good, the queue ran empty.

Desktop notifications go through plyer where a desktop can show them (a D-Bus session, not over
SSH); elsewhere plyer would raise NotImplementedError after printing warnings, or run notify-send
that writes into the terminal, so it is not tried at all and the driver's own fallback is used:
the TUI's toast and bell, or a bell plus an OSC 777/9 terminal notification on the CLI's stderr
(written raw to the terminal, and held while a progress display is live: see ``terminal_fallback``).
On Linux without python-dbus, notify-send is run here with its output captured: plyer would let it
write over the TUI's screen and would not notice that it failed (no notification daemon).

Each notification also goes to the services of ``[notifications] urls`` (Apprise URLs), in the
background (notify_urls.py): a failing one is told once as a warning ``Notice``; ``close`` gives
what is still being sent a short, bounded wait at the end of a run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tad_tui.config import NotificationSettings
from tad_tui.download.events import BatchProgress, EntryFinished, Event, EventBus, NewAudio, Notice, QueueIdle
from tad_tui.library.text import printable
from tad_tui.words import counted

if TYPE_CHECKING:
    from tad_tui.notify_urls import ServiceSender

log = logging.getLogger(__name__)
Fallback = Callable[[str, str], None]


@dataclass(frozen=True)
class Notification:
    title: str
    message: str


def choose(event: Event, settings: NotificationSettings) -> Notification | None:
    """The notification an event deserves under the user's settings, if any."""
    if not settings.enabled:
        return None
    if isinstance(event, BatchProgress) and settings.on_batch_complete and event.done == event.total:
        failed = f", {event.failed} failed" if event.failed else ""
        return Notification("Batch complete", f"{event.name}: {counted(event.total, 'file')}{failed}")
    if isinstance(event, EntryFinished) and settings.on_file_failed and event.outcome == "failed":
        return Notification("Download failed", f"{event.file_id}: {event.error_message}")
    if isinstance(event, NewAudio) and settings.on_new_file:
        return Notification(f"New in {event.group_title}", event.name)
    if isinstance(event, QueueIdle) and settings.on_queue_empty:
        return Notification("Queue empty", f"{event.downloaded} downloaded, {event.failed} failed")
    return None


def desktop_available(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return False
    if sys.platform.startswith("linux"):
        return bool(env.get("DBUS_SESSION_BUS_ADDRESS"))
    return sys.platform in ("darwin", "win32")


def terminal_fallback(title: str, message: str) -> None:
    """Bell plus OSC 777 and OSC 9 on stderr, only when it is a terminal (never into a pipe).

    The bytes go straight to the descriptor of the process's real stderr, not through
    ``sys.stderr``: while Rich's live progress display runs, ``sys.stderr`` is Rich's proxy, which
    prints through its console, and its highlighter coloured the sequence and broke it
    ("]777;notify;tad-tui;Batch complete…" left on the screen). Even raw, the sequence must not be
    written while the display is live (it redraws over the cursor's line): the CLI holds them until
    the display has stopped (``ProgressBars.notify`` in cli/download.py).
    """
    fd = _terminal_stderr()
    if fd is None:
        return
    os.write(fd, osc_notification(title, message))


def osc_notification(title: str, message: str) -> bytes:
    """The bell and the two sequences; the text cannot end them early (no controls, no ";")."""
    safe = printable(f"{title}: {message}").replace(";", ",")
    return f"\a\x1b]777;notify;tad-tui;{safe}\x07\x1b]9;{safe}\x07".encode("utf-8", "replace")


def _terminal_stderr() -> int | None:
    """The real stderr's descriptor if it is a terminal (after what Python buffered there is out)."""
    stream = sys.__stderr__
    try:
        if stream is None:
            return None
        stream.flush()
        fd = stream.fileno()
        return fd if os.isatty(fd) else None
    except (OSError, ValueError):  # closed, or not a real file
        return None


class Notifier:
    """Subscribes to the engine's events and delivers what ``choose`` picks."""

    def __init__(self, settings: NotificationSettings, events: EventBus, fallback: Fallback) -> None:
        self.settings = settings
        self.fallback = fallback
        self.desktop = desktop_available()
        self.sent: list[Notification] = []
        self._complete: set[int] = set()  # batches whose last count said every entry finished
        self._announced = 0  # new files of followed groups told since the queue was last idle
        self._events = events
        self._loop: asyncio.AbstractEventLoop | None = None
        self.services: ServiceSender | None = None
        if settings.enabled and settings.urls:
            from tad_tui.notify_urls import ServiceSender

            self.services = ServiceSender(settings.urls, on_problem=self._tell_problem)
        events.subscribe(self._on_event)

    async def close(self) -> None:
        """The end of a run: a short, bounded wait for notifications still on their way to services
        (a "Queue empty" of a headless run would be lost), then any failure is told."""
        if self.services is not None:
            from tad_tui.notify_urls import EXIT_WAIT

            await asyncio.to_thread(self.services.drain, EXIT_WAIT)
            await asyncio.sleep(0)  # a failure's Notice, handed over from a sending thread

    def _tell_problem(self, text: str) -> None:
        """From a sending thread: a warning Notice on the loop (the CLI prints it, the app toasts it)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # the log and the audit log have it
        loop.call_soon_threadsafe(self._events.publish, Notice(text, title="Notifications", warning=True))

    def _on_event(self, event: Event) -> None:
        if isinstance(event, BatchProgress) and not self._newly_complete(event):
            return
        if isinstance(event, NewAudio):
            self._announced += 1
        if isinstance(event, QueueIdle):
            announced, self._announced = self._announced, 0
            if event.downloaded + event.failed <= announced:
                return  # only a followed group's new files, each told already ("New in …")
        note = choose(event, self.settings)
        if note is None:
            return
        self.sent.append(note)
        if self.services is not None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:  # published from outside the loop: a failure is only logged
                pass
            self.services.send(note.title, note.message)
        if self.desktop:
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, self._desktop, note, loop)
        else:
            self.fallback(note.title, note.message)

    def _newly_complete(self, event: BatchProgress) -> bool:
        """False for a count that repeats a completion already told: one "Batch complete" per batch
        reaching completion. A retry opens the batch again (the scheduler publishes the lower count),
        and when it completes again that is news, told again: whether the retried files made it."""
        if event.done < event.total:
            self._complete.discard(event.batch_id)
            return True
        if event.batch_id in self._complete:
            return False
        self._complete.add(event.batch_id)
        return True

    def _desktop(self, note: Notification, loop: asyncio.AbstractEventLoop) -> None:
        """In a worker thread: plyer may block on D-Bus or a subprocess."""
        try:
            show_on_desktop(note)
        except Exception:  # NotImplementedError and friends: the desktop cannot show it after all
            log.info("desktop notification unavailable; using the terminal", exc_info=True)
            self.desktop = False
            loop.call_soon_threadsafe(self.fallback, note.title, note.message)


def show_on_desktop(note: Notification) -> None:
    """Show ``note`` on the desktop or raise; never writes to this process's stdout or stderr."""
    if sys.platform.startswith("linux") and not _has_python_dbus():
        _notify_send(note)
        return
    from plyer import notification

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        notification.notify(title=note.title, message=note.message, app_name="tad-tui", timeout=8)


def _has_python_dbus() -> bool:
    try:
        import dbus  # noqa: F401  (what plyer uses in-process when it is there)
    except ImportError:
        return False
    return True


def _notify_send(note: Notification) -> None:
    program = shutil.which("notify-send")
    if program is None:
        raise NotImplementedError("neither python-dbus nor notify-send is installed")
    result = subprocess.run(
        # "--": a title from Telegram may start with "-"
        [program, "--app-name=tad-tui", "--expire-time=8000", "--", note.title, note.message],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=10,
        check=False,
    )
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
        raise OSError(f"notify-send failed: {reason}")
