"""Messages that cross widgets: engine events turned into Textual messages, and pane-to-pane news."""

from __future__ import annotations

from textual.message import Message

from tad_tui.api import EntryProgress, Event


# bubble=False: the bridge posts one to the app and one to each pane; bubbling up, a pane's copy
# would reach the app again (a Notice shown as four toasts).
class EngineEvent(Message, bubble=False):
    """A low-rate engine event (started, finished, waiting, batch, notice), delivered as it happens."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class ProgressTick(Message):
    """The latest progress of every entry that moved since the last tick (painted at 4 Hz)."""

    def __init__(self, latest: dict[int, EntryProgress]) -> None:
        super().__init__()
        self.latest = latest

    def can_replace(self, message: Message) -> bool:
        # Textual asks the older message whether the newer pending one supersedes it: only if the
        # newer tick covers every entry of this one, or those entries' last progress would be lost.
        return isinstance(message, ProgressTick) and self.latest.keys() <= message.latest.keys()


class QueueChanged(Message):
    """Entries were added to the queue outside the queue pane: it reloads its rows."""


class ScanProgressed(Message):
    """A scan stored another page of audio messages."""

    def __init__(self, group_id: int, title: str, new: int) -> None:
        super().__init__()
        self.group_id = group_id
        self.title = title
        self.new = new

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgressed) and message.group_id == self.group_id


class ScanFinished(Message):
    def __init__(self, group_id: int, title: str, new: int, total: int) -> None:
        super().__init__()
        self.group_id = group_id
        self.title = title
        self.new = new
        self.total = total
