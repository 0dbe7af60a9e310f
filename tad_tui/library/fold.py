"""Text folded as the search compares it: case- and accent-free, words one space apart.

The search (``library.search.folding``) and finding groups by title (``library.finding``) share it;
it is here, outside the search package, so that finding a group loads nothing of the search.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Combining diacritics (Latin, Cyrillic, Greek accents); kana voicing marks are letters' parts and stay.
MARKS: Final = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# Whitespace and punctuation: ASCII (every FTS5 operator character), general and CJK punctuation.
SEPARATORS: Final = re.compile(
    "[\\s!-/:-@\\[-`{-~\u00a1-\u00bf\u00d7\u00f7\u2010-\u205e\u3000-\u303f\u30fb\uff01-\uff0f\uff1a-\uff20]+"
)
# Letters NFKD leaves alone but people type without their stroke or ligature.
LETTERS: Final = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})


def fold(text: str) -> str:
    """Case- and accent-free text, words separated by one space: what scoring and the vocabulary compare."""
    if text.isascii():
        return SEPARATORS.sub(" ", text.lower()).strip()
    text = unicodedata.normalize("NFKD", text)
    # NFC again so that marks that are not diacritics (kana voicing) rejoin their letter.
    text = unicodedata.normalize("NFC", MARKS.sub("", text)).casefold().translate(LETTERS)
    return SEPARATORS.sub(" ", text).strip()
