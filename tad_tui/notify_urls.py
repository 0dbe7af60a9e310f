"""Notifications to services through Apprise URLs (``[notifications] urls``, ``TAD_NOTIFY_URLS``).

Each URL becomes an Apprise plugin once (``Apprise.instantiate``); a URL it cannot use is a config
error. Sending happens in one daemon thread per URL, in order, never on the event loop: a service
that does not answer costs its own thread Apprise's connect and read timeouts (the URL's cto/rto
options, 4 s each by default), never a download. A URL that fails is told once per run (the log,
the audit log and ``on_problem``), and given up after ``GIVE_UP_AFTER`` failures in a row. At exit
``drain`` waits a bounded time for what is still being sent.

The URLs hold tokens and passwords: only ``mask``'s form is ever shown or logged, and their secret
parts are handed to ``tad_tui.redact`` so that no logger (Apprise's, urllib3's) can write them.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from tad_tui import audit, redact

log = logging.getLogger(__name__)
GIVE_UP_AFTER = 3  # failures in a row before a URL is left alone for the rest of the run
EXIT_WAIT = 3.0  # seconds the end of a run waits for notifications still being sent
TEST_WAIT = 30.0  # notify-test: the most it waits for all URLs together
_SEPARATORS = re.compile(r"[/:@?&=,#;+\s]+")


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _short(text: str) -> str:
    """A secret-looking piece as Apprise shows one in private mode: its first and last character."""
    return f"{text[0]}...{text[-1]}" if len(text) >= 4 else redact.HIDDEN


def _host_shown(host: str) -> str:
    # A host with no dot is often the secret itself (an ntfy topic, a bot token): a name is shown
    # only when it is an address or a domain.
    if not host or "." in host or host.startswith("[") or host.lower() == "localhost" or "..." in host:
        return host
    return _short(host)


# Services whose path parts are the secret however short (an ntfy topic is its password: anyone
# who knows it reads and posts to it).
_SECRET_PATHS = frozenset({"ntfy", "ntfys"})


def _segment_shown(segment: str, *, secret: bool = False) -> str:
    plain = unquote(segment)
    if "..." in plain or redact.HIDDEN in plain or not plain:
        return segment
    return _short(plain) if secret or len(plain) >= 8 else segment


def _masked(url: str, had_query: bool) -> str:
    """``url`` (Apprise's private form, or the raw one) with its host, long path parts and query hidden."""
    scheme, found, rest = url.partition("://")
    if not found:
        return redact.HIDDEN  # not a URL at all: nothing of it is safe to show
    netloc, _, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    if colon and not port.isdigit():  # "123456:TOKEN": a bot token, not a host and a port
        host, colon, port = hostport, "", ""
    user = ""
    if at:
        name, has_password, _ = userinfo.partition(":")
        user = name + (f":{redact.HIDDEN}" if has_password else "") + "@"  # a user name is no secret
    secret = scheme.lower() in _SECRET_PATHS
    shown_path = "/".join(_segment_shown(segment, secret=secret) for segment in path.split("/")) if path else ""
    tail = f"/{shown_path}".rstrip("/") if shown_path else ""
    return f"{scheme}://{user}{_host_shown(host)}{colon}{port}{tail}" + ("?…" if had_query else "")


def _plugin(url: str) -> Any:
    import apprise

    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # a URL Apprise chokes on is one it cannot use
        return None


def mask(url: str, plugin: Any = None) -> str:
    """``url`` as it may be shown: passwords, tokens and the query hidden (never raises)."""
    had_query = "?" in url
    try:
        plugin = plugin if plugin is not None else _plugin(url)
        private = plugin.url(privacy=True) if plugin is not None else url
        return _masked(private.partition("?")[0], had_query)
    except Exception:
        scheme = url.partition("://")[0] if "://" in url else "?"
        return f"{scheme[:20]}://…"


def secret_parts(url: str, masked: str) -> set[str]:
    """The pieces of ``url`` that ``masked`` does not show, as written and decoded."""
    shown = set(_SEPARATORS.split(masked))
    raw_parts = set(_SEPARATORS.split(url.partition("?")[0]))
    query = url.partition("?")[2]
    for pair in query.split("&"):
        value = pair.partition("=")[2]
        if len(value) >= 16 or (len(value) >= 6 and not value.isalpha()):  # a token, not "markdown"
            raw_parts.add(value)
    hidden = {part for part in raw_parts if part and part not in shown and part != url.partition("://")[0]}
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    hidden |= {password} if password else set()
    hidden |= {unquote(part) for part in hidden}
    return hidden | {url} if url != masked else hidden  # nothing hidden: the URL is its masked form


def check_urls(urls: Sequence[str]) -> None:
    """Raise ValueError naming (masked) the first URL Apprise cannot use."""
    for number, url in enumerate(urls, start=1):
        plugin = _plugin(url)
        masked = mask(url, plugin)
        redact.remember(secret_parts(url, masked))
        if plugin is None:
            scheme = url.partition("://")[0] if "://" in url else ""
            why = "not a URL (no scheme://)" if not scheme else f"{scheme}:// is not a service Apprise knows, or the URL misses what it needs"
            raise ValueError(f"the {_ordinal(number)} URL ({masked}) is not one Apprise can use: {why}")


class _Reasons(logging.Handler):
    """What Apprise logs at WARNING or above while this thread sends: why a send failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        bucket = getattr(self.local, "bucket", None)
        if bucket is not None:
            bucket.append(redact.scrub(record.getMessage()))


_reasons = _Reasons()
_quiet_lock = threading.Lock()


def _quiet_apprise() -> None:
    """Apprise and urllib3 log request URLs and payloads below WARNING: never into our log."""
    with _quiet_lock:
        apprise_logger = logging.getLogger("apprise")
        if _reasons not in apprise_logger.handlers:
            apprise_logger.addHandler(_reasons)
        # What Apprise says of a failure is in our own line about it, once per URL and run.
        apprise_logger.propagate = False
        for name in ("apprise", "urllib3", "requests"):
            logger = logging.getLogger(name)
            logger.setLevel(max(logging.WARNING, logger.level))


@dataclass(frozen=True)
class Delivery:
    """How sending to one URL went."""

    url: str  # masked
    ok: bool
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "reason": self.reason}


class Service:
    """One configured URL: its plugin and its masked form."""

    def __init__(self, url: str) -> None:
        _quiet_apprise()
        self.plugin = _plugin(url)
        self.url = mask(url, self.plugin)
        redact.remember(secret_parts(url, self.url))

    def send(self, title: str, body: str) -> Delivery:
        """Send now, in this thread (it may take the URL's timeouts); never raises."""
        if self.plugin is None:
            return Delivery(self.url, False, "not a URL Apprise can use")
        _reasons.local.bucket = bucket = []
        try:
            ok = bool(self.plugin.notify(title=title, body=body))
        except Exception as error:  # a plugin's own bug must not end the thread
            ok, bucket = False, [*bucket, redact.scrub(f"{type(error).__name__}: {error}")]
        finally:
            _reasons.local.bucket = None
        if ok:
            return Delivery(self.url, True)
        reason = " ".join(dict.fromkeys(line.strip() for line in bucket if line.strip())) or "the service did not accept it"
        return Delivery(self.url, False, reason)


class ServiceSender:
    """Sends notifications to every URL in the background, in order per URL."""

    def __init__(self, urls: Sequence[str], on_problem: Callable[[str], None] | None = None) -> None:
        self.services = [Service(url) for url in urls]
        self.on_problem = on_problem
        self.delivered: list[Delivery] = []
        self._queues: list[queue.Queue[tuple[str, str]]] = []
        self._pending = 0
        self._idle = threading.Condition()
        for service in self.services:
            jobs: queue.Queue[tuple[str, str]] = queue.Queue()
            self._queues.append(jobs)
            threading.Thread(target=self._work, args=(service, jobs), name="tad-notify", daemon=True).start()

    def send(self, title: str, body: str) -> None:
        """Queue one notification for every URL not given up; returns at once."""
        with self._idle:
            self._pending += len(self._queues)
        for jobs in self._queues:
            jobs.put((title, body))

    def drain(self, timeout: float = EXIT_WAIT) -> bool:
        """Wait up to ``timeout`` seconds for what is being sent; False if some is still going."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.info("%d notification(s) to services still being sent at exit: left behind", self._pending)
                    return False
                self._idle.wait(left)
        return True

    def _work(self, service: Service, jobs: queue.Queue[tuple[str, str]]) -> None:
        failures, told = 0, False
        while True:
            title, body = jobs.get()
            if failures < GIVE_UP_AFTER:
                delivery = service.send(title, body)
                self.delivered.append(delivery)
                if delivery.ok:
                    failures = 0
                    log.info("notification %r sent to %s", title, service.url)
                else:
                    failures += 1
                    if not told:
                        told = True
                        self._tell(delivery)
                    else:
                        log.debug("notification %r to %s failed again: %s", title, service.url, delivery.reason)
                    if failures == GIVE_UP_AFTER:
                        log.info("notifications to %s failed %d times in a row: given up for this run", service.url, failures)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _tell(self, delivery: Delivery) -> None:
        text = (
            f"notifications to {delivery.url} failed: {delivery.reason} (not said again this run; left alone "
            f"after {GIVE_UP_AFTER} failures in a row; `tad-tui notify-test` tries it)"
        )
        log.warning("%s", text)
        audit.record("notification_failed", "failed", delivery.reason, url=delivery.url)
        if self.on_problem is not None:
            try:
                self.on_problem(text)
            except Exception:  # the loop may be closing: the log has it
                log.debug("could not tell the user about a failed notification", exc_info=True)


def send_test(urls: Sequence[str], title: str, body: str, timeout: float = TEST_WAIT) -> list[Delivery]:
    """Send to every URL at once and wait (up to ``timeout`` in all); one Delivery per URL, in order."""
    services = [Service(url) for url in urls]
    results: list[Delivery | None] = [None] * len(services)

    def one(index: int) -> None:
        results[index] = services[index].send(title, body)

    threads = [threading.Thread(target=one, args=(i,), daemon=True, name="tad-notify-test") for i in range(len(services))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [
        result if result is not None else Delivery(service.url, False, f"no answer within {timeout:g} s")
        for service, result in zip(services, results, strict=True)
    ]
