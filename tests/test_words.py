"""Counts in words: one file, two files."""

from __future__ import annotations

import pytest

from tad_tui.words import counted, noun


@pytest.mark.parametrize(
    ("count", "singular", "expected"),
    [
        (1, "file", "1 file"),
        (0, "file", "0 files"),
        (44, "file", "44 files"),
        (1, "entry", "1 entry"),
        (3, "entry", "3 entries"),
        (2, "match", "2 matches"),
        (1, "match", "1 match"),
        (5, "day", "5 days"),
        (2, "new audio message", "2 new audio messages"),
        (1, "attempt", "1 attempt"),
    ],
)
def test_counted(count: int, singular: str, expected: str) -> None:
    assert counted(count, singular) == expected


def test_noun_alone() -> None:
    assert noun(1, "hour") == "hour" and noun(2, "hour") == "hours"
