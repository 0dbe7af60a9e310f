"""``tad-tui serve``: the token on every request, one browser session at a time, the data dir's lock,
a clean stop; each case runs the real command on a free 127.0.0.1 port (the browser test is apart,
in test_serve_browser.py)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from helpers import assert_one_clean_line, run
from tad_tui.lock import DataDirBusy, WriterLock
from tad_tui.ui.serve import WrongTokens

START_TIMEOUT = 20.0
GIVEN_TOKEN = "a-token-the-user-chose-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str  # the URL serve printed
    base: str  # http://127.0.0.1:PORT
    data_dir: Path
    first_lines: list[str]

    @property
    def token(self) -> str:
        return re.search(r"token=([\w-]+)", self.url).group(1)  # type: ignore[union-attr]

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAD_", "API_"))}
    return {**env, **(extra or {})}


@contextmanager
def serving(demo_config: Path, data_dir: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tad_tui", "--config", str(demo_config), "--data-dir", str(data_dir), "--demo",
         "serve", "--port", str(port), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment(env),
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # the URL line, once it listens
        assert first.startswith("tad-tui serve: open http://127.0.0.1:"), first + process.stderr.read()  # type: ignore[union-attr]
        second = process.stdout.readline()
        url = re.search(r"http://\S+", first).group(0)  # type: ignore[union-attr]
        yield Served(process, url, f"http://127.0.0.1:{port}", data_dir, [first, second])
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def _lock_holder(data_dir: Path) -> int:
    words = (data_dir / "writer.lock").read_text().split()  # "PID HOST"
    return int(words[0]) if words else 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(condition, what: str, timeout: float = START_TIMEOUT) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def _first_screen(websocket: aiohttp.ClientWebSocketResponse) -> bytes:
    """What the app drew first (it answers the size the page sends, as textual.js does)."""
    await websocket.send_json(["resize", {"width": 100, "height": 30}])
    received = b""
    while b"Groups" not in received:
        message = await websocket.receive(timeout=START_TIMEOUT)
        assert message.type == aiohttp.WSMsgType.BINARY, message
        received += message.data
    return received


async def test_every_request_needs_the_token(demo_config: Path, tmp_path: Path) -> None:
    with serving(demo_config, tmp_path / "data") as served:
        base = served.base
        async with aiohttp.ClientSession() as http:
            # Without the token: the page is a sign-in form, the rest a bare refusal.
            async with http.get(f"{base}/") as page:
                assert page.status == 401
                text = await page.text()
                assert 'name="token"' in text and 'method="post"' in text and "textual.js" not in text
            for path in ("/static/js/textual.js", "/static/css/xterm.css", "/download/abc", "/ws"):
                async with http.get(f"{base}{path}") as refused:
                    assert refused.status == 401, path
            with pytest.raises(aiohttp.WSServerHandshakeError) as no_socket:
                await http.ws_connect(f"{base}/ws")
            assert no_socket.value.status == 401
            # A wrong token, as ?token= or on the sign-in page.
            async with http.get(f"{base}/?token=not-the-token") as wrong:
                assert wrong.status == 403 and "not the one" in await wrong.text()
            async with http.post(f"{base}/login", data={"token": "not-the-token"}, allow_redirects=False) as wrong:
                assert wrong.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError) as wrong_socket:
                await http.ws_connect(f"{base}/ws?token=not-the-token")
            assert wrong_socket.value.status == 403
            async with http.get(f"{base}/", headers={"Cookie": "tad_tui_serve_1=x"}) as other_cookie:
                assert other_cookie.status == 401

        # The printed URL: a cookie for the token, and back to the clean address.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(served.url, allow_redirects=False) as first:
                assert first.status == 303 and first.headers["Location"] == "/"
                cookie = first.headers["Set-Cookie"]
                assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and served.token not in cookie
            async with browser.get(served.url) as page:
                assert page.status == 200 and str(page.url) == f"{base}/"
                html = await page.text()
            # The page loads nothing from elsewhere (the stock page's Google Fonts).
            assert "textual.js" in html and "static/fonts/RobotoMono" in html
            assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html) and "googleapis" not in html
            for path in ("/static/js/textual.js", "/static/fonts/RobotoMono-VariableFont_wght.ttf"):
                async with browser.get(f"{base}{path}") as static:
                    assert static.status == 200, path
            async with browser.get(f"{base}/static/") as listing:
                assert listing.status in (403, 404)  # no folder listing
            async with browser.ws_connect(f"{base}/ws?width=100&height=30") as websocket:
                assert b"Groups" in await _first_screen(websocket)
            _wait_for(lambda: _lock_holder(served.data_dir) == served.process.pid, "the app to end")
            # A cookie from the wrong token is refused.
            browser.cookie_jar.clear()
            async with browser.get(f"{base}/", headers={"Cookie": f"tad_tui_serve_{base.rsplit(':', 1)[1]}=forged"}) as forged:
                assert forged.status == 403

        # The sign-in page's form gives the same cookie.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.post(f"{base}/login", data={"token": served.token}, allow_redirects=False) as signed_in:
                assert signed_in.status == 303 and "HttpOnly" in signed_in.headers["Set-Cookie"]
            async with browser.get(f"{base}/") as page:
                assert page.status == 200 and "textual.js" in await page.text()
            # Another site's page may not open the app's socket, even with the cookie.
            with pytest.raises(aiohttp.WSServerHandshakeError) as cross_site:
                await browser.ws_connect(f"{base}/ws", headers={"Origin": "http://evil.example"})
            assert cross_site.value.status == 403

        # Three wrong tokens so far; two more fill the minute's allowance, then no token is even
        # looked at, the right one neither, until the minute is over.
        async with aiohttp.ClientSession() as guesser:
            for guess in ("guess-4", "guess-5"):
                async with guesser.post(f"{base}/login", data={"token": guess}, allow_redirects=False) as wrong:
                    assert wrong.status == 403
            async with guesser.post(f"{base}/login", data={"token": served.token}, allow_redirects=False) as held:
                assert held.status == 429 and 0 < int(held.headers["Retry-After"]) <= 60
                assert "Too many wrong tokens" in await held.text() and "Set-Cookie" not in held.headers
            async with guesser.get(f"{base}/?token={served.token}", allow_redirects=False) as held:
                assert held.status == 429 and "Set-Cookie" not in held.headers
            # A browser already signed in is not held up: its cookie is no guess.
            async with guesser.get(f"{base}/", headers={"Cookie": cookie.split(";")[0]}) as page:
                assert page.status == 200

        status, _out, err = served.stop()
    assert status == 0, err
    logs = "".join(p.read_text(errors="replace") for p in (served.data_dir / "logs").iterdir() if p.is_file())
    assert "refused" in logs and served.token not in logs and served.token not in err
    assert "too many wrong tokens from 127.0.0.1" in logs


def test_wrong_tokens_are_counted_per_address_over_a_minute() -> None:
    now = [1000.0]
    wrong = WrongTokens(most=3, window=60.0, clock=lambda: now[0])
    for step in (0, 5):  # at 1000 and 1005
        now[0] += step
        wrong.failed("10.0.0.7")
    assert wrong.wait("10.0.0.7") == 0  # two of three: it may try again
    now[0] += 5
    wrong.failed("10.0.0.7")  # at 1010
    assert wrong.wait("10.0.0.7") == pytest.approx(50.0)  # until the first of the three is a minute old
    assert wrong.wait("10.0.0.8") == 0  # another address is not held
    now[0] += 50
    assert wrong.wait("10.0.0.7") == 0  # the first fell out of the minute: one more try
    wrong.failed("10.0.0.7")  # at 1060: 1005, 1010, 1060
    assert wrong.wait("10.0.0.7") == pytest.approx(5.0)
    now[0] += 5
    assert wrong.wait("10.0.0.7") == 0  # 1005 is a minute old now
    now[0] += 100
    assert wrong.wait("10.0.0.7") == 0


async def test_one_browser_session_at_a_time_and_closing_it_frees_the_data_dir(demo_config: Path, tmp_path: Path) -> None:
    with serving(demo_config, tmp_path / "data") as served:
        serve_pid = served.process.pid
        assert _lock_holder(served.data_dir) == serve_pid  # idle, serve holds the data dir as the TUI would
        busy_cli = run("--config", str(demo_config), "--data-dir", str(served.data_dir), "--demo", "scan", "@tad_demo_classical")
        assert busy_cli.returncode == 2 and f"another tad-tui (pid {serve_pid})" in assert_one_clean_line(busy_cli)
        intruder = Intruder(served.data_dir / "writer.lock")  # tries for the data dir all along
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(served.url) as page:
                assert page.status == 200
            first = await browser.ws_connect(f"{served.base}/ws?width=100&height=30")
            await _first_screen(first)
            app_pid = _lock_holder(served.data_dir)
            assert app_pid not in (0, serve_pid) and _alive(app_pid)
            # A second tab: told in the page, no second app.
            async with browser.get(f"{served.base}/") as second_page:
                assert second_page.status == 200  # (a reload of the first asks before its socket closes)
            second = await browser.ws_connect(f"{served.base}/ws?width=100&height=30")
            told = b""
            async for message in second:
                if message.type == aiohttp.WSMsgType.BINARY:
                    told += message.data
            assert b"already open in another browser tab" in told and b"Traceback" not in told
            assert _lock_holder(served.data_dir) == app_pid
            # Closing the tab ends the app; serve holds the data dir again.
            await first.close()
            _wait_for(lambda: not _alive(app_pid), "the app to end")
            _wait_for(lambda: _lock_holder(served.data_dir) == serve_pid, "serve to hold the data dir again")
            # And the next tab gets a new app.
            again = await browser.ws_connect(f"{served.base}/ws?width=100&height=30")
            await _first_screen(again)
            second_app = _lock_holder(served.data_dir)
            assert second_app not in (0, serve_pid, app_pid)
            # A reload: the new socket comes at once after the old one closes, while its app still
            # quits; it waits for that and gets the app, not the busy message.
            await again.close()
            async with browser.ws_connect(f"{served.base}/ws?width=100&height=30") as reloaded:
                assert b"already open" not in await _first_screen(reloaded)
                assert not _alive(second_app) and _lock_holder(served.data_dir) not in (0, serve_pid, second_app)
        # Not once, as apps started and ended, was the data dir free for another tad-tui.
        assert intruder.stop() == 0 and intruder.tries > 10
        status, _out, err = served.stop()
    assert status == 0, err


class Intruder(threading.Thread):
    """Another tad-tui trying to take the data dir, again and again, until stopped."""

    def __init__(self, lock_file: Path) -> None:
        super().__init__(daemon=True)
        self.lock_file, self.tries, self.got, self.done = lock_file, 0, 0, threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.is_set():
            lock = WriterLock(self.lock_file)
            try:
                lock.acquire()
            except DataDirBusy:
                pass
            else:
                self.got += 1
                lock.release()
            self.tries += 1
            time.sleep(0.005)

    def stop(self) -> int:
        self.done.set()
        self.join(timeout=10)
        return self.got


async def test_sigterm_and_ctrl_c_stop_serve_and_its_app(demo_config: Path, tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with serving(demo_config, tmp_path / "data") as served:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
                await browser.get(served.url)
                websocket = await browser.ws_connect(f"{served.base}/ws?width=100&height=30")
                await _first_screen(websocket)
                app_pid = _lock_holder(served.data_dir)
                status, out, err = served.stop(sig)
                await websocket.close()
        assert status == 0 and err == "" and "stopping" in out, (sig, out, err)
        assert not _alive(app_pid)


def test_serve_refuses_a_data_dir_another_tad_tui_writes_to(demo_config: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with WriterLock(data_dir / "writer.lock"):
        result = run("--config", str(demo_config), "--data-dir", str(data_dir), "--demo", "serve", "--port", str(free_port()))
    assert result.returncode == 2
    assert f"another tad-tui (pid {os.getpid()}) is using {data_dir}" in assert_one_clean_line(result)


def test_a_non_local_address_needs_a_token(demo_config: Path, tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.0.2.7", "nas.example"):
        result = run("--config", str(demo_config), "--data-dir", str(tmp_path), "--demo", "serve", "--host", host)
        assert result.returncode == 2
        line = assert_one_clean_line(result)
        assert f"listening on {host} (not loopback) needs a token" in line and result.stdout == ""
    from_env = run("--data-dir", str(tmp_path), "--demo", "serve", env={"TAD_SERVE_HOST": "::"})
    assert from_env.returncode == 2 and "needs a token" in assert_one_clean_line(from_env)
    # A token too short to be one is refused, and never shown.
    short = run("--data-dir", str(tmp_path), "--demo", "serve", "--token", "hunter2")
    assert short.returncode == 2 and "hunter2" not in short.stderr
    assert "option --token (for serve.token): shorter than 16 characters (got value hidden)" in assert_one_clean_line(short)
    bad_port = run("--data-dir", str(tmp_path), "--demo", "serve", "--port", "http")
    assert bad_port.returncode == 2 and "option --port (for serve.port): not an integer" in assert_one_clean_line(bad_port)


def test_a_port_in_use_is_one_line(demo_config: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--config", str(demo_config), "--data-dir", str(tmp_path), "--demo", "serve", "--port", str(port))
    assert result.returncode == 2
    assert f"serve: cannot listen on 127.0.0.1 port {port}" in assert_one_clean_line(result)


async def test_a_token_of_ones_own_is_not_printed(demo_config: Path, tmp_path: Path) -> None:
    with serving(demo_config, tmp_path / "data", env={"TAD_SERVE_TOKEN": GIVEN_TOKEN}) as served:
        assert GIVEN_TOKEN not in "".join(served.first_lines) and "token=" not in served.url
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(f"{served.base}/") as unsigned:
                assert unsigned.status == 401
            async with browser.get(f"{served.base}/?token={GIVEN_TOKEN}") as page:
                assert page.status == 200 and "textual.js" in await page.text()
            websocket = await browser.ws_connect(f"{served.base}/ws?width=100&height=30")
            await _first_screen(websocket)
            app_pid = _lock_holder(served.data_dir)
            environ = (Path("/proc") / str(app_pid) / "environ").read_bytes()
            assert GIVEN_TOKEN.encode() not in environ  # the app is not told serve's secret
            await websocket.close()
        status, _out, err = served.stop()
    assert status == 0, err
    logs = "".join(p.read_text(errors="replace") for p in (served.data_dir / "logs").iterdir() if p.is_file())
    assert GIVEN_TOKEN not in logs


async def test_an_app_that_cannot_start_is_told_in_the_page(tmp_path: Path) -> None:
    """The app's own one-line error (here a config file gone since serve started) reaches the page,
    and serve goes on serving."""
    import argparse

    from aiohttp import web

    from tad_tui.ui.serve import AppServer, app_command

    command = app_command(argparse.Namespace(config=str(tmp_path / "gone.toml"), data_dir=str(tmp_path), demo=True))
    assert command.startswith("exec ") and "gone.toml" in command
    server = AppServer(command, host="127.0.0.1", port=free_port(), token=GIVEN_TOKEN, lock=WriterLock(tmp_path / "writer.lock"))
    server.take_lock()
    runner = web.AppRunner(await server._make_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server.port).start()
    try:
        async with aiohttp.ClientSession() as browser:
            told = b""
            async with browser.ws_connect(f"http://127.0.0.1:{server.port}/ws?token={GIVEN_TOKEN}") as websocket:
                async for message in websocket:
                    if message.type == aiohttp.WSMsgType.BINARY:
                        told += message.data
            assert b"tad-tui: error: config file" in told and b"does not exist" in told and b"Traceback" not in told
            for _ in range(200):  # the session ends just after the socket closes
                if server.session is None:
                    break
                await asyncio.sleep(0.05)
            assert server.session is None and server.holds_lock
    finally:
        await server.stop()
        await runner.cleanup()
        server.release_lock()
