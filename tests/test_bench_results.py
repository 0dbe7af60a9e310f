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


def _run_all():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_all_rewrites_only_the_benchmarks_it_ran_and_keeps_the_notes() -> None:
    run_all = _run_all()
    notes_before, notes_after = "# Benchmark results\n\nA note by hand.\n\n", "\n\n## fairness\n\nMore notes.\n"
    first = run_all.write_region(
        notes_before + run_all.BEGIN + "\n" + run_all.END + notes_after,
        {"tui": run_all.rows_of("tui", {"warm_start_s": 0.9, "tracks": 100}, ""),
         "fairness": run_all.rows_of("fairness", {"jain_index": 0.99}, "")},
        {"tui": "- tui: 2026-12-01 10:00 UTC", "fairness": "- fairness: 2026-12-01 11:00 UTC"},
    )
    assert first.startswith(notes_before) and first.endswith(notes_after)
    assert "| tui | warm_start_s | 0.9 | ≤ 0.8 s to the first frame | **no** |" in first
    rows, runs = run_all.read_region(first)
    assert set(rows) == {"tui", "fairness"} and len(rows["tui"]) == 2
    rows["tui"] = run_all.rows_of("tui", None, "failed (exit 1): boom")  # run again (--only tui)
    runs["tui"] = "- tui: 2026-12-02 10:00 UTC"
    second = run_all.write_region(first, rows, runs)
    assert second.startswith(notes_before) and second.endswith(notes_after)
    assert "| fairness | jain_index | 0.99 | ≥ 0.95 for 4 equal downloads under 4 MB/s | yes |" in second
    assert "| tui | — | failed (exit 1): boom | — | no |" in second and "warm_start_s" not in second
    assert "- fairness: 2026-12-01 11:00 UTC" in second and "- tui: 2026-12-02 10:00 UTC" in second


def test_run_all_adds_its_part_to_a_results_file_without_markers() -> None:
    run_all = _run_all()
    text = run_all.write_region("# Benchmark results\n\nNotes.\n", {"tui": ["| tui | reorder_ms | 5 |  |  |"]}, {})
    assert text.startswith("# Benchmark results\n\nNotes.\n\n" + run_all.BEGIN)
    assert run_all.read_region(text)[0] == {"tui": ["| tui | reorder_ms | 5 |  |  |"]}
