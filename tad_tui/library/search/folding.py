"""Text as search compares it: folded for scoring and the vocabulary, split into words, and the
index's own form of a term (a close mirror of SQLite FTS5's unicode61 tokenizer)."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# Combining diacritics (Latin, Cyrillic, Greek accents); kana voicing marks are letters' parts and stay.
_MARKS: Final = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# Whitespace and punctuation: ASCII (every FTS5 operator character), general and CJK punctuation.
_SEPARATORS: Final = re.compile(
    "[\\s!-/:-@\\[-`{-~\u00a1-\u00bf\u00d7\u00f7\u2010-\u205e\u3000-\u303f\u30fb\uff01-\uff0f\uff1a-\uff20]+"
)
# Letters NFKD leaves alone but people type without their stroke or ligature.
_LETTERS: Final = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
# Scripts written without spaces: unicode61 keeps a whole run of them as one token.
WIDE_SCRIPT: Final = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff]"
)
DIGIT: Final = re.compile(r"\d")
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
