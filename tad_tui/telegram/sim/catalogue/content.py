"""The demo catalogue's content: groups of tagged audio (classical, a radio archive, DJ mixes, hostile
names, a private channel with deleted posts) as a plan: pure, deterministic, no I/O."""

from __future__ import annotations

import dataclasses
import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from tad_tui.telegram.sim.catalogue.model import (
    DEMO_PLAN_NAME,
    AudioSource,
    CataloguePlan,
    FilePlan,
    GroupPlan,
    Ids,
    MessagePlan,
    PdfSource,
)
from tad_tui.telegram.sim.media import MIME_TYPES, AudioFormat, Encoding, Tags, Tone

CATALOGUE_SEED = 20240501


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
    ids: Ids,
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
    """A FilePlan for a synthesized, tagged audio file stored as files/<document_id>.<ext>; one with an
    album tag sent as music has that album's cover as its thumbnail (one sent as a file has none)."""
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
        cover=dict(tags).get("album") if has_audio_attribute else None,
    )


def _spread_dates(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    """``count`` strictly increasing whole-second dates between start and end, evenly jittered."""
    step = (end - start).total_seconds() / count
    return [start + timedelta(seconds=int(i * step + rng.random() * step * 0.8)) for i in range(count)]


def _utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _group(ids: Ids, *, group_id: int, title: str, username: str, megagroup: bool, about: str,
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


def _classical_file(ids: Ids, rng: random.Random, work: _Work, track: int) -> FilePlan:
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


def _classical_group(ids: Ids) -> tuple[GroupPlan, FilePlan]:
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


def _archive_recording(ids: Ids, rng: random.Random, programme: str, aired: datetime) -> tuple[str, FilePlan]:
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


def _plain_audio(ids: Ids, rng: random.Random, number: int) -> tuple[str, FilePlan]:
    """Audio "sent as a file": only mime and filename reach Telegram; every other one is tagged."""
    fmt: AudioFormat = "mp3" if number % 2 else "flac"
    tags: Tags = (("title", f"Unlabelled Reel {number}"), ("artist", "Unknown")) if number % 2 else ()
    plan = _audio_file(
        ids, rng, encoding=Encoding(fmt), seconds=2, sample_rate=8_000, channels=1, tags=tags,
        file_name=f"reel-{number:03d}.{fmt}", title=None, performer=None, has_audio_attribute=False,
    )
    return f"Unlabelled reel {number}, sent as a file", plan


def _pdf(ids: Ids, number: int) -> tuple[str, FilePlan]:
    document_id = ids.document_id()
    plan = FilePlan(
        document_id=document_id, access_hash=ids.access_hash(), relpath=f"files/{document_id}.pdf",
        mime_type="application/pdf", file_name=f"notes-{number}.pdf", title=None, performer=None, duration=0,
        has_audio_attribute=False, source=PdfSource(f"Radio Archive notes, part {number}"),
    )
    return f"Cataloguing notes, part {number}", plan


def _archive_group(ids: Ids) -> GroupPlan:
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


def _mixes_group(ids: Ids) -> GroupPlan:
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


def _hostile_group(ids: Ids, shared: FilePlan) -> GroupPlan:
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


# ---- a private channel ------------------------------------------------------------------------

PRIVATE_GROUP_ID = 1_000_000_077
# (title, format, seconds); None: a text post. Messages 4 and 5 were deleted after posting.
_PRIVATE_POSTS: tuple[tuple[str, AudioFormat, int] | None, ...] = (
    None,
    ("Rehearsal Take 1", "mp3", 3),
    ("Rehearsal Take 2", "ogg", 2),
    None,
    ("Rehearsal Take 3 (withdrawn)", "mp3", 2),
    ("Soundcheck", "flac", 2),
    None,
)
PRIVATE_DELETED = (4, 5)


def _private_group(ids: Ids) -> GroupPlan:
    """A private channel (no username) the account is a member of: in its dialogs, reachable by
    ``t.me/c/<id>/<message>`` links and its id, never by a username. Two of its posts were deleted."""
    rng = random.Random(f"{CATALOGUE_SEED}:private")
    items: list[tuple[str, FilePlan | None]] = []
    for number, post in enumerate(_PRIVATE_POSTS, start=1):
        if post is None:
            items.append((f"Members only: note {number}", None))
            continue
        title, fmt, seconds = post
        tags = (("title", title), ("artist", "The Quiet Room"), ("album", "Séances Privées"), ("genre", "Live"))
        plan = _audio_file(
            ids, rng, encoding=Encoding(fmt), seconds=seconds, sample_rate=11_025, channels=1, tags=tags,
            file_name=f"{_slug(title)}.{fmt}", title=title, performer="The Quiet Room",
        )
        items.append((f"🔒 {title}", plan))
    group = _group(
        ids,
        group_id=PRIVATE_GROUP_ID,
        title="TAD Demo · Séances Privées",
        username="",
        megagroup=False,
        about="A private channel: reached by its t.me/c/ links, as only its members can.",
        messages=_dated(rng, _utc(2025, 7, 1, 18), _utc(2025, 8, 1), items),
    )
    return dataclasses.replace(group, deleted=PRIVATE_DELETED)


# ---- @tad_demo_forum --------------------------------------------------------------------------

FORUM_GROUP_ID = 1_000_000_016
# The topics in order of creation: their ids are the ids of the messages that created them (2-5,
# right after the welcome in General, topic 1).
FORUM_TOPICS = ("Jazz Standards", "Field Recordings", "Live Sessions", "Live Requests")
_JAZZ, _FIELD, _LIVE, _REQUESTS = range(2, 6)
_GENERAL = 1
# (topic, title, performer, format, seconds, replies to the n-th post of this list or None); None: a text post.
_FORUM_POSTS: tuple[tuple[int, str, str, AudioFormat, int, int | None] | tuple[int, str], ...] = (
    (_JAZZ, "Blue Lantern Waltz", "The Blue Lantern Trio", "mp3", 2, None),
    (_FIELD, "Dawn Chorus, Wicken Fen", "Ines Calloway", "flac", 2, None),
    (_REQUESTS, "Could someone post more brushes-on-snare ballads?"),
    (_GENERAL, "Forum Jingle", "TAD Demo", "ogg", 1, None),
    (_LIVE, "Live at the Corner Room: Opening", "Corner Room Quartet", "mp3", 3, None),
    (_JAZZ, "Midnight on Rue Lepic", "Élodie Marchand", "ogg", 2, None),
    (_FIELD, "Harbour Bells at Low Tide", "Ines Calloway", "mp3", 1, None),
    (_JAZZ, "Blue Lantern Waltz (Alternate Take)", "The Blue Lantern Trio", "mp3", 2, 0),
    (_REQUESTS, "Seconding that — and anything recorded in a church."),
    (_LIVE, "Live at the Corner Room: Encore", "Corner Room Quartet", "flac", 2, None),
    (_GENERAL, "Please post each recording in its topic.",),
    (_FIELD, "Rain on a Tin Roof", "Tomasz Wrona", "ogg", 2, None),
    (_JAZZ, "Slow Boat to Nowhere", "Élodie Marchand", "mp3", 1, None),
    (_LIVE, "Soundcheck, Hall B", "Corner Room Quartet", "ogg", 1, None),
    (_GENERAL, "Forum Jingle (Long)", "TAD Demo", "mp3", 2, None),
    (_REQUESTS, "Thanks for the encore upload!"),
)


def _forum_group(ids: Ids) -> GroupPlan:
    """A forum supergroup: a welcome in General, four topics created, then posts in each topic (one
    a reply inside its topic); "Live Requests" holds text only."""
    rng = random.Random(f"{CATALOGUE_SEED}:forum")
    messages = [("Welcome to TAD Demo · Forum: one topic per kind of recording.", None, _GENERAL, 0, None)]
    messages += [(f"Topic created: {title}", None, 0, 0, title) for title in FORUM_TOPICS]
    posted: list[int] = []  # the message id of each post of _FORUM_POSTS
    for post in _FORUM_POSTS:
        posted.append(len(messages) + 1)
        if len(post) == 2:
            messages.append((post[1], None, post[0], 0, None))
            continue
        topic, title, performer, fmt, seconds, replies = post  # type: ignore[misc]
        tags = (("title", title), ("artist", performer), ("album", "TAD Demo Forum"), ("genre", "Jazz"))
        plan = _audio_file(
            ids, rng, encoding=Encoding(fmt), seconds=seconds, sample_rate=11_025, channels=1, tags=tags,
            file_name=f"{_slug(title)}.{fmt}", title=title, performer=performer,
        )
        reply_to = posted[replies] if replies is not None else 0
        messages.append((f"{title} — {performer}", plan, topic, reply_to, None))
    dates = _spread_dates(rng, _utc(2025, 9, 1, 10), _utc(2025, 10, 15), len(messages))
    plans = [
        MessagePlan(date, text, file, topic=topic, reply_to=reply_to, created_topic=created)
        for date, (text, file, topic, reply_to, created) in zip(dates, messages, strict=True)
    ]
    group = _group(
        ids,
        group_id=FORUM_GROUP_ID,
        title="TAD Demo · Forum",
        username="tad_demo_forum",
        megagroup=True,
        about="A forum group: its recordings are sorted into topics.",
        messages=plans,
    )
    return dataclasses.replace(group, forum=True)


def build_demo_plan() -> CataloguePlan:
    """The whole demo catalogue as a plan: pure, deterministic, no I/O."""
    taken: set[int] = set()
    ids = Ids(f"{CATALOGUE_SEED}:ids", taken)
    classical, shared = _classical_group(ids)
    groups = (classical, _archive_group(ids), _mixes_group(ids), _hostile_group(ids, shared))
    groups += (_private_group(ids), _forum_group(ids))
    return CataloguePlan(DEMO_PLAN_NAME, groups)
