"""Cleaning text that comes from Telegram or from files before it reaches the screen or the store.

One rule for every path (the library, file names, tags written into files, the terminal):

- terminal escape sequences are dropped whole (``"\\x1b[31mRed\\x1b[0m"`` → ``"Red"``): CSI (ESC [)
  and the string kinds OSC, DCS, SOS, PM, APC (ESC ] P X ^ _) up to their terminator;
- every other control character (Unicode category Cc, C0 and C1, NUL, DEL) and the line and paragraph
  separators (Zl, Zp) become a space;
- format characters (category Cf) are removed, none kept: bidi embeddings, overrides and isolates
  (``"\\u202egnp.mp3"`` would show as "mp3.png"), LRM/RLM/ALM, zero-width spaces and joiners (ZWJ in an
  emoji sequence too: the emoji then show one by one), soft hyphens, the BOM, tag characters;
- lone surrogates (Cs, which cannot be encoded to UTF-8 for SQLite or a file name) become U+FFFD.

``clean_text`` then normalizes to NFC, collapses whitespace and caps the length; the result is stable
(cleaning it again changes nothing). ``printable`` applies only the character rule, for drawing text
that is already stored (a table cell, an error message) without changing its spacing.
"""

from __future__ import annotations

import re
import unicodedata

# Caps on what is stored, in characters. 1,024 is far above any real title, performer or file name
# (Telegram's own limits are lower) yet keeps a hostile 10,000-character tag out of table cells, the
# search index and file-name rendering; group titles get Telegram's 255.
TEXT_MAX = 1024
GROUP_TITLE_MAX = 255
TOPIC_TITLE_MAX = 255  # the store's column; Telegram's topic titles are at most 128
USERNAME_MAX = 64  # the store's column; Telegram usernames are at most 32
MIME_TYPE_MAX = 128
CAPTION_MAX = 4096

# Only the 7-bit forms: the C1 ones (0x9B…) are also cp1252 letters in tags mis-decoded as Latin-1
# ("\x9e" is "ž" there), so they just become spaces like any other control character.
_ESCAPE_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, "clear screen"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC up to BEL or ST
)
_SPACES = re.compile(r"\s+")
_AS_SPACE = frozenset(("Cc", "Zl", "Zp"))


def printable(value: str | None) -> str:
    """``value`` safe to write to a terminal: no escape sequences, controls, format characters or
    surrogates (see the module doc); everything else, spacing included, unchanged."""
    if not value:
        return ""
    if value.isprintable():  # the common case, checked in C: only Cc, Cf, Cs, Z* (not " "), Co, Cn fail
        return value
    text = _ESCAPE_SEQUENCES.sub("", value)
    kept = []
    for ch in text:
        if ch.isprintable():
            kept.append(ch)
            continue
        category = unicodedata.category(ch)
        if category in _AS_SPACE:
            kept.append(" ")
        elif category == "Cs":
            kept.append("\ufffd")
        elif category != "Cf":
            kept.append(ch)  # no-break and other spaces, private use, unassigned: harmless
    return "".join(kept)


def clean_text(value: str | None, *, max_length: int = TEXT_MAX) -> str | None:
    """``printable``, then NFC, whitespace collapsed and trimmed, at most ``max_length`` characters
    (cut ones end in "…"); None for None or for text that cleans to nothing."""
    if value is None:
        return None
    if (  # already clean: skip the work (scanning calls this for every field of every message)
        len(value) <= max_length
        and value.isprintable()
        and "  " not in value
        and value[:1] != " "
        and value[-1:] != " "
        and unicodedata.is_normalized("NFC", value)
    ):
        return value or None
    text = unicodedata.normalize("NFC", printable(value))
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text or None


def escape_unsafe(value: str) -> str:
    """``value`` with every character ``printable`` would drop or change written as an escape
    (``\\x1b``, ``\\u202e``): for messages that quote what the user typed, on one line."""
    if value.isprintable():
        return value
    return "".join(
        ch if ch.isprintable() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
        else ascii(ch)[1:-1]
        for ch in value
    )


def track_name(title: str | None, performer: str | None, file_name: str | None, file_id: str) -> str:
    """What a person calls a track, in every list and on the command line: "title – performer" (the
    title first, so a narrow column keeps it), else the title, the file name or the file id."""
    if performer and title:
        return f"{title} – {performer}"
    return title or file_name or file_id
