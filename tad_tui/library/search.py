"""Library search: one line of free words and filters in, ranked tracks out, fast enough per keystroke.

How one search runs (bench/search_latency.py measures it at 100k tracks):
1. ``parse_query`` splits the line into words and filters (``format:flac size>10MB
   performer:"Bill Evans"``); what it cannot read becomes a hint, never an error.
2. Each word becomes a quoted FTS5 phrase with a prefix ``*`` — user text is never FTS syntax —
   OR'd with close terms from an in-memory vocabulary of the index: typos ("bethoven" → beethoven),
   accents the index keeps (it folds Latin only: "петр" → пётр) and CJK infixes ("メリー" →
   戦場のメリークリスマス, which unicode61 stores as one token).
3. SQLite returns at most a bounded number of matching rows, newest first, filters applied in SQL.
4. Each candidate scores the mean, over the words, of thefuzz's ratio between the word and the best
   of the track's folded words cut to its length (so a prefix scores 100, a typo a little less).
   Ties break on downloaded first, then newest.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import islice, repeat
from typing import Any, Final

from thefuzz import fuzz, process
from tortoise import connections
from tortoise.exceptions import OperationalError

from tad_tui.library import status
from tad_tui.library.text import clean_text, track_name
from tad_tui.sizes import parse_size

log = logging.getLogger(__name__)

# ---- folding ---------------------------------------------------------------------------------------

# Combining diacritics (Latin, Cyrillic, Greek accents); kana voicing marks are letters' parts and stay.
_MARKS: Final = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# Whitespace and punctuation: ASCII (every FTS5 operator character), general and CJK punctuation.
_SEPARATORS: Final = re.compile(
    "[\\s!-/:-@\\[-`{-~\u00a1-\u00bf\u00d7\u00f7\u2010-\u205e\u3000-\u303f\u30fb\uff01-\uff0f\uff1a-\uff20]+"
)
# Letters NFKD leaves alone but people type without their stroke or ligature.
_LETTERS: Final = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
# Scripts written without spaces: unicode61 keeps a whole run of them as one token.
_WIDE: Final = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff]"
)
_DIGIT: Final = re.compile(r"\d")
_INDEX_TOKEN: Final = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Case- and accent-free text, words separated by one space: what scoring and the vocabulary compare."""
    if text.isascii():
        return _SEPARATORS.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKD", text)
    # NFC again so that marks that are not diacritics (kana voicing) rejoin their letter.
    text = unicodedata.normalize("NFC", _MARKS.sub("", text)).casefold().translate(_LETTERS)
    return _SEPARATORS.sub(" ", text).strip()


def split_words(text: str) -> list[str]:
    """Words as typed, split on whitespace and punctuation (so FTS operators are never words)."""
    return [word for word in _SEPARATORS.split(text) if any(ch.isalnum() for ch in word)]


def index_form(token: str) -> str:
    """A token as the index stores it: unicode61 lower-cases everything but strips accents from Latin only."""
    token = token.lower().replace("ς", "σ")
    if token.isascii():
        return token
    return "".join(_strip_latin(ch) for ch in token)


def _strip_latin(ch: str) -> str:
    if ch < "\u0250" or "\u1e00" <= ch <= "\u1eff":
        return unicodedata.normalize("NFD", ch)[0]
    return ch


def index_tokens(text: str) -> list[str]:
    """The index terms of ``text`` (a close mirror of unicode61: runs of letters and digits)."""
    return [index_form(token) for token in _INDEX_TOKEN.findall(unicodedata.normalize("NFC", text))]


# ---- the query language ------------------------------------------------------------------------

FORMATS: Final = ("mp3", "m4a", "flac", "ogg", "wav")
STATUSES: Final = tuple(status.STATES)
FILTER_KEYS: Final = ("format", "size", "duration", "group", "performer", "year", "status")
_KEY_ALIASES: Final = {"artist": "performer", "ext": "format", "type": "format", "length": "duration"}
_FORMAT_ALIASES: Final = {"mpeg": "mp3", "mp4": "m4a", "aac": "m4a", "opus": "ogg", "oga": "ogg", "wave": "wav"}
_STATUS_ALIASES: Final = {"done": "downloaded", "completed": "downloaded", "pending": "new"}
# A name for several states: "active" is everything in the queue that has not finished.
_STATUS_GROUPS: Final = {"active": ("queued", "waiting", "running", "paused")}
_LAST_YEAR: Final = 9999

