"""Reading the tags of downloaded audio files, and filling in the tags a file lacks.

Both functions are blocking (callers run them in a worker thread) and never raise for a damaged,
truncated or non-audio file: they log at debug level and return an empty result.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import mutagen
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, TALB, TCOM, TCON, TDRC, TIT2, TPE1, TRCK, ID3TimeStamp, PictureType, TextFrame
from mutagen.mp4 import MP4Cover, MP4Tags
from mutagen._vorbis import VCommentDict  # documented base of every FLAC/Ogg comment block

from tad_tui.library.text import clean_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TagInfo:
    title: str | None = None
    performer: str | None = None
    album: str | None = None
    date: str | None = None
    genre: str | None = None
    composer: str | None = None
    track_number: str | None = None
    duration: int | None = None  # seconds, rounded, from mutagen's .info.length


# The tag fields in TagInfo order; duration is a stream property, not a tag.
TAG_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TagInfo) if f.name != "duration")
BASIC_FIELDS: tuple[str, ...] = ("title", "performer")

_MAX_LENGTH: dict[str, int] = {"genre": 255, "date": 32, "track_number": 16}
_DEFAULT_MAX_LENGTH = 1024
_MULTI_VALUE_SEPARATOR = "; "

_ID3_FRAMES: dict[str, type[TextFrame]] = {
    "title": TIT2,
    "performer": TPE1,
    "album": TALB,
    "date": TDRC,
    "genre": TCON,
    "composer": TCOM,
    "track_number": TRCK,
}
_VORBIS_KEYS: dict[str, str] = {
    "title": "title",
    "performer": "artist",
    "album": "album",
    "date": "date",
    "genre": "genre",
    "composer": "composer",
    "track_number": "tracknumber",
}
_MP4_ATOMS: dict[str, str] = {
    "title": "\xa9nam",
    "performer": "\xa9ART",
    "album": "\xa9alb",
    "date": "\xa9day",
    "genre": "\xa9gen",
    "composer": "\xa9wrt",
    "track_number": "trkn",
}

Tags = ID3 | VCommentDict | MP4Tags


def _clean(name: str, value: str | None) -> str | None:
    return clean_text(value, max_length=_MAX_LENGTH.get(name, _DEFAULT_MAX_LENGTH))


def _joined(values: list[Any]) -> str | None:
    texts = [str(v) for v in values if str(v).strip()]
    return _MULTI_VALUE_SEPARATOR.join(texts) if texts else None


# ---- reading ----------------------------------------------------------------------------------


def _id3_value(tags: ID3, name: str) -> str | None:
    frame = tags.get(_ID3_FRAMES[name].__name__)
    if frame is None:
        return None
    # TCON may hold ID3v1 genre numbers like "(13)"; .genres resolves them to names.
    return _joined(frame.genres if isinstance(frame, TCON) else list(frame.text))


def _vorbis_value(tags: VCommentDict, name: str) -> str | None:
    key = _VORBIS_KEYS[name]
    return _joined(tags[key]) if key in tags else None


def _mp4_value(tags: MP4Tags, name: str) -> str | None:
    values = tags.get(_MP4_ATOMS[name])
    if not values:
        return None
    if name == "track_number":
        number, total = values[0]
        return f"{number}/{total}" if total else str(number)
    return _joined(list(values))


def _raw_value(tags: Tags, name: str) -> str | None:
    if isinstance(tags, ID3):
        return _id3_value(tags, name)
    if isinstance(tags, VCommentDict):
        return _vorbis_value(tags, name)
    return _mp4_value(tags, name)


def _tag_values(tags: Any, names: tuple[str, ...]) -> dict[str, str | None]:
    """Cleaned values of ``names``; all None for a tag container we do not understand (APEv2, ASF)."""
    if not isinstance(tags, ID3 | VCommentDict | MP4Tags):
        return dict.fromkeys(names)
    return {name: _clean(name, _raw_value(tags, name)) for name in names}


def _duration(audio: mutagen.FileType) -> int | None:
    length = getattr(audio.info, "length", None)
    if not isinstance(length, int | float) or not math.isfinite(length) or length <= 0:
        return None
    return round(length)


def _open(path: Path) -> mutagen.FileType | None:
    """mutagen's view of ``path``, or None if it is missing, unreadable, damaged or not audio."""
    try:
        return mutagen.File(path)
    # mutagen's parsers raise more than MutagenError on hostile input (struct.error, IndexError...).
    except Exception as error:  # noqa: BLE001
        log.debug("cannot read tags of %s: %s", path, error)
        return None


def read_tags(path: Path, *, extended: bool = True) -> TagInfo:
    """The file's tags and duration; ``extended=False`` reads only title, performer and duration."""
    audio = _open(path)
    return TagInfo() if audio is None else _read(audio, path, extended)


def _read(audio: mutagen.FileType, path: Path, extended: bool) -> TagInfo:
    try:
        values = _tag_values(audio.tags, TAG_FIELDS if extended else BASIC_FIELDS)
        return TagInfo(**values, duration=_duration(audio))
    except Exception as error:  # noqa: BLE001  # a malformed frame must not crash the download
        log.debug("cannot decode tags of %s: %s", path, error)
        return TagInfo()


# ---- writing ----------------------------------------------------------------------------------


def _set_id3(tags: ID3, name: str, value: str) -> bool:
    # An unparseable date would be stored as an empty TDRC, so it is not written at all.
    if name == "date" and not ID3TimeStamp(value).text:
        return False
    tags.setall(_ID3_FRAMES[name].__name__, [_ID3_FRAMES[name](encoding=3, text=[value])])
    return True


