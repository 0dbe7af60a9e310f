"""Where a downloaded track goes: a filename template and a track's fields → a safe path in the output dir.

``render_relative`` fills the ``downloads.filename_template`` (``str.format`` over
``config.TEMPLATE_FIELDS``; "/" or "\\" in the template's own text makes sub-folders) and returns a
relative path that is valid on Linux, macOS and Windows and cannot leave the output dir.
``unique_target`` turns it into a path that clobbers nothing on disk or claimed by another download.

Field values, when missing (None, empty, or only dots, spaces and slashes after cleaning):

- ``title``        → the stem of ``file_name`` → ``"Track <message_id>"``
- ``performer``, ``album``, ``group`` → ``unknown`` (``[downloads] unknown``, default ``"Unknown"``;
  ``""`` drops a folder level it alone names)
- ``date``, ``genre`` → ``""`` (a folder that renders empty is dropped)
- ``topic``        → the forum topic's title ("General" for a forum's first topic); ``""`` outside a
  forum group, so ``{group}/{topic}/{title}.{ext}`` files a channel's tracks under ``{group}/``
- ``track_number`` → the part before any "/" ("3/12" → "3", "03" stays "03"), ``""`` when missing;
  with a format spec such as ``{track_number:02}`` it is that part as an integer, 0 when missing
- ``file_name``    → Telegram's name without any folders in it → ``"<title>.<ext>"``
- ``ext``          → ``extension_for(file_name, mime_type)``

A format spec the value cannot take (``{title:02}``, ``{track_number:02}`` with "A1") or one with a
number above 255 (a width that would build a huge string) is ignored: the plain value is used.

Every field is cleaned before substitution (``clean_text``; a "/" or "\\" in a field's own text
becomes "-": "AC/DC" → "AC-DC"), and so is every path component after it. Characters that are
illegal on some OS (Windows' ``<>:"|?*``) are replaced by ASCII look-alikes or dropped:

==========  ===========================================================================
character   becomes
==========  ===========================================================================
``:``       " - ", taking the spaces around it ("Symphonies: No. 5" → "Symphonies - No. 5")
``|``       " - ", the same way
``"``       ``'``
``<`` ``>`` ``(`` ``)``
``?`` ``*`` dropped ("Why?" → "Why")
==========  ===========================================================================

then runs of spaces become one space. No control or bidi characters, no leading dots (hidden
files) or trailing dots and spaces (Windows drops them), Windows device names (CON, nul.flac, COM1…)
prefixed with "_", NFC, at most 255 UTF-8 bytes per folder and 250 for the file name (so
``"<name>.part"`` still fits). A cut keeps the extension and ends on a word boundary when the last
space lies in the kept half (else on a character boundary), dropping the spaces and dangling
punctuation (`` ,;-&+``) before the cut: "…Allegro con brio.mp3", never "…Allegro con .mp3". The
whole relative path is at most 1024 bytes. Empty, "." and ".." components are dropped; an empty file
name becomes ``"<title>.<ext>"``.

Written here rather than with pathvalidate: the byte limits, the room for ".part", the extension kept
on cuts and ``clean_text`` all need code of our own anyway, and the rest is a dozen lines.
"""

from __future__ import annotations

import itertools
import os
import re
import string
import sys
import time
import unicodedata
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tad_tui.config import check_filename_template
from tad_tui.library.text import clean_text

MAX_COMPONENT_BYTES = 255  # NAME_MAX on Linux and macOS; NTFS allows 255 UTF-16 units, never fewer bytes
PART_SUFFIX = ".part"
MAX_FILE_NAME_BYTES = MAX_COMPONENT_BYTES - len(PART_SUFFIX)  # the in-flight "<name>.part" must fit too
LISTING_SECONDS = 2.0  # a folder's listing is used this long for naming (FolderListings)
LISTINGS_KEPT = 64  # folders whose listings are kept at once (the oldest are dropped first)
MAX_RELATIVE_BYTES = 1024
MAX_SPEC_NUMBER = 255  # larger widths/precisions in a format spec are ignored, not honoured
FALLBACK_EXTENSION = "audio"

