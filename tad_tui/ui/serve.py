"""``tad-tui serve``: the same app in a web browser, through textual-serve.

Each browser session runs ``tad-tui`` (the same --config, --data-dir and --demo) as a new process
under Textual's web driver; textual-serve carries its screen and keys over a WebSocket. One session
at a time: the app owns the data dir, so a second tab is told so instead of starting a second app.
serve holds the data dir's writer lock for its whole run, as the TUI would, and the app of a
browser session takes that very lock over (``lock.SHARED_FD_ENV``): no other tad-tui gets in between.

Every request needs the token (also on loopback, where a random one is made per run): other users
of the machine can reach 127.0.0.1 too. The browser gives it once, as ``?token=`` or on the sign-in
page, and then carries a cookie derived from it (HttpOnly, SameSite=Strict). There is no TLS here:
reach it through an SSH tunnel, or put a TLS reverse proxy in front.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import io
import ipaddress
import logging
import os
import secrets
import shlex
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
import jinja2
import textual_serve
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from tad_tui.api import escape_unsafe
from tad_tui.lock import SHARED_FD_ENV, WriterLock

log = logging.getLogger("tad_tui.serve")

PAGES = Path(__file__).parent / "web"
STATIC = Path(textual_serve.__file__).parent / "static"  # textual.js, xterm.css and the Roboto Mono fonts
TOKEN_FORM_FIELD = "token"
QUIT_GRACE = 5.0  # seconds an app has to quit after its browser went away, then SIGTERM, then SIGKILL
# A reloaded page's new socket can come before the old one's close: so long, a session still open
# may be that page's own.
RELOAD_GRACE = 2.0
BUSY = (
    "tad-tui is already open in another browser tab or window.\n"
    "One session at a time: the app owns the data dir. Close it there, then press Start again."
)


WRONG_TOKENS = 5  # wrong tokens an address may give in WRONG_TOKEN_WINDOW seconds; then it waits
WRONG_TOKEN_WINDOW = 60.0
WRONG = "That token is not the one this tad-tui serve was started with."


class ServeError(Exception):
    """A reason not to serve at all; one line for the user (exit status 2)."""


def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def app_command(args: argparse.Namespace) -> str:
    """The shell command each browser session runs: this tad-tui, with the options serve was given."""
    words = [sys.executable, "-m", "tad_tui"]
    if getattr(args, "config", None):
        words += ["--config", args.config]
    if getattr(args, "data_dir", None):
        words += ["--data-dir", args.data_dir]
    if getattr(args, "demo", False):
        words.append("--demo")
    return "exec " + shlex.join(words)  # exec: the app is the process we signal, not a shell around it


def public_url(host: str, port: int) -> str:
    """A URL a browser on this machine (or, for an any-address bind, elsewhere) can open."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return f"http://{host}:{port}/"
    if address.is_unspecified:
        return f"http://{socket.gethostname()}:{port}/"
    return f"http://[{address}]:{port}/" if address.version == 6 else f"http://{address}:{port}/"


class TokenGate:
    """Who may talk to the app: whoever gave the token once, and carries the cookie made from it."""

    def __init__(self, token: str, port: int) -> None:
        self._token = token.encode()
        # Cookies are kept per host, not per port: two serves on one machine must not share one.
        self.cookie_name = f"tad_tui_serve_{port}"
        # The cookie is not the token itself: a leaked cookie does not reveal a token used elsewhere.
        self._cookie = hmac.new(self._token, b"tad-tui serve session", hashlib.sha256).hexdigest()

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._token)

    def cookie_matches(self, request: web.Request) -> bool | None:
        """True: a good cookie; False: a wrong one; None: none at all."""
        given = request.cookies.get(self.cookie_name)
        if given is None:
            return None
        return hmac.compare_digest(given.encode(), self._cookie.encode())

    def admit(self, response: web.StreamResponse) -> None:
        response.set_cookie(self.cookie_name, self._cookie, path="/", httponly=True, samesite="Strict")


