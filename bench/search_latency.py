"""Search latency: every keystroke of 200 typed queries over a 100k-track library.

Builds a deterministic library of synthetic tracks (artists, titles, albums; about 10 % Cyrillic,
Japanese or Greek, some accented Latin) through the real store, migrations and search-index
triggers, then types 200 queries character by character (prefixes of real titles and artists, some
with typos) through ``SearchService.search`` — what the TUI's search pane calls on each keystroke —
timing each call. The baseline runs a sample of the same keystrokes through
``thefuzz.process.extract`` over the same five fields the service searches (title, performer,
album, group title, file name; one string a track). Target: p95 ≤ 16 ms per keystroke.

Quality: a fast search that finds the wrong tracks would pass the latency target, so each of the
200 complete queries (typed as drawn from the catalogue, or with a typo: ``recall_at_10_typed``,
``recall_at_10_mistyped``) is also run with ``limit=10`` and its hits compared with a brute-force
reference ranking of every track over the same fields (``Reference``: no index, no candidate cap).
``recall_at_10`` is the mean share of the reference's 10 best (ties with the 10th count among them)
that the service returns. Target: ≥ 0.95. ``baseline_recall_at_10`` is the same figure for the
thefuzz baseline on the first ``--recall-baseline`` queries.

The service's vocabulary is loaded before timing starts (the TUI loads it while starting up); its
cost is reported as ``vocabulary_load_ms``.

    python bench/search_latency.py [--tracks 100000] [--json] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy
from rapidfuzz import fuzz as rapid_fuzz
from rapidfuzz import process as rapid_process
from thefuzz import process
from tortoise import connections

from tad_tui.library.search import SearchService, fold, parse_query
from tad_tui.store import opened_store

SEED = 4
QUERIES = 200
BASELINE_SAMPLE = 60  # keystrokes: thefuzz takes about a second each over 100k tracks' five fields
RECALL_BASELINE = 40  # of the QUERIES, those whose thefuzz results are checked against the reference
GROUP_BASE = -1_001_500_000_000
BATCH = 5_000

# ---- word lists -----------------------------------------------------------------------------------

FIRST = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Margaret Paul "
    "Sandra Steven Ashley Andrew Kimberly Kenneth Emily Joshua Donna Kevin Michelle Brian Carol George "
    "Amanda Edward Melissa Ronald Deborah Timothy Stephanie Jason Rebecca Jeffrey Sharon Ryan Laura Jacob "
    "Cynthia Gary Kathleen Nicholas Amy Eric Angela Jonathan Shirley Stephen Anna Larry Brenda Justin "
    "Pamela Scott Emma Brandon Nicole Benjamin Helen Samuel Samantha Gregory Katherine Alexander Christine "
    "Frank Debra Patrick Rachel Raymond Carolyn Jack Janet Dennis Catherine Jerry Maria Tyler Heather Aaron "
    "Diane Jose Ruth Adam Julie Nathan Olivia Henry Joyce Douglas Virginia Zachary Victoria Peter Kelly "
    "Kyle Lauren Noah Christina Ethan Joan Jeremy Evelyn Walter Judith Christian Megan Keith Andrea Roger "
    "Cheryl Terry Hannah Austin Jacqueline Sean Martha Gerald Gloria Carl Teresa Harold Ann Dylan Sara "
    "Arthur Madison Lawrence Frances Jordan Kathryn Jesse Janice Bryan Jean Billy Abigail Bruce Alice"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Evans Coltrane Davis Monk Mingus Parker "
    "Ellington Basie Holiday Fitzgerald Vaughan Brubeck Hancock Corea Jarrett Metheny Shorter Rollins"
).split()
SYLLABLES = (
    "ka ri mo na lo ve ta sen dor wyn el an th ar is ol ur bel mar quin fal gor hal ist ron dra "
    "vel zan tor mel cas lin ber wick ham ley ford ton by shaw more field brook wood "
    "ja ko mi su ne pa ru xi zo tu ga bi de fo hu le ny qua rho sta tre vu yo zel kor mun dus"
).split()
ACCENTED = (
    "Antonín Dvořák", "Björk", "Sigur Rós", "Ólafur Arnalds", "Édith Piaf", "Françoise Hardy",
    "Joaquín Rodrigo", "Camille Saint-Saëns", "Gabriel Fauré", "Frédéric Chopin", "Béla Bartók",
    "Arvo Pärt", "Jóhann Jóhannsson", "Zoë Keating", "Mötley Crüe", "Beyoncé", "Céline Dion",
    "Rubén Blades", "João Gilberto", "Caetano Veloso", "Léo Ferré", "Gilberto Gil", "Mariza Fadó",
    "Agustín Barrios", "Emilíana Torrini", "Sébastien Tellier", "Héloïse Letissier", "Ennio Morricone",
)
CYR_FIRST = (
    "Александр Сергей Андрей Дмитрий Алексей Николай Иван Пётр Анна Мария Елена Ольга Татьяна Наталья Юлия"
).split()
CYR_LAST = (
    "Чайковский Рахманинов Шостакович Прокофьев Мусоргский Бородин Глинка Скрябин Стравинский Цой Высоцкий "
    "Пугачёва Земфира Гребенщиков Макаревич Шевчук Кутиков Бутусов Лагутенко Арбенина Сурганова Кипелов"
).split()
CYR_WORDS = (
    "звезда ночь город небо море зима лето весна осень дорога песня любовь время ветер река солнце луна "
    "тишина огонь сердце душа свет тень мечта память берег поезд окно дождь снег"
).split()
CYR_ADJ = "белая тёмная старая новая последняя первая вечная тихая синяя красная холодная".split()
JA_FAMILY = "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 坂本 久石 宇多田 椎名".split()
JA_GIVEN = "龍一 譲 ヒカル 林檎 花子 一郎 美咲 健太 さくら 陽菜 大翔 結衣".split()
JA_WORDS = (
    "夏 冬 空 海 風 雨 雪 花 桜 月 星 夜 朝 光 影 夢 心 道 街 駅 メリークリスマス さよなら ありがとう "
    "ひかり みらい こころ ゆめ 戦場 青空 夕焼け 約束 記憶 旅立ち 永遠"
).split()
GR_FIRST = "Μάνος Μίκης Βαγγέλης Ελένη Μαρία Γιώργος Νίκος Δήμητρα Σταύρος Άννα".split()
GR_LAST = "Χατζιδάκις Θεοδωράκης Παπαθανασίου Καραΐνδρου Ξαρχάκος Μαρκόπουλος Σπανός Νταλάρας".split()
GR_WORDS = "θάλασσα ουρανός αγάπη νύχτα φεγγάρι καλοκαίρι όνειρο τραγούδι δρόμος ήλιος αστέρι".split()
ADJ = (
    "Blue Red Golden Silent Broken Electric Midnight Lonely Wild Velvet Distant Crystal Burning Frozen "
    "Hidden Endless Gentle Restless Secret Neon Paper Silver Summer Winter Autumn Spring Dark Bright Lost "
    "Sweet Bitter Cosmic Urban Little Northern Southern Eastern Western Faded Hollow Lucky Sacred Wicked"
).split()
NOUN = (
    "Moon Heart River Road Dream Light Fire Rain Sky Night Ocean City Garden Train Window Shadow Star "
    "Mountain Island Song Letter Mirror Highway Horizon Storm Forest Desert Flower Angel Ghost Machine "
    "Memory Paradise Harbor Bridge Kingdom Valley Echo Signal Circle Thunder Whisper Lantern Compass "
    "Waltz Blues Serenade Lullaby Nocturne Ballad Anthem Overture Rhapsody Sonata Prelude Fugue"
).split()
VERB = "Dancing Running Falling Waiting Dreaming Burning Calling Drifting Flying Singing Walking Chasing".split()
KEYS = ("C major", "C minor", "D major", "D minor", "E-flat major", "F major", "G minor", "A minor", "B-flat major")
MOVEMENTS = ("I. Allegro", "II. Adagio", "III. Scherzo", "IV. Finale", "II. Andante", "I. Largo")
FORMS = ("Symphony", "Piano Sonata", "String Quartet", "Concerto", "Suite", "Étude", "Nocturne", "Prélude")
COMPOSERS = (
    "Ludwig van Beethoven", "Johann Sebastian Bach", "Wolfgang Amadeus Mozart", "Franz Schubert",
    "Johannes Brahms", "Felix Mendelssohn", "Robert Schumann", "Claude Debussy", "Maurice Ravel",
    "Erik Satie", "Gustav Mahler", "Antonio Vivaldi", "Georg Friedrich Händel", "Edvard Grieg",
)
GROUPS = (
    "Jazz Corner", "Classical Archive", "Lo-fi Beats Daily", "Indie Discoveries", "Vinyl Rips", "Rock Legends",
    "Soundtracks & Scores", "Electronic Underground", "Blues Alley", "Folk Roots", "Metal Vault",
    "Ambient Drift", "Hip-Hop Classics", "World Music Atlas", "Piano Hour", "Русский рок", "Советская эстрада",
    "Шансон и романсы", "アニメ音楽", "シティポップ", "Ελληνικά τραγούδια", "Chanson française", "Música latina",
    "Bossa Nova Café", "Opera House", "Baroque Treasures", "Synthwave Nights", "Punk Basement", "Reggae Sunsplash",
    "Country Roads", "Audiobooks & Radio", "Podcast Mirror", "Live Bootlegs", "Demo Tapes", "Chill Mixes",
    "Workout Energy", "Sleep Sounds", "Kids Songs", "Film Noir Radio", "Big Band Era",
)
FORMATS = (("mp3", "audio/mpeg", 0.55), ("flac", "audio/flac", 0.2), ("m4a", "audio/mp4", 0.1),
           ("ogg", "audio/ogg", 0.1), ("wav", "audio/x-wav", 0.05))
BYTES_PER_SECOND = {"mp3": 40_000, "flac": 110_000, "m4a": 32_000, "ogg": 20_000, "wav": 176_400}


@dataclass(frozen=True)
class Track:
    title: str
    performer: str
    album: str
    group: int


class Library:
    """Deterministic synthetic artists, titles and albums in the scripts a real library holds."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.artists = [self._artist() for _ in range(14_000)]
        self.albums: dict[str, list[str]] = {}

    def _invented(self) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 3))).capitalize()

    def _artist(self) -> str:
        r, rng = self.rng.random(), self.rng
        if r < 0.05:
            return rng.choice(CYR_FIRST) + " " + rng.choice(CYR_LAST)
        if r < 0.08:
            return rng.choice(JA_FAMILY) + rng.choice(JA_GIVEN)
        if r < 0.10:
            return rng.choice(GR_FIRST) + " " + rng.choice(GR_LAST)
        if r < 0.13:
            return rng.choice(ACCENTED)
        if r < 0.16:
            return rng.choice(COMPOSERS)
        if r < 0.30:
            return f"The {rng.choice(ADJ)} {rng.choice(NOUN)}s"
        if r < 0.55:
            return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        return f"{rng.choice(FIRST)} {self._invented()}"

    def title(self, artist: str) -> str:
        rng = self.rng
        script = _script(artist)
        if script == "cyrillic" or (script == "latin" and rng.random() < 0.01):
            return f"{rng.choice(CYR_ADJ).capitalize()} {rng.choice(CYR_WORDS)}"
        if script == "japanese":
            return rng.choice(JA_WORDS) + rng.choice(("の", "と", "")) + rng.choice(JA_WORDS)
        if script == "greek":
            return f"{rng.choice(GR_WORDS).capitalize()} {rng.choice(GR_WORDS)}"
        if artist in COMPOSERS:
            return (f"{rng.choice(FORMS)} No. {rng.randint(1, 32)} in {rng.choice(KEYS)}, "
                    f"Op. {rng.randint(1, 130)}: {rng.choice(MOVEMENTS)}")
        pattern = rng.random()
        if pattern < 0.4:
            return f"{rng.choice(ADJ)} {rng.choice(NOUN)}"
        if pattern < 0.6:
            return f"{rng.choice(NOUN)} of the {rng.choice(NOUN)}"
        if pattern < 0.75:
            return f"{rng.choice(VERB)} {rng.choice(('in the', 'on the', 'through the'))} {rng.choice(NOUN)}"
        if pattern < 0.9:
            return f"{self._invented()} {rng.choice((rng.choice(NOUN), self._invented()))}"
        return f"{rng.choice(ADJ)} {rng.choice(NOUN)} ({rng.choice(('Live', 'Remastered', 'Demo', 'Remix'))})"

    def album(self, artist: str) -> str:
        albums = self.albums.setdefault(artist, [])
        if len(albums) < 4 and (not albums or self.rng.random() < 0.2):
            albums.append(self._album_name(artist))
        return self.rng.choice(albums)

    def _album_name(self, artist: str) -> str:
        rng = self.rng
        script = _script(artist)
        if script == "cyrillic":
            return rng.choice(CYR_WORDS).capitalize()
        if script == "japanese":
            return rng.choice(JA_WORDS) + "ベスト"
        if script == "greek":
            return rng.choice(GR_WORDS).capitalize()
        return rng.choice((f"{rng.choice(ADJ)} {rng.choice(NOUN)}s", "Greatest Hits", f"Live at the {rng.choice(NOUN)}",
                           f"{self._invented()} {self._invented()}", f"The {self._invented()} Sessions"))

    def tracks(self, count: int) -> Iterator[Track]:
        for _ in range(count):
            artist = self.rng.choice(self.artists)
            yield Track(self.title(artist), artist, self.album(artist), self.rng.randrange(len(GROUPS)))


