"""From the engine's synchronous event bus to Textual messages, merging high-rate progress."""

from __future__ import annotations

from collections.abc import Callable

from textual.message_pump import MessagePump

from tad_tui.api import EntryFinished, EntryProgress, EntryStarted, Event, EventBus
from tad_tui.ui.messages import EngineEvent, ProgressTick


class EngineBridge:
    """Subscribes to the engine; every event but progress is posted at once to each target.

    Progress arrives per part (hundreds a second): only the latest per entry is kept, and
    ``flush`` (on the app's 4 Hz timer) posts it as one ProgressTick.
    """

    def __init__(self, events: EventBus) -> None:
        self._events = events
        self.targets: list[MessagePump] = []
        self.names: dict[int, str] = {}  # entry id -> file name, for panes that show running entries
        self._latest: dict[int, EntryProgress] = {}
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._events.subscribe(self._on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: Event) -> None:
        if isinstance(event, EntryProgress):
            self._latest[event.entry_id] = event
            return
        if isinstance(event, EntryStarted):
            self.names[event.entry_id] = event.name
        elif isinstance(event, EntryFinished):
            # A progress event still waiting for the tick would paint a finished entry as unfinished.
            self._latest.pop(event.entry_id, None)
        for target in self.targets:
            target.post_message(EngineEvent(event))

    def flush(self) -> None:
        if not self._latest:
            return
        latest, self._latest = self._latest, {}
        for target in self.targets:
            target.post_message(ProgressTick(dict(latest)))
