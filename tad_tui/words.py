"""Counts in words: "1 file", "2 files", "1 entry", "3 entries", "0 matches" — never "1 files"."""

from __future__ import annotations


def noun(count: int, singular: str) -> str:
    """``singular`` as ``count`` of it is said: its last word takes the plural unless count is 1.

    Regular English plurals only (file → files, entry → entries, match → matches), which is every
    noun tad-tui counts.
    """
    if count == 1:
        return singular
    if singular.endswith("y") and singular[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return singular[:-1] + "ies"
    if singular.endswith(("s", "x", "ch", "sh")):
        return singular + "es"
    return singular + "s"


def counted(count: int, singular: str) -> str:
    """``count`` and the noun: counted(1, "file") is "1 file", counted(44, "file") is "44 files"."""
    return f"{count} {noun(count, singular)}"
