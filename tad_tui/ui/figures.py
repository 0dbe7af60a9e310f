"""Numbers as the panes print them: durations, speeds, ages, progress bars (plain text, no widgets)."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from tad_tui.api import printable, status_word
from tad_tui.sizes import format_size

# One look per state word (tad_tui.library.status), in every pane.
STATE_STYLE = {
    "new": "",
    "queued": "cyan",
    "waiting": "yellow",
    "running": "bold cyan",
    "paused": "yellow",
    "yielded": "yellow",  # queued again: it gave its slot to a more urgent download
    "downloaded": "green",
    "missing": "magenta",  # downloaded once, its file gone since
    "failed": "bold red",
    "cancelled": "dim",
}
BAR_FULL = "█"
BAR_PARTIAL = " ▏▎▍▌▋▊▉"  # eighths of a cell, so a narrow bar still moves smoothly


def duration(seconds: int | float | None) -> str:
    """``3:07`` or ``1:02:03``; an empty string when unknown."""
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def speed(bytes_per_second: float | None) -> str:
    if not bytes_per_second:
        return ""
    return f"{format_size(int(bytes_per_second))}/s"


def eta(remaining_bytes: int, bytes_per_second: float | None) -> str:
    if not bytes_per_second or remaining_bytes <= 0:
        return ""
    return duration(remaining_bytes / bytes_per_second)


def age(then: datetime | None, now: datetime) -> str:
    """How long ago, coarse on purpose: "just now", "5 min ago", "3 h ago", "2 d ago", or a date."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)} d ago"
    return then.date().isoformat()


def bar(done: int, total: int, width: int) -> str:
    """A progress bar of ``width`` cells drawn with eighth blocks."""
    if width <= 0:
        return ""
    share = 0.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
    eighths = round(share * width * 8)
    full, partial = divmod(eighths, 8)
    text = BAR_FULL * full + (BAR_PARTIAL[partial] if partial else "")
    return text.ljust(width)


def percent(done: int, total: int) -> str:
    if total <= 0:
        return ""
    return f"{min(done / total, 1.0) * 100:.0f}%"


def audio_format(mime_type: str | None, file_name: str | None) -> str:
    """The short format name people know: mp3, flac, ogg…"""
    if file_name and "." in file_name:
        extension = file_name.rsplit(".", 1)[1].lower()
        if 1 <= len(extension) <= 5 and extension.isalnum():
            return extension
    if mime_type and "/" in mime_type:
        subtype = mime_type.split("/", 1)[1].lower()
        return {"mpeg": "mp3", "x-flac": "flac", "x-wav": "wav", "mp4": "m4a"}.get(subtype, subtype)
    return ""


def clean(text: str | None) -> str:
    """Text from Telegram made safe to draw: no escape sequences, controls or bidi/zero-width marks."""
    return printable(text)


def state(queue_state: str) -> Text:
    """A queue entry's or a track's state in its one word and style ("completed" reads "downloaded")."""
    word = status_word(queue_state)
    return Text(word, style=STATE_STYLE.get(word, ""))
