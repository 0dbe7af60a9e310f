"""One writer per data dir: an advisory lock held for the life of the writing process.

The kernel drops a ``flock`` when its holder dies, even by SIGKILL, so a stale lock file never
blocks the next run. The holder's pid is written into the file so the refusal can name it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tad_tui import audit


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
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            reason = "another tad-tui is writing to this data dir"
            audit.record("lock_data_dir", "refused", reason, data_dir=str(self.path.parent), holder_pid=holder)
            raise DataDirBusy(
                f"another tad-tui (pid {holder}) is using {self.path.parent}; "
                "wait for it to finish, or use --data-dir for a separate library "
                "(search, queue and performance work beside it)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
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