def _script(text: str) -> str:
    for ch in text:
        if "\u0400" <= ch <= "\u04ff":
            return "cyrillic"
        if "\u3040" <= ch <= "\u9fff":
            return "japanese"
        if "\u0370" <= ch <= "\u03ff":
            return "greek"
    return "latin"


# ---- the database ---------------------------------------------------------------------------------

_AUDIO_COLUMNS = (
    "file_id, file_unique_id, file_name, file_size, mime_type, duration, title, performer, album, local_path, "
    "status, downloaded_bytes, checksum_md5, checksum_verified, download_attempts, resume_offset, message_id, "
    "document_id, access_hash, file_reference, dc_id, posted_at, group_id"
)


def _audio_row(rng: random.Random, number: int, track: Track, start: datetime) -> list[Any]:
    fmt, mime = _pick_format(rng)
    duration = rng.randint(60, 600) if rng.random() < 0.95 else rng.randint(1800, 10_800)
    size = duration * BYTES_PER_SECOND[fmt]
    name = f"{track.performer} - {track.title}.{fmt}"
    roll = rng.random()
    status, local, md5 = "pending", None, None
    if roll < 0.25:
        status, local, md5 = "completed", f"/music/{track.performer}/{name}", f"{rng.getrandbits(128):032x}"
    elif roll < 0.27:
        status = "failed"
    group_id = GROUP_BASE - track.group
    posted = start + timedelta(minutes=number * 2 + rng.randint(0, 90))
    return [
        f"{group_id}_{number}", str(7_000_000_000 + number), name, size, mime, duration, track.title,
        track.performer, track.album, local, status, size if local else 0, md5, bool(md5), 1 if local else 0, 0,
        number, 7_000_000_000 + number, rng.getrandbits(62), b"ref", 2, posted.isoformat(" "), group_id,
    ]


