"""Running ``tad-tui`` as a user would: a new process, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"API_ID", "API_HASH", "TAD_DATA_DIR", "TAD_CONFIG", "TAD_DEMO_OUTPUT_DIR"}}
    base["HOME"] = base.get("HOME", "/tmp")
    # The width a terminal would give: without it a table's width depends on whether pytest's own
    # stdin is a terminal (it is not under CI or xdist), and so would what a test finds in it.
    base["COLUMNS"] = "80"
    return subprocess.run(
        [sys.executable, "-m", "tad_tui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


def assert_one_clean_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]
