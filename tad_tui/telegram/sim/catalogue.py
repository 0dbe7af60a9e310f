"""The deterministic demo catalogue that the simulated Telegram server serves.

``build_demo_plan`` describes every group, message and file (pure and fast); ``load_catalogue``
renders that plan once into a directory (``files/<document_id>.<ext>`` plus ``manifest.json``) and
afterwards only reads the manifest. Generation happens in a staging sibling that is renamed into
place under a lock, so readers only ever see a complete catalogue.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from tad_tui.telegram.sim.media import MIME_TYPES, AudioFormat, Encoding, Tags, Tone, md5_of_file
from tad_tui.telegram.sim.render import PART_MARK, Progress, Renderer, render_cost, tiny_pdf

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

CATALOGUE_VERSION = 1
MANIFEST_NAME = "manifest.json"
DEMO_PLAN_NAME = "demo"
DC_ID = 2
CATALOGUE_SEED = 20240501
MAX_WORKERS = 4
RENDERING_NAME = "rendering.json"  # the version and plan of a render in progress (no manifest yet)
JOURNAL_NAME = "rendered.jsonl"  # the files a render in progress has finished, one JSON line each


# ---- what the server sees ---------------------------------------------------------------------


@dataclass(frozen=True)
class DemoFile:
    document_id: int  # Telegram document id (int64, positive); the same file posted twice shares it
    access_hash: int  # int64
    path: Path  # where the bytes live on disk (inside the catalogue dir)
    size: int  # exact byte size of the file at `path`
    md5: str  # hex md5 of the bytes
    mime_type: str  # e.g. audio/mpeg, audio/flac, audio/ogg
    file_name: str | None  # DocumentAttributeFilename value; None = no filename attribute
    title: str | None  # DocumentAttributeAudio.title (None = no title in the audio attribute)
    performer: str | None  # DocumentAttributeAudio.performer
    duration: int  # seconds, as the audio attribute reports it (0 without an audio attribute)
    has_audio_attribute: bool = True  # False = "audio sent as a plain file": only mime + filename
    dc_id: int = DC_ID
    tags: Tags = ()  # the tags written inside the file ((key, value) pairs); () = an untagged file


@dataclass(frozen=True)
class DemoMessage:
    id: int  # message id, increasing with date within a group, starting at 1
    date: datetime  # tz-aware UTC
    text: str  # caption / message text
    file: DemoFile | None  # None = a text-only message


@dataclass(frozen=True)
class DemoGroup:
    id: int  # bare channel id (positive, e.g. 1_000_000_001)
    access_hash: int
    title: str
    username: str  # without '@'
    megagroup: bool  # True = a supergroup, False = a broadcast channel
    about: str
    messages: tuple[DemoMessage, ...]


@dataclass(frozen=True)
class Catalogue:
    root: Path
    groups: tuple[DemoGroup, ...]
    # Set while the files render (open_catalogue): documents then change as they land.
    rendering: CatalogueRender | None = field(default=None, repr=False, compare=False)
    _by_username: dict[str, DemoGroup] = field(init=False, repr=False, compare=False)
    _by_id: dict[int, DemoGroup] = field(init=False, repr=False, compare=False)
    _documents: dict[int, DemoFile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen, so the lookup indexes are set once through object.__setattr__.
        object.__setattr__(self, "_by_username", {g.username.casefold(): g for g in self.groups})
        object.__setattr__(self, "_by_id", {g.id: g for g in self.groups})
        documents = {m.file.document_id: m.file for g in self.groups for m in g.messages if m.file is not None}
        object.__setattr__(self, "_documents", documents)

    def group(self, key: str | int) -> DemoGroup:
        """By username (with or without '@', any case), bare id, or Telethon's marked id (-100...)."""
        if isinstance(key, str):
            return self._by_username[key.removeprefix("@").casefold()]
        if key < 0 and str(key).startswith("-100"):
            key = int(str(key)[4:])
        return self._by_id[key]

    def document(self, document_id: int) -> DemoFile:
        return self._documents[document_id]

    def current(self, file: DemoFile) -> DemoFile:
        """``file`` as it is now: while the catalogue renders, a message's file reads size 0 until it lands."""
        return self._documents.get(file.document_id, file)

    @property
    def files(self) -> tuple[DemoFile, ...]:
        """Every distinct file, a file posted in two groups once."""
        return tuple(self._documents.values())


# ---- what to generate -------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioSource:
    tone: Tone
    encoding: Encoding
    tags: Tags
    ogg_serial: int


@dataclass(frozen=True)
class PdfSource:
    text: str


FileSource = AudioSource | PdfSource


@dataclass(frozen=True)
class FilePlan:
    document_id: int
    access_hash: int
    relpath: str  # POSIX path inside the catalogue dir
    mime_type: str
    file_name: str | None
    title: str | None
    performer: str | None
    duration: int
    has_audio_attribute: bool
    source: FileSource

    @property
    def tags(self) -> Tags:
        return self.source.tags if isinstance(self.source, AudioSource) else ()


@dataclass(frozen=True)
class MessagePlan:
    date: datetime
    text: str
    file: FilePlan | None


@dataclass(frozen=True)
class GroupPlan:
    id: int
    access_hash: int
    title: str
    username: str
    megagroup: bool
    about: str
    messages: tuple[MessagePlan, ...]  # in date order; message ids are positions + 1


@dataclass(frozen=True)
class CataloguePlan:
    name: str  # stored in the manifest, so a catalogue of another plan is never mistaken for this one
    groups: tuple[GroupPlan, ...]

    def files(self) -> list[FilePlan]:
        """Every distinct file in order of first appearance."""
        seen: dict[int, FilePlan] = {}
        for group in self.groups:
            for message in group.messages:
                if message.file is not None:
                    seen.setdefault(message.file.document_id, message.file)
        return list(seen.values())

    def only(self, *usernames: str) -> CataloguePlan:
        """The plan restricted to these groups (for tests that need a quick, real catalogue)."""
        groups = tuple(g for g in self.groups if g.username in usernames)
        return CataloguePlan(f"{self.name}[{','.join(g.username for g in groups)}]", groups)


class _Ids:
    """Unique positive document ids and nonzero signed access hashes from one seeded stream."""

    def __init__(self, seed: str, taken: set[int]) -> None:
        self._rng = random.Random(seed)
        self._taken = taken  # shared across groups so ids stay unique catalogue-wide

    def document_id(self) -> int:
        while (value := self._rng.randrange(1 << 60, 1 << 63)) in self._taken:
            pass
        self._taken.add(value)
        return value

    def access_hash(self) -> int:
        while (value := self._rng.getrandbits(64) - (1 << 63)) == 0:
            pass
        return value


