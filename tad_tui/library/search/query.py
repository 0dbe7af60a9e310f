"""The query language: one search line into free words, filters and hints (README's Search section)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from tad_tui.library import status
from tad_tui.library.ranges import parse_period
from tad_tui.library.search.folding import fold, split_words
from tad_tui.library.text import clean_text
from tad_tui.sizes import parse_size

FORMATS: Final = ("mp3", "m4a", "flac", "ogg", "wav")
STATUSES: Final = tuple(status.STATES)
FILTER_KEYS: Final = ("format", "size", "duration", "group", "performer", "year", "date", "status")
_KEY_ALIASES: Final = {"artist": "performer", "ext": "format", "type": "format", "length": "duration", "posted": "date"}
_FORMAT_ALIASES: Final = {"mpeg": "mp3", "mp4": "m4a", "aac": "m4a", "opus": "ogg", "oga": "ogg", "wave": "wav"}
_STATUS_ALIASES: Final = {"done": "downloaded", "completed": "downloaded", "pending": "new"}
# A name for several states: "active" is everything in the queue that has not finished.
_STATUS_GROUPS: Final = {"active": ("queued", "waiting", "running", "paused")}
_LAST_YEAR: Final = 9999

_CHUNK: Final = re.compile(
    r'(?P<key>[^\W\d_]+)(?P<op>>=|<=|[:=<>])(?P<value>"[^"]*(?:"|$)|[^\s"]*)'  # key:value, key>value
    r'|"(?P<quoted>[^"]*)(?:"|$)'  # a quoted phrase (its closing quote may not be typed yet)
    r'|(?P<bare>[^\s"]+)'
)
_DURATION_UNITS: Final = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m(?:in)?)?(?:(?P<s>\d+)s)?")
_CLOCK: Final = re.compile(r"(?:(\d+):)?(\d+):(\d{1,2})")
_YEAR_RANGE: Final = re.compile(r"(\d{4})(?:\s*(?:-|\.\.)\s*(\d{4}))?")


@dataclass(frozen=True)
class SearchFilters:
    """Conditions every hit meets. From the query line and from the CLI's options; all must hold."""

    formats: frozenset[str] | None = None  # None: any format
    min_size: int | None = None  # bytes, inclusive
    max_size: int | None = None
    min_duration: int | None = None  # seconds, inclusive
    max_duration: int | None = None
    years: tuple[tuple[int, int], ...] = ()  # inclusive ranges of the tag year; each must hold
    groups: tuple[str, ...] = ()  # title words, @username or numeric id; each must match
    performers: tuple[str, ...] = ()  # words of the performer, in order, the last one a prefix
    statuses: frozenset[str] | None = None
    posted_from: datetime | None = None  # the message's date (UTC), included
    posted_before: datetime | None = None  # excluded
    ids: frozenset[int] | None = None  # only these tracks (Track.id); None: any (from code, not the query line)

    def narrow(self, other: SearchFilters) -> SearchFilters:
        """Both sets of conditions at once."""
        return SearchFilters(
            formats=_intersect(self.formats, other.formats),
            min_size=_bound(max, self.min_size, other.min_size),
            max_size=_bound(min, self.max_size, other.max_size),
            min_duration=_bound(max, self.min_duration, other.min_duration),
            max_duration=_bound(min, self.max_duration, other.max_duration),
            years=self.years + other.years,
            groups=self.groups + other.groups,
            performers=self.performers + other.performers,
            statuses=_intersect(self.statuses, other.statuses),
            posted_from=_bound(max, self.posted_from, other.posted_from),
            posted_before=_bound(min, self.posted_before, other.posted_before),
            ids=_intersect(self.ids, other.ids),
        )


def _intersect(a: frozenset[Any] | None, b: frozenset[Any] | None) -> frozenset[Any] | None:
    return b if a is None else a if b is None else a & b


