"""Cleaning text that comes from Telegram or from files before it reaches the screen or the store."""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls, DEL, and the bidi embedding/override/isolate marks that can reorder a line
# on screen ("\u202egnp.mp3" shows as "mp3.png").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")


def clean_text(value: str | None, *, max_length: int = 1024) -> str | None:
    """NFC, no control or bidi-override characters, whitespace collapsed, at most ``max_length``."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value)
    text = _UNSAFE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text or None
