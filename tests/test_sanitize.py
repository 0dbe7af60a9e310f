"""Hostile text from Telegram and from files is sanitized before it reaches the screen, a file name or
the library: control characters (C0, C1, NUL, ESC sequences), bidi controls, zero-width characters,
lone surrogates and 10,000-character tags, with ``@tad_demo_hostile`` scanned, searched, listed and
downloaded through the real engine and the real command.

The one sanitizer is ``tad_tui.library.text`` (``clean_text`` for what is stored, ``printable`` for
what is drawn); its rule: no character of category Cc, Cf, Cs, Zl or Zp survives, none kept on purpose.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import mutagen
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tortoise.fields import CharField, TextField

from tad_tui.cli.output import print_table
from tad_tui.download.naming import MAX_COMPONENT_BYTES
from tad_tui.library.metadata import TagInfo, read_tags, write_missing_tags
from tad_tui.library.scan import scan_group, store_pages, upsert_group
from tad_tui.library.search import SearchService
from tad_tui.library.text import GROUP_TITLE_MAX, TEXT_MAX, clean_text, escape_unsafe, printable
from tad_tui.store import AudioFile, TelegramGroup, opened_store
from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.source import AudioInfo, FileLocation, GroupInfo, TelethonSource
from tad_tui.ui import figures

from helpers import run

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
HOSTILE = "tad_demo_hostile"
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
WINDOWS_RESERVED = re.compile(r"(?i)^(CON|PRN|AUX|NUL|COM[1-9¹²³]|LPT[1-9¹²³])(\..*)?$")

# Fragments that break naive programs; the property tests mix them with arbitrary text.
FRAGMENTS = (
    "\x00", "\x07", "\x1b", "\x1b[2J", "\x1b[H", "\x1b[31m", "\x1b[0m", "\x1b]0;owned\x07", "\x1b]8;;http://x\x1b\\",
    "\x1bP1$r\x1b\\", "\x9b31m", "\x9d0;t\x9c", "\x7f", "\x85", "\r\n", "\t", "\u2028", "\u2029",
    "\u202e", "\u202d", "\u202a", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\U000e0041", "\ud800", "\udfff", "\udc80",
    "e\u0301", "\u00a0", "\u3000", " ", "..", "/", "\\", "CON", "…", "日本", "Ж",
)


def unsafe(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in UNSAFE_CATEGORIES]


hostile_text = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.text(st.characters(codec=None, exclude_categories=())),  # surrogates and unassigned included
    ),
    max_size=12,
).map("".join)


# ---- the sanitizer ---------------------------------------------------------------------------


@given(text=hostile_text, max_length=st.integers(min_value=1, max_value=300))
@settings(max_examples=600, deadline=None)
def test_clean_text_leaves_nothing_unsafe_and_is_stable(text: str, max_length: int) -> None:
    cleaned = clean_text(text, max_length=max_length)
    if cleaned is None:
        return
    assert not unsafe(cleaned)
    assert clean_text(cleaned, max_length=max_length) == cleaned  # idempotent
    assert len(cleaned) <= max_length
    assert unicodedata.is_normalized("NFC", cleaned)
    assert cleaned == cleaned.strip() and "  " not in cleaned and cleaned
    cleaned.encode("utf-8")  # storable in SQLite and in a file name


@given(text=hostile_text)
@settings(max_examples=300, deadline=None)
def test_printable_and_escape_unsafe_leave_nothing_unsafe(text: str) -> None:
    shown = printable(text)
    assert not unsafe(shown) and printable(shown) == shown
    assert figures.clean(text) == shown  # the TUI draws through the same rule
    escaped = escape_unsafe(text)
    assert not unsafe(escaped) and "\n" not in escaped


def test_the_rule_matches_unicode_categories_across_the_bmp_and_tag_plane() -> None:
    for start, end in ((0, 0x10000), (0xE0000, 0xE0080)):
        for code in range(start, end):
            ch = chr(code)
            category = unicodedata.category(ch)
            shown = printable(f"a{ch}b")  # inside text, so an escape-sequence start has no sequence to eat
            if category in ("Cc", "Zl", "Zp"):
                assert shown == "a b", hex(code)
            elif category == "Cf":
                assert shown == "ab", hex(code)
            elif category == "Cs":
                assert shown == "a\ufffdb", hex(code)
            else:
                assert shown == f"a{ch}b", hex(code)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x1b[31mRed Alert\x1b[0m", "Red Alert"),
        ("Welcome!\x1b[2J\x1b[H If", "Welcome! If"),
        ("\x1b]0;set the title\x07Tune", "Tune"),
        ("\x9b2J C1 CSI", "2J C1 CSI"),  # C1 controls become spaces one by one (0x9E is "ž" in cp1252)
        ("Bell\x07 and\nnew\tline", "Bell and new line"),
        ("NUL\x00inside", "NUL inside"),
        ("\u202egnp.mp3", "gnp.mp3"),
        ("\u2066isolated\u2069 \u200eLRM\u200f", "isolated LRM"),
        ("Bee\u200bthoven\u2060\ufeff", "Beethoven"),
        ("soft\u00adhyphen", "softhyphen"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("line\u2028para\u2029end", "line para end"),
        ("Cafe\u0301", "Café"),
        ("  \x1b[2J  ", None),
        ("\u200b", None),
    ],
)
def test_clean_text_examples(raw: str, expected: str | None) -> None:
    assert clean_text(raw) == expected


def test_ten_thousand_character_tag_is_capped() -> None:
    cleaned = clean_text("\x1b[31mЖ\u202e日本 " * 2_000)
    assert cleaned is not None and len(cleaned) == TEXT_MAX and cleaned.endswith("…") and not unsafe(cleaned)


def test_cli_table_cells_are_printable(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(("Title", "Group"), [("\x1b[2J\x1b[HRed\u202e", "g\u200broup\n\x07x")])
    out = capsys.readouterr().out
    assert "\x1b" not in out and not unsafe(out.replace("\n", ""))
    assert "Red" in out and "group  x" in out  # printable keeps the spacing: one space per control


# ---- the library: what scanning stores ------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[None]:
    async with opened_store(tmp_path / "library.sqlite3"):
        yield


def _text_columns(model: type) -> list[str]:
    return [name for name, field in model._meta.fields_map.items() if isinstance(field, CharField | TextField)]


async def assert_library_is_clean() -> None:
    caps = {"title": TEXT_MAX, "performer": TEXT_MAX, "file_name": TEXT_MAX, "album": TEXT_MAX}
    for model, limits in ((AudioFile, caps), (TelegramGroup, {"title": GROUP_TITLE_MAX})):
        columns = _text_columns(model)
        for row in await model.all().values(*columns):
            for column, value in row.items():
                if isinstance(value, str):
                    assert not unsafe(value), (model.__name__, column, value)
                    assert len(value) <= limits.get(column, TEXT_MAX), (model.__name__, column, len(value))


async def test_scanning_the_hostile_group_stores_clean_capped_text(
    store: None, source: TelethonSource, demo_catalogue: Catalogue
) -> None:
    info = await source.resolve_group(f"@{HOSTILE}")
    result = await scan_group(source, info)
    raw = [m.file for m in demo_catalogue.group(HOSTILE).messages if m.file]
    assert result.new == len(raw)
    assert any(f.performer and len(f.performer) == 10_000 for f in raw)  # the hostile input is really there
    await assert_library_is_clean()
    performers = await AudioFile.filter(group_id=info.group_id).values_list("performer", flat=True)
    assert max(len(p) for p in performers if p) == TEXT_MAX
    titles = set(await AudioFile.filter(group_id=info.group_id).values_list("title", flat=True))
    assert {"Red Alert", "Right-to-left Override", "Controls in Title", "Bell and new line"} <= titles

    # Search still finds them: by their clean words, and by a query typed with the same hostile bytes.
    service = SearchService()
    for query, title in [
        ("red alert", "Red Alert"),
        ("\x1b[31mRed Alert\x1b[0m", "Red Alert"),
        ("\u202eRight-to-left", "Right-to-left Override"),
        ("Con\u200btrols", "Controls in Title"),
        ("extremely long orchestra", "Long Performer"),
    ]:
        found = await service.search(query, limit=5)
        assert title in [hit.title for hit in found.hits], query


async def test_the_library_gate_cleans_what_any_source_hands_over(store: None) -> None:
    """Text reaching store_pages unclean (a Source that skipped parse_audio) is cleaned there."""
    info = GroupInfo(-1001234, "\u202eGroup\x1b[2J" + "g" * 400, "user\u200bname", "channel", 1)
    group = await upsert_group(info)
    audio = AudioInfo(
        group_id=info.group_id, message_id=1, posted_at=datetime(2025, 1, 1, tzinfo=UTC),
        location=FileLocation(1, 2, b"r", 2, 100), file_name="\x1b[31mname\ud800.mp3",
        mime_type="audio/mpeg\u202e", duration=3, title="T\x00" + "t" * 20_000, performer="\u2066P\u2069",
        caption=None,
    )

    async def one_page() -> AsyncIterator[list[AudioInfo]]:
        yield [audio]

    assert (await store_pages(group, one_page())).new == 1
    await assert_library_is_clean()
    row = await AudioFile.get(message_id=1)
    assert (row.file_name, row.performer, row.mime_type) == ("name\ufffd.mp3", "P", "audio/mpeg")
    assert len(row.title) == TEXT_MAX


# ---- tags in files -------------------------------------------------------------------------------


def test_hostile_tags_read_from_files_are_clean(demo_catalogue: Catalogue, tmp_path: Path) -> None:
    files = [m.file for m in demo_catalogue.group(HOSTILE).messages if m.file and m.file.tags]
    assert any(unsafe(value) for f in files for _, value in f.tags)  # the files really carry hostile tags
    for file in files:
        tags = read_tags(file.path)
        for value in (tags.title, tags.performer, tags.album, tags.genre):
            assert value is None or (not unsafe(value) and len(value) <= TEXT_MAX)


@pytest.mark.parametrize("mime_type", ["audio/mpeg", "audio/ogg", "audio/flac"])
def test_tags_written_into_files_are_clean(demo_catalogue: Catalogue, tmp_path: Path, mime_type: str) -> None:
    source = next(
        m.file for m in demo_catalogue.group("tad_demo_classical").messages
        if m.file and not m.file.tags and m.file.mime_type == mime_type
    )
    path = tmp_path / f"untagged{source.path.suffix}"
    shutil.copyfile(source.path, path)
    wanted = TagInfo(
        title="\x1b[2J\x1b[HTitle\u202e\u200b" + "x" * 10_000,
        performer="\u2066Perf\u2069\x00\x07er",
        album="\x1b]0;owned\x07Album\ud800",
    )
    assert set(write_missing_tags(path, wanted)) == {"title", "performer", "album"}
    raw = mutagen.File(path).tags
    if hasattr(raw, "getall"):  # ID3 frames
        values = [str(text) for frame in raw.values() for text in getattr(frame, "text", [])]
    else:  # Vorbis comments: (key, value) pairs
        values = [value for _, value in raw]
    assert values
    written = read_tags(path)
    assert written.title and written.title.startswith("Title") and len(written.title) == TEXT_MAX
    assert written.performer == "Perf er" and written.album == "Album\ufffd"
    assert not any(unsafe(v) for v in values)


# ---- the real command: listing, searching and downloading the hostile group ----------------------


def _assert_terminal_safe(text: str) -> None:
    """Output to a pipe: no escape sequence at all (tad-tui styles nothing when not on a terminal)."""
    assert "\x1b" not in text and "\x9b" not in text
    assert not BIDI.search(text)
    assert not unsafe(text.replace("\n", ""))


def _assert_safe_file_name(path: Path, root: Path) -> None:
    assert path.resolve().is_relative_to(root.resolve())
    for part in path.relative_to(root).parts:
        assert not unsafe(part) and not re.search(r'[<>:"|?*\\]', part), part
        assert part not in (".", "..") and not part.startswith(".") and part == part.rstrip(" ."), part
        assert not WINDOWS_RESERVED.match(part), part
        assert len(part.encode()) <= MAX_COMPONENT_BYTES
        assert unicodedata.is_normalized("NFC", part)


def test_hostile_group_through_the_command(tmp_path: Path, demo_config: Path, demo_catalogue: Catalogue) -> None:
    data, out = tmp_path / "data", tmp_path / "out"

    def tad(*args: str, columns: int = 80) -> str:
        result = run("--config", str(demo_config), "--demo", "--data-dir", str(data), *args, env={"COLUMNS": str(columns)})
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        _assert_terminal_safe(result.stdout)
        _assert_terminal_safe(result.stderr)
        return result.stdout

    downloaded = tad("download", f"@{HOSTILE}", "-o", str(out))
    expected = sum(1 for m in demo_catalogue.group(HOSTILE).messages if m.file)
    assert f"{expected} downloaded, 0 skipped, 0 failed" in downloaded
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == expected
    for path in files:
        _assert_safe_file_name(path, out)

    groups = tad("groups", "--offline")
    assert "TAD Demo · Hostile Names" in groups
    queue = tad("queue")
    assert "Red Alert" in queue and "downloaded" in queue and "completed" not in queue  # one word per state
    listed = tad("search", "hostile", "--limit", "100", columns=200)
    assert "Hostile Tester" in listed
    typed = tad("search", "\x1b[31mred\u202e alert")  # a hostile query is cleaned the same way
    assert "Red Alert – Bold H" in typed  # title first, as in the Search pane (80 columns cut the rest)
    hits = json.loads(tad("search", "--group", HOSTILE, "--limit", "100", "--json"))
    assert len(hits) == expected
    for hit in hits:
        for value in hit.values():
            if isinstance(value, str):
                assert not unsafe(value) and len(value) <= TEXT_MAX + len(" – ") + TEXT_MAX
