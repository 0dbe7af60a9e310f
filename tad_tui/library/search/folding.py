"""Text as search compares it: folded for scoring and the vocabulary, split into words, and the
index's own form of a term (a close mirror of SQLite FTS5's unicode61 tokenizer)."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# fold() lives apart so that finding a group by its title folds as the search does without loading
# the search (its fuzzy matcher and the store).
from tad_tui.library.fold import SEPARATORS as _SEPARATORS
from tad_tui.library.fold import fold as fold  # the search's own name for it

# Scripts written without spaces: unicode61 keeps a whole run of them as one token.
WIDE_SCRIPT: Final = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff]"
)
DIGIT: Final = re.compile(r"\d")
_INDEX_TOKEN: Final = re.compile(r"[^\W_]+")


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
