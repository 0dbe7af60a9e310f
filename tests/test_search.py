"""Library search: the query language, typo/accent/script tolerance, filters, ranking, live updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tad_tui.cli import search as cli_search
from tad_tui.library import search as search_module
from tad_tui.library.scan import scan_group
from tad_tui.library.search import (
    SearchFilters,
    SearchResult,
    SearchService,
    Vocabulary,
    fold,
    parse_duration,
    parse_query,
)
from tad_tui.store import AudioFile, GroupKind, QueueEntry, TelegramGroup, opened_store
from tad_tui.telegram.source import TelethonSource

GROUP_ID = -1001000000777
MB = 1_000_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[None]:
    async with opened_store(tmp_path / "library.sqlite3"):
        yield


@pytest.fixture
async def classical(store: None, source: TelethonSource) -> None:
    await scan_group(source, await source.resolve_group("@tad_demo_classical"))


@pytest.fixture
def service() -> SearchService:
    return SearchService()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def make_group(
    group_id: int = GROUP_ID, title: str = "Jazz Corner", username: str | None = "jazz_corner"
) -> TelegramGroup:
    return await TelegramGroup.create(group_id=group_id, title=title, username=username, kind=GroupKind.CHANNEL)


async def make_audio(group: TelegramGroup, message_id: int, **values: Any) -> AudioFile:
    fields: dict[str, Any] = {
        "file_id": f"{group.group_id}_{message_id}",
        "file_unique_id": str(6_000_000_000_000 + message_id),
        "file_size": 1_234_567,
        "mime_type": "audio/mpeg",
        "group": group,
        "message_id": message_id,
        "document_id": 6_000_000_000_000 + message_id,
        "access_hash": 42,
        "file_reference": b"ref",
        "dc_id": 2,
        "posted_at": datetime(2024, 1, 1, tzinfo=UTC),
    }
    fields.update(values)
    return await AudioFile.create(**fields)


def performers(result: SearchResult) -> list[str | None]:
    return [hit.performer for hit in result.hits]


def file_ids(result: SearchResult) -> set[str]:
    return {hit.file_id for hit in result.hits}


# ---- parsing ----------------------------------------------------------------------------------------


def test_free_words_and_every_filter_are_parsed() -> None:
    parsed = parse_query(
        'moonlight format:flac|mp3 size>10MB size<1GB duration>5m group:jazz performer:"Bill Evans" '
        "year:1959 status:downloaded|queued sonata"
    )
    assert parsed.words == ("moonlight", "sonata")
    assert parsed.hints == ()
    f = parsed.filters
    assert f.formats == {"flac", "mp3"}
    assert (f.min_size, f.max_size) == (10 * MB + 1, 1000 * MB - 1)
    assert (f.min_duration, f.max_duration) == (301, None)
    assert f.groups == ("jazz",) and f.performers == ("Bill Evans",)
    assert f.years == ((1959, 1959),)
    assert f.statuses == {"downloaded", "queued"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("size>=10MB", SearchFilters(min_size=10 * MB)),
        ("size<=512KiB", SearchFilters(max_size=512 * 1024)),
        ("duration<3:30", SearchFilters(max_duration=209)),
        ("duration>=1h30m", SearchFilters(min_duration=5400)),
        ("year:1950-1959", SearchFilters(years=((1950, 1959),))),
        ("year>1980", SearchFilters(years=((1981, 9999),))),
        ("FORMAT:FLAC", SearchFilters(formats=frozenset({"flac"}))),
        ("format:opus", SearchFilters(formats=frozenset({"ogg"}))),
        ("artist:satie", SearchFilters(performers=("satie",))),
        ("group:@tad_demo_archive", SearchFilters(groups=("@tad_demo_archive",))),
    ],
)
def test_filter_spellings(text: str, expected: SearchFilters) -> None:
    parsed = parse_query(text)
    assert parsed.filters == expected and parsed.hints == () and parsed.words == ()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("size>lots", "'lots' is not a size"),
        ("size>4k", "ambiguous"),
        ("size:10MB", "size takes >"),
        ("duration>soon", "not a duration"),
        ("year:19x9", "not a year"),
        ("format:aiff", "unknown format aiff"),
        ("status:lost", "unknown status lost"),
        ("format:", "format needs a value"),
        ("format>flac", "format takes ':'"),
        ('performer:"***"', "performer needs a name"),
    ],
)
def test_malformed_filters_become_hints_and_are_ignored(text: str, named: str) -> None:
    parsed = parse_query(f"{text} beethoven")
    assert parsed.filters == SearchFilters()
    assert parsed.words == ("beethoven",)
    assert len(parsed.hints) == 1 and named in parsed.hints[0] and "ignored" in parsed.hints[0]


def test_unknown_filter_is_searched_as_text_with_a_hint() -> None:
    parsed = parse_query("AC:DC back")
    assert parsed.words == ("AC", "DC", "back")
    assert "no filter called 'ac'" in parsed.hints[0]
    assert parse_query("Note: hello").hints == ()  # a colon before a space is just punctuation


@pytest.mark.parametrize(
    "text",
    ['NEAR("a" *', '"unclosed', "-live", "a*", "(x OR y) AND NOT z", "title:x", "^start", "{title}: x", '"a""b"'],
)
def test_fts_syntax_is_plain_text(text: str) -> None:
    parsed = parse_query(text)
    assert all(not set(word) & set('"*()^{}:-') for word in parsed.words)


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90", "90s", "5m", "1h30m", "3:30", "1:02:03")] == [
        90, 90, 300, 5400, 210, 3723
    ]
    with pytest.raises(ValueError):
        parse_duration("5 minutes")


def test_folding_ignores_case_and_accents_in_every_script() -> None:
    assert fold("Antonín DVOŘÁK") == "antonin dvorak"
    assert fold("Пётр Ильич Чайковский") == "петр ильич чаиковскии"
    assert fold("Μάνος Χατζιδάκις") == "μανοσ χατζιδακισ"  # final sigma folds too
    assert fold("Sigur Rós / Mø") == "sigur ros mo"
    assert fold("がっこう") == "がっこう"  # kana voicing marks are part of the letter


def test_the_cli_offers_the_services_formats_and_statuses() -> None:
    assert cli_search.FORMAT_CHOICES == search_module.FORMATS
    assert cli_search.STATUS_CHOICES == search_module.STATUSES


def test_vocabulary_alternatives() -> None:
    vocabulary = Vocabulary()
    vocabulary.add(["beethoven", "пётр", "戦場のメリークリスマス", "bach", "beethoven"])
    assert vocabulary.size == 4
    assert vocabulary.typos("bethoven", cutoff=80, limit=4) == ["beethoven"]
    assert vocabulary.variants("петр", limit=4) == ["пётр"]
    assert vocabulary.infixes("メリー", limit=4) == ["戦場のメリークリスマス"]
    assert vocabulary.two_letter_prefixes("b") == ["ba", "be"]


# ---- the demo catalogue -----------------------------------------------------------------------------


async def test_a_typo_finds_beethoven_first(classical: None, service: SearchService) -> None:
    result = await service.search("bethoven")
    beethoven = await AudioFile.filter(performer="Ludwig van Beethoven").count()
    assert beethoven >= 4
    assert performers(result)[:beethoven] == ["Ludwig van Beethoven"] * beethoven
    assert result.hints == []


async def test_typing_beethoven_letter_by_letter(classical: None, service: SearchService) -> None:
    word = "beethoven"
    for end in range(1, len(word) + 1):
        result = await service.search(word[:end])
        assert result.hits, word[:end]
        if end >= 4:
            assert result.hits[0].performer == "Ludwig van Beethoven", word[:end]


@pytest.mark.parametrize("query", ["dvorak", "DVOŘÁK", "Dvořák", "antonin dvorak"])
async def test_accents_and_case_never_matter(classical: None, service: SearchService, query: str) -> None:
    result = await service.search(query)
    assert result.hits and all(hit.performer == "Antonín Dvořák" for hit in result.hits)


async def test_latin_typo_finds_cyrillic_tags_through_the_file_name(classical: None, service: SearchService) -> None:
    result = await service.search("tchaikovski")
    found = set(performers(result))
    assert {"Пётр Ильич Чайковский", "Pyotr Ilyich Tchaikovsky"} <= found


@pytest.mark.parametrize("query", ["Чайковский", "чайковски", "ЧАЙК", "петр ильич", "пётр"])
async def test_cyrillic(classical: None, service: SearchService, query: str) -> None:
    result = await service.search(query)
    assert result.hits and result.hits[0].performer == "Пётр Ильич Чайковский"
    assert sum(hit.performer == "Пётр Ильич Чайковский" for hit in result.hits) == 3


async def test_cyrillic_title_words(classical: None, service: SearchService) -> None:
    result = await service.search("полет шмеля")  # the tag says "Полёт шмеля"
    assert result.hits[0].title == "Полёт шмеля"


@pytest.mark.parametrize(
    ("query", "title"),
    [("戦場", "戦場のメリークリスマス"), ("戦場のメリークリスマス", "戦場のメリークリスマス"),
     ("クリスマス", "戦場のメリークリスマス"), ("夏", "あの夏へ"), ("風の通", "風の通り道")],
)
async def test_japanese_prefixes_and_infixes(classical: None, service: SearchService, query: str, title: str) -> None:
    result = await service.search(query)
    assert result.hits and result.hits[0].title == title


async def test_japanese_infix_finds_every_title_that_holds_it(classical: None, service: SearchService) -> None:
    result = await service.search("メリー")
    assert {hit.title for hit in result.hits} == {"戦場のメリークリスマス", "人生のメリーゴーランド"}


async def test_format_and_size_filters(classical: None, service: SearchService) -> None:
    result = await service.search("", filters=SearchFilters(formats=frozenset({"flac"}), min_size=MB))
    assert {hit.title for hit in result.hits} == {"Toccata and Fugue in D minor, BWV 565", "Boléro"}
    assert all(hit.format == "flac" and hit.file_size >= MB for hit in result.hits)
    typed = await service.search("format:flac size>=1MB")
    assert file_ids(typed) == file_ids(result)
    small = await service.search("bach size<1MB")
    assert small.hits and all(hit.file_size < MB and "Bach" in (hit.performer or hit.file_name or "")
                              for hit in small.hits)


async def test_format_filter_with_words(classical: None, service: SearchService) -> None:
    result = await service.search("beethoven format:ogg")
    assert [hit.title for hit in result.hits] == ["Piano Sonata No. 14 “Moonlight”: I. Adagio sostenuto"]


async def test_duration_filter(classical: None, service: SearchService) -> None:
    result = await service.search("duration>=15s", limit=100)
    assert result.hits and all(hit.duration is not None and hit.duration >= 15 for hit in result.hits)
    short = await service.search("duration<3", limit=100)
    assert short.hits and all(hit.duration is not None and hit.duration < 3 for hit in short.hits)


async def test_performer_filter(classical: None, service: SearchService) -> None:
    result = await service.search('performer:"Johann Sebastian Bach"', limit=100)
    assert len(result.hits) == 4 and set(performers(result)) == {"Johann Sebastian Bach"}
    words = await service.search("performer:mozart requiem")
    assert [hit.title for hit in words.hits] == ["Requiem in D minor, K. 626: Lacrimosa"]
    nobody = await service.search('performer:"Bill Evans"')
    assert nobody.hits == [] and nobody.hints == []


async def test_group_filter_by_title_username_and_id(classical: None, service: SearchService) -> None:
    total = await AudioFile.all().count()
    for key in ("classical", "CLASSICAL", "@tad_demo_classical", "-1001000000001", "1000000001"):
        result = await service.search(f"group:{key}", limit=100)
        assert len(result.hits) == total, key
    result = await service.search("group:jazz bach")
    assert result.hits == [] and result.hints == ["no group matches 'jazz'"]
    cli = await service.search("bach", filters=SearchFilters(groups=("Classical",)))
    assert cli.hits


async def test_fts_syntax_and_malformed_filters_still_search(classical: None, service: SearchService) -> None:
    for text in ['NEAR("a" *', '"', "*", "-", "AND OR NOT", "(((", "bach)", '"bach', "bach*", "-bach", "^bach"]:
        result = await service.search(text)
        assert isinstance(result, SearchResult), text
    result = await service.search("size>lots bach")
    assert result.hits and len(result.hints) == 1
    assert (await service.search("bach NOT")).relaxed  # no track has "not": the bach tracks still show


@given(
    text=st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(['"', "*", "-", "(", ")", "NEAR", "AND", "OR", "NOT", "^", ":", "{", "}", "+",
                                  "format:", "size>", "bach", "戦", "ё", "\x00", "'", "\\", "%", "_"]),
                 max_size=8).map(" ".join),
    )
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_text_returns_a_result(classical: None, service: SearchService, text: str) -> None:
    result = await service.search(text)
    assert isinstance(result, SearchResult)
    assert len(result.hits) <= 50


async def test_a_very_long_query_uses_its_first_words(classical: None, service: SearchService) -> None:
    result = await service.search("beethoven " + "x " * 1000)
    assert result.hints == ["only the first 16 words are searched"]
    assert len(result.query.words) == 16


async def test_all_words_first_then_some_of_them(classical: None, service: SearchService) -> None:
    result = await service.search("beethoven xyzzyq")
    assert result.relaxed and result.hits[0].performer == "Ludwig van Beethoven"
    assert not (await service.search("beethoven moonlight")).relaxed


async def test_fuzzy_is_more_tolerant(classical: None, service: SearchService) -> None:
    assert (await service.search("bthvn")).hits == []
    fuzzy = await service.search("bthvn", fuzzy=True)
    assert fuzzy.hits and fuzzy.hits[0].performer == "Ludwig van Beethoven"


async def test_limit_and_counts(classical: None, service: SearchService) -> None:
    result = await service.search("", limit=5)
    assert len(result.hits) == 5 and result.matched == await AudioFile.all().count() and not result.more
    assert result.elapsed_ms >= 0


# ---- synthetic rows ---------------------------------------------------------------------------------


async def test_ties_break_on_downloaded_first_then_newest(store: None, service: SearchService) -> None:
    group = await make_group()
    rows = {}
    for number, (status, path, year) in enumerate(
        [("pending", None, 2024), ("completed", "/m/a.mp3", 2020), ("pending", None, 2022),
         ("skipped", "/m/b.mp3", 2021), ("skipped", None, 2025)], start=1,
    ):
        rows[number] = await make_audio(group, number, title="Blue Moon", performer="Tie Tester", status=status,
                                        local_path=path, posted_at=datetime(year, 1, 1, tzinfo=UTC))
    result = await service.search("blue moon")
    assert len({hit.score for hit in result.hits}) == 1
    assert [hit.id for hit in result.hits] == [rows[n].id for n in (4, 2, 5, 1, 3)]
    assert [hit.status for hit in result.hits] == ["downloaded", "downloaded", "new", "new", "new"]


async def test_status_filter(store: None, service: SearchService) -> None:
    group = await make_group()
    done = await make_audio(group, 1, title="Status Done", status="completed", local_path="/m/1.mp3")
    kept = await make_audio(group, 2, title="Status Kept", status="skipped", local_path="/m/2.mp3")
    failed = await make_audio(group, 3, title="Status Failed", status="failed")
    retried = await make_audio(group, 4, title="Status Retried", status="failed")
    waiting = await make_audio(group, 5, title="Status Waiting")
    idle = await make_audio(group, 6, title="Status Idle")
    cancelled = await make_audio(group, 7, title="Status Cancelled")
    await QueueEntry.create(audio=retried, rank=1, state="running")
    await QueueEntry.create(audio=waiting, rank=2, state="queued")
    await QueueEntry.create(audio=cancelled, rank=3, state="cancelled")
    # One word per state, as the Groups and Queue panes say it (a queued entry that runs is "running").
    expected = {"downloaded": {done, kept}, "failed": {failed}, "running": {retried}, "queued": {waiting},
                "new": {idle}, "cancelled": {cancelled}}
    for status, rows in expected.items():
        for text, filters in ((f"status:{status}", None), ("status", SearchFilters(statuses=frozenset({status})))):
            result = await service.search(text, filters=filters)
            assert {hit.id for hit in result.hits} == {row.id for row in rows}, (status, text)
            assert {hit.status for hit in result.hits} == {status}
    both = await service.search("status:failed|queued")
    assert {hit.id for hit in both.hits} == {failed.id, waiting.id}
    active = await service.search("status:active")  # everything in the queue that has not finished
    assert {hit.id for hit in active.hits} == {retried.id, waiting.id}
    older = await service.search("status:pending")  # the old word still works
    assert {hit.id for hit in older.hits} == {idle.id}


async def test_format_comes_from_the_mime_type_or_the_extension(store: None, service: SearchService) -> None:
    group = await make_group()
    cases = [
        ("audio/mpeg", "x.bin", "mp3"), ("audio/x-m4a", None, "m4a"), ("audio/mp4", "a.m4a", "m4a"),
        ("audio/x-flac", None, "flac"), ("audio/ogg", None, "ogg"), ("audio/opus", None, "ogg"),
        ("audio/x-wav", None, "wav"), (None, "Loud.FLAC", "flac"), ("application/octet-stream", "a.mp3", "mp3"),
        ("application/octet-stream", "a.opus", "ogg"), ("audio/x-ms-wma", "a.wma", None),
    ]
    for number, (mime, name, _) in enumerate(cases, start=1):
        await make_audio(group, number, title=f"Format Case {number}", mime_type=mime, file_name=name)
    result = await service.search("format case", limit=100)
    by_title = {hit.title: hit.format for hit in result.hits}
    assert by_title == {f"Format Case {n}": fmt for n, (_, _, fmt) in enumerate(cases, start=1)}
    for fmt in ("mp3", "m4a", "flac", "ogg", "wav"):
        found = await service.search(f"format case format:{fmt}", limit=100)
        assert {hit.format for hit in found.hits} == {fmt}
        assert len(found.hits) == sum(expected == fmt for _, _, expected in cases)


async def test_size_bounds(store: None, service: SearchService) -> None:
    group = await make_group()
    for number, size in enumerate((10 * MB - 1, 10 * MB, 10 * MB + 1), start=1):
        await make_audio(group, number, title="Sized", file_size=size)

    async def sizes(text: str, **filters: Any) -> list[int]:
        result = await service.search(text, filters=SearchFilters(**filters) if filters else None)
        return sorted(hit.file_size for hit in result.hits)

    assert await sizes("sized size>10MB") == [10 * MB + 1]
    assert await sizes("sized size>=10MB") == [10 * MB, 10 * MB + 1]
    assert await sizes("sized size<10MB") == [10 * MB - 1]
    assert await sizes("sized", min_size=10 * MB, max_size=10 * MB) == [10 * MB]
    assert await sizes("sized size>=10MB", max_size=10 * MB) == [10 * MB]


async def test_year_filter_reads_the_date_tag(store: None, service: SearchService) -> None:
    group = await make_group()
    for number, date in enumerate(("1959", "1959-08-17", "1960", None), start=1):
        await make_audio(group, number, title=f"Kind of Blue {number}", date=date)
    result = await service.search("kind of blue year:1959")
    assert {hit.title for hit in result.hits} == {"Kind of Blue 1", "Kind of Blue 2"}
    later = await service.search("kind of blue year>1959")
    assert [hit.title for hit in later.hits] == ["Kind of Blue 3"]
    span = await service.search("kind of blue year:1950-1960")
    assert len(span.hits) == 3


async def test_greek_without_tonos(store: None, service: SearchService) -> None:
    group = await make_group(title="Ελληνικά τραγούδια", username=None)
    await make_audio(group, 1, title="Τα παιδιά του Πειραιά", performer="Μάνος Χατζιδάκις")
    for query in ("χατζιδακις", "ΧΑΤΖΙΔΑΚΙΣ", "παιδια πειραια", "group:ελληνικα"):
        result = await service.search(query)
        assert [hit.performer for hit in result.hits] == ["Μάνος Χατζιδάκις"], query


async def test_new_rows_reach_the_vocabulary_at_most_once_a_second(store: None) -> None:
    clock = FakeClock()
    service = SearchService(clock=clock)
    group = await make_group()
    await make_audio(group, 1, title="Seed")
    await service.warm_up()
    await make_audio(group, 2, title="Quixotically")
    assert [hit.title for hit in (await service.search("quixotic")).hits] == ["Quixotically"]  # the index itself
    assert (await service.search("quixoticaly")).hits == []  # the typo needs the vocabulary: not yet
    clock.now += 1.0
    assert [hit.title for hit in (await service.search("quixoticaly")).hits] == ["Quixotically"]


async def test_search_while_a_scan_inserts_rows(classical: None, source: TelethonSource) -> None:
    service = SearchService(refresh_interval=0)
    await service.warm_up()
    info = await source.resolve_group("@tad_demo_archive")
    scan = asyncio.create_task(scan_group(source, info))
    counts = []
    while not scan.done():
        result = await service.search("jazz hour", limit=10_000)
        # Tracks with both words only: until one has both, the search shows those with either.
        counts.append(0 if result.relaxed else len(result.hits))
        await asyncio.sleep(0)
    await scan
    final = await service.search("jazz hour", limit=10_000)
    stored = await AudioFile.filter(title__startswith="Jazz Hour").count()
    assert stored > 0 and len(final.hits) == stored
    assert counts == sorted(counts) and len(counts) > 1
    # A typo of a name only the archive has: the vocabulary learnt it from the new rows.
    typo = await service.search("vantreigt")
    assert typo.hits and all(hit.performer == "Dolores Vantreight" for hit in typo.hits)