AUDIO_EXTENSIONS = frozenset(
    "mp3 flac ogg oga opus m4a m4b aac wav wave aif aiff aifc wma ape wv mka mpc amr ac3 dsf dff spx webm alac"
    .split()
)
_MIME_EXTENSIONS: Mapping[str, str] = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mpeg3": "mp3",
    "audio/x-mpeg": "mp3",
    "audio/x-mp3": "mp3",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/ogg": "ogg",
    "audio/vorbis": "ogg",
    "audio/opus": "opus",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "aac",
    "audio/x-aac": "aac",
    "audio/aacp": "aac",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/aiff": "aiff",
    "audio/x-aiff": "aiff",
    "audio/x-ms-wma": "wma",
    "audio/webm": "webm",
    "audio/amr": "amr",
    "audio/x-ape": "ape",
    "audio/x-wavpack": "wv",
    "audio/x-matroska": "mka",
}

DEFAULT_UNKNOWN = "Unknown"  # [downloads] unknown's default
_UNKNOWN_FIELDS = ("performer", "album", "group")  # the rest render as "" when missing
_EMPTY_FIELDS = ("date", "genre", "topic")
_DASHED = re.compile(r'\s*[:|]\s*')  # a colon or bar, with the spaces around it → " - "
_LOOK_ALIKES = str.maketrans({'"': "'", "<": "(", ">": ")", "?": None, "*": None, "/": "-", "\\": "-"})
_SPACES = re.compile(r" {2,}")
_DANGLING = " ,;-&+"  # stripped from the end of a cut stem
_SEPARATORS = re.compile(r"[/\\]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_SPEC_NUMBERS = re.compile(r"\d+")
_MAX_SUFFIX_CHARS = 10
_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{device}{digit}" for device in ("COM", "LPT") for digit in "123456789¹²³"]
)


@dataclass(frozen=True)
class TrackFields:
    """A track's fields as stored; any text may be missing or hostile."""

    title: str | None
    performer: str | None
    album: str | None
    track_number: str | None  # as stored, e.g. "3", "03", "3/12"
    date: str | None  # e.g. "1959" or "1959-08-17"
    genre: str | None
    group: str | None  # the group's title
    message_id: int
    file_name: str | None  # Telegram's file name attribute
    mime_type: str | None
    topic: str | None = None  # the forum topic's title (None outside a forum group)


# --- extension -------------------------------------------------------------------------------


def extension_for(file_name: str | None, mime_type: str | None) -> str:
    """Lower-case extension without the dot: the file name's if it is a known audio one, else the
    mime type's, else ``FALLBACK_EXTENSION``."""
    suffix = _split_suffix(_base_name(file_name))[1][1:].lower()
    if suffix in AUDIO_EXTENSIONS:
        return suffix
    mime = (mime_type or "").partition(";")[0].strip().lower()  # drop parameters such as "; codecs=opus"
    return _MIME_EXTENSIONS.get(mime, FALLBACK_EXTENSION)


# --- rendering -------------------------------------------------------------------------------


def render_relative(template: str, fields: TrackFields, *, unknown: str = DEFAULT_UNKNOWN) -> PurePosixPath:
    """The template filled with ``fields``, sanitized into a relative path (see the module docstring).

    ``unknown`` stands for a missing performer, album or group. Raises ValueError if ``template`` is
    not a valid filename template.
    """
    check_filename_template(template)
    values = _field_values(fields, unknown)
    *folders, name = _SEPARATORS.split(_SafeFormatter().vformat(template, (), values))
    dirs = [part for part in (_fit(folder, MAX_COMPONENT_BYTES) for folder in folders) if part]
    name = _fit(name, MAX_FILE_NAME_BYTES, keep_suffix=True) or _fit(
        f"{values['title']}.{values['ext']}", MAX_FILE_NAME_BYTES, keep_suffix=True
    )
    return PurePosixPath(*_bound_total(dirs, name), name)


