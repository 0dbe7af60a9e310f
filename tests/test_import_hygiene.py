"""Only tad_tui.ui may import textual: the engine and the CLI must run without it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import tad_tui


def _engine_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(tad_tui.__path__, "tad_tui."):
        if not module.name.startswith("tad_tui.ui") and module.name != "tad_tui.__main__":
            names.append(module.name)
    return names


def test_engine_modules_leave_textual_unimported() -> None:
    modules = _engine_modules()
    assert "tad_tui.cli" in modules and "tad_tui.telegram.sim.server" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"textual imported by the engine: {result.stdout}"