def _pick_format(rng: random.Random) -> tuple[str, str]:
    roll, total = rng.random(), 0.0
    for fmt, mime, share in FORMATS:
        total += share
        if roll < total:
            return fmt, mime
    return FORMATS[0][0], FORMATS[0][1]


async def build_library(count: int) -> list[Track]:
    """Insert ``count`` tracks (and their groups, and a queue) in one transaction; returns the tracks."""
    rng = random.Random(SEED)
    library = Library(rng)
    tracks = list(library.tracks(count))
    start = datetime(2020, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC).isoformat(" ")
    placeholders = "(" + ", ".join("?" for _ in _AUDIO_COLUMNS.split(",")) + ")"
    # The raw connection under Tortoise, so that every insert joins one transaction (and its triggers run).
    async with connections.get("default").acquire_connection() as raw:
        await raw.execute("BEGIN IMMEDIATE")
        try:
            await raw.executemany(
                "INSERT INTO telegram_group (group_id, title, username, kind, last_message_id, audio_count, "
                "created_at) VALUES (?, ?, ?, 'channel', 0, 0, ?)",
                [(GROUP_BASE - i, title, f"bench_group_{i}", now) for i, title in enumerate(GROUPS)],
            )
            for offset in range(0, count, BATCH):
                rows = [_audio_row(rng, n + 1, tracks[n], start) for n in range(offset, min(count, offset + BATCH))]
                await raw.executemany(f"INSERT INTO audio_file ({_AUDIO_COLUMNS}) VALUES {placeholders}", rows)
                print(f"\r{offset + len(rows)} tracks…", end="", file=sys.stderr)
            await raw.execute(
                "INSERT INTO queue_entry (priority, rank, state, created_at, updated_at, audio_id) SELECT 1, "
                "id * 1024, 'queued', ?, ?, id FROM audio_file WHERE status = 'pending' AND id % 29 = 0",
                (now, now),
            )
            await raw.execute("COMMIT")
        except BaseException:
            await raw.execute("ROLLBACK")
            raise
    print(file=sys.stderr)
    return tracks


