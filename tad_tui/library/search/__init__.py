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

Modules, one concern each: ``folding`` (text as search compares it), ``query`` (the query language),
``vocabulary`` (the index's terms in memory), ``sql`` (conditions, SELECTs, rows into hits),
``ranking`` (scoring), ``results`` (what a search returns) and ``service`` (one search, end to end).
"""

from __future__ import annotations

from tad_tui.library.search.folding import fold, index_form, index_tokens, split_words
from tad_tui.library.search.query import (
    FILTER_KEYS,
    FORMATS,
    STATUSES,
    ParsedQuery,
    SearchFilters,
    parse_duration,
    parse_query,
    status_names,
)
from tad_tui.library.search.results import SearchHit, SearchResult
from tad_tui.library.search.service import SearchService
from tad_tui.library.search.vocabulary import Vocabulary

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
    "index_form",
    "index_tokens",
    "parse_duration",
    "parse_query",
    "split_words",
    "status_names",
]
