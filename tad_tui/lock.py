"""One writer per data dir: an advisory lock held for the life of the writing process.

The kernel drops a ``flock`` when its holder dies, even by SIGKILL, so a stale lock file never
blocks the next run. The holder's pid is written into the file so the refusal can name it.

A holder can share its lock with a child it starts (``tad-tui serve`` with the app of a browser
session): the child gets the locked descriptor and its number in ``TAD_WRITER_LOCK_FD``, and takes
it over instead of locking anew, so no other tad-tui can slip in between the two. A ``flock``
belongs to the open file, shared by both: the child's release only closes its descriptor.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from tad_tui import audit
from tad_tui.library.text import escape_unsafe

SHARED_FD_ENV = "TAD_WRITER_LOCK_FD"


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
        self._shared = False  # the descriptor came from the parent that holds the lock too

    @property
    def fd(self) -> int | None:
        """The locked descriptor (None when not held): for a child to take over (``SHARED_FD_ENV``)."""
        return self._fd

    def _inherited(self) -> int | None:
        """The parent's locked descriptor of this very file, if it passed one."""
        given = os.environ.pop(SHARED_FD_ENV, None)
        if given is None or not given.isdigit():
            return None
        fd = int(given)
        try:
            mine, theirs = os.fstat(fd), os.stat(self.path)
        except OSError:
            return None
        if (mine.st_dev, mine.st_ino) != (theirs.st_dev, theirs.st_ino):
            return None  # some other file: not ours to touch
        os.set_inheritable(fd, False)  # what this process starts does not hold the data dir
        return fd

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._inherited()
        self._shared = fd is not None
        if fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder, host = _holder(os.pread(fd, 300, 0).decode(errors="replace"))
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
        self._fd = fd
        self.stamp()

    def stamp(self) -> None:
        """Write this process as the holder (again, once a child that had taken the lock over ended)."""
        if self._fd is not None:
            text = f"{os.getpid()} {socket.gethostname()}".encode()
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, text, 0)  # at 0: a shared descriptor's offset is the other's too

    def release(self) -> None:
        if self._fd is not None:
            if not self._shared:  # unlocking a shared one would free the parent's lock too
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            self._shared = False

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