# Just-intonation triads (ratios to the key's root): exact in binary floating point arithmetic,
# unlike 2 ** (n / 12), so the pitches never depend on the platform's pow().
_MAJOR_TRIADS = ((1.0, 5 / 4, 3 / 2), (4 / 3, 5 / 3, 2.0), (3 / 2, 15 / 8, 9 / 4), (5 / 3, 2.0, 5 / 2))
_MINOR_TRIADS = ((1.0, 6 / 5, 3 / 2), (4 / 3, 8 / 5, 2.0), (3 / 2, 9 / 5, 9 / 4), (8 / 5, 2.0, 12 / 5))
_KEY_ROOTS_HZ = (110.0, 123.75, 132.0, 137.5, 165.0, 176.0, 198.0, 220.0)  # 110 Hz times just ratios


def _progression(rng: random.Random, length: int = 4) -> tuple[tuple[float, ...], ...]:
    """A short chord progression in a random key and mode, as voice frequencies in Hz."""
    root = rng.choice(_KEY_ROOTS_HZ)
    triads = rng.choice((_MAJOR_TRIADS, _MINOR_TRIADS))
    order = [0] + [rng.randrange(len(triads)) for _ in range(length - 1)]
    return tuple(tuple(root * ratio for ratio in triads[i]) for i in order)


def _audio_file(
    ids: _Ids,
    rng: random.Random,
    *,
    encoding: Encoding,
    seconds: int,
    sample_rate: int,
    channels: int,
    tags: Tags,
    file_name: str | None,
    title: str | None,
    performer: str | None,
    noise: float = 0.0003,
    level: float = 0.12,
    has_audio_attribute: bool = True,
) -> FilePlan:
    """A FilePlan for a synthesized, tagged audio file stored as files/<document_id>.<ext>."""
    document_id = ids.document_id()
    tone = Tone(
        seconds=seconds,
        sample_rate=sample_rate,
        channels=channels,
        seed=rng.getrandbits(63),
        chords=_progression(rng),
        bar_seconds=rng.choice((0.25, 0.5, 0.75, 1.0, 1.5, 2.0)),
        level=level,
        noise=noise,
    )
    source = AudioSource(tone, encoding, tags, ogg_serial=zlib.crc32(str(document_id).encode()))
    return FilePlan(
        document_id=document_id,
        access_hash=ids.access_hash(),
        relpath=f"files/{document_id}.{encoding.format}",
        mime_type=MIME_TYPES[encoding.format],
        file_name=file_name,
        title=title if has_audio_attribute else None,
        performer=performer if has_audio_attribute else None,
        duration=seconds if has_audio_attribute else 0,
        has_audio_attribute=has_audio_attribute,
        source=source,
    )


