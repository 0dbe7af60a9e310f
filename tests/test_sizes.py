"""Byte sizes: parsing what people write, printing what people read."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tad_tui.sizes import UNITS, format_size, format_size_exact, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (1048576, 1048576),
        ("1048576", 1048576),
        ("1_048_576", 1048576),
        ("10MB", 10_000_000),
        ("10 MB", 10_000_000),
        ("10mb", 10_000_000),
        ("512KiB", 524288),
        ("512 kib", 524288),
        ("1.5GB", 1_500_000_000),
        ("1.5KiB", 1536),
        ("2TiB", 2 * 1024**4),
        ("4KB", 4000),
        ("7B", 7),
        ("  3 MiB  ", 3 * 1024**2),
        (".5KiB", 512),
    ],
)
def test_parse_size_accepts(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["4k", "4K", "10M", "1G", "2T", "4Ki"])
def test_ambiguous_shorthand_is_rejected_with_both_spellings_suggested(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_size(text)
    message = str(caught.value)
    letter = text[-1].upper() if text[-1] != "i" else text[-2].upper()
    assert "ambiguous" in message
    assert f"{letter}B" in message and f"{letter}iB" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0.3B", "whole number"),
        ("1.3KiB", "whole number"),
        ("", "not a size"),
        ("lots", "not a size"),
        ("-5", "not a size"),
        ("+5", "not a size"),
        ("1e6", "not a size"),
        ("5 parsecs", "unknown unit"),
        ("1..5MB", "not a size"),
        (-1, "negative"),
        (True, "true/false"),
    ],
)
def test_parse_size_rejects(text: str | int, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_size(text)


def test_parse_size_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        parse_size(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (1572864, "1.5 MiB"),
        (1048575, "1 MiB"),  # rounds to 1024.0 KiB, so it moves up a unit
        (5 * 1024**4, "5 TiB"),
        (2048 * 1024**4, "2048 TiB"),  # the largest unit, so no 1024 cap
    ],
)
def test_format_size(n: int, expected: str) -> None:
    assert format_size(n) == expected


def test_format_size_rejects_negative() -> None:
    with pytest.raises(ValueError):
        format_size(-1)


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "0"), (1000, "1KB"), (1048576, "1MiB"), (4_000_000, "4MB"), (1536, "1536"), (4096, "4KiB")],
)
def test_format_size_exact(n: int, expected: str) -> None:
    assert format_size_exact(n) == expected


@given(st.integers(min_value=0, max_value=10**18))
def test_parse_of_str_is_identity(n: int) -> None:
    assert parse_size(str(n)) == n
    assert parse_size(n) == n


@given(st.integers(min_value=0, max_value=10**18))
def test_exact_format_round_trips(n: int) -> None:
    assert parse_size(format_size_exact(n)) == n


@given(st.integers(min_value=0, max_value=2**60))
def test_format_then_parse_is_within_rounding(n: int) -> None:
    figure, unit = format_size(n).split(" ")
    factor = parse_size(f"1 {unit}")
    assert abs(Fraction(figure) * factor - n) <= Fraction(factor, 20)  # half of the one decimal shown
    assert float(figure) < 1024 or unit == "TiB"


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(sorted(UNITS)),
    st.sampled_from(["", " "]),
    st.booleans(),
)
def test_every_unit_in_any_case(amount: int, unit: str, gap: str, upper: bool) -> None:
    spelled = unit.upper() if upper else unit.lower()
    assert parse_size(f"{amount}{gap}{spelled}") == amount * UNITS[unit]