# ---- the queries ----------------------------------------------------------------------------------


def make_queries(tracks: Sequence[Track], count: int, rng: random.Random) -> list[str]:
    """Prefixes of real titles and artists, a third with a typo, in every script of the library."""
    return [text for text, _ in labelled_queries(tracks, count, rng)]


def labelled_queries(tracks: Sequence[Track], count: int, rng: random.Random) -> list[tuple[str, bool]]:
    """The queries of ``make_queries``, each with whether it was given a typo."""
    queries = []
    for _ in range(count):
        track = rng.choice(tracks)
        roll = rng.random()
        if roll < 0.35:
            text = " ".join(track.title.split()[: rng.randint(1, 3)])
        elif roll < 0.7:
            text = track.performer
        else:
            text = f"{track.performer.split()[-1]} {track.title.split()[0]}"
        text = text.lower()[:24].strip()
        mistyped = rng.random() < 0.33 and len(text) > 4
        if mistyped:
            text = _typo(rng, text)
        queries.append((text, mistyped))
    return queries


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def keystrokes(queries: Sequence[str]) -> list[str]:
    return [query[:n] for query in queries for n in range(1, len(query) + 1)]


# ---- quality: recall against a brute-force reference --------------------------------------------

RECALL_K = 10
MINOR_PENALTY = 10  # a match only in album, group or file name counts this much less
WORD_CUTOFF = 40  # a token less similar than this does not match a word at all
WORD_MATCH = 80  # a track has a word when one of its words is this similar (the service's typo cutoff)
_WIDE_SCRIPT = re.compile("[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")
_REFERENCE_SQL = (
    "SELECT a.id, a.title, a.performer, a.album, g.title, a.file_name FROM audio_file AS a"
    " JOIN telegram_group AS g ON g.group_id = a.group_id ORDER BY a.id"
)