_CHUNK: Final = re.compile(
    r'(?P<key>[^\W\d_]+)(?P<op>>=|<=|[:=<>])(?P<value>"[^"]*(?:"|$)|[^\s"]*)'  # key:value, key>value
    r'|"(?P<quoted>[^"]*)(?:"|$)'  # a quoted phrase (its closing quote may not be typed yet)
    r'|(?P<bare>[^\s"]+)'
)
_DURATION_UNITS: Final = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m(?:in)?)?(?:(?P<s>\d+)s)?")
_CLOCK: Final = re.compile(r"(?:(\d+):)?(\d+):(\d{1,2})")
_YEAR_RANGE: Final = re.compile(r"(\d{4})(?:\s*(?:-|\.\.)\s*(\d{4}))?")


@dataclass(frozen=True)
class SearchFilters:
    """Conditions every hit meets. From the query line and from the CLI's options; all must hold."""

    formats: frozenset[str] | None = None  # None: any format
    min_size: int | None = None  # bytes, inclusive
    max_size: int | None = None
    min_duration: int | None = None  # seconds, inclusive
    max_duration: int | None = None
    years: tuple[tuple[int, int], ...] = ()  # inclusive ranges of the tag year; each must hold
    groups: tuple[str, ...] = ()  # title words, @username or numeric id; each must match
    performers: tuple[str, ...] = ()  # words of the performer, in order, the last one a prefix
    statuses: frozenset[str] | None = None

    def narrow(self, other: SearchFilters) -> SearchFilters:
        """Both sets of conditions at once."""
        return SearchFilters(
            formats=_intersect(self.formats, other.formats),
            min_size=_bound(max, self.min_size, other.min_size),
            max_size=_bound(min, self.max_size, other.max_size),
            min_duration=_bound(max, self.min_duration, other.min_duration),
            max_duration=_bound(min, self.max_duration, other.max_duration),
            years=self.years + other.years,
            groups=self.groups + other.groups,
            performers=self.performers + other.performers,
            statuses=_intersect(self.statuses, other.statuses),
        )


