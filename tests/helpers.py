"""Running ``tad-tui`` as a user would: a new process, a clean environment."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


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


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """The objects of a ``--json`` output, one a line."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def md5_file(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def cli_dirs(tmp_path: Path, demo_config: Path) -> dict[str, Any]:
    """The config, data dir (str) and output folder (Path) of a CLI test on the demo."""
    return {"config": str(demo_config), "data": str(tmp_path / "data"), "out": tmp_path / "out"}