def _bound(pick: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else pick(a, b)


@dataclass(frozen=True)
class ParsedQuery:
    words: tuple[str, ...]  # free words as typed (punctuation and FTS operators already split off)
    filters: SearchFilters
    hints: tuple[str, ...]

    @property
    def text(self) -> str:
        """The free words, folded: what candidates are scored against."""
        return fold(" ".join(self.words))


def parse_query(text: str) -> ParsedQuery:
    """Words and filters of one search line; unknown or malformed filters become hints, never errors."""
    words: list[str] = []
    hints: list[str] = []
    filters = SearchFilters()
    for chunk in _CHUNK.finditer(clean_text(text, max_length=4096) or ""):
        if chunk["key"] is None:
            words.extend(split_words(chunk["quoted"] or chunk["bare"] or ""))
            continue
        key, op, value = chunk["key"].lower(), chunk["op"], _unquote(chunk["value"])
        key = _KEY_ALIASES.get(key, key)
        if key not in FILTER_KEYS:
            if value:  # "AC:DC" is a band; "Note:" followed by a space is just a word
                hints.append(f"{chunk[0]!r}: no filter called {key!r}, searched as text "
                             f"(filters: {', '.join(FILTER_KEYS)})")
            words.extend(split_words(chunk[0]))
            continue
        parsed, hint = _parse_filter(key, op, value)
        if hint:
            hints.append(f"{chunk[0]!r}: {hint}; ignored")
        if parsed is not None:
            filters = filters.narrow(parsed)
    return ParsedQuery(tuple(words), filters, tuple(hints))


def _unquote(value: str) -> str:
    return value[1:].removesuffix('"').strip() if value.startswith('"') else value


def _parse_filter(key: str, op: str, value: str) -> tuple[SearchFilters | None, str | None]:
    """One filter, or a hint saying what was wrong with it."""
    if not value:
        return None, f"{key} needs a value, e.g. {_EXAMPLES[key]}"
    try:
        return _FILTER_PARSERS[key](op, value), None
    except ValueError as error:
        return None, str(error)


def _choices(key: str, op: str, value: str, aliases: dict[str, str], allowed: Sequence[str], noun: str) -> frozenset[str]:
    """``a|b,c`` for a filter that takes names from a fixed list (aliases folded in)."""
    _require_equals(key, op)
    names = {aliases.get(name, name) for name in re.split(r"[|,]", value.lower()) if name}
    if unknown := sorted(names - set(allowed)):
        raise ValueError(f"unknown {key} {', '.join(unknown)} ({noun}: {', '.join(allowed)})")
    return frozenset(names)


def _parse_format(op: str, value: str) -> SearchFilters:
    return SearchFilters(formats=_choices("format", op, value, _FORMAT_ALIASES, FORMATS, "formats"))


def _parse_status(op: str, value: str) -> SearchFilters:
    named = _choices("status", op, value, _STATUS_ALIASES, (*STATUSES, *_STATUS_GROUPS), "statuses")
    return SearchFilters(statuses=frozenset(s for name in named for s in status_names(name)))


def status_names(name: str) -> frozenset[str]:
    """The states a status filter's name stands for ("active": every unfinished one)."""
    return frozenset(_STATUS_GROUPS.get(name, (name,)))


def _parse_size(op: str, value: str) -> SearchFilters:
    low, high = _comparison("size", op, parse_size(value))
    return SearchFilters(min_size=low, max_size=high)


def _parse_duration(op: str, value: str) -> SearchFilters:
    low, high = _comparison("duration", op, parse_duration(value))
    return SearchFilters(min_duration=low, max_duration=high)


def _parse_year(op: str, value: str) -> SearchFilters:
    match = _YEAR_RANGE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a year; write year:1959, year:1950-1959 or year>1950")
    first, last = int(match[1]), int(match[2] or match[1])
    if op in (":", "="):
        return SearchFilters(years=((min(first, last), max(first, last)),))
    if match[2]:
        raise ValueError("a year range takes ':' (year:1950-1959)")
    low, high = _comparison("year", op, first)
    return SearchFilters(years=((low or 0, _LAST_YEAR if high is None else high),))


def _parse_date(op: str, value: str) -> SearchFilters:
    """The message's date: ``posted:2024-06`` (that month), ``date>2024-06`` (from July on),
    ``date<2024-07-01``, ``date>=7d`` (the last seven days); dates as ``--since`` takes them."""
    period = parse_period(value)
    if op in (":", "="):
        return SearchFilters(posted_from=period.start, posted_before=period.end)
    bounds = {">": (period.end, None), ">=": (period.start, None), "<": (None, period.start), "<=": (None, period.end)}
    low, high = bounds[op]
    return SearchFilters(posted_from=low, posted_before=high)


def _parse_group(op: str, value: str) -> SearchFilters:
    _require_equals("group", op)
    return SearchFilters(groups=(value,))


def _parse_performer(op: str, value: str) -> SearchFilters:
    _require_equals("performer", op)
    if not split_words(value):
        raise ValueError("performer needs a name, e.g. performer:\"Bill Evans\"")
    return SearchFilters(performers=(value,))


def _require_equals(key: str, op: str) -> None:
    if op not in (":", "="):
        raise ValueError(f"{key} takes ':' (e.g. {_EXAMPLES[key]}), not {op!r}")


def _comparison(key: str, op: str, amount: int) -> tuple[int | None, int | None]:
    """Inclusive (low, high) bounds from ``>``, ``>=``, ``<``, ``<=``."""
    if op == ">":
        return amount + 1, None
    if op == ">=":
        return amount, None
    if op == "<":
        return None, amount - 1
    if op == "<=":
        return None, amount
    raise ValueError(f"{key} takes >, >=, < or <= (e.g. {_EXAMPLES[key]})")


def parse_duration(text: str) -> int:
    """Seconds in "90", "90s", "5m", "1h30m", "3:30" or "1:02:03"; ValueError otherwise."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    if clock := _CLOCK.fullmatch(text):
        hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        return hours * 3600 + minutes * 60 + seconds
    match = _DURATION_UNITS.fullmatch(text)
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration; write 90s, 5m, 1h30m or 3:30")
    return int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)


_EXAMPLES: Final = {
    "format": "format:flac",
    "size": "size>10MB",
    "duration": "duration>5m",
    "group": "group:jazz",
    "performer": 'performer:"Bill Evans"',
    "year": "year:1959",
    "date": "date>2024-06",
    "status": "status:downloaded",
}
_FILTER_PARSERS: Final[dict[str, Callable[[str, str], SearchFilters]]] = {
    "format": _parse_format,
    "size": _parse_size,
    "duration": _parse_duration,
    "group": _parse_group,
    "performer": _parse_performer,
    "year": _parse_year,
    "date": _parse_date,
    "status": _parse_status,
}
