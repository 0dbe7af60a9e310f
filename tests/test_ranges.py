"""Parts of a group by date and message id: parsing, the simulated Telegram's messages.search bounds,
windowed scans and the scan cursor, and the search language's date filters, against the catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telethon.extensions import BinaryReader
from telethon.tl import functions, types

from tad_tui.library.ranges import ScanWindow, parse_id_range, parse_period, window
from tad_tui.library.scan import scan_group
from tad_tui.library.search import SearchService, parse_query
from tad_tui.store import AudioFile, TelegramGroup, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue, DemoMessage
from tad_tui.telegram.sim.server import SimulatedTelegram
from tad_tui.telegram.source import TelethonSource

ARCHIVE = "tad_demo_archive"
NOW = datetime(2026, 3, 31, 15, 30, 45, 123456, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[None]:
    async with opened_store(tmp_path / "library.sqlite3"):
        yield


def audio(catalogue: Catalogue, username: str = ARCHIVE) -> list[DemoMessage]:
    """The group's audio messages, by the catalogue's own account of them (PDFs are not audio)."""
    return [m for m in catalogue.group(username).messages if m.file and m.file.mime_type.startswith("audio/")]


# ---- parsing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024-06-03", utc(2024, 6, 3), utc(2024, 6, 4)),
        ("2024-06", utc(2024, 6, 1), utc(2024, 7, 1)),
        ("2024-12", utc(2024, 12, 1), utc(2025, 1, 1)),
        ("2024-2-29", utc(2024, 2, 29), utc(2024, 3, 1)),
        ("2024", utc(2024, 1, 1), utc(2025, 1, 1)),
        (" 7d ", utc(2026, 3, 24, 15, 30, 45), utc(2026, 3, 24, 15, 30, 46)),
        ("2w", utc(2026, 3, 17, 15, 30, 45), utc(2026, 3, 17, 15, 30, 46)),
        ("1m", utc(2026, 2, 28, 15, 30, 45), utc(2026, 2, 28, 15, 30, 46)),  # no 31 February: its last day
        ("3M", utc(2025, 12, 31, 15, 30, 45), utc(2025, 12, 31, 15, 30, 46)),
        ("1y", utc(2025, 3, 31, 15, 30, 45), utc(2025, 3, 31, 15, 30, 46)),
    ],
)
def test_a_written_date_names_a_period(text: str, start: datetime, end: datetime) -> None:
    period = parse_period(text, now=NOW)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    "text", ["", "soon", "2024-13", "2024-02-30", "2024-06-01T10:00", "24-06", "1969", "-7d", "7", "7h", "999999y", "2024-06-"]
)
def test_a_date_that_is_not_one_is_refused_in_words(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date; write 2024-06-01"):
        parse_period(text, now=NOW)


def test_id_ranges() -> None:
    assert parse_id_range("100-250") == (100, 250)
    assert parse_id_range("100") == (100, 100)
    assert parse_id_range("100-") == (100, None)
    for bad in ("", "-5", "a-b", "0-3", "1.5", "3-x", "1-99999999999"):
        with pytest.raises(ValueError, match="is not a range of message ids"):
            parse_id_range(bad)
    with pytest.raises(ValueError, match="'5-2' ends before it starts"):
        parse_id_range("5-2")


def test_a_window_from_the_options() -> None:
    assert window("2024-06", "2024-06", "10-20") == ScanWindow(utc(2024, 6, 1), utc(2024, 7, 1), 10, 20)
    assert not window().bounded and window(ids="5-").bounded
    with pytest.raises(ValueError, match="^--since 2024-07 begins after --until 2024-06 ends"):
        window("2024-07", "2024-06")
    with pytest.raises(ValueError, match="^--until: 'x' is not a date"):
        window("2024-07", "x")
    with pytest.raises(ValueError, match="^--ids: "):
        window(ids="9-1")
    inside = ScanWindow(utc(2024, 6, 1), utc(2024, 7, 1), 10, 20)
    assert inside.holds(10, utc(2024, 6, 1)) and inside.holds(20, utc(2024, 6, 30, 23, 59, 59))
    assert not inside.holds(9, utc(2024, 6, 2)) and not inside.holds(21, utc(2024, 6, 2))
    assert not inside.holds(15, utc(2024, 7, 1)) and not inside.holds(15, utc(2024, 5, 31, 23, 59, 59))


# ---- the simulated Telegram -----------------------------------------------------------------------


async def test_search_min_date_and_max_date_are_honoured_as_the_api_documents(
    source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    """messages.search: only messages sent after min_date and before max_date (both excluded)."""
    info = await source.resolve_group("@" + ARCHIVE)
    messages = demo_catalogue.group(ARCHIVE).messages
    low, high = messages[100].date, messages[140].date  # a message on each bound: both left out
    request = functions.messages.SearchRequest(
        peer=info.input_peer(), q="", filter=types.InputMessagesFilterEmpty(), min_date=low, max_date=high,
        offset_id=0, add_offset=0, limit=100, max_id=0, min_id=0, hash=0,
    )
    result = await source.client(request)
    assert [m.id for m in result.messages] == [m.id for m in reversed(messages) if low < m.date < high]
    assert result.count == 39
    request.min_date, request.max_date, request.min_id = None, low + timedelta(seconds=1), messages[97].id
    result = await source.client(request)
    assert [m.id for m in result.messages] == [messages[100].id, messages[99].id, messages[98].id]


# ---- windowed scans --------------------------------------------------------------------------------


def answered_ids(server: SimulatedTelegram) -> list[int]:
    """Record the ids of every message messages.search sends back (the list is filled as it answers)."""
    seen: list[int] = []
    answer = server._on_SearchRequest

    def recording(request: Any, **kwargs: Any) -> Any:
        result = answer(request, **kwargs)
        seen.extend(m.id for m in result.messages)
        return result

    server._on_SearchRequest = recording  # type: ignore[method-assign]
    return seen


async def stored_ids(group_id: int) -> set[int]:
    return set(await AudioFile.filter(group_id=group_id).values_list("message_id", flat=True))


async def cursor(group_id: int) -> int:
    return (await TelegramGroup.get(group_id=group_id)).last_message_id


async def test_a_dated_scan_reads_only_its_part_and_keeps_the_cursor_before_the_gap(
    store: None, source: TelethonSource, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    info = await source.resolve_group("@" + ARCHIVE)
    every = audio(demo_catalogue)
    answered = answered_ids(server)
    june = window("2024-06", "2024-06")
    result = await scan_group(source, info, window=june)
    expected = {m.id for m in every if utc(2024, 6, 1) <= m.date < utc(2024, 7, 1)}
    assert await stored_ids(info.group_id) == expected and result.new == len(expected) > 20
    # Telegram sent June only (its text messages and PDFs aside, which a filter leaves out).
    messages = {m.id: m for m in demo_catalogue.group(ARCHIVE).messages}
    assert answered and all(utc(2024, 6, 1) <= messages[i].date < utc(2024, 7, 1) for i in answered)
    # Nothing before June was read: the cursor stays where it was (nothing scanned yet).
    assert await cursor(info.group_id) == 0

    # Up to May, from the start: read whole, so the cursor moves to May's last audio message.
    await scan_group(source, info, window=window(until="2024-05"))
    may_last = max(m.id for m in every if m.date < utc(2024, 6, 1))
    assert await cursor(info.group_id) == may_last
    # June again: nothing new, and the cursor stays (its message is from May; a scan from June on
    # cannot tell that nothing was posted between, so it does not pass over that time).
    answered.clear()
    again = await scan_group(source, info, window=june)
    assert again.new == 0 and await cursor(info.group_id) == may_last
    assert answered and min(answered) > may_last  # only what is above the cursor was asked for
    # From the cursor's own day on: it follows on from the cursor, which moves to June's last.
    day = messages[may_last].date.date().isoformat()
    await scan_group(source, info, window=window(day, "2024-06"))
    assert await cursor(info.group_id) == max(expected)
    # September alone leaves July and August unread: the cursor stays, and a plain scan reads them.
    await scan_group(source, info, window=window("2024-09", "2024-09"))
    assert await cursor(info.group_id) == max(expected)
    await scan_group(source, info)
    assert await stored_ids(info.group_id) == {m.id for m in every}
    assert await cursor(info.group_id) == max(m.id for m in every)


async def test_an_id_range_scan_moves_the_cursor_only_when_it_starts_at_it(
    store: None, source: TelethonSource, server: SimulatedTelegram, demo_catalogue: Catalogue
) -> None:
    info = await source.resolve_group("@" + ARCHIVE)
    every = sorted(m.id for m in audio(demo_catalogue))
    answered = answered_ids(server)
    await scan_group(source, info, window=window(ids="300-400"))
    assert await stored_ids(info.group_id) == {i for i in every if 300 <= i <= 400}
    assert answered and all(300 <= i <= 400 for i in answered)
    assert await cursor(info.group_id) == 0  # 1-299 unread
    await scan_group(source, info, window=window(ids="1-120"))
    assert await cursor(info.group_id) == max(i for i in every if i <= 120)
    answered.clear()
    await scan_group(source, info, window=window(ids="100-"))  # from below the cursor: up to the newest
    assert answered and min(answered) > 120
    assert await stored_ids(info.group_id) == set(every)
    assert await cursor(info.group_id) == every[-1]
    assert (await scan_group(source, info)).new == 0


async def test_a_date_past_telegram_s_range_is_kept_by_the_client_alone(
    store: None, source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    """A TL date is an int32 of Unix time: Telethon wraps --until 4999 around to October 2005,
    which would leave nothing to find. Requests here reach the simulated server as Telegram reads them."""
    info = await source.resolve_group("@" + ARCHIVE)
    sent: list[Any] = []
    call = source.client

    async def serialized(request: Any) -> Any:
        if isinstance(request, functions.messages.SearchRequest):
            with BinaryReader(bytes(request)) as reader:
                request = reader.tgread_object()
            sent.append(request)
        return await call(request)

    source._reader = serialized
    await scan_group(source, info, window=window("2025-12-20", "4999"))
    assert sent and await stored_ids(info.group_id) == {
        m.id for m in audio(demo_catalogue) if m.date >= utc(2025, 12, 20)}


async def test_a_scan_of_an_empty_window_reads_nothing(
    store: None, source: TelethonSource, server: SimulatedTelegram
) -> None:
    info = await source.resolve_group("@" + ARCHIVE)
    answered = answered_ids(server)
    result = await scan_group(source, info, window=window("2023-01", "2023-12"))
    assert result.new == 0 and answered == [] and await cursor(info.group_id) == 0


# ---- the search language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("date>2024-06", utc(2024, 7, 1), None),
        ("date<2024-07-01", None, utc(2024, 7, 1)),
        ("date>=2024-06", utc(2024, 6, 1), None),
        ("date<=2024-06", None, utc(2024, 7, 1)),
        ("date<2024-06", None, utc(2024, 6, 1)),
        ("posted:2024-06", utc(2024, 6, 1), utc(2024, 7, 1)),
        ("posted:2024-06-03", utc(2024, 6, 3), utc(2024, 6, 4)),
        ("date:2025", utc(2025, 1, 1), utc(2026, 1, 1)),
        ("date>=2024-03 date<2024-05-15", utc(2024, 3, 1), utc(2024, 5, 15)),
        ("posted:2024-06 date>2024-06-20", utc(2024, 6, 21), utc(2024, 7, 1)),
    ],
)
async def test_date_filters_find_what_the_catalogue_dates_say(
    store: None, source: TelethonSource, demo_catalogue: Catalogue, query: str, start: datetime | None,
    end: datetime | None,
) -> None:
    info = await source.resolve_group("@" + ARCHIVE)
    await scan_group(source, info)
    result = await SearchService().search(query, limit=5000)
    assert result.hints == []
    found = {int(hit.file_id.rsplit("_", 1)[1]) for hit in result.hits}
    expected = {m.id for m in audio(demo_catalogue)
                if (start is None or m.date >= start) and (end is None or m.date < end)}
    assert found == expected and expected


async def test_date_filters_with_words_and_other_filters(
    store: None, source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    info = await source.resolve_group("@" + ARCHIVE)
    await scan_group(source, info)
    result = await SearchService().search("evening news date>=2024-03 date<2024-09 format:ogg", limit=5000)
    found = {int(hit.file_id.rsplit("_", 1)[1]) for hit in result.hits}
    expected = {m.id for m in audio(demo_catalogue)
                if (m.file.title or "").startswith("Evening News") and m.file.mime_type == "audio/ogg"
                and utc(2024, 3, 1) <= m.date < utc(2024, 9, 1)}
    assert found == expected and expected and not result.relaxed


@pytest.mark.parametrize(
    ("query", "hint"),
    [
        ("date>soon", "'date>soon': 'soon' is not a date"),
        ("posted:2024-13", "'posted:2024-13': '2024-13' is not a date"),
        ("date:", "'date:': date needs a value, e.g. date>2024-06"),
    ],
)
def test_a_malformed_date_filter_is_a_hint(query: str, hint: str) -> None:
    parsed = parse_query(query)
    assert len(parsed.hints) == 1 and parsed.hints[0].startswith(hint) and parsed.hints[0].endswith("; ignored")
    assert parsed.filters.posted_from is None and parsed.filters.posted_before is None