class WrongTokens:
    """Wrong tokens by client address: after ``most`` in ``window`` seconds, no token from there is
    even compared until the oldest of them is ``window`` old (a guesser gets a handful a minute).
    Behind an SSH tunnel or a proxy every client is one address: the right user then waits too."""

    def __init__(self, most: int = WRONG_TOKENS, window: float = WRONG_TOKEN_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.most, self.window, self.clock = most, window, clock
        self._failures: dict[str, deque[float]] = {}

    def wait(self, who: str) -> float:
        """Seconds until ``who`` may give a token again (0: now)."""
        failures = self._failures.get(who)
        if failures is None:
            return 0.0
        now = self.clock()
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        if not failures:
            del self._failures[who]
            return 0.0
        return failures[0] + self.window - now if len(failures) >= self.most else 0.0

    def failed(self, who: str) -> None:
        self._failures.setdefault(who, deque()).append(self.clock())


def _clean_url(request: web.Request) -> str:
    """The page's URL without the token (the font size is the one thing worth keeping)."""
    kept = {name: request.query[name] for name in ("fontsize",) if name in request.query}
    return request.path + (f"?{urlencode(kept)}" if kept else "")


def _same_origin(request: web.Request) -> bool:
    """A WebSocket opened by a page of this server (another site's page may not drive the app)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc.lower() == request.host.lower()


PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class AppProcess(AppService):
    """textual-serve's app process, in its own session (the terminal's Ctrl+C goes to serve, which
    ends it cleanly), without serve's secrets in its environment, and with its error output kept to
    show in the page instead of written to serve's terminal."""

    def __init__(self, *args: Any, lock_fd: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock_fd = lock_fd  # serve's locked descriptor of the data dir, which the app takes over
        self.started = False  # the app said it is a Textual app (its prelude)
        self.errors = io.BytesIO()

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        for name in ("TAD_SERVE_TOKEN", "TAD_SERVE_HOST", "TAD_SERVE_PORT"):
            environment.pop(name, None)
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        environment = self._build_environment(width=width, height=height)
        shared = () if self.lock_fd is None else (self.lock_fd,)
        if shared:
            environment[SHARED_FD_ENV] = str(self.lock_fd)
        self._process = process = await asyncio.create_subprocess_shell(
            self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
            start_new_session=True,
            pass_fds=shared,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    @property
    def task(self) -> asyncio.Task[None]:
        assert self._task is not None
        return self._task

    async def run(self) -> None:
        """textual-serve's loop (prelude, then D/M/P packets) with stderr kept in ``errors``."""
        process = self._process
        assert process is not None and process.stdout is not None and process.stderr is not None
        stdout, stderr = process.stdout, process.stderr

        async def read_stderr() -> None:
            while data := await stderr.read(4096):
                self.errors.write(data[: max(0, 65536 - self.errors.tell())])

        stderr_task = asyncio.create_task(read_stderr())
        handlers: dict[bytes, Callable[[bytes], Awaitable[None]]] = {
            b"D": self.on_data, b"M": self.on_meta, b"P": self.on_packed
        }
        try:
            for _ in range(10):
                line = await stdout.readline()
                if not line:
                    break
                if line == b"__GANGLION__\n":
                    self.started = True
                    break
            while self.started:
                kind = await stdout.readexactly(1)
                size = int.from_bytes(await stdout.readexactly(4), "big")
                payload = await stdout.readexactly(size)
                if handler := handlers.get(kind):
                    await handler(payload)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            pass
        finally:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), QUIT_GRACE)
            stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stderr_task

    def error_text(self) -> str:
        return self.errors.getvalue().decode("utf-8", "replace").strip()

    async def end(self) -> None:
        """Ask the app to quit; SIGTERM, then SIGKILL, if it does not within QUIT_GRACE seconds."""
        process = self._process
        if process is None:
            return
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        if process.returncode is None and self.started:
            await self.send_meta({"type": "quit"})
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and process.returncode is None:
                log.warning("the app (pid %s) did not end; sending it %s", process.pid, sig.name)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)  # its own session: the app and anything it started
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), QUIT_GRACE)
                break
        if self._task is not None:
            await self._task