def _set_vorbis(tags: VCommentDict, name: str, value: str) -> bool:
    tags[_VORBIS_KEYS[name]] = [value]
    return True


def _track_pair(value: str) -> tuple[int, int] | None:
    """trkn's (number, total) from "3" or "3/12"; None if it is not numeric."""
    number, _, total = value.partition("/")
    try:
        return int(number), int(total) if total.strip() else 0
    except ValueError:
        return None


def _set_mp4(tags: MP4Tags, name: str, value: str) -> bool:
    if name != "track_number":
        tags[_MP4_ATOMS[name]] = [value]
        return True
    pair = _track_pair(value)
    if pair is None:
        return False
    tags[_MP4_ATOMS[name]] = [pair]
    return True


def _setter(tags: Any) -> Callable[[Any, str, str], bool] | None:
    if isinstance(tags, ID3):
        return _set_id3
    if isinstance(tags, VCommentDict):
        return _set_vorbis
    if isinstance(tags, MP4Tags):
        return _set_mp4
    return None


def _ensure_tags(audio: mutagen.FileType) -> Any:
    """The file's tag container, created in memory (not on disk) if missing; None if it cannot have one."""
    if audio.tags is None:
        try:
            audio.add_tags()
        except (NotImplementedError, mutagen.MutagenError):  # a format mutagen cannot tag
            return None
    return audio.tags


def _missing(tags: Any, wanted: TagInfo) -> list[tuple[str, str]]:
    """(field, cleaned value) for each field ``wanted`` has and the file lacks."""
    present = _tag_values(tags, TAG_FIELDS)
    missing = []
    for name in TAG_FIELDS:
        value = _clean(name, getattr(wanted, name))
        if value is not None and present[name] is None:
            missing.append((name, value))
    return missing


def _save(audio: mutagen.FileType) -> None:
    if isinstance(audio.tags, ID3):
        audio.save(v2_version=4)
    else:
        audio.save()


# ---- cover art --------------------------------------------------------------------------------

COVER_FIELD = "cover"  # how an embedded cover is named among the fields written
_VORBIS_PICTURE = "metadata_block_picture"


def _flac_picture(jpeg: bytes) -> Picture:
    picture = Picture()
    picture.type = PictureType.COVER_FRONT
    picture.mime = "image/jpeg"
    picture.desc = "Cover"
    picture.data = jpeg
    return picture


def _has_picture(audio: mutagen.FileType, tags: Any) -> bool:
    """Whether the file holds a picture already, in any of the places its format keeps one."""
    if isinstance(audio, FLAC) and audio.pictures:
        return True
    if isinstance(tags, ID3):
        return bool(tags.getall("APIC"))
    if isinstance(tags, VCommentDict):
        return _VORBIS_PICTURE in tags or "coverart" in tags
    if isinstance(tags, MP4Tags):
        return bool(tags.get("covr"))
    return True  # a container we cannot put a picture in: as if it had one


def _embed_cover(audio: mutagen.FileType, tags: Any, jpeg: bytes) -> bool:
    """Put ``jpeg`` in as the front cover where the file has no picture; True if it was added."""
    if _has_picture(audio, tags):
        return False
    if isinstance(audio, FLAC):
        audio.add_picture(_flac_picture(jpeg))
    elif isinstance(tags, ID3):
        tags.add(APIC(encoding=3, mime="image/jpeg", type=PictureType.COVER_FRONT, desc="Cover", data=jpeg))
    elif isinstance(tags, VCommentDict):  # Ogg Vorbis and Opus: a FLAC picture block, base64, in a comment
        tags[_VORBIS_PICTURE] = [base64.b64encode(_flac_picture(jpeg).write()).decode("ascii")]
    else:
        tags["covr"] = [MP4Cover(jpeg, imageformat=MP4Cover.FORMAT_JPEG)]
    return True


def write_missing_tags(path: Path, wanted: TagInfo) -> list[str]:
    """Write the fields of ``wanted`` the file lacks, never touching a tag it has; returns their names."""
    audio = _open(path)
    return [] if audio is None else _write_missing(audio, path, wanted)


def complete_tags(
    path: Path, wanted: TagInfo, *, extended: bool = True, cover: bytes | None = None
) -> tuple[list[str], TagInfo]:
    """``write_missing_tags`` then ``read_tags``, parsing the file once (mutagen's MP3 parser walks
    the audio frames for the length: twice a file was most of the CPU a small download cost).
    ``cover`` (JPEG bytes) is embedded too where the file has no picture (``COVER_FIELD`` written)."""
    audio = _open(path)
    if audio is None:
        return [], TagInfo()
    before = _read(audio, path, extended)
    written = _write_missing(audio, path, wanted, cover)
    # Something written means it was saved: the tags in memory are the file's. Nothing written may
    # be a failed save, whose changes stayed in memory only.
    return written, (_read(audio, path, extended) if written else before)


def _write_missing(audio: mutagen.FileType, path: Path, wanted: TagInfo, cover: bytes | None = None) -> list[str]:
    try:
        tags = _ensure_tags(audio)
        setter = _setter(tags)
        if setter is None:
            return []
        written = [name for name, value in _missing(tags, wanted) if setter(tags, name, value)]
        if cover and _embed_cover(audio, tags, cover):
            written.append(COVER_FIELD)
        if written:  # an untouched file is never rewritten
            _save(audio)
        return written
    # A failed save is reported as nothing written; the caller keeps the file either way.
    except Exception as error:  # noqa: BLE001
        log.warning("cannot write tags to %s: %s", path, error)
        return []
