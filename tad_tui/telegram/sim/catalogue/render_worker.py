"""A catalogue render worker: ``python -m tad_tui.telegram.sim.catalogue.render_worker <parent pid>``.

Reads pickled ``(root, [FilePlan, ...])`` tasks on stdin and answers ``("ok", document_id, size,
md5)`` per file (or ``("error", message)``) on stdout. It never outlives its parent: on Linux the
kernel kills it when the parent dies (``PR_SET_PDEATHSIG``); elsewhere it stops before a task when
its parent is gone, and at the end of stdin, which the parent's death closes.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Be killed when ``parent`` dies; exit at once if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # died before the request took effect
        os._exit(0)


def main(argv: list[str]) -> int:
    parent = int(argv[1])
    die_with_parent(parent)
    # Ctrl-C in the terminal goes to the whole process group: the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from tad_tui.telegram.sim.catalogue.render import render_file

    tasks, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            root, batch = pickle.load(tasks)
        except EOFError:
            return 0
        for file in batch:
            if os.getppid() != parent:
                return 0
            try:
                answer = ("ok", *render_file(Path(root), file))
            except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
                answer = ("error", f"rendering {file.relpath}: {error}")
            try:
                pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
                answers.flush()
            except BrokenPipeError:
                return 0
            if answer[0] == "error":
                return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
