"""Which events notify, and that delivery never needs a desktop (nor writes into a pipe)."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
from dataclasses import replace
from pathlib import Path

from tad_tui.config import default_settings
from tad_tui.download.events import BatchProgress, EntryFinished, EventBus, NewAudio, QueueIdle
from tad_tui.notify import Notifier, choose, desktop_available, osc_notification

SETTINGS = default_settings().notifications


def test_each_event_kind_follows_its_setting() -> None:
    done = BatchProgress(1, "Classical", 44, 44, 1)
    failed = EntryFinished(3, "f_3", "failed", error_message="disk full: no space left")
    idle = QueueIdle(43, 1)
    assert choose(done, SETTINGS).message == "Classical: 44 files, 1 failed"
    assert choose(BatchProgress(1, "Classical", 10, 44, 0), SETTINGS) is None
    assert "disk full" in choose(failed, SETTINGS).message
    assert choose(EntryFinished(3, "f_3", "downloaded"), SETTINGS) is None
    assert choose(idle, SETTINGS).title == "Queue empty"
    assert choose(done, replace(SETTINGS, on_batch_complete=False)) is None
    assert choose(failed, replace(SETTINGS, on_file_failed=False)) is None
    assert choose(idle, replace(SETTINGS, on_queue_empty=False)) is None
    assert choose(done, replace(SETTINGS, enabled=False)) is None
    new = NewAudio(-1001, "Jazz Archive", 7, "-1001_7", "Bill Evans – Peace Piece")
    assert (choose(new, SETTINGS).title, choose(new, SETTINGS).message) == ("New in Jazz Archive", "Bill Evans – Peace Piece")
    assert choose(new, replace(SETTINGS, on_new_file=False)) is None
    assert choose(new, replace(SETTINGS, enabled=False)) is None


def test_no_desktop_over_ssh_or_without_a_session_bus() -> None:
    assert not desktop_available({"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22", "DBUS_SESSION_BUS_ADDRESS": "x"})
    assert not desktop_available({})


async def test_without_a_desktop_the_fallback_gets_it() -> None:
    bus = EventBus()
    shown: list[tuple[str, str]] = []
    notifier = Notifier(SETTINGS, bus, lambda title, message: shown.append((title, message)))
    notifier.desktop = False
    bus.publish(BatchProgress(1, "Mixes", 5, 5, 0))
    bus.publish(BatchProgress(2, "Single", 1, 1, 0))
    assert shown == [("Batch complete", "Mixes: 5 files"), ("Batch complete", "Single: 1 file")]


async def test_one_batch_complete_per_batch_reaching_completion() -> None:
    bus = EventBus()
    shown: list[str] = []
    notifier = Notifier(SETTINGS, bus, lambda title, message: shown.append(message))
    notifier.desktop = False
    for count in [(4, 5, 0), (5, 5, 1), (5, 5, 1), (1, 1, 0), (5, 5, 1)]:  # the same count twice, another batch
        bus.publish(BatchProgress(1 if count[1] == 5 else 2, "Mixes" if count[1] == 5 else "Single", *count))
    assert shown == ["Mixes: 5 files, 1 failed", "Single: 1 file"]
    bus.publish(BatchProgress(1, "Mixes", 4, 5, 0))  # the failed file retried: the batch is open again
    bus.publish(BatchProgress(1, "Mixes", 5, 5, 0))
    assert shown[2:] == ["Mixes: 5 files"]


def test_the_terminal_notification_cannot_be_ended_early_by_its_text() -> None:
    sequence = osc_notification("Download failed", "a\x1b]0;evil\x07b;c\x9cd\ne")
    assert sequence.count(b"\x1b") == 2 and sequence.count(b"\x07") == 3  # the bell and the two ends
    assert b"Download failed: ab,c d e\x07" in sequence  # the title-setting sequence gone whole


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_headless_download_on_a_terminal_writes_the_osc_intact_after_the_progress_display(
    tmp_path: Path, demo_config: Path
) -> None:
    """Run as in tmux: stderr a terminal, so Rich's progress bars are live while the batch completes."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"DBUS_SESSION_BUS_ADDRESS", "TAD_DATA_DIR", "COLUMNS"}}
    args = ["--config", str(demo_config), "--demo", "--data-dir", str(tmp_path / "data")]
    child = subprocess.Popen(
        [sys.executable, "-m", "tad_tui", *args, "download", "@tad_demo_mixes", "-o", str(tmp_path / "out")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env={**env, "TERM": "xterm-256color", "HOME": str(tmp_path)},
    )
    os.close(slave)
    screen = _read_all(master)
    os.close(master)
    assert child.wait(timeout=120) == 0 and child.stdout.read().strip().endswith(b"0 failed")
    assert b"Traceback" not in screen
    batch = "Batch complete: TAD Demo · DJ Mixes: 5 files".encode()
    # Whole, with nothing (no colour codes) inside: the terminal turns them into a notification.
    for sequence in (b"\x1b]777;notify;tad-tui;" + batch + b"\x07", b"\x1b]9;" + batch + b"\x07"):
        assert screen.count(sequence) == 1, screen[-600:]
    empty = b"Queue empty: 5 downloaded, 0 failed\x07"
    assert screen.count(b"\x1b]777;notify;tad-tui;" + empty) == 1 and screen.count(b"\x1b]9;" + empty) == 1
    assert screen.count(b"]777;") == 2 and screen.count(b"]9;") == 2  # no broken copies either
    display_stopped = screen.rindex(b"\x1b[?25h")  # Rich shows the cursor again when the bars stop
    assert screen.index(b"]777;") > display_stopped


async def test_a_followed_groups_new_file_is_told_once_not_again_as_queue_empty() -> None:
    bus = EventBus()
    shown: list[tuple[str, str]] = []
    notifier = Notifier(SETTINGS, bus, lambda title, message: shown.append((title, message)))
    notifier.desktop = False
    bus.publish(NewAudio(-1005, "Live Radio", 9, "-1005_9", "Helix – Quiet Tide"))
    bus.publish(QueueIdle(1, 0))  # that one file, downloaded: nothing more to say
    assert shown == [("New in Live Radio", "Helix – Quiet Tide")]
    bus.publish(NewAudio(-1005, "Live Radio", 10, "-1005_10", "Helix – Paper Echo"))
    bus.publish(QueueIdle(3, 0))  # more than the followed file: a spell of other work ended
    assert shown[1:] == [("New in Live Radio", "Helix – Paper Echo"), ("Queue empty", "3 downloaded, 0 failed")]
    bus.publish(QueueIdle(1, 0))  # the count starts again after each idle
    assert shown[-1] == ("Queue empty", "1 downloaded, 0 failed")
