"""Parts of a group by date and by message id: ``--since``, ``--until``, ``--ids`` and the search
language's ``date>…`` and ``posted:…``.

Dates are UTC, as Telegram stores them. A written date names a period: ``2024`` the year,
``2024-06`` the month, ``2024-06-03`` the day; ``7d``, ``2w``, ``3m``, ``1y`` name the second that
many days, weeks, calendar months or years before now. A bound takes the period whole: ``--since
2024-06`` starts on 1 June at 00:00:00, ``--until 2024-06`` ends with 30 June at 23:59:59.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

_ISO: Final = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_RELATIVE: Final = re.compile(r"(\d{1,6})([dwmy])")
_SECOND: Final = timedelta(seconds=1)
DATE_FORMS: Final = "2024-06-01, 2024-06 (the month), 2024 (the year), or 7d, 2w, 3m, 1y (before now)"


@dataclass(frozen=True)
class Period:
    """A span of time: from ``start`` (included) to ``end`` (excluded), UTC."""

    start: datetime
    end: datetime


def parse_period(text: str, *, now: datetime | None = None) -> Period:
    """The period a written date names (see the module's docstring); ValueError in words otherwise."""
    value = text.strip().lower()
    try:
        if match := _ISO.fullmatch(value):
            year, month, day = int(match[1]), match[2], match[3]
            if month is None:
                return Period(_utc(year, 1, 1), _utc(year + 1, 1, 1))  # 9999: past datetime's range, refused
            start = _utc(year, int(month), int(day or 1))
            if day is not None:
                return Period(start, start + timedelta(days=1))
            return Period(start, _add_months(start, 1))
        if match := _RELATIVE.fullmatch(value):
            amount, unit = int(match[1]), match[2]
            moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
            if unit in "dw":
                moment -= timedelta(days=amount * (7 if unit == "w" else 1))
            else:
                moment = _add_months(moment, -amount * (12 if unit == "y" else 1))
            return Period(moment, moment + _SECOND)
    except (ValueError, OverflowError):
        pass
    raise ValueError(f"{text!r} is not a date; write {DATE_FORMS}")


def _utc(year: int, month: int, day: int) -> datetime:
    if year < 1970:  # Telegram has no older messages, and its dates are Unix times
        raise ValueError(year)
    return datetime(year, month, day, tzinfo=UTC)


def _add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole calendar months, its day kept where the month has it (else its last)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month + 1, day=min(moment.day, 28))


def parse_id_range(text: str) -> tuple[int, int | None]:
    """``100-250`` (both included), ``100`` (that message) or ``100-`` (from it on); ValueError otherwise."""
    low, dash, high = text.strip().replace(" ", "").partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        raise ValueError(f"{text!r} is not a range of message ids; write 100-250, 100- or 100")
    first, last = int(low), (int(high) if high else None if dash else int(low))
    if first < 1 or max(first, last or 0) >= 2**31:
        raise ValueError(f"{text!r} is not a range of message ids: they run from 1 to 2147483647")
    if last is not None and last < first:
        raise ValueError(f"{text!r} ends before it starts: write the lower id first")
    return first, last


@dataclass(frozen=True)
class ScanWindow:
    """The part of a group a scan reads and a download takes: dates and message ids, all bounds included.

    ``before`` is the first second after the window (``--until 2024-06``: 2024-07-01 00:00:00).
    """

    since: datetime | None = None
    before: datetime | None = None
    first_id: int | None = None
    last_id: int | None = None

    @property
    def bounded(self) -> bool:
        return any(value is not None for value in (self.since, self.before, self.first_id, self.last_id))

    @property
    def empty(self) -> bool:
        """Whether no message can be in it (its end before its start)."""
        dates = self.since is not None and self.before is not None and self.before <= self.since
        return dates

    def holds(self, message_id: int, posted_at: datetime) -> bool:
        if self.first_id is not None and message_id < self.first_id:
            return False
        if self.last_id is not None and message_id > self.last_id:
            return False
        if self.since is not None and posted_at < self.since:
            return False
        return self.before is None or posted_at < self.before

    def lower_id(self, after_message_id: int) -> int:
        """The id every message read lies above: the scan cursor, or the window's first id if higher."""
        return max(after_message_id, (self.first_id or 1) - 1)


def window(since: str | None = None, until: str | None = None, ids: str | None = None, *,
           now: datetime | None = None) -> ScanWindow:
    """A window from the options as written; ValueError naming the option that is wrong."""
    bounds: dict[str, datetime] = {}
    for option, value, edge in (("--since", since, "start"), ("--until", until, "end")):
        if value is None:
            continue
        try:
            bounds[option] = getattr(parse_period(value, now=now), edge)
        except ValueError as error:
            raise ValueError(f"{option}: {error}") from None
    first = last = None
    if ids is not None:
        try:
            first, last = parse_id_range(ids)
        except ValueError as error:
            raise ValueError(f"--ids: {error}") from None
    result = ScanWindow(bounds.get("--since"), bounds.get("--until"), first, last)
    if result.empty:
        raise ValueError(f"--since {since} begins after --until {until} ends: no message can be in between")
    return result
