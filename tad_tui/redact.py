"""Secrets that must never be written anywhere: each is replaced by "****" in the log and audit files.

What a library logs is not ours to word: Apprise and urllib3 can write a request's URL (a
webhook's token in its path) or the payload. So the secrets of the configured notification URLs
are remembered here (``remember``), and a filter on the log file's handler (``ScrubFilter``)
replaces them in every line, whoever logged it; the audit log passes its text through ``scrub``.
Fragments shorter than ``MIN_LENGTH`` are not remembered: replacing "pw" in every line would
garble the log without protecting much.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

MIN_LENGTH = 4
HIDDEN = "****"

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # longest first, so a secret inside another goes with it


def remember(fragments: Iterable[str]) -> None:
    """Add secrets to hide from now on (the short ones are left out)."""
    global _secrets
    with _lock:
        known = set(_secrets) | {fragment for fragment in fragments if len(fragment) >= MIN_LENGTH}
        _secrets = tuple(sorted(known, key=len, reverse=True))


def scrub(text: str) -> str:
    """``text`` with every remembered secret replaced by ``HIDDEN``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return text


class ScrubFilter(logging.Filter):
    """For a handler: each record's message (and traceback) with the secrets replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
