"""Which events notify, and that delivery never needs a desktop (nor writes into a pipe)."""

from __future__ import annotations

from dataclasses import replace

from tad_tui.config import default_settings
from tad_tui.download.events import BatchProgress, EntryFinished, EventBus, QueueIdle
from tad_tui.notify import Notifier, choose, desktop_available

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