class AppServer(Server):
    """textual-serve's server, behind the token, one session at a time, with pages of our own that
    fetch nothing from elsewhere (its stock page links Google Fonts)."""

    def __init__(self, command: str, *, host: str, port: int, token: str, lock: WriterLock) -> None:
        super().__init__(command, host=host, port=port, title="tad-tui", statics_path=STATIC, templates_path=PAGES)
        self.gate = TokenGate(token, port)
        self.wrong_tokens = WrongTokens()
        self.lock = lock
        self.holds_lock = False
        self.session: AppProcess | None = None
        self.session_socket: web.WebSocketResponse | None = None
        self.sockets: set[web.WebSocketResponse] = set()
        self.stopping = False

    # --- the data dir --------------------------------------------------------------------------

    def take_lock(self) -> None:
        """Hold the writer lock for serve's run (DataDirBusy if another tad-tui has it)."""
        if not self.holds_lock:
            self.lock.acquire()
            self.holds_lock = True

    def release_lock(self) -> None:
        if self.holds_lock:
            self.lock.release()
            self.holds_lock = False

    # --- the web app ---------------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path), autoescape=True)
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.post("/login", self.handle_login, name="login"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static", self.statics_path, show_index=False, name="static"),
        ])
        return app

    def _page(self, request: web.Request, name: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
        response = aiohttp_jinja2.render_template(name, request, context, status=status)
        response.headers.update(PAGE_HEADERS)
        return response

    def _sign_in(self, request: web.Request, status: int, error: str = "") -> web.Response:
        return self._page(request, "sign_in.html", {"error": error}, status=status)

    @web.middleware
    async def guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if request.path == "/login":
            return await handler(request)  # the sign-in form checks the token itself
        given = request.query.get(TOKEN_FORM_FIELD)
        if given is not None:
            refused = self._check_token(request, given)
            if refused is not None:
                return refused
            if request.path == "/ws":
                return await self._websocket_if_same_origin(request, handler)
            # The token leaves the address bar and the history; the cookie stands for it from now on.
            return self._admitted(_clean_url(request))
        admitted = self.gate.cookie_matches(request)
        if admitted:
            if request.path == "/ws":
                return await self._websocket_if_same_origin(request, handler)
            return await handler(request)
        if admitted is None:
            return self._refuse(request, 401, "")
        return self._refuse(request, 403, "This browser's sign-in is from another run of tad-tui serve: give the token again.")

    def _check_token(self, request: web.Request, given: str) -> web.StreamResponse | None:
        """None when ``given`` is the token; else the refusal (429 while the address must wait)."""
        who = request.remote or "?"
        wait = self.wrong_tokens.wait(who)
        if wait > 0:
            seconds = max(1, round(wait))
            log.info("refused %s %s: too many wrong tokens from %s", request.method, request.path, who)
            error = f"Too many wrong tokens from this address: try again in {seconds} s."
            response = self._refusal(request, 429, error)
            response.headers["Retry-After"] = str(seconds)
            return response
        if self.gate.token_matches(given):
            return None
        self.wrong_tokens.failed(who)
        log.info("refused %s %s: wrong token", request.method, request.path)
        return self._refusal(request, 403, WRONG)

    def _refuse(self, request: web.Request, status: int, error: str) -> web.StreamResponse:
        log.info("refused %s %s: %s", request.method, request.path, "no token" if status == 401 else "wrong token")
        return self._refusal(request, status, error)

    def _refusal(self, request: web.Request, status: int, error: str) -> web.Response:
        if (request.path == "/" and request.method == "GET") or request.path == "/login":
            return self._sign_in(request, status, error)
        text = error or "sign in first (the token)"
        return web.Response(status=status, text=f"tad-tui serve: {text}\n", headers=PAGE_HEADERS)

    async def _websocket_if_same_origin(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if not _same_origin(request):
            log.info("refused a WebSocket from another origin")
            return web.Response(status=403, text="tad-tui serve: the app can only be driven from its own page\n")
        return await handler(request)

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given = form.get(TOKEN_FORM_FIELD)
        refused = self._check_token(request, given.strip() if isinstance(given, str) else "")
        return refused if refused is not None else self._admitted("/")

    def _admitted(self, location: str) -> web.Response:
        response = web.Response(status=303, headers={**PAGE_HEADERS, "Location": location})
        self.gate.admit(response)
        return response

    async def handle_index(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        # Always the app's page, even while a session runs: a reload asks for it before its old
        # socket closes. Whether this tab gets the app is decided when its socket opens.
        font_size = max(8, min(48, _int(request.query.get("fontsize", "16"), 16)))
        return self._page(request, "app_index.html", {"font_size": font_size, "title": self.title})

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        self.sockets.add(websocket)
        try:
            if self.stopping:
                await _tell(websocket, "tad-tui serve is stopping.")
                return websocket
            if not await self._previous_session_ended():
                await _tell(websocket, BUSY)
                return websocket
            await self._run_session(
                websocket, _int(request.query.get("width", "80"), 80), _int(request.query.get("height", "24"), 24)
            )
        finally:
            self.sockets.discard(websocket)
        return websocket

    async def _previous_session_ended(self) -> bool:
        """Wait for a session whose browser has gone (or goes within RELOAD_GRACE) to end; False if
        another tab still has the app."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RELOAD_GRACE
        while self.session is not None:
            socket_open = self.session_socket is not None and not self.session_socket.closed
            if (socket_open and loop.time() > deadline) or loop.time() > deadline + 3 * QUIT_GRACE:
                return False
            await asyncio.sleep(0.05)
        return True  # and nothing awaits between here and the new session's claim

    async def _run_session(self, websocket: web.WebSocketResponse, width: int, height: int) -> None:
        session = AppProcess(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
            lock_fd=self.lock.fd,  # the app takes the lock over: no moment where neither holds it
        )
        self.session, self.session_socket = session, websocket
        try:
            await session.start(width, height)
            log.info("browser session started (app pid %s)", session._process.pid if session._process else "?")
            browser = asyncio.create_task(self._process_messages(websocket, session))
            await asyncio.wait({browser, session.task}, return_when=asyncio.FIRST_COMPLETED)
            if session.task.done() and not websocket.closed:  # the app ended by itself: quit, or failed
                if not session.started or (session._process and session._process.returncode):
                    await _tell(websocket, session.error_text() or "The app ended unexpectedly; see the log file.")
                await websocket.close()
            browser.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await browser
        finally:
            await session.end()
            if errors := session.error_text():
                log.warning("the app said: %s", errors[-2000:])
            log.info("browser session ended (exit status %s)", session._process.returncode if session._process else "?")
            self.session = self.session_socket = None
            self.lock.stamp()  # the app had written itself as the holder

    async def stop(self) -> None:
        """End every session and close every socket (Ctrl+C, SIGTERM)."""
        self.stopping = True
        for websocket in list(self.sockets):
            with contextlib.suppress(Exception):
                await websocket.close()
        while self.session is not None:
            await asyncio.sleep(0.05)


async def _tell(websocket: web.WebSocketResponse, message: str) -> None:
    """Show ``message`` in the page's terminal (cleared first), then end the connection."""
    lines = [escape_unsafe(line) for line in message.splitlines() or [""]]
    text = "\x1b[2J\x1b[H\x1b[1m" + "\r\n".join(lines) + "\x1b[0m\r\n"
    with contextlib.suppress(Exception):
        await websocket.send_bytes(text.encode())
        await websocket.close()


def _int(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default


async def run_serve(args: argparse.Namespace, settings: Any, paths: Any) -> int:
    host, port, token = settings.serve.host, settings.serve.port, settings.serve.token
    loopback = is_loopback(host)
    if not loopback and not token:
        raise ServeError(
            f"serve: listening on {host} (not loopback) needs a token: give --token, TAD_SERVE_TOKEN or "
            "[serve] token (16+ characters), or keep 127.0.0.1 and use an SSH tunnel"
        )
    generated = not token
    token = token or secrets.token_urlsafe(24)
    lock = WriterLock(paths.lock_file)
    server = AppServer(app_command(args), host=host, port=port, token=token, lock=lock)
    server.take_lock()  # DataDirBusy: another tad-tui is writing here (exit 2)
    loop, stop = asyncio.get_running_loop(), asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # both stop it cleanly (exit 0), ending the app first
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(await server._make_app(), access_log=None, handle_signals=False)
    try:
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise ServeError(f"serve: cannot listen on {host} port {port}: {error.strerror or error}") from None
        url = public_url(host, port)
        log.info("serving %s at %s (token %s)", paths.data_dir, url, "generated" if generated else "given")
        if generated:
            print(f"tad-tui serve: open {url}?token={token}", flush=True)
        else:
            print(f"tad-tui serve: open {url} and sign in with the token you set (or add ?token=TOKEN)", flush=True)
        print("One browser session at a time; no TLS: reach it through an SSH tunnel. Ctrl+C stops it.", flush=True)
        await stop.wait()
        print("tad-tui serve: stopping", flush=True)
        await server.stop()
    finally:
        await runner.cleanup()
        server.release_lock()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("stopped")
    return 0
