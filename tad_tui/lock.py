"""One writer per data dir: an advisory lock held for the life of the writing process.

The kernel drops a ``flock`` when its holder dies, even by SIGKILL, so a stale lock file never
blocks the next run. The holder's pid is written into the file so the refusal can name it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from tad_tui import audit
from tad_tui.library.text import escape_unsafe


def _holder(text: str) -> tuple[str, str]:
    """The pid and host name the lock's holder wrote ("PID HOST"; older files hold the pid alone)."""
    pid, _, host = text.strip().partition(" ")
    return pid or "unknown", host.strip()[:64]


class DataDirBusy(Exception):
    """Another process is writing to this data dir."""


class WriterLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder, host = _holder(os.read(fd, 300).decode(errors="replace"))
            os.close(fd)
            reason = "another tad-tui is writing to this data dir"
            audit.record("lock_data_dir", "refused", reason, data_dir=str(self.path.parent), holder_pid=holder)
            # A pid is another machine's, or another container's, when the host name is not ours
            # (two containers sharing a volume are both pid 1).
            where = f" on {escape_unsafe(host)}" if host and host != socket.gethostname() else ""
            raise DataDirBusy(
                f"another tad-tui (pid {holder}{where}) is using {self.path.parent}; "
                "wait for it to finish, or use --data-dir for a separate library "
                "(search, queue and performance work beside it)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
