"""The index's terms in memory, for alternatives to a query word: typos, accent variants, CJK infixes."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from thefuzz import fuzz, process

from tad_tui.library.search.folding import DIGIT, WIDE_SCRIPT, fold


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
            if not spellings and len(key) >= 3 and not DIGIT.search(key):
                self._choices.append(key)
            if key != term and all(spelling == key for spelling in spellings):
                self._variants.append(key)  # the first spelling that differs from its folded form
                self._variants_sorted = False
            self._forms[key] = (*spellings, term)
            self.size += 1
            if WIDE_SCRIPT.search(term):
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
