"""The real app in a pseudo-terminal at 80×24, as over SSH: colours the terminal has, keys, a clean exit.

Each case starts ``python -m tad_tui --demo`` as a new process on a pty (its own imports, Textual's
real driver, Rich's colour detection from TERM), types keys as a terminal sends them, and reads back
every byte it wrote. A tiny screen model (cursor moves and text only) turns the bytes into rows.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rich.cells import cell_len

from tad_tui.lock import WriterLock
from tad_tui.telegram.sim.catalogue import Catalogue

COLUMNS, ROWS = 80, 24
CTRL_Q = b"\x11"
F2 = b"\x1bOQ"  # what xterm (and xterm-256color) sends for F2
ALT_2 = b"\x1b2"  # Alt+2 in most terminals and over SSH: Escape, then the digit
START_TIMEOUT = 15.0
EXIT_TIMEOUT = 8.0

# Escape sequences (CSI with its parameters, OSC, other two-byte escapes), controls, and plain text.
_TOKEN = re.compile(
    r"\x1b\[([0-9;?<>=]*)[ -/]*([@-~])"
    r"|\x1b\[[0-9;?<>=]*\Z"  # a sequence cut off by the end of what was read so far
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b.?"
    r"|([\r\n\b])"
    r"|([^\x1b\r\n\b]+)",
    re.S,
)
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def screen_rows(text: str, columns: int = COLUMNS, rows: int = ROWS) -> list[str]:
    """The screen after ``text``: enough of a terminal for Textual, which positions every run itself."""
    grid = [[" "] * columns for _ in range(rows)]
    row = column = 0
    for match in _TOKEN.finditer(text):
        params, final, control, chars = match.groups()
        if final == "H":
            numbers = [int(p) if p else 1 for p in (params or "").split(";")] + [1, 1]
            row, column = numbers[0] - 1, numbers[1] - 1
        elif final == "J" and params == "2":
            grid = [[" "] * columns for _ in range(rows)]
        elif control == "\n":
            row = min(row + 1, rows - 1)
        elif control == "\r":
            column = 0
        elif chars:
            for char in chars:
                if ord(char) < 32 or ord(char) == 0x7F:
                    continue
                if 0 <= row < rows and 0 <= column < columns:
                    grid[row][column] = char
                column += max(cell_len(char), 1)
    return ["".join(line) for line in grid]


def colour_modes(text: str) -> set[str]:
    """Which kinds of SGR colour the output uses: "16" (30–37, 90–97 …), "256" (38;5;n), "truecolor" (38;2;r;g;b)."""
    modes: set[str] = set()
    for params in _SGR.findall(text):
        numbers = [int(p) if p else 0 for p in params.split(";")]
        i = 0
        while i < len(numbers):
            n = numbers[i]
            if n in (38, 48) and i + 1 < len(numbers):
                kind = numbers[i + 1]
                modes.add("256" if kind == 5 else "truecolor" if kind == 2 else f"extended-{kind}")
                i += 3 if kind == 5 else 5 if kind == 2 else 2
                continue
            if 30 <= n <= 37 or 40 <= n <= 47 or 90 <= n <= 97 or 100 <= n <= 107:
                modes.add("16")
            i += 1
    return modes


class Terminal:
    """The master side of the pty: what the app wrote so far, and keys to send it."""

    def __init__(self, master: int, process: subprocess.Popen[bytes]) -> None:
        self.master = master
        self.process = process
        self.output = b""
        self.closed = False  # the app's side of the pty is gone (it exited)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def screen(self) -> list[str]:
        return screen_rows(self.text)

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def read_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.closed or time.monotonic() > deadline:
                return condition()
            self._read(min(0.05, max(deadline - time.monotonic(), 0)))
        return True

    def shows(self, *texts: str) -> Callable[[], bool]:
        return lambda: all(text in "\n".join(self.screen()) for text in texts)

    def hang_up(self) -> None:
        """The terminal goes away as when an SSH link drops, but without the SIGHUP."""
        os.close(self.master)
        self.master = -1

    def drain_until_exit(self, timeout: float) -> int | None:
        """Keep reading (a full pty would block the app) until the app exits; its return code."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._read(0.05)
        try:
            return self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            return None

    def _read(self, timeout: float) -> None:
        if select.select([self.master], [], [], timeout)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every slave descriptor is closed
                chunk = b""
            if chunk:
                self.output += chunk
            else:
                self.closed = True