class _TrackNumber(str):
    """The displayed track number, which formats as an integer when the template gives a spec."""

    number: int | None

    def __new__(cls, text: str, number: int | None) -> _TrackNumber:
        self = super().__new__(cls, text)
        self.number = number
        return self

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        if self.number is None:  # "A1" cannot take ":02"; the caller falls back to the plain text
            raise ValueError("not a number")
        return format(self.number, spec)


class _SafeFormatter(string.Formatter):
    """str.format whose fields never fail on a spec and never add a path separator."""

    def format_field(self, value: Any, format_spec: str) -> str:
        return _SEPARATORS.sub("-", _format_or_plain(value, format_spec))


def _format_or_plain(value: Any, spec: str) -> str:
    if any(int(number) > MAX_SPEC_NUMBER for number in _SPEC_NUMBERS.findall(spec)):
        return str(value)  # "{title:999999999}" would allocate a gigabyte before being cut
    try:
        return format(value, spec)
    except (ValueError, TypeError, OverflowError):
        return str(value)


def _field_values(fields: TrackFields, unknown: str) -> dict[str, Any]:
    ext = extension_for(fields.file_name, fields.mime_type)
    base = _field_text(_base_name(fields.file_name))
    stem = _field_text(_split_suffix(base or "")[0].strip(". "))
    title = _field_text(fields.title) or stem or f"Track {fields.message_id}"
    missing = _field_text(unknown) or ""
    values: dict[str, Any] = {name: _field_text(getattr(fields, name)) or missing for name in _UNKNOWN_FIELDS}
    values.update({name: _field_text(getattr(fields, name)) or "" for name in _EMPTY_FIELDS})
    values.update(
        title=title,
        track_number=_track_number(fields.track_number),
        message_id=fields.message_id,
        file_name=base if stem else f"{title}.{ext}",  # a name like "...mp3" has nothing worth keeping
        ext=ext,
    )
    return values


def _field_text(value: str | None) -> str | None:
    """A field's text, cleaned and unable to add a folder; None when nothing usable is left."""
    text = clean_text(_no_surrogates(value))
    if text is None or not text.strip(". /\\"):  # "../.." names nothing
        return None
    return _SEPARATORS.sub("-", text)


def _track_number(stored: str | None) -> _TrackNumber:
    text = clean_text(_no_surrogates(stored)) or ""
    shown = text.partition("/")[0].strip()  # "3/12" = track 3 of 12
    if not shown:
        return _TrackNumber("", 0)
    try:
        number: int | None = int(shown)
    except ValueError:  # "A1", or more digits than int() accepts
        number = None
    return _TrackNumber(_field_text(shown) or "", number)


def _base_name(file_name: str | None) -> str:
    """Telegram's file name without any folders it pretends to have ("../../x.mp3" → "x.mp3")."""
    text = clean_text(_no_surrogates(file_name)) or ""
    return _SEPARATORS.split(text)[-1].strip()


def _no_surrogates(value: str | None) -> str | None:
    return None if value is None else _SURROGATES.sub("\ufffd", value)  # they cannot be encoded as UTF-8


# --- components ------------------------------------------------------------------------------


def _clean_component(raw: str) -> str:
    """One path component made legal everywhere, or "" when nothing is left of it."""
    text = clean_text(_no_surrogates(raw), max_length=sys.maxsize) or ""
    text = _SPACES.sub(" ", _DASHED.sub(" - ", text).translate(_LOOK_ALIKES))
    text = text.strip(". ")  # leading dots hide a file; Windows drops trailing ones
    text = text.removeprefix("- ").removesuffix(" -").strip(". ")  # what a leading or closing ":" left
    if text and _is_reserved(text):
        text = "_" + text
    return text


