"""``tad-tui search`` as a user runs it: a new process each time, real exit codes and output."""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import pytest

from tad_tui.lock import WriterLock
from tad_tui.paths import Paths

from helpers import assert_one_clean_line, run

FIELDS = {"file_id", "title", "performer", "album", "group", "format", "file_size", "duration", "status",
          "local_path", "checksum_md5", "source_md5", "score"}
MB = 1_000_000


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, demo_catalogue) -> tuple[Path, Path]:
    """A demo data dir with @tad_demo_classical and @tad_demo_hostile scanned (once for this module)."""
    root = tmp_path_factory.mktemp("search-cli")
    config = root / "config.toml"
    config.write_text(
        f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 0\nbandwidth_per_connection = 0\npremium = true\nrequest_flood_limit = 0\n'
    )
    data = root / "data"
    for group in ("@tad_demo_classical", "@tad_demo_hostile"):
        result = run("--config", str(config), "--demo", "--data-dir", str(data), "scan", group)
        assert result.returncode == 0, result.stderr
    return config, data


def search(
    library: tuple[Path, Path], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    config, data = library
    return run("--config", str(config), "--demo", "--data-dir", str(data), "search", *args, env=env)


def search_json(library: tuple[Path, Path], *args: str) -> list[dict]:
    result = search(library, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_typo_returns_beethoven_first(library) -> None:
    hits = search_json(library, "bethoven")
    assert hits and all(set(hit) == FIELDS for hit in hits)
    assert [hit["performer"] for hit in hits[:4]] == ["Ludwig van Beethoven"] * 4
    assert all(hit["status"] == "new" and hit["local_path"] is None for hit in hits)


def test_format_and_min_size_return_only_big_flac(library) -> None:
    hits = search_json(library, "--format", "flac", "--min-size", "1MB")
    assert {hit["title"] for hit in hits} == {"Toccata and Fugue in D minor, BWV 565", "Boléro"}
    assert all(hit["format"] == "flac" and hit["file_size"] >= MB for hit in hits)


def test_fts_syntax_exits_0(library) -> None:
    result = search(library, 'NEAR("a" *', "--json")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


@pytest.mark.parametrize("query", ["dvorak", "DVOŘÁK"])
def test_accents_do_not_matter(library, query: str) -> None:
    assert {hit["performer"] for hit in search_json(library, query)} == {"Antonín Dvořák"}


def test_cyrillic_and_japanese(library) -> None:
    assert search_json(library, "чайковски")[0]["performer"] == "Пётр Ильич Чайковский"
    assert search_json(library, "戦場")[0]["title"] == "戦場のメリークリスマス"


def test_every_option(library) -> None:
    hits = search_json(library, "--group", "hostile", "--status", "new", "--max-size", "1MB", "--limit", "3")
    assert len(hits) == 3
    assert all(h["group"] == "TAD Demo · Hostile Names" and h["file_size"] <= MB for h in hits)
    assert search_json(library, "--status", "downloaded") == []
    assert all(h["format"] == "ogg" for h in search_json(library, "--format", "ogg", "--limit", "100"))


def test_words_can_be_given_without_quotes(library) -> None:
    hits = search_json(library, "moonlight", "sonata", "--fuzzy")
    assert hits[0]["title"] == "Piano Sonata No. 14 “Moonlight”: I. Adagio sostenuto"


def test_hints_go_to_stderr_with_json_and_below_the_table_without(library) -> None:
    result = search(library, "AC:DC size>lots", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)[0]["title"].startswith("AC/DC")
    assert "no filter called 'ac'" in result.stderr and "'lots' is not a size" in result.stderr
    human = search(library, "AC:DC")
    assert human.returncode == 0 and "hint: 'AC:DC': no filter called 'ac'" in human.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [(("--min-size", "lots"), "--min-size"), (("--max-size", "4k"), "--max-size"), (("--limit", "0"), "--limit"),
     (("--limit", "10001"), "--limit"), (("--limit", "many"), "--limit")],
)
def test_bad_options_exit_2_with_one_line(library, args: tuple[str, ...], named: str) -> None:
    result = search(library, "bach", *args)
    assert result.returncode == 2
    assert named in assert_one_clean_line(result)


def cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@pytest.mark.parametrize("columns", ["60", "100", "160"])
def test_the_table_fits_the_terminal(library, columns: str) -> None:
    result = search(library, "--limit", "100", env={"COLUMNS": columns})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["Score", "Track"]
    assert len(lines) == 2 + 44 + 24  # header, rule, every classical and hostile track
    assert all(cells(line) <= int(columns) for line in lines), "\n".join(lines)
    assert any(cells(line) > len(line) for line in lines)  # double-width characters measured as two cells


def test_the_title_comes_first_and_stays_readable_at_80_columns(library) -> None:
    result = search(library, "symphony", "5", "beethoven", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    header, _, first = result.stdout.splitlines()[:3]
    track = first[header.index("Track"):].split("  ")[0]
    assert track.startswith("Symphony No. 5 in"), result.stdout  # the title, not "Ludwig van Beethoven – Sym…"
    wide = search(library, "symphony", "5", "beethoven", env={"COLUMNS": "200"}).stdout.splitlines()[2]
    assert "Symphony No. 5 in C minor, Op. 67: I. Allegro con brio – Ludwig van Beethoven" in wide


def test_search_works_beside_a_writer(library) -> None:
    _, data = library
    with WriterLock(Paths(data).lock_file):
        hits = search_json(library, "satie")
    assert {hit["performer"] for hit in hits} == {"Erik Satie"}


def test_help_explains_the_query_language_and_fuzzy() -> None:
    result = run("search", "--help")
    assert result.returncode == 0
    assert "more tolerant" in result.stdout and "format:flac" in result.stdout and "AC:DC" in result.stdout