@contextmanager
def app_in_terminal(term: str, config: Path, data: Path, tmp_path: Path) -> Iterator[Terminal]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    dropped = {"COLORTERM", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "API_ID", "API_HASH", "TAD_DATA_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("TEXTUAL")}
    env["TERM"] = term
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):  # no user themes or files of this machine
        env[name] = str(tmp_path / name.lower())
    process = subprocess.Popen(
        [sys.executable, "-m", "tad_tui", "--config", str(config), "--demo", "--data-dir", str(data)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
        start_new_session=True,  # the pty becomes its controlling terminal, as in a real login
    )
    os.close(slave)
    terminal = Terminal(master, process)
    try:
        yield terminal
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if terminal.master >= 0:
            os.close(master)


@pytest.fixture
def terminal_config(tmp_path: Path, demo_catalogue: Catalogue) -> Path:
    """The brief's config: the demo reuses this test run's catalogue instead of generating one."""
    path = tmp_path / "config.toml"
    path.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\n')
    return path


def _start_and_quit(term: str, keys: bytes, config: Path, tmp_path: Path) -> tuple[Terminal, list[str], int | None]:
    """Start the app, wait for its panes, press ``keys`` (must show the queue), then ctrl+q."""
    data = tmp_path / "data"
    data.mkdir()
    with app_in_terminal(term, config, data, tmp_path) as terminal:
        started = terminal.read_until(
            terminal.shows("Groups F1", "Queue F2", "Search F3", "Performance F4", "TAD Demo · Classical"),
            START_TIMEOUT,
        )
        assert started, "the panes never appeared:\n" + "\n".join(terminal.screen()) + f"\n{terminal.text[-2000:]!r}"
        first = terminal.screen()
        terminal.send(keys)
        assert terminal.read_until(terminal.shows("The queue is empty"), 5), "\n".join(terminal.screen())
        terminal.send(CTRL_Q)
        code = terminal.drain_until_exit(EXIT_TIMEOUT)
    return terminal, first, code


def _assert_usable_and_clean(terminal: Terminal, first: list[str], code: int | None) -> None:
    assert code == 0, f"exit code {code}\n{terminal.text[-2000:]!r}"
    assert "Traceback" not in terminal.text and "Error" not in "\n".join(first)
    # The header, the tabs, the group list with its column titles, and the footer on the last row.
    assert "tad-tui" in first[0]
    assert all(title in first[1] for title in ("Groups F1", "Queue F2", "Search F3", "Performance F4"))
    assert "Group" in first[3] and "Audio" in first[3] and "Last scan" in first[3]
    footer = first[ROWS - 1]
    for hint in ("^q Quit", "f1 Groups", "f2 Queue", "? Keys", "^p palette"):
        assert hint in footer, footer
    # Back to the shell's screen: the alternate screen is left and the cursor shown again.
    tail = terminal.text[-400:]
    assert "\x1b[?1049l" in tail and "\x1b[?25h" in tail


def test_256_colour_terminal_gets_256_colours_and_never_truecolor(terminal_config: Path, tmp_path: Path) -> None:
    terminal, first, code = _start_and_quit("xterm-256color", F2, terminal_config, tmp_path)
    _assert_usable_and_clean(terminal, first, code)
    modes = colour_modes(terminal.text)
    assert "256" in modes and "truecolor" not in modes, modes
    assert not re.search(r"[34]8;2;", terminal.text)


def test_16_colour_terminal_gets_neither_256_nor_truecolor(terminal_config: Path, tmp_path: Path) -> None:
    terminal, first, code = _start_and_quit("xterm", ALT_2, terminal_config, tmp_path)
    _assert_usable_and_clean(terminal, first, code)
    modes = colour_modes(terminal.text)
    assert modes == {"16"}, modes
    assert not re.search(r"[34]8;[25];", terminal.text)


def test_screen_model_and_colour_modes() -> None:
    """The helpers above, so a mistake in them cannot make the terminal tests pass."""
    text = "\x1b[2J\x1b[1;1Hab\x1b[38;5;12;48;2;1;2;3mc\x1b[2;3H\x1b[31mxy\x1b[0m\x1b[3;1Hq\x1b[38;5"
    rows = screen_rows(text, columns=5, rows=3)
    assert rows == ["abc  ", "  xy ", "q    "]
    assert colour_modes(text) == {"256", "truecolor", "16"}
    assert colour_modes("\x1b[1;97;100mA\x1b[0m") == {"16"}


@pytest.mark.parametrize("how", ["closed", "sighup"])
def test_a_terminal_that_hangs_up_closes_the_app_and_frees_the_data_dir(
    terminal_config: Path, tmp_path: Path, how: str
) -> None:
    """An SSH link dropped: the app ends as on ctrl+q (before, with no SIGHUP it waited for ever on
    its dead terminal, holding the data dir, every later command refused)."""
    data = tmp_path / "data"
    data.mkdir()
    with app_in_terminal("xterm-256color", terminal_config, data, tmp_path) as terminal:
        assert terminal.read_until(terminal.shows("TAD Demo · Classical"), START_TIMEOUT), "\n".join(terminal.screen())
        if how == "sighup":
            terminal.process.send_signal(signal.SIGHUP)
            code = terminal.drain_until_exit(EXIT_TIMEOUT)
        else:
            terminal.hang_up()
            try:
                code = terminal.process.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = None
    assert code == 0
    with WriterLock(data / "writer.lock"):
        pass  # free


def test_sigterm_closes_the_app_cleanly(terminal_config: Path, tmp_path: Path) -> None:
    """``docker stop`` (the app is then process 1) or ``kill``: exit 0 and the terminal given back."""
    data = tmp_path / "data"
    data.mkdir()
    with app_in_terminal("xterm-256color", terminal_config, data, tmp_path) as terminal:
        assert terminal.read_until(terminal.shows("TAD Demo · Classical"), START_TIMEOUT), "\n".join(terminal.screen())
        first = terminal.screen()
        terminal.process.send_signal(signal.SIGTERM)
        code = terminal.drain_until_exit(EXIT_TIMEOUT)
    _assert_usable_and_clean(terminal, first, code)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_a_write_that_finds_the_terminal_gone_ends_the_app_instead_of_hanging() -> None:
    """Textual's writer thread dies on a failed write; its queue then filled and the app blocked
    for ever in the next write, its event loop stopped (SIGTERM could not end it either)."""
    from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread

    from tad_tui.ui.driver import TerminalDriver

    class HungUp(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

    class App:
        exits = 0

        def exit(self) -> None:
            self.exits += 1

    app = App()
    driver = TerminalDriver(app, debug=False, mouse=False, size=(80, 24))  # type: ignore[arg-type]
    driver._writer_thread = WriterThread(HungUp())
    driver._writer_thread.start()
    for _ in range(MAX_QUEUED_WRITES * 3):  # far more than the queue holds
        driver.write("\x1b[H frame")
    assert driver.terminal_gone and app.exits == 1
    driver.close()  # and shutting down does not wait on the dead writer either