def _spread_dates(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    """``count`` strictly increasing whole-second dates between start and end, evenly jittered."""
    step = (end - start).total_seconds() / count
    return [start + timedelta(seconds=int(i * step + rng.random() * step * 0.8)) for i in range(count)]


def _utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _group(ids: _Ids, *, group_id: int, title: str, username: str, megagroup: bool, about: str,
           messages: Sequence[MessagePlan]) -> GroupPlan:
    ordered = tuple(sorted(messages, key=lambda m: m.date))
    return GroupPlan(group_id, ids.access_hash(), title, username, megagroup, about, ordered)


def _dated(rng: random.Random, start: datetime, end: datetime,
           items: Sequence[tuple[str, FilePlan | None]]) -> list[MessagePlan]:
    """Messages for (text, file) items in the given order, dated across [start, end)."""
    dates = _spread_dates(rng, start, end, len(items))
    return [MessagePlan(date, text, file) for date, (text, file) in zip(dates, items, strict=True)]


# ---- @tad_demo_classical ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Composer:
    tag: str  # artist/composer tag, in the composer's own script
    latin: str  # for file names and captions
    album: str
    genre: str
    hashtag: str


_COMPOSERS = {
    "beethoven": _Composer(
        "Ludwig van Beethoven", "Beethoven", "Beethoven: Symphonies & Sonatas", "Classical", "beethoven",
    ),
    "bach": _Composer("Johann Sebastian Bach", "Bach", "Bach: Suites, Concertos & Fugues", "Baroque", "bach"),
    "mozart": _Composer("Wolfgang Amadeus Mozart", "Mozart", "Mozart: Favourites", "Classical", "mozart"),
    "dvorak": _Composer("Antonín Dvořák", "Dvořák", "Dvořák: New World & Songs", "Romantic", "dvorak"),
    "chopin": _Composer("Frédéric Chopin", "Chopin", "Chopin: Piano Works", "Romantic", "chopin"),
    "debussy": _Composer("Claude Debussy", "Debussy", "Debussy: Impressions", "Impressionist", "debussy"),
    "satie": _Composer("Erik Satie", "Satie", "Satie: Gymnopédies & Gnossiennes", "Classical", "satie"),
    "tchaikovsky_ru": _Composer(
        "Пётр Ильич Чайковский", "Tchaikovsky", "Чайковский: Балеты", "Romantic", "tchaikovsky",
    ),
    "tchaikovsky": _Composer(
        "Pyotr Ilyich Tchaikovsky", "Tchaikovsky", "Tchaikovsky: Concertos", "Romantic", "tchaikovsky",
    ),
    "rachmaninoff": _Composer(
        "Сергей Рахманинов", "Rachmaninoff", "Рахманинов: Романсы", "Romantic", "rachmaninoff",
    ),
    "rimsky": _Composer(
        "Николай Римский-Корсаков", "Rimsky-Korsakov", "Римский-Корсаков: Сказка о царе Салтане", "Romantic",
        "rimskykorsakov",
    ),
    "sakamoto": _Composer("坂本龍一", "Ryuichi Sakamoto", "戦場のメリークリスマス", "Soundtrack", "sakamoto"),
    "hisaishi": _Composer("久石譲", "Joe Hisaishi", "久石譲 スタジオジブリ作品集", "Soundtrack", "hisaishi"),
    "holst": _Composer("Gustav Holst", "Holst", "Holst: The Planets", "Classical", "holst"),
    "grieg": _Composer("Edvard Grieg", "Grieg", "Grieg: Peer Gynt", "Romantic", "grieg"),
    "saint_saens": _Composer(
        "Camille Saint-Saëns", "Saint-Saëns", "Saint-Saëns: Le Carnaval des animaux", "Romantic", "saintsaens",
    ),
    "pachelbel": _Composer(
        "Johann Pachelbel", "Pachelbel", "Pachelbel: Canon & Gigue", "Baroque", "pachelbel",
    ),
    "ravel": _Composer("Maurice Ravel", "Ravel", "Ravel: Orchestral Works", "Impressionist", "ravel"),
    "vivaldi": _Composer("Antonio Vivaldi", "Vivaldi", "Vivaldi: The Four Seasons", "Baroque", "vivaldi"),
    "schubert": _Composer("Franz Schubert", "Schubert", "Schubert: Lieder", "Romantic", "schubert"),
}

_BIG_FLAC = "big"  # 20 s of hissy audio so the FLAC passes a 1 MB size filter
_UNTAGGED = "untagged"  # no tags inside the file, only the Telegram attributes
_NO_TITLE = "no-title"  # tags inside the file, but no title in the Telegram attribute
_NO_ATTRIBUTE_PERFORMER = "no-performer"  # ... and no performer either
_NO_FILE_NAME = "no-file-name"  # no DocumentAttributeFilename at all
_SHARED = "shared"  # also posted in @tad_demo_hostile



class _Work(NamedTuple):
    composer: str  # key of _COMPOSERS
    title: str  # the title tag, in the composer's script
    year: str
    format: AudioFormat
    latin: str | None  # Latin title for file name and caption when the tag is not in Latin script
    flags: frozenset[str]


def _work(composer: str, title: str, year: str, fmt: AudioFormat, latin: str | None, *flags: str) -> _Work:
    return _Work(composer, title, year, fmt, latin, frozenset(flags))


_CLASSICAL_WORKS: tuple[_Work, ...] = (
    _work("beethoven", "Symphony No. 5 in C minor, Op. 67: I. Allegro con brio", "1808", "mp3", None),
    _work("beethoven", "Piano Sonata No. 14 “Moonlight”: I. Adagio sostenuto", "1801", "ogg", None),
    _work("beethoven", "Für Elise, WoO 59", "1810", "flac", None, _UNTAGGED),
    _work("beethoven", "Symphony No. 9 in D minor, Op. 125: IV. Ode an die Freude", "1824", "mp3", None),
    _work("bach", "Cello Suite No. 1 in G major, BWV 1007: I. Prélude", "1720", "flac", None),
    _work("bach", "Goldberg Variations, BWV 988: Aria", "1741", "ogg", None),
    _work("bach", "Toccata and Fugue in D minor, BWV 565", "1704", "flac", None, _BIG_FLAC),
    _work("bach", "Brandenburg Concerto No. 3, BWV 1048: I. Allegro", "1721", "mp3", None),
    _work("bach", "Air on the G String, BWV 1068", "1730", "ogg", None, _NO_TITLE, _NO_ATTRIBUTE_PERFORMER),
    _work("mozart", "Eine kleine Nachtmusik, K. 525: I. Allegro", "1787", "mp3", None),
    _work("mozart", "Requiem in D minor, K. 626: Lacrimosa", "1791", "flac", None),
    _work("mozart", "Piano Sonata No. 11, K. 331: III. Rondo alla Turca", "1783", "ogg", None),
    _work("mozart", "Die Zauberflöte, K. 620: Der Hölle Rache", "1791", "mp3", None),
    _work("dvorak", "Symphony No. 9 “From the New World”: II. Largo", "1893", "flac", None),
    _work("dvorak", "Humoresque No. 7, Op. 101", "1894", "mp3", None, _UNTAGGED),
    _work("dvorak", "Rusalka, Op. 114: Song to the Moon", "1901", "ogg", None),
    _work("chopin", "Nocturne in E-flat major, Op. 9 No. 2", "1832", "mp3", None),
    _work("chopin", "Prelude in E minor, Op. 28 No. 4", "1839", "flac", None, _NO_FILE_NAME),
    _work("chopin", "Ballade No. 1 in G minor, Op. 23", "1835", "ogg", None),
    _work("chopin", "Waltz in D-flat major, Op. 64 No. 1 “Minute”", "1847", "mp3", None),
    _work("debussy", "Suite bergamasque: III. Clair de lune", "1905", "flac", None),
    _work("debussy", "Prélude à l'après-midi d'un faune", "1894", "mp3", None),
    _work("debussy", "Rêverie", "1890", "ogg", None, _UNTAGGED),
    _work("satie", "Gymnopédie No. 1", "1888", "mp3", None, _SHARED),
    _work("satie", "Gnossienne No. 1", "1890", "flac", None),
    _work("satie", "Je te veux", "1897", "ogg", None),
    _work("tchaikovsky_ru", "Лебединое озеро, соч. 20: Сцена", "1876", "mp3", "Swan Lake, Op. 20: Scene"),
    _work("tchaikovsky_ru", "Щелкунчик, соч. 71: Вальс цветов", "1892", "flac",
        "The Nutcracker, Op. 71: Waltz of the Flowers"),
    _work("tchaikovsky_ru", "Времена года, соч. 37а: Октябрь. Осенняя песнь", "1876", "ogg",
        "The Seasons, Op. 37a: October"),
    _work("tchaikovsky", "Piano Concerto No. 1 in B-flat minor, Op. 23: I. Allegro non troppo", "1875", "mp3",
        None),
    _work("rachmaninoff", "Вокализ, соч. 34 № 14", "1912", "flac", "Vocalise, Op. 34 No. 14"),
    _work("rimsky", "Полёт шмеля", "1900", "ogg", "Flight of the Bumblebee"),
    _work("sakamoto", "戦場のメリークリスマス", "1983", "mp3", None),
    _work("sakamoto", "美貌の青空", "1995", "flac", None),
    _work("hisaishi", "あの夏へ", "2001", "ogg", None),
    _work("hisaishi", "人生のメリーゴーランド", "2004", "mp3", None, _UNTAGGED),
    _work("hisaishi", "風の通り道", "1988", "flac", None, _NO_FILE_NAME),
    _work("holst", "The Planets, Op. 32: IV. Jupiter, the Bringer of Jollity", "1916", "ogg", None),
    _work("grieg", "Peer Gynt Suite No. 1: In the Hall of the Mountain King", "1875", "mp3", None),
    _work("saint_saens", "Le Carnaval des animaux: XIII. Le Cygne", "1886", "flac", None),
    _work("pachelbel", "Canon in D major", "1680", "ogg", None, _NO_TITLE),
    _work("ravel", "Boléro", "1928", "flac", None, _BIG_FLAC),
    _work("vivaldi", "The Four Seasons, RV 269: Spring, I. Allegro", "1725", "mp3", None),
    _work("schubert", "Ave Maria, D. 839", "1825", "ogg", None),
)

_CLASSICAL_NOTES = (
    "Welcome to TAD Demo · Classical: public-domain favourites, freshly synthesized.",
    "Programme note: this week we focus on the Romantic era.",
    "Reminder: tracks with Cyrillic or Japanese tags are tagged in the original script.",
    "Requests are open — reply with your favourite composer!",
)


def _classical_tags(composer: _Composer, title: str, year: str, track: int) -> Tags:
    return (
        ("title", title),
        ("artist", composer.tag),
        ("album", composer.album),
        ("date", year),
        ("genre", composer.genre),
        ("composer", composer.tag),
        ("tracknumber", str(track)),
    )


def _classical_file(ids: _Ids, rng: random.Random, work: _Work, track: int) -> FilePlan:
    composer, fmt, flags = _COMPOSERS[work.composer], work.format, work.flags
    tags = () if _UNTAGGED in flags else _classical_tags(composer, work.title, work.year, track)
    big = _BIG_FLAC in flags
    hi_res = big and work.composer == "bach"  # one big file as 48 kHz/24-bit, as hi-res uploads are
    # Non-big FLACs stay at or under 10 s so exactly the two big ones pass a 1 MB filter.
    seconds = 20 if big else 2 + int((8 if fmt == "flac" else 18) * rng.random() ** 3)
    return _audio_file(
        ids,
        rng,
        encoding=Encoding(fmt, flac_bits=24 if hi_res else 16),
        seconds=seconds,
        sample_rate=48_000 if hi_res else 44_100,
        channels=2,
        tags=tags,
        file_name=None if _NO_FILE_NAME in flags else f"{composer.latin} - {work.latin or work.title}.{fmt}",
        title=None if _NO_TITLE in flags else work.title,
        performer=None if _NO_ATTRIBUTE_PERFORMER in flags else composer.tag,
        noise=(0.002 if hi_res else 0.02) if big else 0.0002,
    )


def _classical_caption(work: _Work) -> str:
    composer = _COMPOSERS[work.composer]
    name = f"{work.latin} ({work.title})" if work.latin else work.title
    heading = f"{composer.latin} — {name}"
    return f"{heading}\n#classical #{composer.hashtag}"


def _classical_group(ids: _Ids) -> tuple[GroupPlan, FilePlan]:
    """The classical channel and the file it shares with the hostile group."""
    rng = random.Random(f"{CATALOGUE_SEED}:classical")
    track_numbers: dict[str, int] = {}
    items: list[tuple[str, FilePlan | None]] = []
    shared: FilePlan | None = None
    for work in _CLASSICAL_WORKS:
        track = track_numbers[work.composer] = track_numbers.get(work.composer, 0) + 1
        plan = _classical_file(ids, rng, work, track)
        shared = plan if _SHARED in work.flags else shared
        items.append((_classical_caption(work), plan))
    for position, note in zip((0, 12, 25, 38), _CLASSICAL_NOTES, strict=True):
        items.insert(position, (note, None))
    assert shared is not None
    group = _group(
        ids,
        group_id=1_000_000_001,
        title="TAD Demo · Classical",
        username="tad_demo_classical",
        megagroup=False,
        about="Public-domain classics and film scores — a demo channel for tad-tui.",
        messages=_dated(rng, _utc(2024, 2, 1, 9), _utc(2025, 11, 30), items),
    )
    return group, shared


# ---- @tad_demo_archive ------------------------------------------------------------------------

_ARCHIVE_AUDIO_COUNT = 1_080
_ARCHIVE_TEXT_COUNT = 58
_ARCHIVE_PDF_COUNT = 5
_ARCHIVE_PLAIN_AUDIO_COUNT = 10

_PROGRAMMES = (
    "Evening News", "Morning Report", "Jazz Hour", "Weather Bulletin", "Farm Report", "Radio Theatre",
    "Sports Roundup", "Listeners' Letters", "Late Night Talk", "Concert Hall Live", "Science Half-Hour",
    "Children's Story Time",
)
_HOSTS = (
    "Margaret Ellsworth", "Harold Quince", "Dolores Vantreight", "Bernard Ashcombe", "Ingrid Solheim",
    "Wendell Pike", "Opal Merriweather", "Casimir Novak", "Lucinda Frayne", "Theodore Brackett",
    "Rosalind Achterberg", "Amos Kettleridge",
)
_ARCHIVE_CHATTER = (
    "Reel {n} is digitised; uploads continue tomorrow.",
    "Does anyone have the {year} Jazz Hour tapes?",
    "Please don't re-upload duplicates — search first.",
    "Archive stats: {n} recordings so far.",
    "The {year} transmitter logs are being scanned.",
    "Thanks to everyone who sent cassettes from {year}!",
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _broadcasts(rng: random.Random, count: int) -> list[tuple[str, datetime]]:
    """Distinct (programme, air date) pairs between 1950 and 1989."""
    chosen: set[tuple[str, datetime]] = set()
    result: list[tuple[str, datetime]] = []
    while len(result) < count:
        pair = (rng.choice(_PROGRAMMES), _utc(1950, 1, 1) + timedelta(days=rng.randrange(14_610)))
        if pair not in chosen:
            chosen.add(pair)
            result.append(pair)
    return result


def _archive_recording(ids: _Ids, rng: random.Random, programme: str, aired: datetime) -> tuple[str, FilePlan]:
    day = aired.date().isoformat()
    title, host = f"{programme} {day}", rng.choice(_HOSTS)
    fmt: AudioFormat = rng.choice(("mp3", "ogg"))
    tags = (("title", title), ("artist", host), ("album", f"Radio Archive {aired.year}"), ("date", day),
            ("genre", "Radio"))
    plan = _audio_file(
        ids, rng, encoding=Encoding(fmt), seconds=rng.choice((1, 2)), sample_rate=rng.choice((8_000, 11_025)),
        channels=1, tags=tags, file_name=f"{_slug(programme)}-{day}.{fmt}", title=title, performer=host,
    )
    caption = rng.choice(("", "", f"{title} — presented by {host}", f"#{_slug(programme).replace('-', '')}"))
    return caption, plan


def _plain_audio(ids: _Ids, rng: random.Random, number: int) -> tuple[str, FilePlan]:
    """Audio "sent as a file": only mime and filename reach Telegram; every other one is tagged."""
    fmt: AudioFormat = "mp3" if number % 2 else "flac"
    tags: Tags = (("title", f"Unlabelled Reel {number}"), ("artist", "Unknown")) if number % 2 else ()
    plan = _audio_file(
        ids, rng, encoding=Encoding(fmt), seconds=2, sample_rate=8_000, channels=1, tags=tags,
        file_name=f"reel-{number:03d}.{fmt}", title=None, performer=None, has_audio_attribute=False,
    )
    return f"Unlabelled reel {number}, sent as a file", plan


def _pdf(ids: _Ids, number: int) -> tuple[str, FilePlan]:
    document_id = ids.document_id()
    plan = FilePlan(
        document_id=document_id, access_hash=ids.access_hash(), relpath=f"files/{document_id}.pdf",
        mime_type="application/pdf", file_name=f"notes-{number}.pdf", title=None, performer=None, duration=0,
        has_audio_attribute=False, source=PdfSource(f"Radio Archive notes, part {number}"),
    )
    return f"Cataloguing notes, part {number}", plan


def _archive_group(ids: _Ids) -> GroupPlan:
    rng = random.Random(f"{CATALOGUE_SEED}:archive")
    items: list[tuple[str, FilePlan | None]] = [
        _archive_recording(ids, rng, programme, aired) for programme, aired in _broadcasts(rng, _ARCHIVE_AUDIO_COUNT)
    ]
    items += [_plain_audio(ids, rng, n) for n in range(1, _ARCHIVE_PLAIN_AUDIO_COUNT + 1)]
    items += [_pdf(ids, n) for n in range(1, _ARCHIVE_PDF_COUNT + 1)]
    items += [
        (rng.choice(_ARCHIVE_CHATTER).format(n=rng.randrange(10, 1_000), year=rng.randrange(1950, 1990)), None)
        for _ in range(_ARCHIVE_TEXT_COUNT)
    ]
    rng.shuffle(items)
    return _group(
        ids,
        group_id=1_000_000_002,
        title="TAD Demo · Radio Archive",
        username="tad_demo_archive",
        megagroup=True,
        about="Digitised radio broadcasts 1950–1989 (fictional). Over a thousand short recordings.",
        messages=_dated(rng, _utc(2024, 1, 2), _utc(2025, 12, 28), items),
    )


# ---- @tad_demo_mixes --------------------------------------------------------------------------

# (title, encoding, seconds, sample rate, hiss): hiss keeps FLAC/Vorbis from compressing, so sizes
# land where the size filters need them (the first one >= 50 MiB, the rest 3-15 MB).
_MIXES: tuple[tuple[str, Encoding, int, int, float], ...] = (
    ("Night Drive (Continuous Mix)", Encoding("flac", flac_bits=24), 210, 48_000, 0.25),
    ("Sunrise Set", Encoding("flac"), 60, 44_100, 0.03),
    # 32 kHz because LAME at 320 kbit/s CBR is the slowest encode here; the size depends only on time.
    ("Deep Cuts Vol. 3", Encoding("mp3", compression_level=0.0, bitrate_mode="CONSTANT"), 85, 32_000, 0.0003),
    ("Warehouse Tapes", Encoding("ogg", compression_level=0.0), 60, 44_100, 0.05),
    ("Afterhours (Hi-Res Edit)", Encoding("flac", flac_bits=24), 20, 96_000, 0.01),
)


def _mixes_group(ids: _Ids) -> GroupPlan:
    rng = random.Random(f"{CATALOGUE_SEED}:mixes")
    items: list[tuple[str, FilePlan | None]] = []
    for track, (title, encoding, seconds, sample_rate, hiss) in enumerate(_MIXES, start=1):
        tags = (("title", title), ("artist", "DJ Halcyon"), ("album", "TAD Demo Mixes"), ("date", "2025"),
                ("genre", "Electronic"), ("tracknumber", str(track)))
        plan = _audio_file(
            ids, rng, encoding=encoding, seconds=seconds, sample_rate=sample_rate, channels=2, tags=tags,
            file_name=f"DJ Halcyon - {title}.{encoding.format}", title=title, performer="DJ Halcyon",
            noise=hiss, level=0.2,
        )
        items.append((f"🎧 {title} — {seconds // 60}:{seconds % 60:02d} of continuous music", plan))
    return _group(
        ids,
        group_id=1_000_000_003,
        title="TAD Demo · DJ Mixes",
        username="tad_demo_mixes",
        megagroup=False,
        about="Long mixes, including one over 50 MB, for download-progress and resume demos.",
        messages=_dated(rng, _utc(2025, 1, 10, 20), _utc(2025, 6, 1), items),
    )


# ---- @tad_demo_hostile ------------------------------------------------------------------------

LONG_NAME = ("A very long file name that keeps going " * 8)[:296] + ".mp3"  # exactly 300 characters
LONG_PERFORMER = ("The Extremely Long Orchestra " * 345)[:10_000]

# (file name, title, performer, format, what is hostile)
_HOSTILE_FILES: tuple[tuple[str | None, str, str, AudioFormat, str], ...] = (
    ("../../x.mp3", "Path Traversal", "Hostile Tester", "mp3", "relative path traversal in the file name"),
    ("/etc/passwd.mp3", "Absolute Path", "Hostile Tester", "mp3", "absolute path in the file name"),
    ("..\\..\\win.mp3", "Windows Traversal", "Hostile Tester", "mp3", "backslash traversal in the file name"),
    ("bell\x07\nnew\tline.mp3", "Bell\x07 and\nnew\tline", "Hostile Tester", "mp3", "BEL, LF and TAB"),
    ("\x1b[31mred\x1b[0m.mp3", "\x1b[31mRed Alert\x1b[0m", "\x1b[1mBold Host\x1b[0m", "mp3", "ANSI escapes"),
    (LONG_NAME, "Long Name", "Hostile Tester", "mp3", "a 300-character file name"),
    ("CON.mp3", "Reserved Device", "Hostile Tester", "mp3", "a Windows reserved device name"),
    ("nul.flac", "Reserved Device (lower case)", "Hostile Tester", "flac", "a lower-case reserved name"),
    ("aux.ogg", "Reserved Device (Ogg)", "Hostile Tester", "ogg", "another reserved name"),
    ("Track.mp3", "Track (upper case)", "Case Tester", "mp3", "differs from the next only in case"),
    ("track.mp3", "track (lower case)", "Case Tester", "mp3", "differs from the previous only in case"),
    ("Caf\u00e9.mp3", "Café (NFC)", "Unicode Tester", "mp3", "NFC é"),
    ("Cafe\u0301.mp3", "Café (NFD)", "Unicode Tester", "mp3", "NFD e + combining acute"),
    ("\u202egnp.mp3", "\u202eRight-to-left Override", "Hostile Tester", "mp3", "RTL override"),
    ("...mp3", "Dots and Extension", "Hostile Tester", "mp3", "a name of dots and an extension"),
    ("....", "Only Dots", "Hostile Tester", "mp3", "a name that is only dots"),
    ("", "Empty File Name", "Hostile Tester", "mp3", "an empty file name"),
    ("Trailing space.mp3   ", "Trailing Spaces", "Hostile Tester", "mp3", "trailing spaces"),
    ("Trailing dots.mp3...", "Trailing Dots", "Hostile Tester", "mp3", "trailing dots"),
    ("long-performer.mp3", "Long Performer", LONG_PERFORMER, "mp3", "a 10,000-character performer"),
    # NUL cannot travel in a TL string, so the control characters stop at \x01.
    ("controls.mp3", "Controls\x01\x02\x03\x08\x0b\x0c\x1f\x7f in Title", "Hostile Tester", "mp3", "C0 controls"),
    (None, "../../etc/title-traversal", "Hostile Tester", "mp3", "no file name and a path in the title"),
    (None, 'AC/DC: Back\\Slash | Pipe? Star* <Angle> "Quote"', "Hostile Tester", "ogg", "forbidden characters"),
)

_HOSTILE_TEXTS = (
    "Welcome!\x1b[2J\x1b[H If your screen just cleared, escape sequences are not being stripped.",
    "\u202eThis line is reversed by a right-to-left override.",
)


def _hostile_group(ids: _Ids, shared: FilePlan) -> GroupPlan:
    rng = random.Random(f"{CATALOGUE_SEED}:hostile")
    items: list[tuple[str, FilePlan | None]] = [(_HOSTILE_TEXTS[0], None)]
    for file_name, title, performer, fmt, why in _HOSTILE_FILES:
        tags = (("title", title), ("artist", performer), ("album", "Hostile Names"), ("genre", "Test"))
        plan = _audio_file(
            ids, rng, encoding=Encoding(fmt), seconds=rng.choice((1, 2, 3)), sample_rate=11_025, channels=1,
            tags=tags, file_name=file_name, title=title, performer=performer,
        )
        items.append((f"Hostile: {why}", plan))
    items.append(("Reposted from @tad_demo_classical", shared))
    items.append((_HOSTILE_TEXTS[1], None))
    return _group(
        ids,
        group_id=1_000_000_004,
        title="TAD Demo · Hostile Names",
        username="tad_demo_hostile",
        megagroup=True,
        about="File names and tags designed to break naive downloaders. Nothing here is safe to trust.",
        messages=_dated(rng, _utc(2025, 3, 1, 12), _utc(2025, 4, 1), items),
    )


def build_demo_plan() -> CataloguePlan:
    """The whole demo catalogue as a plan: pure, deterministic, no I/O."""
    taken: set[int] = set()
    ids = _Ids(f"{CATALOGUE_SEED}:ids", taken)
    classical, shared = _classical_group(ids)
    groups = (classical, _archive_group(ids), _mixes_group(ids), _hostile_group(ids, shared))
    return CataloguePlan(DEMO_PLAN_NAME, groups)


# ---- rendering (see render.py) ----------------------------------------------------------------


def _usable_workers(requested: int | None) -> int:
    """Worker processes to render with (1 = in the calling thread)."""
    if requested is not None:
        return max(1, requested)
    return min(MAX_WORKERS, _available_cpus())


def _available_cpus() -> int:
    """CPUs this process may run on (a container's affinity mask can be smaller than the host)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def render_files(root: Path, files: Sequence[FilePlan], workers: int | None = None) -> dict[int, tuple[int, str]]:
    """Write every file under ``root``; return document_id -> (size, md5). Output is independent of workers."""
    rendered: dict[int, tuple[int, str]] = {}

    def landed(file: FilePlan, size: int, md5: str) -> None:
        rendered[file.document_id] = (size, md5)

    Renderer(root, files, _usable_workers(workers), landed).run()
    return rendered


# ---- the manifest -----------------------------------------------------------------------------


def _file_entry(file: FilePlan, size: int, md5: str) -> dict[str, Any]:
    return {
        "access_hash": file.access_hash,
        "path": file.relpath,
        "size": size,
        "md5": md5,
        "mime_type": file.mime_type,
        "file_name": file.file_name,
        "title": file.title,
        "performer": file.performer,
        "duration": file.duration,
        "has_audio_attribute": file.has_audio_attribute,
        "dc_id": DC_ID,
        "tags": [list(pair) for pair in file.tags],
    }


def _group_entry(group: GroupPlan) -> dict[str, Any]:
    messages = [
        [number, int(m.date.timestamp()), m.text, m.file.document_id if m.file else None]
        for number, m in enumerate(group.messages, start=1)
    ]
    return {
        "id": group.id,
        "access_hash": group.access_hash,
        "title": group.title,
        "username": group.username,
        "megagroup": group.megagroup,
        "about": group.about,
        "messages": messages,  # [id, unix time, text, document_id or null]
    }


def manifest_for(plan: CataloguePlan, rendered: dict[int, tuple[int, str]]) -> dict[str, Any]:
    files = {str(f.document_id): _file_entry(f, *rendered[f.document_id]) for f in plan.files()}
    return {
        "version": CATALOGUE_VERSION,
        "plan": plan.name,
        "files": files,
        "groups": [_group_entry(group) for group in plan.groups],
    }


def _write_json(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so a reader never sees half a JSON document."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    os.replace(temporary, path)


def _demo_file(root: Path, document_id: int, entry: dict[str, Any]) -> DemoFile:
    return DemoFile(
        document_id=document_id,
        access_hash=entry["access_hash"],
        path=root / entry["path"],
        size=entry["size"],
        md5=entry["md5"],
        mime_type=entry["mime_type"],
        file_name=entry["file_name"],
        title=entry["title"],
        performer=entry["performer"],
        duration=entry["duration"],
        has_audio_attribute=entry["has_audio_attribute"],
        dc_id=entry["dc_id"],
        tags=tuple((key, value) for key, value in entry["tags"]),
    )


def _demo_group(entry: dict[str, Any], files: dict[int, DemoFile]) -> DemoGroup:
    messages = tuple(
        DemoMessage(number, datetime.fromtimestamp(stamp, UTC), text, None if doc is None else files[doc])
        for number, stamp, text, doc in entry["messages"]
    )
    return DemoGroup(
        entry["id"], entry["access_hash"], entry["title"], entry["username"], entry["megagroup"], entry["about"],
        messages,
    )


def catalogue_from_manifest(root: Path, manifest: dict[str, Any]) -> Catalogue:
    files = {int(key): _demo_file(root, int(key), entry) for key, entry in manifest["files"].items()}
    return Catalogue(root, tuple(_demo_group(entry, files) for entry in manifest["groups"]))


def _files_intact(catalogue: Catalogue) -> bool:
    """Every file present with its recorded size: a cheap check that needs no hashing."""
    try:
        return all(file.path.stat().st_size == file.size for file in catalogue.files)
    except OSError:
        return False


def read_catalogue(root: Path, plan_name: str = DEMO_PLAN_NAME) -> Catalogue | None:
    """The catalogue in ``root`` if it is complete and of this version and plan, else None."""
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != CATALOGUE_VERSION:
        return None
    if manifest.get("plan") != plan_name:
        return None
    try:
        catalogue = catalogue_from_manifest(root, manifest)
    except (KeyError, TypeError, ValueError):
        return None
    return catalogue if _files_intact(catalogue) else None


# ---- generation, locking and atomic replacement -----------------------------------------------


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) across processes."""
    with path.open("a+b") as handle:
        if sys.platform == "win32":
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after ~10 s; keep waiting like flock does
                    continue
        else:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if sys.platform == "win32":
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _staging_prefix(root: Path) -> str:
    return f".{root.name}.staging-"


def _remove_leftovers(root: Path) -> None:
    """Dirs of replaced catalogues a crash left behind, and files caught half-written in ``root``;
    only called under the lock, so none is in use."""
    for leftover in root.parent.glob(_staging_prefix(root) + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for part in (root / "files").glob(f".*{PART_MARK}*"):
        part.unlink(missing_ok=True)


def _retire(root: Path) -> None:
    """Remove ``root`` (a catalogue of another version or plan): renamed aside first, then deleted."""
    if root.exists() or root.is_symlink():
        retired = Path(tempfile.mkdtemp(prefix=_staging_prefix(root), dir=root.parent)) / "retired"
        os.rename(root, retired)
        shutil.rmtree(retired.parent, ignore_errors=True)


def _render_stamp(plan: CataloguePlan) -> dict[str, Any]:
    return {"version": CATALOGUE_VERSION, "plan": plan.name}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _journal(root: Path, plan: CataloguePlan) -> dict[int, tuple[int, str]]:
    """The files an interrupted render of this plan finished (and that are still there whole)."""
    wanted = {f.document_id for f in plan.files()}
    landed: dict[int, tuple[int, str]] = {}
    try:
        lines = (root / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()
    except OSError:
        return landed
    for line in lines:
        try:
            document_id, relpath, size, md5 = json.loads(line)
            if document_id in wanted and (root / relpath).stat().st_size == size:
                landed[document_id] = (size, md5)
        except (ValueError, TypeError, OSError):
            continue  # a line cut by a crash, or a file gone since
    return landed


def catalogue_from_plan(root: Path, plan: CataloguePlan, rendered: dict[int, tuple[int, str]]) -> Catalogue:
    """The catalogue ``plan`` renders into ``root``; files not rendered yet read size 0 and md5 ""."""
    sizes = {f.document_id: rendered.get(f.document_id, (0, "")) for f in plan.files()}
    return catalogue_from_manifest(root, manifest_for(plan, sizes))


class CatalogueRender:
    """A catalogue being rendered in place by a background thread, served while it renders.

    The thread takes the catalogue's lock (``<root>.lock``; a concurrent render of the same dir
    waits for it), resumes what an interrupted render of the same plan left (``rendered.jsonl``
    lists the files that landed whole), renders the rest quick files first, updates ``catalogue``
    as each file lands, and writes ``manifest.json`` last, which makes the catalogue complete.
    ``wait_for`` is how the simulated server holds back an answer that needs files still to come.
    """

    def __init__(
        self,
        root: Path,
        plan: CataloguePlan,
        workers: int | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.root = root
        self.plan = plan
        self._files = {f.document_id: f for f in plan.files()}
        self._costs = {d: render_cost(f) for d, f in self._files.items()}
        self._total_cost = sum(self._costs.values()) or 1.0
        self._workers = _usable_workers(workers)
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._landed: dict[int, tuple[int, str]] = {}
        self._wanted_first: set[int] = set()
        self._waiters: list[tuple[frozenset[int], asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._renderer: Renderer | None = None
        self._finished = threading.Event()
        self.error: BaseException | None = None
        self.catalogue = Catalogue(root, catalogue_from_plan(root, plan, {}).groups, rendering=self)
        self._thread = threading.Thread(target=self._run, name="catalogue-render", daemon=True)

    def start(self) -> CatalogueRender:
        self._thread.start()
        return self

    # ---- what others ask --------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def progress(self) -> Progress:
        with self._lock:
            done = dict(self._landed)
        work = sum(self._costs[d] for d in done) / self._total_cost
        return Progress(len(done), len(self._files), sum(size for size, _ in done.values()), min(1.0, work))

    def ready(self, document_ids: Iterable[int]) -> bool:
        with self._lock:
            return all(d in self._landed or d not in self._files for d in document_ids)

    def wait_for(self, document_ids: Iterable[int]) -> asyncio.Future[None]:
        """A future (of the running loop) done when these files have landed; they are rendered next."""
        wanted = frozenset(d for d in document_ids if d in self._files)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            missing = wanted - self._landed.keys()
            if self.error is not None:
                future.set_exception(self.error)
            elif not missing:
                future.set_result(None)
            else:
                self._waiters.append((wanted, loop, future))
                self._wanted_first |= missing
                renderer = self._renderer
        if not future.done() and renderer is not None:
            renderer.prioritize(missing)
        return future

    def wait(self, timeout: float | None = None) -> Catalogue:
        """Block until the render ends; the complete catalogue, or the render's error raised."""
        self._finished.wait(timeout)
        if self.error is not None:
            raise self.error
        return self.catalogue

    def stop(self) -> None:
        renderer = self._renderer
        if renderer is not None:
            renderer.stop()

    # ---- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._render()
        except BaseException as error:  # noqa: BLE001 - handed to the waiters and to wait()
            self._fail(error)
        finally:
            self._finished.set()
            self._report()

    def _render(self) -> None:
        root = self.root
        root.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(root.parent / (root.name + ".lock")):
            done = read_catalogue(root, self.plan.name)  # whoever held the lock may have finished it
            if done is None:
                if _read_json(root / RENDERING_NAME) != _render_stamp(self.plan):
                    _retire(root)  # another version or plan, or not a catalogue at all
                _remove_leftovers(root)
                (root / "files").mkdir(parents=True, exist_ok=True)
                _write_json(root / RENDERING_NAME, _render_stamp(self.plan))
                for document_id, (size, md5) in _journal(root, self.plan).items():
                    self._land(self._files[document_id], size, md5, record=False)
                self._report()  # where the interrupted render got to
                todo = [f for d, f in self._files.items() if d not in self._landed]
                with open(root / JOURNAL_NAME, "a", encoding="utf-8") as journal:
                    renderer = Renderer(root, todo, self._workers, lambda f, s, m: self._land(f, s, m, journal))
                    with self._lock:
                        self._renderer = renderer
                        wanted = set(self._wanted_first)
                    renderer.prioritize(wanted)
                    renderer.run()
                _write_json(root / MANIFEST_NAME, manifest_for(self.plan, self._landed))
                (root / JOURNAL_NAME).unlink(missing_ok=True)
                (root / RENDERING_NAME).unlink(missing_ok=True)
                done = read_catalogue(root, self.plan.name)
                if done is None:
                    raise RuntimeError(f"the catalogue rendered in {root} does not read back")
            for file in done.files:
                self._land(self._files[file.document_id], file.size, file.md5, record=False)

    def _land(self, file: FilePlan, size: int, md5: str, journal: Any = None, *, record: bool = True) -> None:
        if record and journal is not None:
            journal.write(json.dumps([file.document_id, file.relpath, size, md5]) + "\n")
            journal.flush()
        self.catalogue._documents[file.document_id] = _demo_file(
            self.root, file.document_id, _file_entry(file, size, md5)
        )
        with self._lock:
            self._landed[file.document_id] = (size, md5)
            ready = [(loop, future) for ids, loop, future in self._waiters if ids <= self._landed.keys()]
            self._waiters = [w for w in self._waiters if not w[0] <= self._landed.keys()]
        for loop, future in ready:
            loop.call_soon_threadsafe(_settle, future, None)
        if record:
            self._report()

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            self.error = error
            waiters, self._waiters = self._waiters, []
        for _, loop, future in waiters:
            loop.call_soon_threadsafe(_settle, future, error)

    def _report(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.progress())


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def open_catalogue(
    root: Path,
    plan: Callable[[], CataloguePlan] | CataloguePlan = build_demo_plan,
    *,
    workers: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Catalogue:
    """The catalogue in ``root`` at once: the complete one if it is there, else one whose files render
    in the background (``catalogue.rendering`` tells how far, and lets a caller wait for files)."""
    root = Path(root)
    name = plan.name if isinstance(plan, CataloguePlan) else DEMO_PLAN_NAME
    catalogue = read_catalogue(root, name)
    if catalogue is not None:
        return catalogue
    built = plan if isinstance(plan, CataloguePlan) else plan()
    return CatalogueRender(root, built, workers, on_progress).start().catalogue


def _load_or_generate(root: Path, plan: Callable[[], CataloguePlan] | CataloguePlan, workers: int | None) -> Catalogue:
    catalogue = open_catalogue(root, plan, workers=workers)
    if catalogue.rendering is None:
        return catalogue
    catalogue.rendering.wait()
    complete = read_catalogue(Path(root), catalogue.rendering.plan.name)
    if complete is None:
        raise RuntimeError(f"the catalogue generated in {root} does not read back")
    return complete


def load_catalogue(root: Path, *, workers: int | None = None) -> Catalogue:
    """Return the demo catalogue stored in `root`, generating it there first if it is missing,
    incomplete or of another CATALOGUE_VERSION. Files are rendered in place under a lock file
    (root.parent / (root.name + '.lock')), each via a temporary name, and manifest.json is written
    last: a catalogue without it is incomplete, and the next load finishes it (keeping the files a
    crash left whole). A second load reads manifest.json and stats the files; nothing is hashed or
    encoded again."""
    return _load_or_generate(Path(root), build_demo_plan, workers)


def load_plan(root: Path, plan: CataloguePlan, *, workers: int | None = None) -> Catalogue:
    """Like load_catalogue for any plan, e.g. ``build_demo_plan().only("tad_demo_hostile")``."""
    return _load_or_generate(Path(root), plan, workers)


# ---- synthetic catalogue for benchmarks --------------------------------------------------------

SYNTHETIC_MD5_INDEX = "synthetic-md5.json"
_RANDOM_CHUNK = 1 << 20


def _write_random_file(path: Path, size: int, seed: int, index: int) -> str:
    """Pseudo-random bytes from (seed, index), written via a temporary name; returns the md5."""
    import numpy as np  # generating only: reading a catalogue never loads numpy

    rng = np.random.default_rng([seed, index])
    digest = hashlib.md5()
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as sink:
        for offset in range(0, size, _RANDOM_CHUNK):
            chunk = rng.bytes(min(_RANDOM_CHUNK, size - offset))
            digest.update(chunk)
            sink.write(chunk)
    os.replace(temporary, path)
    return digest.hexdigest()


def _synthetic_file_md5(path: Path, size: int, seed: int, index: int, known: dict[str, str]) -> str:
    """Reuse a file already present with the right size; hash it only if its md5 was not recorded."""
    try:
        present = path.stat().st_size == size
    except OSError:
        present = False
    if not present:
        return _write_random_file(path, size, seed, index)
    return known.get(path.name) or md5_of_file(path)


def _synthetic_ids(seed: int, index: int, size: int, taken: set[int]) -> tuple[int, int]:
    """(document_id, access_hash) fixed by seed, position and size, so a changed size is a new document."""
    ids = _Ids(f"synthetic:{seed}:{index}:{size}", taken)
    return ids.document_id(), ids.access_hash()


def synthetic_catalogue(root: Path, *, sizes: list[int], seed: int = 0, username: str = "tad_bench") -> Catalogue:
    """A one-group catalogue of files of exactly these sizes (pseudo-random bytes, need not be
    audio; mime audio/mpeg) for benchmarks and tests; deterministic in `seed`; files written once
    and reused if already present with the right size."""
    if any(size < 0 for size in sizes):
        raise ValueError("sizes must be non-negative")
    root = Path(root)
    (root / "files").mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(root / ".lock"):
        index_path = root / SYNTHETIC_MD5_INDEX
        try:
            known: dict[str, str] = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        taken: set[int] = set()
        messages = []
        start = _utc(2025, 1, 1)
        for index, size in enumerate(sizes):
            document_id, access_hash = _synthetic_ids(seed, index, size, taken)
            path = root / "files" / f"s{seed}-{index:05d}-{size}.mp3"
            md5 = known[path.name] = _synthetic_file_md5(path, size, seed, index, known)
            file = DemoFile(
                document_id=document_id, access_hash=access_hash, path=path, size=size, md5=md5,
                mime_type="audio/mpeg", file_name=f"bench-{index + 1:05d}.mp3", title=f"Bench Track {index + 1}",
                performer="TAD Bench", duration=max(1, size // 16_000),  # as if 128 kbit/s
            )
            messages.append(DemoMessage(index + 1, start + timedelta(hours=index), f"Benchmark file {index + 1}", file))
        _write_json(index_path, known)
    group_rng = random.Random(f"synthetic:{seed}:{username}")
    group = DemoGroup(
        id=1_000_100_000 + zlib.crc32(username.encode()) % 100_000,
        access_hash=group_rng.getrandbits(63) + 1,
        title=f"TAD Bench · {username}",
        username=username,
        megagroup=False,
        about=f"{len(sizes)} synthetic files (seed {seed}) for benchmarks.",
        messages=tuple(messages),
    )
    return Catalogue(root, (group,))


__all__ = [
    "CATALOGUE_VERSION",
    "Catalogue",
    "CataloguePlan",
    "DemoFile",
    "DemoGroup",
    "DemoMessage",
    "build_demo_plan",
    "load_catalogue",
    "load_plan",
    "open_catalogue",
    "synthetic_catalogue",
]