def _intersect(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return b if a is None else a if b is None else a & b


def _bound(pick: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else pick(a, b)


@dataclass(frozen=True)
class ParsedQuery:
    words: tuple[str, ...]  # free words as typed (punctuation and FTS operators already split off)
    filters: SearchFilters
    hints: tuple[str, ...]

    @property
    def text(self) -> str:
        """The free words, folded: what candidates are scored against."""
        return fold(" ".join(self.words))


def parse_query(text: str) -> ParsedQuery:
    """Words and filters of one search line; unknown or malformed filters become hints, never errors."""
    words: list[str] = []
    hints: list[str] = []
    filters = SearchFilters()
    for chunk in _CHUNK.finditer(clean_text(text, max_length=4096) or ""):
        if chunk["key"] is None:
            words.extend(split_words(chunk["quoted"] or chunk["bare"] or ""))
            continue
        key, op, value = chunk["key"].lower(), chunk["op"], _unquote(chunk["value"])
        key = _KEY_ALIASES.get(key, key)
        if key not in FILTER_KEYS:
            if value:  # "AC:DC" is a band; "Note:" followed by a space is just a word
                hints.append(f"{chunk[0]!r}: no filter called {key!r}, searched as text "
                             f"(filters: {', '.join(FILTER_KEYS)})")
            words.extend(split_words(chunk[0]))
            continue
        parsed, hint = _parse_filter(key, op, value)
        if hint:
            hints.append(f"{chunk[0]!r}: {hint}; ignored")
        if parsed is not None:
            filters = filters.narrow(parsed)
    return ParsedQuery(tuple(words), filters, tuple(hints))


def _unquote(value: str) -> str:
    return value[1:].removesuffix('"').strip() if value.startswith('"') else value


def _parse_filter(key: str, op: str, value: str) -> tuple[SearchFilters | None, str | None]:
    """One filter, or a hint saying what was wrong with it."""
    if not value:
        return None, f"{key} needs a value, e.g. {_EXAMPLES[key]}"
    try:
        return _FILTER_PARSERS[key](op, value), None
    except ValueError as error:
        return None, str(error)


def _choices(key: str, op: str, value: str, aliases: dict[str, str], allowed: Sequence[str], noun: str) -> frozenset[str]:
    """``a|b,c`` for a filter that takes names from a fixed list (aliases folded in)."""
    _require_equals(key, op)
    names = {aliases.get(name, name) for name in re.split(r"[|,]", value.lower()) if name}
    if unknown := sorted(names - set(allowed)):
        raise ValueError(f"unknown {key} {', '.join(unknown)} ({noun}: {', '.join(allowed)})")
    return frozenset(names)


def _parse_format(op: str, value: str) -> SearchFilters:
    return SearchFilters(formats=_choices("format", op, value, _FORMAT_ALIASES, FORMATS, "formats"))


def _parse_status(op: str, value: str) -> SearchFilters:
    named = _choices("status", op, value, _STATUS_ALIASES, (*STATUSES, *_STATUS_GROUPS), "statuses")
    return SearchFilters(statuses=frozenset(s for name in named for s in status_names(name)))


def status_names(name: str) -> frozenset[str]:
    """The states a status filter's name stands for ("active": every unfinished one)."""
    return frozenset(_STATUS_GROUPS.get(name, (name,)))


def _parse_size(op: str, value: str) -> SearchFilters:
    low, high = _comparison("size", op, parse_size(value))
    return SearchFilters(min_size=low, max_size=high)


def _parse_duration(op: str, value: str) -> SearchFilters:
    low, high = _comparison("duration", op, parse_duration(value))
    return SearchFilters(min_duration=low, max_duration=high)


def _parse_year(op: str, value: str) -> SearchFilters:
    match = _YEAR_RANGE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a year; write year:1959, year:1950-1959 or year>1950")
    first, last = int(match[1]), int(match[2] or match[1])
    if op in (":", "="):
        return SearchFilters(years=((min(first, last), max(first, last)),))
    if match[2]:
        raise ValueError("a year range takes ':' (year:1950-1959)")
    low, high = _comparison("year", op, first)
    return SearchFilters(years=((low or 0, _LAST_YEAR if high is None else high),))


def _parse_group(op: str, value: str) -> SearchFilters:
    _require_equals("group", op)
    return SearchFilters(groups=(value,))


def _parse_performer(op: str, value: str) -> SearchFilters:
    _require_equals("performer", op)
    if not split_words(value):
        raise ValueError("performer needs a name, e.g. performer:\"Bill Evans\"")
    return SearchFilters(performers=(value,))


def _require_equals(key: str, op: str) -> None:
    if op not in (":", "="):
        raise ValueError(f"{key} takes ':' (e.g. {_EXAMPLES[key]}), not {op!r}")


def _comparison(key: str, op: str, amount: int) -> tuple[int | None, int | None]:
    """Inclusive (low, high) bounds from ``>``, ``>=``, ``<``, ``<=``."""
    if op == ">":
        return amount + 1, None
    if op == ">=":
        return amount, None
    if op == "<":
        return None, amount - 1
    if op == "<=":
        return None, amount
    raise ValueError(f"{key} takes >, >=, < or <= (e.g. {_EXAMPLES[key]})")


def parse_duration(text: str) -> int:
    """Seconds in "90", "90s", "5m", "1h30m", "3:30" or "1:02:03"; ValueError otherwise."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    if clock := _CLOCK.fullmatch(text):
        hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        return hours * 3600 + minutes * 60 + seconds
    match = _DURATION_UNITS.fullmatch(text)
    if match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration; write 90s, 5m, 1h30m or 3:30")
    return int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0)


_EXAMPLES: Final = {
    "format": "format:flac",
    "size": "size>10MB",
    "duration": "duration>5m",
    "group": "group:jazz",
    "performer": 'performer:"Bill Evans"',
    "year": "year:1959",
    "status": "status:downloaded",
}
_FILTER_PARSERS: Final[dict[str, Callable[[str, str], SearchFilters]]] = {
    "format": _parse_format,
    "size": _parse_size,
    "duration": _parse_duration,
    "group": _parse_group,
    "performer": _parse_performer,
    "year": _parse_year,
    "status": _parse_status,
}


# ---- the vocabulary ---------------------------------------------------------------------------------


class Vocabulary:
    """The index's terms in memory: typo, accent-variant and CJK-infix alternatives for query words."""

    def __init__(self) -> None:
        # Tuples of strings, not lists: the garbage collector stops tracking them (a full collection
        # over a big vocabulary of lists cost ~40 ms in the middle of a keystroke).
        self._forms: dict[str, tuple[str, ...]] = {}  # folded term -> the index's spellings of it
        self._choices: list[str] = []  # folded terms worth comparing for typos
        self._variants: list[str] = []  # folded terms the index spells differently (sorted on use)
        self._variants_sorted = True
        self._wide: list[str] = []  # index terms in scripts without spaces
        self._pairs: dict[str, set[str]] = {}  # first letter -> the 2-letter prefixes of index terms
        self.size = 0  # distinct index terms

    def add(self, terms: Iterable[str]) -> None:
        for term in terms:
            key = fold(term)
            spellings = self._forms.get(key, ())
            if term in spellings:
                continue
            if not spellings and len(key) >= 3 and not _DIGIT.search(key):
                self._choices.append(key)
            if key != term and all(spelling == key for spelling in spellings):
                self._variants.append(key)  # the first spelling that differs from its folded form
                self._variants_sorted = False
            self._forms[key] = (*spellings, term)
            self.size += 1
            if _WIDE.search(term):
                self._wide.append(term)
            if len(term) >= 2:
                self._pairs.setdefault(term[0], set()).add(term[:2])

    def two_letter_prefixes(self, letter: str) -> list[str]:
        return sorted(self._pairs.get(letter, ()))

    def typos(self, word: str, *, cutoff: int, limit: int) -> list[str]:
        """Index terms within ``cutoff`` (thefuzz ratio, 0-100) of the folded ``word``."""
        found = process.extractBests(word, self._choices, processor=None, scorer=fuzz.ratio,
                                     score_cutoff=cutoff, limit=limit)
        return [spelling for key, _ in found if key != word for spelling in self._forms[key]]

    def variants(self, word: str, *, limit: int) -> list[str]:
        """Index spellings of terms that fold to something starting with ``word`` ("петр" → "пётр")."""
        if not self._variants_sorted:
            self._variants.sort()
            self._variants_sorted = True
        start = bisect.bisect_left(self._variants, word)
        found: list[str] = []
        for key in self._variants[start : start + limit]:
            if not key.startswith(word):
                break
            found.extend(term for term in self._forms[key] if term != word)
        return found[:limit]

    def infixes(self, word: str, *, limit: int) -> list[str]:
        """Index terms that contain ``word`` past their start (CJK titles are single tokens)."""
        found = []
        for term in self._wide:
            if word in term and not term.startswith(word):
                found.append(term)
                if len(found) == limit:
                    break
        return found


# ---- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: int
    file_id: str
    title: str | None
    performer: str | None
    album: str | None
    file_name: str | None
    group: str
    format: str | None
    file_size: int
    duration: int | None
    status: str  # one of status.STATES: new, queued, running, downloaded…
    local_path: str | None
    checksum_md5: str | None  # of the file on disk
    source_md5: str | None  # of the bytes as Telegram sent them
    posted_at: datetime | None
    score: int  # 0-100, how well the words match (100 when there are none)

    @property
    def name(self) -> str:
        """What a person calls the track: title – performer (the title first: a narrow column keeps
        it), else the title or file name."""
        return track_name(self.title, self.performer, self.file_name, self.file_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "title": self.title,
            "performer": self.performer,
            "album": self.album,
            "group": self.group,
            "format": self.format,
            "file_size": self.file_size,
            "duration": self.duration,
            "status": self.status,
            "local_path": self.local_path,
            "checksum_md5": self.checksum_md5,
            "source_md5": self.source_md5,
            "score": self.score,
        }


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    hints: list[str]  # unknown or malformed filters, groups that match nothing: shown beside the hits
    elapsed_ms: float
    matched: int  # tracks that match (counted up to the candidate cap)
    more: bool  # more tracks match than were counted: the TUI shows "400+"
    relaxed: bool  # no track has every word: these have some of them
    query: ParsedQuery


# ---- SQL --------------------------------------------------------------------------------------------

_MIME_FORMATS: Final = {
    "mp3": ("audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3"),
    "m4a": ("audio/mp4", "audio/x-m4a", "audio/m4a", "audio/aac", "audio/x-aac"),
    "flac": ("audio/flac", "audio/x-flac"),
    "ogg": ("audio/ogg", "audio/opus", "audio/vorbis", "audio/x-vorbis+ogg", "application/ogg"),
    "wav": ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"),
}
_EXTENSIONS: Final = {"mp3": ("mp3",), "m4a": ("m4a", "mp4", "aac"), "flac": ("flac",),
                      "ogg": ("ogg", "oga", "opus"), "wav": ("wav",)}


def _format_sql() -> str:
    """The format of a row: from its MIME type, else from its file name's extension (constants only)."""
    whens = []
    for name, mimes in _MIME_FORMATS.items():
        listed = ", ".join(f"'{mime}'" for mime in mimes)
        whens.append(f"WHEN a.mime_type IN ({listed}) THEN '{name}'")
    for name, extensions in _EXTENSIONS.items():
        endings = " OR ".join(f"a.file_name LIKE '%.{extension}'" for extension in extensions)
        whens.append(f"WHEN {endings} THEN '{name}'")
    return f"CASE {' '.join(whens)} END"


_FORMAT_SQL: Final = _format_sql()
_STATUS_SQL: Final = (
    "CASE WHEN a.status = 'completed' OR (a.status = 'skipped' AND a.local_path IS NOT NULL) THEN 'downloaded'"
    " WHEN q.state = 'completed' THEN 'downloaded' WHEN q.state IS NOT NULL THEN q.state"
    " WHEN a.status = 'failed' THEN 'failed' ELSE 'new' END"
)
_COLUMNS: Final = (
    f"a.id, a.file_id, a.title, a.performer, a.album, a.file_name, g.title, ({_FORMAT_SQL}), a.file_size,"
    f" a.duration, ({_STATUS_SQL}), a.local_path, a.checksum_md5, a.source_md5, a.posted_at"
)
_JOINS: Final = (
    "JOIN telegram_group AS g ON g.group_id = a.group_id LEFT JOIN queue_entry AS q ON q.audio_id = a.id"
)
# CROSS JOIN keeps the FTS table as the outer loop, so SQLite walks its matches newest first and stops.
_MATCH_SELECT: Final = (
    f"SELECT {_COLUMNS} FROM audio_search CROSS JOIN audio_file AS a ON a.id = audio_search.rowid {_JOINS}"
    " WHERE audio_search MATCH ?{conditions} ORDER BY audio_search.rowid DESC LIMIT ?"
)
# Without words: the newest tracks that pass the filters, walked along the posted_at index.
_RECENT_SELECT: Final = (
    f"SELECT {_COLUMNS} FROM audio_file AS a {_JOINS} WHERE 1{{conditions}}"
    " ORDER BY a.posted_at DESC, a.id DESC LIMIT ?"
)
_VOCABULARY_TABLE: Final = "temp.tad_search_vocab"
# Row positions in the SELECTs above.
(_COL_ID, _COL_FILE_ID, _COL_TITLE, _COL_PERFORMER, _COL_ALBUM, _COL_FILE_NAME, _COL_GROUP, _COL_FORMAT,
 _COL_SIZE, _COL_DURATION, _COL_STATUS, _COL_LOCAL_PATH, _COL_MD5, _COL_SOURCE_MD5,
 _COL_POSTED) = range(15)


def _quote(word: str) -> str:
    """An FTS5 string: the tokenizer reads what is inside; nothing in it is an operator."""
    return '"' + word.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Conditions:
    sql: str
    values: list[Any]
    impossible: bool = False  # e.g. a group filter that matches no group


# ---- the service ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tolerance:
    candidates: int  # rows scored at most
    min_typo_length: int  # shorter words get no typo alternatives
    typo_cutoff: int  # thefuzz ratio a vocabulary term needs to stand in for a word
    typo_terms: int  # alternatives per word
    any_word: bool  # also take tracks that have only some of the words


_NORMAL: Final = _Tolerance(candidates=300, min_typo_length=4, typo_cutoff=80, typo_terms=4, any_word=False)
_FUZZY: Final = _Tolerance(candidates=1500, min_typo_length=3, typo_cutoff=67, typo_terms=12, any_word=True)
_MAX_WORDS: Final = 16
_VARIANT_TERMS: Final = 16
_INFIX_TERMS: Final = 48
_NEW_ROWS_PER_REFRESH: Final = 2000
_ALTERNATIVE_CACHE: Final = 4096
_TOKEN_CACHE: Final = 50_000  # rows whose folded words are kept: successive keystrokes share candidates
_MINOR_FIELD_PENALTY: Final = 10
_WORD_CUTOFF: Final = 40  # a token less similar than this does not match the word at all


class SearchService:
    """Search over every known track (downloaded, queued, or only scanned), for the CLI and the TUI.

    One instance lives as long as the store is open: it keeps the index's vocabulary in memory and
    adds the terms of new rows at most once per ``refresh_interval`` seconds.
    """

    def __init__(self, *, refresh_interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._vocabulary: Vocabulary | None = None
        self._seen_id = 0  # the highest audio_file.id whose terms are in the vocabulary
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._checked_at = float("-inf")
        self._alternatives: dict[tuple[str, bool], tuple[str, ...]] = {}
        self._refreshing = asyncio.Lock()  # keystrokes overlap in the TUI: load the vocabulary once
        self._tokens: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self.on_timing: Callable[[float], None] = lambda milliseconds: None  # the monitor's search p50

    async def warm_up(self) -> None:
        """Load the vocabulary now (the TUI calls it while starting; otherwise the first search does)."""
        await self._refresh()

    async def search(
        self, text: str, *, limit: int = 50, fuzzy: bool = False, filters: SearchFilters | None = None
    ) -> SearchResult:
        """The best ``limit`` tracks for ``text`` (words and filters), narrowed by ``filters``.

        ``fuzzy`` is more tolerant: looser typo matching, more alternatives per word, tracks that have
        only some of the words, and more candidates scored.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        started = time.perf_counter()
        parsed = parse_query(text)
        if filters is not None:
            parsed = replace(parsed, filters=parsed.filters.narrow(filters))
        hints = list(parsed.hints)
        if len(parsed.words) > _MAX_WORDS:  # each word costs a vocabulary lookup and a scoring pass
            hints.append(f"only the first {_MAX_WORDS} words are searched")
            parsed = replace(parsed, words=parsed.words[:_MAX_WORDS])
        tolerance = _FUZZY if fuzzy else _NORMAL
        await self._refresh()
        conditions = await self._conditions(parsed.filters, hints)
        cap = max(limit, tolerance.candidates)
        rows, more, relaxed = await self._candidates(parsed, conditions, tolerance, cap)
        hits = self._rank(parsed.text, rows, limit)
        elapsed = (time.perf_counter() - started) * 1000
        self.on_timing(elapsed)
        return SearchResult(hits, hints, elapsed, len(rows), more, relaxed, parsed)

    def shrink(self) -> None:
        """Drop the per-query caches (memory pressure); the vocabulary stays, it is what makes typing fast."""
        self._alternatives.clear()
        self._tokens.clear()

    # ---- candidates --------------------------------------------------------------------------------

    async def _candidates(
        self, parsed: ParsedQuery, conditions: _Conditions, tolerance: _Tolerance, cap: int
    ) -> tuple[list[Any], bool, bool]:
        """At most ``cap`` rows to rank, whether more match, and whether they have only some of the words."""
        if conditions.impossible:
            return [], False, False
        if parsed.words or parsed.filters.performers:
            return await self._match(parsed, conditions, tolerance, cap)
        rows = await _fetch(_RECENT_SELECT.format(conditions=conditions.sql), [*conditions.values, cap + 1])
        return rows[:cap], len(rows) > cap, False

    async def _match(
        self, parsed: ParsedQuery, conditions: _Conditions, tolerance: _Tolerance, cap: int
    ) -> tuple[list[Any], bool, bool]:
        """Rows matching every word (and, when tolerant or when none does, some of them)."""
        groups = [self._word_expression(word, tolerance) for word in self._index_words(parsed.words)]
        performers = [_performer_expression(value) for value in parsed.filters.performers]
        rows = await self._select(" AND ".join(groups + performers), conditions, cap + 1)
        relaxed = False
        if len(groups) > 1 and (tolerance.any_word or not rows) and len(rows) <= cap:
            # Some words, not all: "bill evans waltz" still finds the waltz with a misspelt word.
            either = "(" + " OR ".join(groups) + ")"
            seen = {row[_COL_ID] for row in rows}
            more_rows = await self._select(" AND ".join([either, *performers]), conditions, cap + 1)
            relaxed = not rows and bool(more_rows)
            rows += [row for row in more_rows if row[_COL_ID] not in seen]
        return rows[:cap], len(rows) > cap, relaxed

    @staticmethod
    def _index_words(words: Sequence[str]) -> list[str]:
        """The words worth asking the index for: a 1-letter word only when nothing longer was typed."""
        longer = [word for word in words if len(word) > 1 or _WIDE.match(word)]
        return longer or list(words)

    def _word_expression(self, word: str, tolerance: _Tolerance) -> str:
        phrases = [_quote(word) + "*"] + [_quote(term) for term in self._alternatives_for(word, tolerance)]
        letter = index_form(word)
        if len(letter) == 1 and self._vocabulary is not None and not _WIDE.match(letter):
            # "m"* merges every m-term's postings (no 1-letter prefix index): ~6 ms at 100k tracks. The
            # 2-letter prefixes it covers are indexed, and an OR of them stops at the LIMIT (~0.4 ms).
            if pairs := self._vocabulary.two_letter_prefixes(letter):
                phrases = [_quote(letter)] + [_quote(pair) + "*" for pair in pairs]
        return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"

    def _alternatives_for(self, word: str, tolerance: _Tolerance) -> tuple[str, ...]:
        """Index terms that stand in for ``word``: typos, accent variants, CJK infixes (memoised)."""
        vocabulary = self._vocabulary
        if vocabulary is None:
            return ()
        key = (word, tolerance is _FUZZY)
        if (cached := self._alternatives.get(key)) is not None:
            return cached
        folded = fold(word)
        terms = vocabulary.variants(folded, limit=_VARIANT_TERMS)
        if _WIDE.search(word):
            terms += vocabulary.infixes(index_form(word), limit=_INFIX_TERMS)
        elif len(folded) >= tolerance.min_typo_length and not _DIGIT.search(folded):
            terms += vocabulary.typos(folded, cutoff=tolerance.typo_cutoff, limit=tolerance.typo_terms)
        found = tuple(dict.fromkeys(term for term in terms if term != index_form(word)))
        _make_room(self._alternatives, _ALTERNATIVE_CACHE)
        self._alternatives[key] = found
        return found

    async def _select(self, expression: str, conditions: _Conditions, limit: int) -> list[Any]:
        sql = _MATCH_SELECT.format(conditions=conditions.sql)
        try:
            return await _fetch(sql, [expression, *conditions.values, limit])
        except OperationalError as error:
            # Every phrase is quoted, so this should not happen; if it does, the user gets a hint.
            if "fts5" not in str(error).lower():
                raise
            log.warning("search index refused %r: %s", expression, error)
            return []

    async def _conditions(self, filters: SearchFilters, hints: list[str]) -> _Conditions:
        """SQL for the filters (the performer filter goes into the MATCH expression instead)."""
        sql: list[str] = []
        values: list[Any] = []
        if filters.formats is not None:
            sql.append(_in(f"({_FORMAT_SQL})", sorted(filters.formats), values))
        if filters.statuses is not None:
            sql.append(_in(f"({_STATUS_SQL})", sorted(filters.statuses), values))
        for column, low, high in (("a.file_size", filters.min_size, filters.max_size),
                                  ("a.duration", filters.min_duration, filters.max_duration)):
            if low is not None:
                sql.append(f"{column} >= ?")
                values.append(low)
            if high is not None:
                sql.append(f"{column} <= ?")
                values.append(high)
        for first, last in filters.years:
            sql.append("CAST(substr(a.date, 1, 4) AS INTEGER) BETWEEN ? AND ?")
            values += [first, last]
        impossible = filters.formats == frozenset() or filters.statuses == frozenset()
        for group in filters.groups:
            ids = await _group_ids(group)
            if not ids:
                hints.append(f"no group matches {group!r}")
                impossible = True
            sql.append(_in("a.group_id", ids, values))
        return _Conditions("".join(f" AND {condition}" for condition in sql), values, impossible)

    # ---- ranking -----------------------------------------------------------------------------------

    def _rank(self, query: str, rows: list[Any], limit: int) -> list[SearchHit]:
        """Score each row against the folded words; best first, then downloaded, then newest."""
        scores = self._scores(query.split(), rows) if query else [100] * len(rows)
        # Two stable sorts: newest first, then by score and downloaded (which keeps newest within ties).
        order = sorted(range(len(rows)), key=lambda i: (str(rows[i][_COL_POSTED] or ""), rows[i][_COL_ID]),
                       reverse=True)
        order.sort(key=lambda i: (-scores[i], rows[i][_COL_STATUS] != "downloaded"))
        return [_hit(rows[i], scores[i]) for i in order[:limit]]

    def _scores(self, words: Sequence[str], rows: Sequence[Any]) -> list[int]:
        """Per row, the mean over the words of its best token match (0-100).

        A word matches a token that starts like it, typos allowed (thefuzz's ratio against the token cut
        to the word's length), or, in scripts written without spaces, a token that contains it. A
        match only in the album, group or file name counts a little less than in title or performer.
        """
        tokens = [self._row_tokens(row) for row in rows]
        # Candidates share most words (group titles, common words): compare each distinct one once.
        distinct = list(dict.fromkeys(token for main, minor in tokens for token in main + minor))
        total = [0] * len(rows)
        for word in words:
            similarity = _word_matches(word, distinct)
            get = similarity.get
            for index, (main, minor) in enumerate(tokens):
                best = max(map(get, main, repeat(0, len(main))), default=0)
                if minor:
                    best = max(best, max(map(get, minor, repeat(0, len(minor)))) - _MINOR_FIELD_PENALTY)
                total[index] += best
        return [round(value / len(words)) for value in total]

    def _row_tokens(self, row: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The row's folded words: from title and performer, and from album, group and file name (cached)."""
        key = (row[_COL_TITLE], row[_COL_PERFORMER], row[_COL_ALBUM], row[_COL_GROUP], row[_COL_FILE_NAME])
        found = self._tokens.get(key)
        if found is None:
            title, performer, album, group, file_name = key
            stem = (file_name or "").rsplit(".", 1)[0]
            # Without title and performer the file name is the track's name; else often its other spelling.
            main = [title, performer] if title or performer else [stem]
            minor = [album, group] + ([stem] if title or performer else [])
            _make_room(self._tokens, _TOKEN_CACHE)
            found = self._tokens[key] = (_words_of(main), _words_of(minor))
        return found

    # ---- the vocabulary ----------------------------------------------------------------------------

    async def _refresh(self) -> None:
        """Load the vocabulary once, then add the terms of rows newer than the last look (≤ 1/s)."""
        if self._vocabulary is not None and self._clock() - self._checked_at < self._refresh_interval:
            return
        async with self._refreshing:
            now = self._clock()
            if self._vocabulary is not None and now - self._checked_at < self._refresh_interval:
                return  # another keystroke refreshed it while this one waited
            self._checked_at = now
            if self._vocabulary is None:
                await self._load_vocabulary()
            else:
                await self._add_new_rows(self._vocabulary)

    async def _add_new_rows(self, vocabulary: Vocabulary) -> None:
        rows = await _fetch(
            "SELECT a.id, a.title, a.performer, a.album, a.file_name, g.title FROM audio_file AS a"
            " JOIN telegram_group AS g ON g.group_id = a.group_id WHERE a.id > ? ORDER BY a.id LIMIT ?",
            [self._seen_id, _NEW_ROWS_PER_REFRESH],
        )
        if rows:
            vocabulary.add(term for row in rows for value in row[1:] if value for term in index_tokens(value))
            self._seen_id = rows[-1][0]
            self._alternatives.clear()

    async def _load_vocabulary(self) -> None:
        # Read the high-water mark first: rows added while the terms load are picked up next time.
        seen = await _fetch("SELECT coalesce(max(id), 0) FROM audio_file", [])
        # A temp table: per connection, no migration, and it works on a database another process writes.
        await _fetch(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {_VOCABULARY_TABLE} USING fts5vocab(main, audio_search, row)", []
        )
        vocabulary = Vocabulary()
        vocabulary.add(row[0] for row in await _fetch(f"SELECT term FROM {_VOCABULARY_TABLE}", []))
        self._vocabulary, self._seen_id = vocabulary, seen[0][0]
        self._alternatives.clear()


async def _fetch(sql: str, values: list[Any]) -> list[Any]:
    _, rows = await connections.get("default").execute_query(sql, values)
    return list(rows)


def _in(expression: str, items: Sequence[Any], values: list[Any]) -> str:
    values.extend(items)
    return f"{expression} IN ({', '.join('?' for _ in items)})" if items else "0"


async def _group_ids(key: str) -> list[int]:
    """Groups named by @username, numeric id, or words of their title (accents and case ignored)."""
    rows = await _fetch("SELECT group_id, title, username FROM telegram_group", [])
    key = key.strip()
    if key.startswith("@"):
        return [gid for gid, _, username in rows if username and username.lower() == key[1:].lower()]
    if key.lstrip("-").isdigit():
        wanted = {int(key), int("-100" + key.lstrip("-"))}
        return [gid for gid, _, _ in rows if gid in wanted]
    folded = fold(key)
    return [gid for gid, title, username in rows
            if folded in fold(title) or (username and username.lower() == key.lower())]


def _make_room(cache: dict[Any, Any], size: int) -> None:
    """Forget the older half of a full cache (dicts keep insertion order); cheaper than an LRU per hit."""
    if len(cache) >= size:
        for key in list(islice(cache, size // 2)):
            del cache[key]


def _words_of(values: Sequence[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(fold(" ".join(value for value in values if value)).split()))


def _word_matches(word: str, tokens: Sequence[str]) -> dict[str, int]:
    """Similarity (0-100) of each token that matches ``word`` at all."""
    if _WIDE.search(word):
        return {token: 100 for token in tokens if word in token}
    length = len(word)
    choices = {token: token[:length] for token in tokens}
    found = process.extractBests(word, choices, processor=None, scorer=fuzz.ratio, score_cutoff=_WORD_CUTOFF,
                                 limit=None)
    return {token: score for _, score, token in found}


def _performer_expression(value: str) -> str:
    """The performer column holds these words in this order, the last one as a prefix."""
    return "performer : " + _quote(" ".join(split_words(value))) + "*"


def _hit(row: Any, score: int) -> SearchHit:
    posted = row[_COL_POSTED]
    return SearchHit(
        id=row[_COL_ID],
        file_id=row[_COL_FILE_ID],
        title=row[_COL_TITLE],
        performer=row[_COL_PERFORMER],
        album=row[_COL_ALBUM],
        file_name=row[_COL_FILE_NAME],
        group=row[_COL_GROUP],
        format=row[_COL_FORMAT],
        file_size=row[_COL_SIZE],
        duration=row[_COL_DURATION],
        status=row[_COL_STATUS],
        local_path=row[_COL_LOCAL_PATH],
        checksum_md5=row[_COL_MD5],
        source_md5=row[_COL_SOURCE_MD5],
        posted_at=_parse_time(posted),
        score=score,
    )


def _parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


__all__ = [
    "FILTER_KEYS",
    "FORMATS",
    "STATUSES",
    "ParsedQuery",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "SearchService",
    "Vocabulary",
    "fold",
    "parse_duration",
    "parse_query",
]
