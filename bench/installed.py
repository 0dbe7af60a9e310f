"""Start processes as an installed tad-tui starts: with its modules' bytecode compiled.

``pip install`` (a regular install) compiles the package's modules once, and Python loads that
bytecode on every start. An editable install under ``PYTHONDONTWRITEBYTECODE=1`` (this machine's
environment sets it) instead compiles tad_tui's ~70 modules from source on every start: about 0.1 s
of CPU that no installed copy pays, and more with every module added. A benchmark of a start
compiles the package once, untimed, first (into its ``__pycache__`` folders, which git ignores).
"""

from __future__ import annotations

import compileall
from pathlib import Path

import tad_tui

PACKAGE = Path(tad_tui.__file__).resolve().parent


def compile_package() -> None:
    """Compile tad_tui's modules as ``pip install`` does (a no-op for those already compiled)."""
    if not compileall.compile_dir(str(PACKAGE), quiet=1):
        raise SystemExit(f"compiling {PACKAGE} failed")