def _is_reserved(name: str) -> bool:
    """Windows device names, which stay devices whatever extension follows ("nul.flac")."""
    return name.partition(".")[0].rstrip(" ").upper() in _RESERVED_NAMES


def _fit(raw: str, limit: int, *, keep_suffix: bool = False) -> str:
    """``raw`` cleaned and cut to at most ``limit`` UTF-8 bytes, keeping the extension if asked."""
    name = _clean_component(raw)
    stem, suffix = _split_suffix(name) if keep_suffix else (name, "")
    for budget in range(limit - _byte_length(suffix), 0, -1):  # cleaning may add a "_": retry one byte shorter
        fitted = _clean_component(_cut_words(stem, budget) + suffix)
        if _byte_length(fitted) <= limit:
            return fitted
    return ""


def _bound_total(dirs: list[str], name: str) -> list[str]:
    """Folders shortened evenly (longest first) so the whole relative path stays within bounds."""
    budget = MAX_RELATIVE_BYTES - _byte_length(name)
    if _joined_length(dirs) <= budget:
        return dirs
    low, high, best = 1, MAX_COMPONENT_BYTES, [d for d in (_fit(d, 1) for d in dirs) if d]
    while low <= high:  # binary search for the largest per-folder cap that fits
        cap = (low + high) // 2
        fitted = [d for d in (_fit(d, cap) for d in dirs) if d]
        if _joined_length(fitted) <= budget:
            best, low = fitted, cap + 1
        else:
            high = cap - 1
    while best and _joined_length(best) > budget:  # more folders than fit even at one byte each
        best.pop()
    return best


def _joined_length(dirs: list[str]) -> int:
    return sum(_byte_length(d) + 1 for d in dirs)  # each folder is followed by a "/"


def _split_suffix(name: str) -> tuple[str, str]:
    """("song", ".mp3") for "song.mp3"; no suffix unless it is short and alphanumeric."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= _MAX_SUFFIX_CHARS and ext.isalnum():
        return stem, dot + ext
    return name, ""


def _cut_words(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes, cut after a whole word when one ends in the kept
    half, without the spaces and dangling punctuation before the cut."""
    cut = _cut_bytes(text, limit)
    if cut == text:
        return text
    if text[len(cut)] != " ":  # the cut fell inside a word: end at the space before it
        space = cut.rfind(" ")
        if space >= len(cut) // 2:
            cut = cut[:space]
    return cut.rstrip(_DANGLING) or cut


def _cut_bytes(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: max(limit, 0)].decode("utf-8", "ignore")  # "ignore" drops a split character


def _byte_length(text: str) -> int:
    return len(text.encode("utf-8"))


# --- unique target ---------------------------------------------------------------------------


def unique_target(
    output_dir: Path,
    relative: PurePosixPath,
    *,
    reserved: Collection[Path] = (),
    listings: FolderListings | None = None,
) -> Path:
    """``output_dir / relative``, or "name (2).ext", "name (3).ext", … if that is taken.

    Taken means an entry of the folder, its ``.part`` or a path in ``reserved`` (claimed by
    downloads in flight) has the same name ignoring case and Unicode normalisation, as macOS and
    Windows do. Numbered names shorten the stem to stay within ``MAX_FILE_NAME_BYTES``. With
    ``listings`` the folder's entries come from its recent listing, and the name chosen is added to it.
    """
    if not relative.parts or relative.is_absolute() or any(p in ("", ".", "..") for p in relative.parts):
        raise ValueError(f"not a safe relative path: {relative}")
    target = Path(output_dir, *relative.parts)
    folder = target.parent
    taken = set(listings.keys(folder)) if listings is not None else _listed_keys(folder)
    _add_reserved(taken, folder, reserved)
    stem, suffix = _split_suffix(target.name)
    for number in itertools.count(1):
        name = target.name if number == 1 else _numbered(stem, suffix, number)
        if _name_key(name) not in taken and _name_key(name + PART_SUFFIX) not in taken:
            if listings is not None:
                listings.claim(folder, name)
            return folder / name
    raise AssertionError("unreachable")  # itertools.count never ends


