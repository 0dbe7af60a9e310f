"""The audit log: who did what, when, and how it went — one JSON object per line.

``<data_dir>/logs/audit.jsonl`` (mode 0600, rotated by size) records user actions (login, logout,
queue changes), security events (a data dir in use, a damaged database, a session file's mode
corrected), every file written into the output dir, and every configuration change. Each line holds
"time" (ISO 8601, UTC), "action", "outcome" ("ok", "failed" or "refused", with a "reason" in words
when not ok), "via" ("cli" or "tui"), "pid", and the action's own fields.

Secrets never reach it: fields named like a secret are replaced, phone numbers masked (+44•••••123),
and credentials inside URLs hidden. Writing is best effort: a line that cannot be written (a full
disk) is dropped with one warning in the normal log, never an exception and never terminal output.

Bulk actions write one line: a loop over entries passes ``audit=False`` to each scheduler call and
records the whole action once (``scope`` "batch", "marked" or "all", with a ``count``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tad_tui.redact import scrub

if TYPE_CHECKING:
    from tad_tui.paths import Paths

MAX_BYTES = 1_000_000
BACKUPS = 5
MAX_IDS = 50  # ids listed in one line; more are counted, not listed
HIDDEN = "•••"

# Field names whose values are secrets: never written, whoever passes them.
SECRET_FIELDS = frozenset(
    {
        "api_hash", "password", "code", "login_code", "phone_code",
        "session", "session_string", "proxy_password", "token",
    }
)  # fmt: skip
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+):[^\s@]*@", re.IGNORECASE)

log = logging.getLogger(__name__)  # problems with the audit file go to the normal log
_logger = logging.getLogger("tad_tui.audit.lines")
_logger.propagate = False  # audit lines go to the audit file only
_logger.setLevel(logging.INFO)
_via = "cli"


def mask_phone(phone: str | None) -> str | None:
    """``+447700900123`` → ``+44•••••123``: enough to tell accounts apart, not to dial."""
    if not phone:
        return phone
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return HIDDEN
    return f"+{digits[:2]}•••••{digits[-3:]}"


def hide_credentials(text: str) -> str:
    """``socks5://me:pw@host`` → ``socks5://me:•••@host`` (proxy errors may quote their URL)."""
    return _URL_CREDENTIALS.sub(rf"\1:{HIDDEN}@", text)


def id_list(ids: Sequence[int]) -> dict[str, Any]:
    """``entry_ids`` for a line: every id up to ``MAX_IDS``, then only the count says how many."""
    fields: dict[str, Any] = {"entry_ids": list(ids[:MAX_IDS])}
    if len(ids) > MAX_IDS:
        fields["entry_ids_truncated"] = True
    return fields


class AuditFileHandler(RotatingFileHandler):
    """A rotated file of mode 0600 whose write errors drop the line with one warning."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True)
        self._error: BaseException | None = None
        self._warned = False
        self.setFormatter(JsonLineFormatter())

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)  # also a file left wider by an older version or by hand
        except OSError:
            pass
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        self._error = None
        super().emit(record)  # calls handleError on any failure instead of raising
        if self._error is None:
            self._warned = False  # writing works again: a new failure is worth a new warning

    def handleError(self, record: logging.LogRecord) -> None:
        """Never the stderr traceback logging prints by default: one warning in the normal log."""
        self._error = sys.exc_info()[1] or RuntimeError("unknown error")
        stream, self.stream = self.stream, None  # reopened on the next line; unwritten bytes dropped
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        if not self._warned:
            self._warned = True
            log.warning(
                "audit log %s: a line could not be written and was dropped (%s); "
                "later lines are dropped silently until writing works again",
                self.baseFilename,
                _words(self._error),
            )


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = {"time": time.replace("+00:00", "Z"), **getattr(record, "audit", {})}
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_audit(
    paths: Paths, *, via: str, enabled: bool = True, max_bytes: int = MAX_BYTES, backups: int = BACKUPS
) -> Path | None:
    """Send audit lines to the data dir's audit file (``via`` tells the CLI from the TUI).

    Replaces any earlier set-up; ``enabled=False`` turns recording off. Returns the file, or None.
    """
    global _via
    close_audit()
    _via = via
    if not enabled:
        return None
    path = paths.audit_file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.warning("audit log %s cannot be created (%s); nothing will be recorded", path, _words(error))
        return None
    _logger.addHandler(AuditFileHandler(path, max_bytes=max_bytes, backups=backups))
    return path


def close_audit() -> None:
    for handler in list(_logger.handlers):
        _logger.removeHandler(handler)
        handler.close()


def enabled() -> bool:
    return bool(_logger.handlers)


def record(action: str, outcome: str = "ok", reason: str | None = None, **fields: Any) -> None:
    """Write one line; never raises (a line that cannot be built or written is dropped)."""
    if not _logger.handlers:
        return
    try:
        line: dict[str, Any] = {"action": action, "outcome": outcome}
        if reason is not None or outcome != "ok":
            line["reason"] = scrub(hide_credentials(reason or "no reason given"))
        line |= {"via": _via, "pid": os.getpid()}
        for name, value in fields.items():
            line[name] = _safe(name, value)
        _logger.info(action, extra={"audit": line})
    except Exception as error:  # an audit line must never break what it records
        log.warning("audit line for %r dropped: %s", action, _words(error))


@contextmanager
def recorded(
    action: str, *, enabled: bool = True, refused: tuple[type[BaseException], ...] = (), **fields: Any
) -> Iterator[dict[str, Any]]:
    """One line for the block: "ok" when it ends, "refused"/"failed" with the reason when it raises.

    Yields the line's fields so the block can add what it learns (an old value, a count).
    """
    line = dict(fields)
    if not enabled:
        yield line
        return
    try:
        yield line
    except refused as error:
        record(action, "refused", _words(error), **line)
        raise
    except BaseException as error:
        record(action, "failed", _words(error), **line)
        raise
    record(action, **line)


def _safe(name: str, value: Any) -> Any:
    lowered = name.lower()
    if lowered in SECRET_FIELDS or "password" in lowered or "api_hash" in lowered:
        return HIDDEN
    if lowered == "phone" or lowered.endswith("_phone"):
        return mask_phone(str(value)) if value else value
    if isinstance(value, str):
        return scrub(hide_credentials(value))
    if isinstance(value, Path):
        return str(value)
    return value


def _words(error: BaseException) -> str:
    from asyncio import CancelledError

    if isinstance(error, CancelledError):
        return "interrupted"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}" + (f": {error.filename}" if error.filename else "")
    return str(error) or type(error).__name__
