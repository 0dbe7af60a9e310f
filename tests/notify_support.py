"""A notification service on 127.0.0.1 for the tests: what Apprise's json:// sends it is kept."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Secrets of the URLs the tests configure: none of them may be written anywhere.
USER, PASSWORD = "listener", "n0t1fy-pa55word-x7"
PATH_TOKEN = "tk7Qw9Zr2LmXv8Np4Hs6Jd3Fb1Gc5Ke0"
QUERY_TOKEN = "q9TzR4wYx2Vn7Lm3Kp8Hs5Jd6Fb1Gc0A"


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, list[str]]
    auth: str | None  # "user:password" of a basic Authorization header
    body: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.body.get("title"))

    @property
    def message(self) -> str:
        return str(self.body.get("message"))


class Receiver:
    """An HTTP server in a thread answering 200 to every POST and keeping it."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                header = self.headers.get("Authorization") or ""
                auth = base64.b64decode(header[6:]).decode() if header.startswith("Basic ") else None
                parts = urlsplit(self.path)
                self.send_response(200)
                self.end_headers()
                with receiver._changed:
                    receiver.received.append(Received(parts.path, parse_qs(parts.query), auth, body))
                    receiver._changed.notify_all()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, *, secret: bool = True) -> str:
        """A json:// URL to this server: with a password and tokens in its path and query, or plain."""
        if not secret:
            return f"json://127.0.0.1:{self.port}/plain"
        return f"json://{USER}:{PASSWORD}@127.0.0.1:{self.port}/hook/{PATH_TOKEN}?-token={QUERY_TOKEN}"

    def titles(self) -> list[str]:
        with self._changed:
            return [item.title for item in self.received]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first ``count`` notifications, once they are here (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.received)} of {count} notifications arrived: {self.received}"
                self._changed.wait(left)
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broken_url(port: int) -> str:
    """A URL of a service that is down, with a secret of its own."""
    return f"json://127.0.0.1:{port}/down/{PATH_TOKEN[::-1]}"


SECRETS = {
    "URL password": PASSWORD,
    "URL path token": PATH_TOKEN,
    "URL query token": QUERY_TOKEN,
    "broken URL's token": PATH_TOKEN[::-1],
}
