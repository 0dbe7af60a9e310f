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


def test_no_widget_of_ours_overwrites_an_attribute_of_textuals() -> None:
    """The Queue pane once kept its running entries in ``self._running``, which is Textual's flag
    for a running message pump: the pane's timer then failed on a bool. Nothing of ours may reuse a
    name Textual's App, Screen or widgets set on themselves."""
    import importlib
    import inspect
    import re

    from textual.app import App
    from textual.screen import Screen
    from textual.scroll_view import ScrollView
    from textual.widget import Widget

    assigned = re.compile(r"self\.(_\w+)\s*[:=][^=]")
    theirs: set[str] = set()
    for base in (App, Screen, ScrollView, Widget):
        for cls in base.__mro__:
            if cls.__module__.startswith("textual"):
                theirs |= set(assigned.findall(inspect.getsource(cls))) | {n for n in vars(cls) if n.startswith("_")}
    assert "_running" in theirs and "_styles_cache" in theirs
    clashes = {}
    for module in pkgutil.iter_modules(importlib.import_module("tad_tui.ui").__path__, "tad_tui.ui."):
        source = inspect.getsource(importlib.import_module(module.name))
        if ours := set(assigned.findall(source)) & theirs:
            clashes[module.name] = sorted(ours)
    assert clashes == {}
