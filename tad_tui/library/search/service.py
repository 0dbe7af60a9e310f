"""The search service: the query read, alternatives for each word from the vocabulary, candidates
from SQLite, ranked; one instance per open store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Final

from tad_tui.library.search.folding import DIGIT, WIDE_SCRIPT, fold, index_form, index_tokens
from tad_tui.library.search.query import ParsedQuery, SearchFilters, parse_query
from tad_tui.library.search.ranking import RowWords, rank, row_words
from tad_tui.library.search.results import SearchResult
from tad_tui.library.search.sql import (
    COL_ALBUM,
    COL_FILE_NAME,
    COL_GROUP,
    COL_ID,
    COL_PERFORMER,
    COL_TITLE,
    VOCABULARY_TABLE,
    Conditions,
    fetch,
    filter_conditions,
    matching,
    performer_expression,
    quote,
    recent,
)
from tad_tui.library.search.vocabulary import Vocabulary


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
        conditions = await filter_conditions(parsed.filters, hints)
        cap = max(limit, tolerance.candidates)
        rows, more, relaxed = await self._candidates(parsed, conditions, tolerance, cap)
        hits = rank(parsed.text, rows, limit, self._row_tokens)
        elapsed = (time.perf_counter() - started) * 1000
        self.on_timing(elapsed)
        return SearchResult(hits, hints, elapsed, len(rows), more, relaxed, parsed)

    def shrink(self) -> None:
        """Drop the per-query caches (memory pressure); the vocabulary stays, it is what makes typing fast."""
        self._alternatives.clear()
        self._tokens.clear()

    # ---- candidates --------------------------------------------------------------------------------

    async def _candidates(
        self, parsed: ParsedQuery, conditions: Conditions, tolerance: _Tolerance, cap: int
    ) -> tuple[list[Any], bool, bool]:
        """At most ``cap`` rows to rank, whether more match, and whether they have only some of the words."""
        if conditions.impossible:
            return [], False, False
        if parsed.words or parsed.filters.performers:
            return await self._match(parsed, conditions, tolerance, cap)
        rows = await recent(conditions, cap + 1)
        return rows[:cap], len(rows) > cap, False

    async def _match(
        self, parsed: ParsedQuery, conditions: Conditions, tolerance: _Tolerance, cap: int
    ) -> tuple[list[Any], bool, bool]:
        """Rows matching every word (and, when tolerant or when none does, some of them)."""
        groups = [self._word_expression(word, tolerance) for word in self._index_words(parsed.words)]
        performers = [performer_expression(value) for value in parsed.filters.performers]
        rows = await matching(" AND ".join(groups + performers), conditions, cap + 1)
        relaxed = False
        if len(groups) > 1 and (tolerance.any_word or not rows) and len(rows) <= cap:
            # Some words, not all: "bill evans waltz" still finds the waltz with a misspelt word.
            either = "(" + " OR ".join(groups) + ")"
            seen = {row[COL_ID] for row in rows}
            more_rows = await matching(" AND ".join([either, *performers]), conditions, cap + 1)
            relaxed = not rows and bool(more_rows)
            rows += [row for row in more_rows if row[COL_ID] not in seen]
        return rows[:cap], len(rows) > cap, relaxed

    @staticmethod
    def _index_words(words: Sequence[str]) -> list[str]:
        """The words worth asking the index for: a 1-letter word only when nothing longer was typed."""
        longer = [word for word in words if len(word) > 1 or WIDE_SCRIPT.match(word)]
        return longer or list(words)

    def _word_expression(self, word: str, tolerance: _Tolerance) -> str:
        phrases = [quote(word) + "*"] + [quote(term) for term in self._alternatives_for(word, tolerance)]
        letter = index_form(word)
        if len(letter) == 1 and self._vocabulary is not None and not WIDE_SCRIPT.match(letter):
            # "m"* merges every m-term's postings (no 1-letter prefix index): ~6 ms at 100k tracks. The
            # 2-letter prefixes it covers are indexed, and an OR of them stops at the LIMIT (~0.4 ms).
            if pairs := self._vocabulary.two_letter_prefixes(letter):
                phrases = [quote(letter)] + [quote(pair) + "*" for pair in pairs]
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
        if WIDE_SCRIPT.search(word):
            terms += vocabulary.infixes(index_form(word), limit=_INFIX_TERMS)
        elif len(folded) >= tolerance.min_typo_length and not DIGIT.search(folded):
            terms += vocabulary.typos(folded, cutoff=tolerance.typo_cutoff, limit=tolerance.typo_terms)
        found = tuple(dict.fromkeys(term for term in terms if term != index_form(word)))
        _make_room(self._alternatives, _ALTERNATIVE_CACHE)
        self._alternatives[key] = found
        return found

    # ---- ranking -----------------------------------------------------------------------------------

    def _row_tokens(self, row: Any) -> RowWords:
        """The row's folded words (cached: successive keystrokes share candidates)."""
        key = (row[COL_TITLE], row[COL_PERFORMER], row[COL_ALBUM], row[COL_GROUP], row[COL_FILE_NAME])
        found = self._tokens.get(key)
        if found is None:
            _make_room(self._tokens, _TOKEN_CACHE)
            found = self._tokens[key] = row_words(*key)
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
        rows = await fetch(
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
        seen = await fetch("SELECT coalesce(max(id), 0) FROM audio_file", [])
        # A temp table: per connection, no migration, and it works on a database another process writes.
        await fetch(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCABULARY_TABLE} USING fts5vocab(main, audio_search, row)", []
        )
        vocabulary = Vocabulary()
        vocabulary.add(row[0] for row in await fetch(f"SELECT term FROM {VOCABULARY_TABLE}", []))
        self._vocabulary, self._seen_id = vocabulary, seen[0][0]
        self._alternatives.clear()


def _make_room(cache: dict[Any, Any], size: int) -> None:
    """Forget the older half of a full cache (dicts keep insertion order); cheaper than an LRU per hit."""
    if len(cache) >= size:
        for key in list(islice(cache, size // 2)):
            del cache[key]
