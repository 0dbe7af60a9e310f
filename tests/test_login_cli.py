"""``tad-tui login`` / ``logout`` as a person runs them: a real terminal, a new process each time.

The login runs in a pseudo-terminal that is the process's controlling terminal, so getpass reads
the password from it with echo off, as on a real terminal, and Ctrl+C is a real SIGINT. The account
is the simulated one (``--demo`` with ``[demo] signed_in = false`` and a two-step password), whose
sign-in state outlives each process as a real session does. Also here: the session file's name and
mode, the private data dir, and the start-up warning path to stderr, the log and the TUI.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import stat
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tad_tui.telegram.sim.catalogue import Catalogue
from tad_tui.telegram.sim.server import DEMO_LOGIN_CODE, DEMO_PHONE

from helpers import assert_one_clean_line

PASSWORD = "correct horse 42"
WRONG_PASSWORD = "hunter2-not-it"


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in {"API_ID", "API_HASH", "TAD_DATA_DIR", "SESSION_NAME"}}
    base["HOME"] = base.get("HOME", "/tmp")
    return {**base, **extra}


def _take_terminal() -> None:
    """In the child, after setsid: the pseudo-terminal on fd 0 becomes its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """One ``tad-tui`` process in a pseudo-terminal: lines typed in, everything shown read back."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tad_tui", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_take_terminal,
            close_fds=True,
        )
        self.master, self.slave = master, slave  # the slave stays open here so its modes can be read
        self.seen = b""
        self._pos = 0

    def _read(self, timeout: float) -> None:
        if select.select([self.master], [], [], timeout)[0]:
            try:
                self.seen += os.read(self.master, 65536)
            except OSError:
                pass

    def expect(self, text: str, timeout: float = 60.0) -> None:
        """Wait until ``text`` is shown after what the previous ``expect`` matched."""
        wanted = text.encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.seen.find(wanted, self._pos)
            if found >= 0:
                self._pos = found + len(wanted)
                return
            if self.process.poll() is not None:
                self._read(0.2)
                if self.seen.find(wanted, self._pos) < 0:
                    break
            self._read(0.05)
        raise AssertionError(f"{text!r} never shown; the terminal showed:\n{self.seen.decode(errors='replace')}")

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")  # Enter, as a terminal sends it

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def finish(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        self._read(0.2)
        status = self.process.wait(timeout=5)
        return status

    def echoes(self) -> bool:
        return bool(termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def account(tmp_path: Path, demo_catalogue: Catalogue):
    """``tad-tui --demo`` on a fresh data dir whose simulated account is signed out and has a 2FA password."""
    config = tmp_path / "config.toml"
    config.write_text(
        "[demo]\n"
        f'catalogue_dir = "{demo_catalogue.root}"\n'
        "latency_ms = 0\nbandwidth_per_connection = 0\npremium = true\nrequest_flood_limit = 0\n"
        f'signed_in = false\npassword = "{PASSWORD}"\n'
    )
    data = tmp_path / "data"
    base = ("--config", str(config), "--demo", "--data-dir", str(data))

    class Account:
        data_dir = data
        session = data / "tad.demo.session"
        args = base

        @staticmethod
        def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "tad_tui", *base, *args],
                input=stdin if stdin is not None else "",
                capture_output=True,
                text=True,
                timeout=120,
                env=env or _env(),
                start_new_session=True,  # no controlling terminal: getpass must not find the one pytest runs in
            )

        @staticmethod
        def terminal(*args: str) -> Terminal:
            return Terminal(*base, *args, env=_env(TERM="xterm"))

    return Account


def test_login_in_a_terminal_reports_wrong_answers_hides_the_password_and_lasts_until_logout(account) -> None:
    term = account.terminal("login")
    try:
        term.expect("Phone number")
        term.type("12")
        term.expect("That phone number is not valid")
        term.expect("Phone number")
        term.type(DEMO_PHONE)
        term.expect("The code Telegram just sent you")
        term.type("00000")
        term.expect("That code is wrong")
        term.expect("The code Telegram just sent you")
        term.type(DEMO_LOGIN_CODE)
        term.expect("two-step verification (hint: the demo hint)")
        term.expect("password (not shown as you type): ")
        term.type(WRONG_PASSWORD)
        term.expect("That password is wrong")
        term.expect("password (not shown as you type): ")
        term.type(PASSWORD)
        term.expect("Signed in as Demo Listener (@tad_demo_user)")
        assert term.finish() == 0
        shown = term.seen.decode(errors="replace")
    finally:
        term.close()
    assert DEMO_PHONE in shown and "00000" in shown  # what is typed is echoed…
    assert PASSWORD not in shown and WRONG_PASSWORD not in shown  # …except the password
    assert "Traceback" not in shown
    assert stat.S_IMODE(account.session.stat().st_mode) == 0o600
    assert PASSWORD not in (account.data_dir / "logs" / "tad-tui.log").read_text()

    again = account.run("login")  # the sign-in outlived the process
    assert again.returncode == 0, again.stderr
    assert "Already signed in as Demo Listener (@tad_demo_user)" in again.stdout
    groups = account.run("groups", "--json")
    assert groups.returncode == 0, groups.stderr

    logout = account.run("logout")
    assert logout.returncode == 0, logout.stderr
    assert "Signed out as Demo Listener" in logout.stdout and "Traceback" not in logout.stderr
    assert not account.session.exists()

    after = account.run("groups")
    assert after.returncode == 1
    assert "not signed in" in assert_one_clean_line(after) and "tad-tui --demo login" in after.stderr
    assert account.run("login", stdin="").returncode == 1  # asks again: signed out for good


def test_ctrl_c_at_the_password_prompt_exits_130_with_echo_restored(account) -> None:
    term = account.terminal("login", "--phone", DEMO_PHONE)
    try:
        term.expect("The code Telegram just sent you")
        term.type(DEMO_LOGIN_CODE)
        term.expect("password (not shown as you type): ")
        assert not term.echoes()  # getpass turned echo off on the real terminal
        term.press(b"\x03")
        assert term.finish() == 130
        assert term.echoes()
        shown = term.seen.decode(errors="replace")
    finally:
        term.close()
    assert "login cancelled; not signed in" in shown and "Traceback" not in shown
    assert account.run("login", stdin="").returncode == 1  # still signed out


def test_end_of_input_exits_1_without_a_traceback(account) -> None:
    result = account.run("login", stdin="")
    assert result.returncode == 1
    assert "no more input" in result.stderr and "Traceback" not in result.stderr


def test_without_a_terminal_the_password_is_read_from_stdin_with_one_plain_warning(account) -> None:
    result = account.run("login", "--phone", DEMO_PHONE, stdin=f"{DEMO_LOGIN_CODE}\n{PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert "Signed in as Demo Listener" in result.stdout
    assert "Password input may be echoed" in result.stderr
    assert "GetPassWarning" not in result.stderr and "getpass.py" not in result.stderr


def test_phone_option_and_piped_code(account, tmp_path: Path) -> None:
    config = Path(account.args[1])
    config.write_text(config.read_text().replace(f'password = "{PASSWORD}"', 'password = ""'))
    result = account.run("login", "--phone", DEMO_PHONE, stdin=f"{DEMO_LOGIN_CODE}\n")
    assert result.returncode == 0, result.stderr
    assert "Signed in as Demo Listener" in result.stdout
    assert "two-step" not in result.stdout  # no password on this account: never asked


@pytest.mark.parametrize("phone", ["12", "+12345"], ids=["not-a-number", "refused-by-telegram"])
def test_a_bad_phone_option_exits_2_naming_the_option(account, phone: str) -> None:
    result = account.run("login", "--phone", phone)
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert "--phone" in line and "international form" in line


def test_three_wrong_codes_end_the_login(account) -> None:
    result = account.run("login", "--phone", DEMO_PHONE, stdin="1\n2\n3\n" + DEMO_LOGIN_CODE + "\n")
    assert result.returncode == 1
    assert result.stderr.count("That code is wrong") == 3 and "Not signed in after 3 tries" in result.stderr
    assert "Traceback" not in result.stderr


def test_logout_when_not_signed_in_says_so_and_exits_0(account) -> None:
    result = account.run("logout")
    assert result.returncode == 0, result.stderr
    assert "Not signed in" in result.stdout


async def test_the_shared_login_flow_refuses_empty_answers_in_words(demo_catalogue: Catalogue) -> None:
    """Telethon crashes on an empty phone or password and, given an empty code, sends a new one and
    reports success: the flow (the TUI's too) refuses them first and stays at the same step."""
    from tad_tui.telegram.login import LoginError, LoginFlow, LoginStep
    from tad_tui.telegram.sim.client import SimulatedClient
    from tad_tui.telegram.sim.server import SimulatedTelegram

    client = SimulatedClient(SimulatedTelegram(demo_catalogue, authorized=False, password=PASSWORD))
    await client.connect()
    try:
        flow = LoginFlow(client)
        for step, submit, value in (
            (LoginStep.PHONE, flow.send_code, DEMO_PHONE),
            (LoginStep.CODE, flow.submit_code, DEMO_LOGIN_CODE),
            (LoginStep.PASSWORD, flow.submit_password, PASSWORD),
        ):
            with pytest.raises(LoginError, match="^Type "):
                await submit("  " if step is not LoginStep.PASSWORD else "")
            assert flow.step is step
            await submit(value)
        assert flow.step is LoginStep.DONE and await client.is_user_authorized()
    finally:
        await client.disconnect()


async def test_an_expired_code_gets_a_new_one_sent_a_bounded_number_of_times(demo_catalogue: Catalogue, capsys) -> None:
    from tad_tui.cli.login import LoginStopped, sign_in
    from tad_tui.telegram.login import LoginFlow, LoginStep
    from tad_tui.telegram.sim.client import SimulatedClient
    from tad_tui.telegram.sim.server import SimulatedTelegram

    server = SimulatedTelegram(demo_catalogue, authorized=False, code_ttl=-1.0)  # every code has expired
    client = SimulatedClient(server)
    await client.connect()
    try:
        with pytest.raises(LoginStopped) as stopped:
            await sign_in(LoginFlow(client), DEMO_PHONE, lambda prompt, secret: DEMO_LOGIN_CODE)
        assert stopped.value.status == 1 and "expired" in str(stopped.value)
        assert len(server.requests("SendCodeRequest")) == 3  # the first code, then two new ones
        assert capsys.readouterr().err.count("Sending a new code") == 2

        asked: list[str] = []

        def answer(prompt: str, secret: bool) -> str:
            asked.append(prompt)
            server.code_ttl = 300.0 if len(asked) > 1 else -1.0  # only the first code has expired
            return DEMO_LOGIN_CODE

        flow = LoginFlow(client)
        await sign_in(flow, DEMO_PHONE, answer)
        assert flow.step is LoginStep.DONE and len(asked) == 2
    finally:
        await client.disconnect()


# --- the session file --------------------------------------------------------------------------


def test_session_name_from_the_environment_names_the_session_file(account) -> None:
    result = account.run("login", "--phone", DEMO_PHONE, stdin=f"{DEMO_LOGIN_CODE}\n{PASSWORD}\n", env=_env(SESSION_NAME="work"))
    assert result.returncode == 0, result.stderr
    assert "work.demo.session" in result.stdout
    assert (account.data_dir / "work.demo.session").exists() and not account.session.exists()
    # Another session name is another session: not signed in.
    assert account.run("groups").returncode == 1
    assert account.run("groups", env=_env(SESSION_NAME="work")).returncode == 0


@pytest.mark.parametrize("bad", ["../escape", ".hidden", "spaced name"])
def test_a_bad_session_name_exits_2_naming_the_key(account, bad: str) -> None:
    result = account.run("groups", env=_env(SESSION_NAME=bad))
    assert result.returncode == 2
    line = assert_one_clean_line(result)
    assert "SESSION_NAME" in line and "telegram.session_name" in line
    assert not account.data_dir.exists() or not list(account.data_dir.glob("*.session"))


def test_a_session_file_others_can_read_is_made_private_with_one_warning(account) -> None:
    config = Path(account.args[1])
    config.write_text(config.read_text().replace("signed_in = false", "signed_in = true"))
    assert account.run("groups", "--json").returncode == 0
    os.chmod(account.session, 0o644)
    result = account.run("groups", "--json")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(account.session.stat().st_mode) == 0o600
    warning = assert_one_clean_line(result)
    assert warning.startswith("tad-tui: warning: ") and str(account.session) in warning and "0644" in warning
    log = (account.data_dir / "logs" / "tad-tui.log").read_text()
    assert "WARNING" in log and "could be read by other users (mode 0644)" in log
    quiet = account.run("groups", "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""  # corrected once, silent after


def test_the_data_dir_and_missing_parents_are_created_private(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\ncatalogue_dir = "{demo_catalogue.root}"\nlatency_ms = 0\nbandwidth_per_connection = 0\npremium = true\nrequest_flood_limit = 0\n')
    data = tmp_path / "new" / "nested" / "data"
    result = subprocess.run(
        [sys.executable, "-m", "tad_tui", "--config", str(config), "--demo", "--data-dir", str(data), "groups", "--json"],
        capture_output=True, text=True, timeout=120, env=_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for folder in (tmp_path / "new", tmp_path / "new" / "nested", data, data / "logs", data / "cache"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((data / "tad.demo.session").stat().st_mode) == 0o600

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    result = subprocess.run(
        [sys.executable, "-m", "tad_tui", "--config", str(config), "--demo", "--data-dir", str(shared), "groups", "--json"],
        capture_output=True, text=True, timeout=120, env=_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # an existing folder is the user's choice
    assert stat.S_IMODE((shared / "tad.demo.session").stat().st_mode) == 0o600


async def test_the_tui_shows_start_up_warnings_as_notifications(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    from tad_tui.store import opened_store
    from tad_tui.telegram.sim.client import SimulatedClient
    from tad_tui.telegram.sim.server import SimulatedTelegram
    from tad_tui.telegram.source import TelethonSource
    from tad_tui.ui.app import TadApp
    from tad_tui.ui.login import LoginScreen
    from test_ui_support import held_engine, until

    source = TelethonSource(SimulatedClient(SimulatedTelegram(demo_catalogue, authorized=False)))
    engine, _ = held_engine(tmp_path, source)
    engine.startup_warnings.append("the Telegram session file X could be read by other users (mode 0644)")
    async with opened_store(engine.paths.db):
        app = TadApp(engine)
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await until(lambda: isinstance(app.screen, LoginScreen), pilot.pause)
                shown = [(n.message, n.severity) for n in app._notifications]
                assert (engine.startup_warnings[0], "warning") in shown
                await pilot.press("escape")
                await until(lambda: app._exit, pilot.pause)
        finally:
            await source.stop()