def numbered_from(planned: Path, wanted: Path) -> bool:
    """Whether ``planned`` is ``wanted`` numbered by ``unique_target`` ("x (2).mp3" for "x.mp3")."""
    if planned.parent != wanted.parent or planned.suffix != wanted.suffix:
        return False
    stem, _, number = planned.stem.rpartition(" (")
    return stem == wanted.stem and number.endswith(")") and number[:-1].isdigit()


def same_name(one: str, other: str) -> bool:
    """Whether two names are one file's on a disk that ignores case and Unicode normalisation."""
    return _name_key(one) == _name_key(other)


def remove_empty_folders(folder: Path, root: Path, *, busy: Collection[Path] = ()) -> list[Path]:
    """``folder`` and its parents up to (not including) ``root`` removed while empty; a folder that
    holds a path in ``busy`` (a download in flight about to write there) is kept. Returns those removed."""
    removed: list[Path] = []
    try:
        folder.relative_to(root)
    except ValueError:
        return removed  # never outside the download folder
    busy_parents = {parent for path in busy for parent in Path(path).parents}
    while folder != root and folder not in busy_parents:
        try:
            folder.rmdir()  # fails unless empty
        except OSError:
            break
        removed.append(folder)
        folder = folder.parent
    return removed


class FolderListings:
    """Recent listings of output folders, as name keys (``_name_key``).

    Naming each of a thousand tracks that go to one folder listed the folder a thousand times: a
    millisecond a file at a thousand entries, growing with the folder. A listing is kept for
    ``LISTING_SECONDS``, and the names this process claims are added to it. What another program
    puts into the folder meanwhile is still never overwritten: the final rename looks at the name on
    disk again (``job._publish``), and a listing is taken anew once it is older than that.
    """

    def __init__(self, seconds: float = LISTING_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._listed: dict[str, tuple[float, set[str]]] = {}  # folder -> (when listed, name keys)

    def keys(self, folder: Path) -> set[str]:
        now = self._clock()
        where = os.path.abspath(folder)
        listed = self._listed.get(where)
        if listed is not None and now - listed[0] < self.seconds:
            return listed[1]
        if len(self._listed) >= LISTINGS_KEPT:  # the newest half, of those still fresh
            newest = sorted(self._listed.items(), key=lambda item: item[1][0])[-(LISTINGS_KEPT // 2) :]
            self._listed = {f: kept for f, kept in newest if now - kept[0] < self.seconds}
        keys = _listed_keys(folder)
        self._listed[where] = (now, keys)
        return keys

    def claim(self, folder: Path, name: str) -> None:
        """``name`` (and its ``.part``) is being written into ``folder`` by this process."""
        listed = self._listed.get(os.path.abspath(folder))
        if listed is not None:
            listed[1].update((_name_key(name), _name_key(name + PART_SUFFIX)))


def _numbered(stem: str, suffix: str, number: int) -> str:
    tag = f" ({number})"
    room = MAX_FILE_NAME_BYTES - _byte_length(tag) - _byte_length(suffix)
    return _cut_bytes(stem, room).rstrip(". ") + tag + suffix


def _listed_keys(folder: Path) -> set[str]:
    try:
        return {_name_key(entry) for entry in os.listdir(folder)}
    except (FileNotFoundError, NotADirectoryError):
        return set()  # a folder not made yet holds nothing


def _add_reserved(keys: set[str], folder: Path, reserved: Collection[Path]) -> None:
    folder_key = _name_key(os.path.abspath(folder))
    for path in reserved:
        absolute = os.path.abspath(path)
        if _name_key(os.path.dirname(absolute)) == folder_key:
            keys.add(_name_key(os.path.basename(absolute)))


def _name_key(name: str) -> str:
    """Canonical caseless form: "Track.mp3", "track.MP3" and an NFD "é" from macOS compare equal."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())
