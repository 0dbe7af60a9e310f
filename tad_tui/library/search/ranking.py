"""Ranking: each candidate row scores the mean, over the words, of its best token match (0-100);
best first, then downloaded, then newest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, Final

from thefuzz import fuzz, process

from tad_tui.library.search.folding import WIDE_SCRIPT, fold
from tad_tui.library.search.results import SearchHit
from tad_tui.library.search.sql import COL_ID, COL_POSTED, COL_STATUS, hit

MINOR_FIELD_PENALTY: Final = 10
WORD_CUTOFF: Final = 40  # a token less similar than this does not match the word at all

# A row's folded words: from title and performer (main), and from album, group and file name (minor).
RowWords = tuple[tuple[str, ...], tuple[str, ...]]


def rank(query: str, rows: list[Any], limit: int, words_of_row: Callable[[Any], RowWords]) -> list[SearchHit]:
    """Score each row against the folded words; best first, then downloaded, then newest."""
    scores = _scores(query.split(), [words_of_row(row) for row in rows]) if query else [100] * len(rows)
    # Two stable sorts: newest first, then by score and downloaded (which keeps newest within ties).
    order = sorted(range(len(rows)), key=lambda i: (str(rows[i][COL_POSTED] or ""), rows[i][COL_ID]),
                   reverse=True)
    order.sort(key=lambda i: (-scores[i], rows[i][COL_STATUS] != "downloaded"))
    return [hit(rows[i], scores[i]) for i in order[:limit]]


def _scores(words: Sequence[str], tokens: Sequence[RowWords]) -> list[int]:
    """Per row, the mean over the words of its best token match (0-100).

    A word matches a token that starts like it, typos allowed (thefuzz's ratio against the token cut
    to the word's length), or, in scripts written without spaces, a token that contains it. A
    match only in the album, group or file name counts a little less than in title or performer.
    """
    # Candidates share most words (group titles, common words): compare each distinct one once.
    distinct = list(dict.fromkeys(token for main, minor in tokens for token in main + minor))
    total = [0] * len(tokens)
    for word in words:
        similarity = _word_matches(word, distinct)
        get = similarity.get
        for index, (main, minor) in enumerate(tokens):
            best = max(map(get, main, repeat(0, len(main))), default=0)
            if minor:
                best = max(best, max(map(get, minor, repeat(0, len(minor)))) - MINOR_FIELD_PENALTY)
            total[index] += best
    return [round(value / len(words)) for value in total]


def row_words(
    title: str | None, performer: str | None, album: str | None, group: str | None, file_name: str | None
) -> RowWords:
    """The row's folded words: from title and performer, and from album, group and file name."""
    stem = (file_name or "").rsplit(".", 1)[0]
    # Without title and performer the file name is the track's name; else often its other spelling.
    main = [title, performer] if title or performer else [stem]
    minor = [album, group] + ([stem] if title or performer else [])
    return _words_of(main), _words_of(minor)


def _words_of(values: Sequence[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(fold(" ".join(value for value in values if value)).split()))


def _word_matches(word: str, tokens: Sequence[str]) -> dict[str, int]:
    """Similarity (0-100) of each token that matches ``word`` at all."""
    if WIDE_SCRIPT.search(word):
        return {token: 100 for token in tokens if word in token}
    length = len(word)
    choices = {token: token[:length] for token in tokens}
    found = process.extractBests(word, choices, processor=None, scorer=fuzz.ratio, score_cutoff=WORD_CUTOFF,
                                 limit=None)
    return {token: score for _, score, token in found}
