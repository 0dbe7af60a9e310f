"""``tad-tui --demo serve`` in a real browser: Debian's headless Chromium, driven by Playwright
(launched from /usr/bin/chromium; ``playwright install`` would download a browser), opens the printed
URL, sees the app's four panes and searches. The terminal's text is read from xterm.js's buffer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import run
from test_serve import serving

CHROMIUM = "/usr/bin/chromium"
# No outside connections from the browser itself (updates, sync, QUIC probes): only 127.0.0.1.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# textual.js keeps its xterm.js Terminal in a closure as `this.terminal`; a setter on
# Object.prototype, installed before the page's scripts run, hands it to the test.
FIND_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.buffer.active) window.__tadTerminal = value;
  },
});
"""
SCREEN_TEXT = """() => {
  const terminal = window.__tadTerminal;
  if (!terminal) return "";
  const buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""
WAIT = 30.0


def _chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser test needs Debian's Chromium at {CHROMIUM}: run `apt-get install -y chromium` as root "
            "(never `playwright install`, which downloads a browser)"
        )
    return CHROMIUM


def _screen_until(page: Any, found: Callable[[str], bool], what: str) -> str:
    deadline = time.monotonic() + WAIT
    text = ""
    while time.monotonic() < deadline:
        text = page.evaluate(SCREEN_TEXT)
        if found(text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"the page never showed {what}; its screen:\n{text}")


def test_the_served_app_in_chromium_shows_the_panes_and_searches(demo_config: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    data_dir = tmp_path / "data"
    scanned = run("--config", str(demo_config), "--data-dir", str(data_dir), "--demo", "scan", "@tad_demo_classical")
    assert scanned.returncode == 0, scanned.stderr
    with serving(demo_config, data_dir) as served, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a new, empty user data dir
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 800},
        )
        try:
            page = browser.new_page()
            requested: list[str] = []
            problems: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda message: message.type == "error" and problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.add_init_script(FIND_TERMINAL)
            page.goto(served.url)
            assert page.url == f"{served.base}/"  # the token left the address bar
            screen = _screen_until(
                page, lambda text: "Performance F4" in text and "TAD Demo · Classical" in text, "the tabs and groups"
            )
            for pane in ("Groups F1", "Queue F2", "Search F3", "Performance F4"):
                assert pane in screen
            assert "TAD Demo · Classical" in screen
            page.screenshot(path=str(tmp_path / "groups.png"))

            page.locator(".xterm-helper-textarea").focus()
            page.keyboard.press("F3")
            _screen_until(page, lambda text: "Search: words and filters" in text, "the Search pane")
            page.keyboard.type("bethoven", delay=20)
            screen = _screen_until(page, lambda text: "Beethoven" in text and "bethoven" in text, "Beethoven found")
            page.screenshot(path=str(tmp_path / "search.png"))
            assert "Beethoven" in screen
        finally:
            browser.close()
        status, _out, err = served.stop()
    assert status == 0, err
    # Everything the page loaded came from serve: no fonts or scripts from elsewhere, nothing refused.
    assert requested and all(url.startswith(f"{served.base}/") for url in requested), requested
    assert problems == []
