"""The README quotes its benchmark figures from bench/RESULTS.md, and quotes them right."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- figures from bench/RESULTS.md -->", "<!-- end of figures -->"
ROW = re.compile(r"^\|\s*([a-z_]+)\s*\|\s*([a-z0-9_]+)\s*\|\s*([^|]*?)\s*\|", re.MULTILINE)


def quoted(text: str) -> list[tuple[str, str, str]]:
    """The (benchmark, figure, value) rows of the README's block of figures."""
    start, end = text.index(BEGIN), text.index(END)
    return ROW.findall(text[start:end])


def results(text: str) -> set[tuple[str, str, str]]:
    """Every (benchmark, figure, value) row of bench/RESULTS.md's tables of run_all.py's form."""
    return set(ROW.findall(text))


def mismatches(readme: str, results_md: str) -> list[tuple[str, str, str]]:
    measured = results(results_md)
    return [row for row in quoted(readme) if row not in measured]


def test_every_figure_the_readme_quotes_is_in_results_md() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = quoted(readme)
    assert len(rows) >= 10  # the block is there and holds the figures
    assert mismatches(readme, (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")) == []


def test_a_figure_that_differs_is_found() -> None:
    readme = f"{BEGIN}\n| tui | warm_start_s | 0.61 |\n| tui | reorder_ms | 5.79 |\n{END}\n"
    measured = "| tui | warm_start_s | 0.615 | ≤ 0.8 s | yes |\n| tui | reorder_ms | 5.79 | ≤ 16 ms | yes |\n"
    assert mismatches(readme, measured) == [("tui", "warm_start_s", "0.61")]
