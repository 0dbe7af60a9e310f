"""The terminal driver: Textual's, except that a terminal gone away (an SSH link dropped, a pty
closed) ends the app instead of hanging it.

Textual writes to the terminal from a thread fed by a bounded queue. When the terminal goes away
the write fails, the thread ends, and the next writes fill the queue: the app then blocked for
ever in ``Queue.put`` — its event loop stopped, so neither SIGTERM nor anything else could end it,
and it kept the data dir's writer lock (every later command refused) and spun a core on the dead
terminal's input. Here a write that finds the writer gone drops the output and asks the app to
exit, as ctrl+q does: downloads stop resumably and the lock is let go.
"""

from __future__ import annotations

import queue
import select
import threading
from typing import Any

from textual.drivers.linux_driver import LinuxDriver

PUT_WAIT = 0.5  # seconds a write waits for room before it looks whether the writer is still there
HANGUP_CHECK = 1.0  # seconds between looks at whether the terminal hung up (an idle app writes nothing)


class _Gone:
    """Stands in for the dead writer thread: what is written goes nowhere."""

    def write(self, text: str) -> None:
        pass

    def stop(self) -> None:
        pass


class TerminalDriver(LinuxDriver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.terminal_gone = False
        self._watching = threading.Event()

    def start_application_mode(self) -> None:
        super().start_application_mode()
        self._watching.set()
        threading.Thread(target=self._watch_for_hangup, name="tad-hangup", daemon=True).start()

    def stop_application_mode(self) -> None:
        self._watching.clear()
        super().stop_application_mode()

    def _watch_for_hangup(self) -> None:
        """The terminal's side closed (a pty's master, without a SIGHUP): the input says POLLHUP."""
        poller = select.poll()
        poller.register(self.fileno, select.POLLHUP)
        while self._watching.is_set():
            try:
                events = poller.poll(HANGUP_CHECK * 1000)
            except OSError:
                return
            if events:  # only POLLHUP, POLLERR or POLLNVAL come unasked
                if self._watching.is_set():
                    self._loop.call_soon_threadsafe(self._lost_terminal)
                return

    def write(self, data: str) -> None:
        writer = self._writer_thread
        if writer is None or isinstance(writer, _Gone):
            return
        while True:
            try:
                writer._queue.put(data, timeout=PUT_WAIT)  # textual is pinned: its writer's queue
                return
            except queue.Full:
                if writer.is_alive():
                    continue  # a slow terminal: wait on
            self._lost_terminal()
            return

    def close(self) -> None:
        writer = self._writer_thread
        if writer is not None and not isinstance(writer, _Gone) and not writer.is_alive():
            self._writer_thread = _Gone()  # type: ignore[assignment]  # its stop() would wait on a full queue
        super().close()

    def _lost_terminal(self) -> None:
        if self.terminal_gone:
            return
        self.terminal_gone = True
        self._writer_thread = _Gone()  # type: ignore[assignment]
        self._app.exit()
