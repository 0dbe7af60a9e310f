"""Filename templates → safe relative paths, and unique targets that never clobber a file."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tad_tui.config import TEMPLATE_FIELDS, check_filename_template
from tad_tui.download.naming import (
    FALLBACK_EXTENSION,
    MAX_COMPONENT_BYTES,
    MAX_FILE_NAME_BYTES,
    MAX_RELATIVE_BYTES,
    LISTINGS_KEPT,
    FolderListings,
    TrackFields,
    extension_for,
    render_relative,
    unique_target,
)

DEFAULT = "{performer} - {title}.{ext}"
FOLDERS = "{performer}/{album}/{track_number:02} {title}.{ext}"
BARE = TrackFields(
    title=None,
    performer=None,
    album=None,
    track_number=None,
    date=None,
    genre=None,
    group=None,
    message_id=42,
    file_name=None,
    mime_type=None,
)
TAGGED = replace(
    BARE,
    title="So What",
    performer="Miles Davis",
    album="Kind of Blue",
    track_number="1/5",
    date="1959-08-17",
    genre="Jazz",
    group="Jazz Archive",
    file_name="01-so_what.flac",
    mime_type="audio/flac",
)
_UNSAFE_CHARS = re.compile('[<>:"|?*\\\\/\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]')
_RESERVED = re.compile(r"(?i)(con|prn|aux|nul|com[1-9¹²³]|lpt[1-9¹²³]|conin\$|conout\$) *(\..*)?")


def render(template: str, **changes: object) -> str:
    return str(render_relative(template, replace(BARE, **changes)))  # type: ignore[arg-type]


def assert_safe(relative: PurePosixPath, root: Path) -> None:
    """Every rule a rendered path must satisfy, on every platform."""
    assert not relative.is_absolute()
    assert relative.parts, "no file name at all"
    for part in relative.parts:
        assert part not in ("", ".", "..")
        assert not _UNSAFE_CHARS.search(part), repr(part)
        assert part == part.strip(". ") and not part.startswith("."), repr(part)
        assert not _RESERVED.fullmatch(part), repr(part)
        assert unicodedata.is_normalized("NFC", part)
        assert len(part.encode()) <= MAX_COMPONENT_BYTES
    assert len(relative.name.encode()) <= MAX_FILE_NAME_BYTES
    assert len(str(relative).encode()) <= MAX_RELATIVE_BYTES
    assert (root / relative).resolve().is_relative_to(root.resolve())


# --- templates ---------------------------------------------------------------------------------


def test_default_template_on_normal_tags() -> None:
    assert render_relative(DEFAULT, TAGGED) == PurePosixPath("Miles Davis - So What.flac")


def test_sub_folder_template() -> None:
    assert render_relative(FOLDERS, TAGGED) == PurePosixPath("Miles Davis/Kind of Blue/01 So What.flac")
    assert render_relative("{group}/{date}/{genre}/{message_id}.{ext}", TAGGED) == PurePosixPath(
        "Jazz Archive/1959-08-17/Jazz/42.flac"
    )


def test_backslash_in_the_template_also_makes_a_folder() -> None:
    assert render_relative("{performer}\\{title}.{ext}", TAGGED) == PurePosixPath("Miles Davis/So What.flac")


def test_invalid_template_is_refused() -> None:
    with pytest.raises(ValueError):
        render_relative("{bitrate}.{ext}", TAGGED)
    with pytest.raises(ValueError):
        render_relative("{title", TAGGED)


# --- fallbacks ---------------------------------------------------------------------------------


def test_title_falls_back_to_the_file_name_stem_then_the_message_id() -> None:
    assert render(DEFAULT, file_name="My Song.mp3") == "Unknown - My Song.mp3"
    assert render(DEFAULT, file_name="   ", mime_type="audio/mpeg") == "Unknown - Track 42.mp3"
    assert render(DEFAULT) == f"Unknown - Track 42.{FALLBACK_EXTENSION}"
    assert render("{title}", title=" . . ") == "Track 42"  # only dots and spaces counts as missing


def test_missing_text_fields_fall_back() -> None:
    assert render("{performer}/{album}/{group}/{title}") == "Unknown/Unknown/Unknown/Track 42"
    assert render("{performer}", performer="\x00\t") == "Unknown"


def test_empty_date_and_genre_drop_their_folder() -> None:
    assert render("{genre}/{date}/{title}.{ext}", mime_type="audio/ogg") == "Track 42.ogg"
    assert render("{date} {title}", date=None) == "Track 42"


def test_track_number_without_spec() -> None:
    assert render("{track_number}", track_number="3/12") == "3"
    assert render("{track_number}", track_number="03") == "03"
    assert render("{track_number}-{title}", track_number=None) == "-Track 42"


def test_file_name_field_falls_back_to_title_and_extension() -> None:
    assert render("{file_name}", file_name="Take Five.MP3") == "Take Five.MP3"
    assert render("{file_name}", title="Blue", mime_type="audio/x-flac") == "Blue.flac"
    assert render("{file_name}", file_name="...mp3") == "Track 42.mp3"


def test_empty_file_name_component_becomes_title_and_extension() -> None:
    assert render("{performer}/", performer="Ella", title="Misty", mime_type="audio/mpeg") == "Ella/Misty.mp3"
    assert render("{genre}", title="Misty", mime_type="audio/mpeg") == "Misty.mp3"


# --- format specs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "expected"),
    [("3", "03"), ("03", "03"), ("3/12", "03"), ("12/12", "12"), (None, "00"), ("", "00"), ("A1", "A1")],
)
def test_track_number_spec(stored: str | None, expected: str) -> None:
    assert render("{track_number:02}", track_number=stored) == expected


def test_spec_a_value_cannot_take_falls_back_to_plain_text() -> None:
    assert render("{title:02}", title="Solar") == "Solar"
    assert render("{title:d}", title="Solar") == "Solar"
    assert render("{message_id:s}") == "42"
    assert render("{message_id:05}") == "00042"
    assert render("{title:.3}", title="Solar") == "Sol"
    assert render("{title!r}", title="Solar") == "'Solar'"


def test_huge_spec_width_is_ignored_not_allocated() -> None:
    assert render("{title:>999999999}", title="Solar") == "Solar"
    assert render("{track_number:.99999999e}", track_number="1") == "1"


def test_fill_character_cannot_make_a_folder() -> None:
    assert render("{title:/>7}", title="Solar") == "--Solar"


# --- hostile values ------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../x.mp3",
    "/etc/passwd.mp3",
    "..\\..\\win.mp3",
    "bell\x07\nnew\tline.mp3",
    "\x1b[31mred\x1b[0m.mp3",
    "a" * 300 + ".mp3",
    "CON.mp3",
    "nul.flac",
    "\u202egnp.mp3",
    "...mp3",
    "",
    "trailing. . ",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("template", [DEFAULT, "{file_name}", "{title}/{file_name}", FOLDERS])
def test_hostile_file_names_stay_safe(name: str, template: str, tmp_path: Path) -> None:
    relative = render_relative(template, replace(BARE, file_name=name, mime_type="audio/mpeg"))
    assert_safe(relative, tmp_path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x.mp3", "x.mp3"),
        ("/etc/passwd.mp3", "passwd.mp3"),
        ("..\\..\\win.mp3", "win.mp3"),
        ("bell\x07\nnew\tline.mp3", "bell new line.mp3"),
        ("\x1b[31mred\x1b[0m.mp3", "red.mp3"),  # escape sequences are dropped whole
        ("CON.mp3", "_CON.mp3"),
        ("nul.flac", "_nul.flac"),
        ("\u202egnp.mp3", "gnp.mp3"),
        ("...mp3", "Track 42.mp3"),
        ("", "Track 42.mp3"),
        ("trailing. . ", "trailing"),
    ],
)
def test_hostile_file_names_render_as(name: str, expected: str) -> None:
    assert render("{file_name}", file_name=name, mime_type="audio/mpeg") == expected


def test_long_name_is_cut_keeping_the_extension() -> None:
    name = render("{file_name}", file_name="a" * 300 + ".mp3")
    assert name.endswith("a.mp3") and len(name.encode()) == MAX_FILE_NAME_BYTES


def test_long_multibyte_name_is_cut_on_a_character_boundary() -> None:
    name = render("{title}.{ext}", title="é" * 200 + "🎵" * 50, mime_type="audio/mpeg")
    assert name.endswith(".mp3") and len(name.encode()) <= MAX_FILE_NAME_BYTES
    assert set(name.removesuffix(".mp3")) <= {"é", "🎵"}


def test_values_cannot_add_folders_or_climb() -> None:
    relative = render_relative(FOLDERS, replace(TAGGED, performer="../..", album="a/../../b", title="..\\x"))
    assert relative.parts[0] == "Unknown"  # ".." alone is no artist
    assert relative.parts[1] == "a-..-..-b"
    assert len(relative.parts) == 3


def test_windows_reserved_names_in_folders() -> None:
    assert render("{performer}/{title}", performer="Aux", title="com1.txt") == "_Aux/_com1.txt"
    assert render("{performer}", performer="CON .x") == "_CON .x"
    assert render("{performer}", performer="CONSOLE") == "CONSOLE"


def test_forbidden_characters_and_normalisation() -> None:
    assert render("{title}", title='a<b>c:d"e|f?g*h') == "a(b)c - d'e - fgh"
    assert render("{title}", title="Cafe\u0301") == "Café"  # NFD in, NFC out
    assert render("{title}", title="x\ud800y") == "x\ufffdy"  # a lone surrogate cannot be encoded


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Suite bergamasque: III. Clair de lune", "Suite bergamasque - III. Clair de lune"),
        ("Act 1 : Scene 2", "Act 1 - Scene 2"),  # the spaces around a colon are taken into " - "
        ("Why? Because *", "Why Because"),
        ("Live | Berlin", "Live - Berlin"),
        ("Intro:", "Intro"),  # nothing dangles at the end
        (":Outro", "Outro"),
        ("AC/DC", "AC-DC"),
    ],
)
def test_illegal_characters_become_look_alikes_or_go(title: str, expected: str) -> None:
    assert render("{title}", title=title) == expected


def test_a_long_name_is_cut_after_a_word_before_the_extension() -> None:
    name = render("{title}.{ext}", title="Extremely " * 40 + "Long", mime_type="audio/mpeg")
    assert len(name.encode()) <= MAX_FILE_NAME_BYTES
    assert name.endswith("Extremely.mp3") and not name.endswith(" .mp3")
    one_word = render("{title}.{ext}", title="x" * 400, mime_type="audio/mpeg")  # no space: a plain cut
    assert one_word == "x" * (MAX_FILE_NAME_BYTES - 4) + ".mp3"


def test_a_cut_drops_dangling_punctuation() -> None:
    name = render("{title}.{ext}", title="a" * 240 + " & bcdefgh", mime_type="audio/mpeg")
    assert name == "a" * 240 + ".mp3"


def test_unknown_is_chosen_and_empty_unknown_collapses_its_folder() -> None:
    assert str(render_relative(FOLDERS, BARE, unknown="?? n/a")) == "n-a/n-a/00 Track 42.audio"
    assert str(render_relative(FOLDERS, replace(BARE, performer="Ella"), unknown="")) == "Ella/00 Track 42.audio"


def test_total_length_is_bounded(tmp_path: Path) -> None:
    template = "{title}/" * 20 + "{title}.{ext}"
    relative = render_relative(template, replace(BARE, title="ü" * 300, mime_type="audio/mpeg"))
    assert relative.suffix == ".mp3" and len(relative.parts) == 21
    assert_safe(relative, tmp_path)


def test_leading_dots_do_not_hide_the_file() -> None:
    assert render("{title}.{ext}", title=".hidden", mime_type="audio/mpeg") == "hidden.mp3"


# --- extensions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "mime_type", "expected"),
    [
        ("a.MP3", None, "mp3"),
        ("a.flac", "audio/mpeg", "flac"),
        ("a.opus", None, "opus"),
        ("a.txt", "audio/mpeg", "mp3"),
        (None, "audio/x-flac", "flac"),
        (None, "audio/flac", "flac"),
        (None, "audio/ogg; codecs=opus", "ogg"),
        (None, "Audio/MP4", "m4a"),
        (None, "audio/x-m4a", "m4a"),
        (None, "audio/x-wav", "wav"),
        (None, "audio/wav", "wav"),
        (None, "audio/opus", "opus"),
        (None, "audio/aac", "aac"),
        ("noext", "application/octet-stream", FALLBACK_EXTENSION),
        ("../x.exe", None, FALLBACK_EXTENSION),
        ("", "", FALLBACK_EXTENSION),
    ],
)
def test_extension_for(file_name: str | None, mime_type: str | None, expected: str) -> None:
    assert extension_for(file_name, mime_type) == expected


# --- property --------------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
_HOSTILE_TEXT = st.one_of(_TEXT, st.sampled_from(HOSTILE_NAMES), _TEXT.map(lambda t: t * 40))
_SPECS = ["", ":02", ":>12", ":.3", ":d", ":x", ":^7", "!r", "!s:<5", ":/>9", ":0300", ":\\<6"]
_FIELD = st.builds(lambda name, spec: f"{{{name}{spec}}}", st.sampled_from(TEMPLATE_FIELDS), st.sampled_from(_SPECS))
_LITERAL = st.one_of(
    st.sampled_from(["/", "..", "/../", "\\", ".", " ", "//", "CON", "nul.", " - ", ":", "\x00"]),
    _TEXT.map(lambda t: t.replace("{", "{{").replace("}", "}}")),
)


def _valid(template: str) -> bool:
    try:
        check_filename_template(template)
    except ValueError:
        return False
    return True


_TEMPLATES = st.lists(st.one_of(_FIELD, _LITERAL), min_size=1, max_size=12).map("".join).filter(_valid)
_FIELDS = st.builds(
    TrackFields,
    title=st.none() | _HOSTILE_TEXT,
    performer=st.none() | _HOSTILE_TEXT,
    album=st.none() | _HOSTILE_TEXT,
    track_number=st.none() | _TEXT | st.sampled_from(["3", "03", "3/12", "A1", "/", "9" * 5000]),
    date=st.none() | _TEXT,
    genre=st.none() | _TEXT,
    group=st.none() | _HOSTILE_TEXT,
    message_id=st.integers(min_value=0, max_value=2**63),
    file_name=st.none() | _HOSTILE_TEXT,
    mime_type=st.none() | _TEXT | st.sampled_from(["audio/mpeg", "audio/flac"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=_TEMPLATES, fields=_FIELDS)
def test_any_template_and_fields_give_a_safe_path(template: str, fields: TrackFields, tmp_path: Path) -> None:
    assert_safe(render_relative(template, fields), tmp_path)


# --- unique targets ------------------------------------------------------------------------------


def test_free_target_is_used_as_is(tmp_path: Path) -> None:
    relative = PurePosixPath("Artist/Song.mp3")
    assert unique_target(tmp_path, relative) == tmp_path / "Artist" / "Song.mp3"  # folder need not exist


def test_existing_file_gets_a_number(tmp_path: Path) -> None:
    (tmp_path / "Song.mp3").write_bytes(b"x")
    assert unique_target(tmp_path, PurePosixPath("Song.mp3")) == tmp_path / "Song (2).mp3"
    (tmp_path / "Song (2).mp3").write_bytes(b"x")
    assert unique_target(tmp_path, PurePosixPath("Song.mp3")) == tmp_path / "Song (3).mp3"


def test_existing_part_file_gets_a_number(tmp_path: Path) -> None:
    (tmp_path / "Song.mp3.part").write_bytes(b"x")
    assert unique_target(tmp_path, PurePosixPath("Song.mp3")) == tmp_path / "Song (2).mp3"


def test_reserved_path_gets_a_number(tmp_path: Path) -> None:
    claimed = {tmp_path / "A" / "Song.mp3", tmp_path / "A" / "Song (2).mp3", tmp_path / "B" / "Song (3).mp3"}
    assert unique_target(tmp_path, PurePosixPath("A/Song.mp3"), reserved=claimed) == tmp_path / "A" / "Song (3).mp3"
    assert unique_target(tmp_path, PurePosixPath("B/Song.mp3"), reserved=claimed) == tmp_path / "B" / "Song.mp3"


def test_case_only_difference_counts_as_taken(tmp_path: Path) -> None:
    (tmp_path / "track.mp3").write_bytes(b"x")
    assert unique_target(tmp_path, PurePosixPath("Track.MP3")) == tmp_path / "Track (2).MP3"
    claimed = {tmp_path / "SONG.mp3"}
    assert unique_target(tmp_path, PurePosixPath("song.mp3"), reserved=claimed) == tmp_path / "song (2).mp3"
    claimed_nfd = {tmp_path / unicodedata.normalize("NFD", "Café.mp3")}  # how macOS may list it
    assert unique_target(tmp_path, PurePosixPath("café.mp3"), reserved=claimed_nfd) == tmp_path / "café (2).mp3"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_recent_listing_names_many_files_without_listing_the_folder_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "song.mp3").write_bytes(b"x")
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda folder: listed.append(str(folder)) or real_listdir(folder))
    clock = Clock()
    listings = FolderListings(seconds=2.0, clock=clock)
    names = [unique_target(tmp_path, PurePosixPath("Song.mp3"), listings=listings).name for _ in range(4)]
    # Each name claimed is taken for the next, as a download in flight would make it.
    assert names == ["Song (2).mp3", "Song (3).mp3", "Song (4).mp3", "Song (5).mp3"]
    assert listed == [str(tmp_path)]
    assert unique_target(tmp_path / "Other", PurePosixPath("Song.mp3"), listings=listings).name == "Song.mp3"
    assert len(listed) == 2  # another folder is a listing of its own


def test_a_listing_is_taken_again_once_it_is_old(tmp_path: Path) -> None:
    clock = Clock()
    listings = FolderListings(seconds=2.0, clock=clock)
    assert unique_target(tmp_path, PurePosixPath("Song.mp3"), listings=listings).name == "Song.mp3"
    (tmp_path / "Tune.mp3").write_bytes(b"x")  # another program, after the listing
    clock.now = 1.0
    assert unique_target(tmp_path, PurePosixPath("Tune.mp3"), listings=listings).name == "Tune.mp3"
    clock.now = 2.5
    assert unique_target(tmp_path, PurePosixPath("Tune.mp3"), listings=listings).name == "Tune (2).mp3"
    # Song.mp3 was only claimed, never written: a new listing no longer holds it.
    assert unique_target(tmp_path, PurePosixPath("Song.mp3"), listings=listings).name == "Song.mp3"


def test_listings_of_many_folders_are_not_all_kept(tmp_path: Path) -> None:
    clock = Clock()
    listings = FolderListings(seconds=2.0, clock=clock)
    for index in range(3 * LISTINGS_KEPT):
        clock.now = index * 0.001  # all within a listing's life
        listings.keys(tmp_path / str(index))
        assert len(listings._listed) <= LISTINGS_KEPT
    assert str(tmp_path / str(3 * LISTINGS_KEPT - 1)) in listings._listed  # the newest are kept


def test_long_name_with_number_stays_within_bytes(tmp_path: Path) -> None:
    relative = render_relative("{title}.{ext}", replace(BARE, title="é" * 300, mime_type="audio/mpeg"))
    (tmp_path / relative).write_bytes(b"x")
    target = unique_target(tmp_path, relative)
    assert target.name.endswith(" (2).mp3")
    assert len(target.name.encode()) <= MAX_FILE_NAME_BYTES
    assert len((target.name + ".part").encode()) <= MAX_COMPONENT_BYTES
    (target.with_name(target.name + ".part")).write_bytes(b"x")  # the filesystem accepts it


@pytest.mark.parametrize("bad", ["../x.mp3", "/etc/x.mp3", "a/../b.mp3", ""])
def test_unsafe_relative_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        unique_target(tmp_path, PurePosixPath(bad))
