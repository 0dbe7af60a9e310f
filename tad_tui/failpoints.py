"""A test hook: stop this process dead at a named point, to prove a crash there loses nothing.

Only tests set it. ``TAD_TUI_FAILPOINT="name[:n][=action]"`` (several joined by commas): the n-th
time (default 1) the engine reaches ``hit("name")``, the process is killed with SIGKILL (action
``kill``, the default), gets a SIGINT as from Ctrl+C (action ``int``) or a SIGTERM as from
``docker stop`` (action ``term``). Read once at import; when
unset, ``hit`` returns at its first line. The named points, each just after the step it names:

- ``scan.page``       a batch of audio rows written, its transaction not yet committed
- ``scan.committed``  a batch committed, the group's last_message_id not yet saved
- ``queue.enqueue``   one queue entry created, the enqueue transaction not yet committed
- ``scheduler.stopping`` the scheduler about to stop its transfers (after a run, or on Ctrl+C)
- ``transfer.saved``  a transfer's part map saved to the database
- ``job.tagged``      missing tags written into the finished ``.part`` file
- ``job.fsynced``     the ``.part`` file fsynced, not yet renamed into place
- ``job.renamed``     the file renamed into place, the database not yet told
- ``rename.moved``    a file moved by ``tad-tui rename``, the rows naming it not yet updated
- ``job.finishing``   the AudioFile row written as completed, inside the transaction that also
                      completes the QueueEntry
"""

from __future__ import annotations

import os
import signal

ENV = "TAD_TUI_FAILPOINT"


def _parse(spec: str) -> dict[str, tuple[int, str]]:
    armed: dict[str, tuple[int, str]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        point, _, action = item.partition("=")
        name, _, count = point.partition(":")
        armed[name] = (int(count or 1), action or "kill")
    return armed


_ARMED = _parse(os.environ.get(ENV, ""))
_seen: dict[str, int] = {}


def hit(name: str) -> None:
    """Reached the named point: act if TAD_TUI_FAILPOINT names it and this is the n-th time."""
    if not _ARMED or name not in _ARMED:
        return
    _seen[name] = _seen.get(name, 0) + 1
    count, action = _ARMED[name]
    if _seen[name] != count:
        return
    if action == "int":
        signal.raise_signal(signal.SIGINT)
    elif action == "term":
        signal.raise_signal(signal.SIGTERM)
    else:
        os.kill(os.getpid(), signal.SIGKILL)
