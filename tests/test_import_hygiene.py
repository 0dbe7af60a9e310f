"""Only tad_tui.ui may import textual: the engine and the CLI must run without it."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

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


# What the UI and the CLI (tad_tui/cli/) may not import (at module level or inside a function): they go through the
# engine facade (tad_tui.engine for commands, tad_tui.api for the results, events and enums).
BEHIND_THE_FACADE = ("tortoise", "tad_tui.store", "tad_tui.download", "tad_tui.library", "tad_tui.telegram")


def _facade_users() -> list[Path]:
    package = Path(tad_tui.__file__).parent
    return sorted((package / "ui").rglob("*.py")) + sorted((package / "cli").rglob("*.py")) + sorted(package.glob("cli*.py"))


def _imported_names(path: Path) -> set[str]:
    """Every module an import statement in the file names, wherever the statement is."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                parts = path.relative_to(Path(tad_tui.__file__).parent.parent).with_suffix("").parts
                base = ".".join([*parts[: len(parts) - node.level], *([base] if base else [])])
            # "from tad_tui import store" imports tad_tui.store: name it when the module is not behind
            names |= {base} if _behind(base) else {f"{base}.{alias.name}" for alias in node.names}
    return names


def _behind(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in BEHIND_THE_FACADE)


def test_ui_and_cli_import_only_the_engine_facade() -> None:
    users = _facade_users()
    package_root = Path(tad_tui.__file__).parent.parent
    assert any(p.name == "queue.py" for p in users) and any(p.name == "download.py" for p in users)
    offending = {}
    for path in users:
        if bad := sorted(n for n in _imported_names(path) if _behind(n)):
            offending[path.relative_to(package_root).as_posix()] = bad
    assert offending == {}



def test_every_name_of_the_facade_resolves() -> None:
    """tad_tui.api loads its re-exports on first use: a renamed one would fail only when used."""
    import tad_tui.api as api

    missing = [name for name in dir(api) if not name.startswith("_") and getattr(api, name, None) is None]
    assert "Priority" in dir(api) and missing == []