class Reference:
    """Every track scored against a query, no index, no candidate cap: what a search should find.

    The same five fields as the service (title and performer; album, group and file name a little
    less), each folded to words; a query word's similarity to a word of the track is thefuzz's ratio
    against that word cut to the query word's length (so a prefix scores 100, a typo a little less),
    or, in scripts written without spaces, 100 when the track's word contains it; a track's score is
    the mean over the query's words of its best word. As the service does, the tracks that have every
    word (each one at least ``WORD_MATCH`` similar to one of the track's words) come before those
    with only some: the best k are taken from the former when there are any. This is the ranking rule
    of ``tad_tui.library.search`` (its docstring), applied here to every track where the service
    scores only the candidates its index returns: recall measures what that retrieval loses.
    """

    def __init__(self, rows: Sequence[Sequence[Any]]) -> None:
        ids: dict[str, int] = {}
        main_tokens: list[int] = []
        minor_tokens: list[int] = []
        main_starts: list[int] = []
        minor_starts: list[int] = []
        for _, title, performer, album, group, file_name in rows:
            stem = (file_name or "").rsplit(".", 1)[0]
            main, minor = ([title, performer], [album, group, stem]) if title or performer else ([stem], [album, group])
            for fields, tokens, starts in ((main, main_tokens, main_starts), (minor, minor_tokens, minor_starts)):
                starts.append(len(tokens))
                words = fold(" ".join(value for value in fields if value)).split() or [""]
                tokens.extend(ids.setdefault(word, len(ids)) for word in words)
        self.ids = numpy.array([row[0] for row in rows])
        self.tokens = list(ids)
        self._main = (numpy.array(main_tokens), numpy.array(main_starts))
        self._minor = (numpy.array(minor_tokens), numpy.array(minor_starts))

    def scores(self, words: Sequence[str]) -> tuple[numpy.ndarray, numpy.ndarray]:
        """Per track, its score (the mean over the words of its best word) and its worst word's best."""
        total = numpy.zeros(len(self.ids))
        worst = numpy.full(len(self.ids), 100.0)
        for word in words:
            if _WIDE_SCRIPT.search(word):
                similarity = numpy.array([100.0 if word in token else 0.0 for token in self.tokens])
            else:
                cut = [token[: len(word)] for token in self.tokens]
                similarity = rapid_process.cdist([word], cut, scorer=rapid_fuzz.ratio, dtype=numpy.float64)[0]
                similarity[similarity < WORD_CUTOFF] = 0
            best_main = numpy.maximum.reduceat(similarity[self._main[0]], self._main[1])
            best_minor = numpy.maximum.reduceat(similarity[self._minor[0]], self._minor[1]) - MINOR_PENALTY
            best = numpy.maximum(best_main, best_minor)
            total += best
            worst = numpy.minimum(worst, best)
        return numpy.round(total / len(words)), worst

    def relevant(self, words: Sequence[str], k: int = RECALL_K) -> set[int]:
        """The ids of the k best tracks that have every word (else of those with some), ties with the k-th too."""
        scores, worst = self.scores(words)
        every = worst >= WORD_MATCH
        pool = scores[every] if every.any() else scores[scores > 0]
        ids = self.ids[every] if every.any() else self.ids[scores > 0]
        if not len(pool):
            return set()
        kth = numpy.sort(pool)[max(0, len(pool) - k)]
        return set(ids[pool >= kth].tolist())


def recall(found: Sequence[int], relevant: set[int], k: int = RECALL_K) -> float:
    """Of the k best tracks (ties with the k-th count as best), the share among the k results."""
    if not relevant:
        return 1.0
    return len(set(found[:k]) & relevant) / min(k, len(relevant))


async def library_rows() -> list[Any]:
    """Each track's id and the fields the service searches: title, performer, album, group, file name."""
    _, rows = await connections.get("default").execute_query(_REFERENCE_SQL)
    return list(rows)


async def measure_recall(
    service: SearchService, rows: Sequence[Any], queries: Sequence[tuple[str, bool]], baseline_queries: int
) -> dict[str, float | int | None]:
    """recall@10 of the service (all, typed, mistyped) and of the thefuzz baseline on a sample."""
    reference = Reference(rows)
    choices = {row[0]: baseline_text(row) for row in rows}
    typed: list[float] = []
    mistyped: list[float] = []
    baseline: list[float] = []
    for i, (text, was_mistyped) in enumerate(queries):
        words = parse_query(text).text.split()
        if not words:
            continue
        relevant = reference.relevant(words)
        result = await service.search(text, limit=RECALL_K)
        (mistyped if was_mistyped else typed).append(recall([hit.id for hit in result.hits], relevant))
        if i < baseline_queries:
            found = [key for _, _, key in process.extract(text, choices, limit=RECALL_K)]
            baseline.append(recall(found, relevant))
        print(f"\rrecall {i + 1}/{len(queries)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    every = typed + mistyped
    return {
        "recall_at_10": round(statistics.fmean(every), 3),
        "recall_at_10_typed": round(statistics.fmean(typed), 3) if typed else None,
        "recall_at_10_mistyped": round(statistics.fmean(mistyped), 3) if mistyped else None,
        "recall_queries": len(every),
        "baseline_recall_at_10": round(statistics.fmean(baseline), 3) if baseline else None,
        "baseline_recall_queries": len(baseline),
    }


def baseline_text(row: Sequence[Any]) -> str:
    """What the baseline searches: the same fields as the service, in one string."""
    return " ".join(value for value in row[1:] if value)


# ---- measuring ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def time_service(service: SearchService, typed: Sequence[str]) -> list[float]:
    times = []
    for i, text in enumerate(typed):
        started = time.perf_counter()
        await service.search(text, limit=50)
        times.append((time.perf_counter() - started) * 1000)
        if i % 200 == 0:
            print(f"\rkeystroke {i}/{len(typed)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return times


def time_baseline(texts: Sequence[str], typed: Sequence[str]) -> list[float]:
    times = []
    for i, text in enumerate(typed):
        started = time.perf_counter()
        process.extract(text, texts, limit=50)
        times.append((time.perf_counter() - started) * 1000)
        print(f"\rbaseline {i + 1}/{len(typed)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return times


async def measure(count: int, db: Path | None, baseline_sample: int, recall_baseline: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tad-bench-") as folder:
        path = db or Path(folder) / "library.sqlite3"
        reuse = path.exists()
        async with opened_store(path):
            if reuse:
                _, rows = await connections.get("default").execute_query("SELECT count(*) FROM audio_file")
                if rows[0][0] != count:
                    raise SystemExit(f"{path} holds {rows[0][0]} tracks, not {count}: pass --tracks {rows[0][0]}")
                print(f"reusing {path}", file=sys.stderr)
                tracks = list(Library(random.Random(SEED)).tracks(count))
            else:
                started = time.perf_counter()
                tracks = await build_library(count)
                print(f"built {count} tracks in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            queries = labelled_queries(tracks, QUERIES, random.Random(SEED + 1))
            typed = keystrokes([text for text, _ in queries])
            # The TUI holds no 100k Python objects of its own: without this, the garbage collector's
            # full passes over them would be charged to the keystrokes that trigger them.
            del tracks
            gc.collect()
            service = SearchService()
            started = time.perf_counter()
            await service.warm_up()
            load_ms = (time.perf_counter() - started) * 1000
            times = await time_service(service, typed)
            rows = await library_rows()
            quality = await measure_recall(service, rows, queries, recall_baseline)
    texts = [baseline_text(row) for row in rows]
    del rows
    step = max(1, len(typed) // baseline_sample) if baseline_sample else 0
    sample = typed[::step][:baseline_sample] if step else []
    baseline = time_baseline(texts, sample) if sample else []
    p50 = statistics.median(times)
    baseline_p50 = statistics.median(baseline) if baseline else None
    return {
        "tracks": count,
        "keystrokes": len(times),
        "p50_ms": round(p50, 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "max_ms": round(max(times), 2),
        "baseline_p50_ms": round(baseline_p50, 1) if baseline_p50 else None,
        "ratio": round(baseline_p50 / p50, 1) if baseline_p50 else None,
        "baseline_keystrokes": len(baseline),
        "vocabulary_load_ms": round(load_ms, 1),
        **quality,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000, help="library size (default 100000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--db", type=Path, help="keep the library in this file and reuse it on the next run")
    parser.add_argument("--baseline-sample", type=int, default=BASELINE_SAMPLE,
                        help=f"keystrokes run through thefuzz (default {BASELINE_SAMPLE}; 0 skips it)")
    parser.add_argument("--recall-baseline", type=int, default=RECALL_BASELINE,
                        help=f"queries whose thefuzz results are checked too (default {RECALL_BASELINE})")
    args = parser.parse_args()
    result = asyncio.run(measure(args.tracks, args.db, args.baseline_sample, args.recall_baseline))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
