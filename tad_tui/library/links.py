"""Telegram message links as people paste them, read into what to fetch.

The forms (``https://`` may be left out; ``telegram.me`` and ``telegram.dog`` are the same host):

- ``https://t.me/USERNAME/ID``, a public group's or channel's message;
- ``https://t.me/USERNAME/TOPIC/ID``, a message in a forum topic (the topic is kept, the message is
  what is fetched);
- ``https://t.me/c/CHANNEL_ID/ID`` and ``https://t.me/c/CHANNEL_ID/TOPIC/ID``, a private one (the
  account must be a member);
- ``tg://resolve?domain=USERNAME&post=ID`` and ``tg://privatepost?channel=CHANNEL_ID&post=ID``
  (``&thread=TOPIC`` optional), what Telegram's apps hand to each other;
- ``https://t.me/USERNAME/100-250``: every message from 100 to 250 (in any of the forms above).

A link's query (``?single``, ``?comment=…``) is ignored. :func:`parse_link` raises
:class:`LinkError` in one line for anything else; :func:`chat_key` reads the chat of a link with or
without a message, for finding groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HOSTS = ("t.me", "telegram.me", "telegram.dog")
# Public usernames: a letter, then letters, digits and underscores, 4-32 in all (older and
# collectible names can be shorter than the 5 Telegram asks of new ones).
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,31}")
_NUMBER = re.compile(r"[0-9]{1,19}")
MAX_MESSAGE_ID = 2**31 - 1  # message ids are int32 in Telegram's API
# t.me paths that are not chats.
_NOT_CHATS = frozenset(
    {"joinchat", "addstickers", "addemoji", "addlist", "addtheme", "share", "proxy", "socks", "login", "invoice",
     "setlanguage", "confirmphone", "bg", "iv", "boost", "contact", "m", "giftcode"}
)


class LinkError(ValueError):
    """A link that is not a message link, in one line."""


@dataclass(frozen=True)
class MessageLink:
    """One link: a message (``first_id == last_id``) or a range of messages of one chat."""

    text: str  # as given
    username: str | None  # a public chat's username (without '@')
    channel_id: int | None  # a private chat's bare channel id (t.me/c/…)
    first_id: int
    last_id: int
    topic_id: int | None = None

    @property
    def chat(self) -> str:
        """How the engine finds the chat: ``@username``, or the channel's marked id (-100…)."""
        return f"@{self.username}" if self.username else f"-100{self.channel_id}"

    @property
    def chat_name(self) -> str:
        return f"@{self.username}" if self.username else f"private channel {self.channel_id}"

    @property
    def is_range(self) -> bool:
        return self.last_id != self.first_id

    def describe(self) -> str:
        """``message 3 of @tad_demo_mixes``, ``messages 100-250 of private channel 1234``."""
        if self.is_range:
            return f"messages {self.first_id}-{self.last_id} of {self.chat_name}"
        return f"message {self.first_id} of {self.chat_name}"


def looks_like_link(text: str) -> bool:
    """Whether ``text`` is meant as a Telegram link (a bad one included), not a group's name."""
    lowered = text.strip().lower()
    if lowered.startswith("tg:") or re.match(r"[a-z][a-z0-9+.-]*://", lowered):  # any URL: a t.me one or a bad one
        return True
    lowered = lowered.removeprefix("https://").removeprefix("http://").removeprefix("www.")
    return any(lowered.startswith(host + "/") or lowered == host for host in HOSTS)


def parse_link(text: str) -> MessageLink:
    """A message link (or range) in any of the module's forms; LinkError in one line otherwise."""
    link = text.strip()
    if not link:
        raise LinkError("an empty link")
    if link.lower().startswith("tg:"):
        return _parse_tg(text, link)
    chat, rest = _split_web(link)
    if not rest:
        raise LinkError(f"{_show(text)} links to a chat, not to a message: add the message's number (…/{chat}/123)")
    if len(rest) > 2:
        raise LinkError(f"{_show(text)} has too many parts after the chat: use …/ID or …/TOPIC/ID")
    topic = _message_id(rest[0], text, "topic") if len(rest) == 2 else None
    first, last = _message_ids(rest[-1], text)
    return _link(text, chat, first, last, topic)


def chat_key(text: str) -> str | None:
    """The chat a link names, as ``@username`` or a marked id (-100…), with or without a message;
    None when ``text`` is not a link at all. LinkError for a link that names no chat."""
    if not looks_like_link(text):
        return None
    link = text.strip()
    if link.lower().startswith("tg:"):
        return parse_link(link).chat
    chat, _ = _split_web(link)
    return f"-100{chat[2:]}" if chat.startswith("c/") else f"@{chat}"


def is_chat_link(text: str) -> bool:
    """Whether ``text`` is a t.me link to a chat with no message (``https://t.me/USERNAME``,
    ``https://t.me/c/CHANNEL_ID``); LinkError for a link that names no chat."""
    if not looks_like_link(text) or text.strip().lower().startswith("tg:"):
        return False
    _, rest = _split_web(text.strip())
    return not rest


def split_links(text: str) -> list[str]:
    """The links of a pasted text: separated by spaces, commas or new lines."""
    return [piece for piece in re.split(r"[\s,]+", text) if piece]


def read_link_file(path: Path) -> list[MessageLink]:
    """One link per line (blank lines and ``#`` comments skipped); LinkError naming the file and
    line for a line that is not a link, or a file that cannot be read or holds none."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "not UTF-8 text"
        raise LinkError(f"cannot read the link file {path}: {reason}") from None
    links: list[MessageLink] = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            links.extend(parse_link(piece) for piece in split_links(line))
        except LinkError as error:
            raise LinkError(f"{path}, line {number}: {error}") from None
    if not links:
        raise LinkError(f"the link file {path} holds no links")
    return links


def parse_links(texts: Iterable[str]) -> list[MessageLink]:
    return [parse_link(piece) for text in texts for piece in split_links(text)]


# ---- the forms ----------------------------------------------------------------------------------


def _split_web(link: str) -> tuple[str, list[str]]:
    """``t.me/<chat>/<rest…>`` into the chat (``username`` or ``c/<id>``) and the parts after it."""
    scheme = re.match(r"^([a-z]+)://", link, flags=re.IGNORECASE)
    bare = link[scheme.end() :] if scheme else link
    if (scheme and scheme.group(1).lower() not in ("http", "https")) or not looks_like_link(link):
        raise LinkError(f"{_show(link)} is not a t.me link")
    parsed = urlsplit("https://" + bare)
    if (parsed.hostname or "").removeprefix("www.") not in HOSTS or parsed.port is not None:
        raise LinkError(f"{_show(link)} is not a t.me link")
    parts = [part for part in parsed.path.split("/") if part]
    if parts and parts[0] == "s":  # t.me/s/USERNAME/ID: the web preview of a channel
        parts = parts[1:]
    if not parts:
        raise LinkError(f"{_show(link)} names no chat")
    head = parts[0]
    if head.startswith("+") or head.lower() in _NOT_CHATS:
        raise LinkError(f"{_show(link)} is an invite or a Telegram page, not a message link")
    if head == "c":
        if len(parts) < 2 or not _NUMBER.fullmatch(parts[1]) or int(parts[1]) == 0:
            raise LinkError(f"{_show(link)}: a private link is t.me/c/CHANNEL_ID/MESSAGE_ID")
        return f"c/{int(parts[1])}", parts[2:]
    if not _USERNAME.fullmatch(head):
        raise LinkError(f"{_show(link)}: {_show(head)} is not a Telegram username")
    return head, parts[1:]


def _parse_tg(text: str, link: str) -> MessageLink:
    parsed = urlsplit(link)
    kind = (parsed.netloc or parsed.path.lstrip("/")).lower()
    query = parse_qs(parsed.query)

    def value(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    post, thread = value("post"), value("thread") or value("topic")
    if kind == "resolve":
        domain = value("domain")
        if not domain or not _USERNAME.fullmatch(domain):
            raise LinkError(f"{_show(text)}: tg://resolve needs domain=USERNAME")
        chat = domain
    elif kind == "privatepost":
        channel = value("channel")
        if not channel or not _NUMBER.fullmatch(channel) or int(channel) == 0:
            raise LinkError(f"{_show(text)}: tg://privatepost needs channel=CHANNEL_ID")
        chat = f"c/{int(channel)}"
    else:
        raise LinkError(f"{_show(text)}: only tg://resolve and tg://privatepost links name a message")
    if not post:
        raise LinkError(f"{_show(text)} names no message: add &post=ID")
    first, last = _message_ids(post, text)
    return _link(text, chat, first, last, _message_id(thread, text, "topic") if thread else None)


def _link(text: str, chat: str, first: int, last: int, topic: int | None) -> MessageLink:
    if chat.startswith("c/"):
        return MessageLink(text.strip(), None, int(chat[2:]), first, last, topic)
    return MessageLink(text.strip(), chat, None, first, last, topic)


def _message_ids(part: str, text: str) -> tuple[int, int]:
    low, dash, high = part.partition("-")
    first = _message_id(low, text, "message")
    last = _message_id(high, text, "message") if dash else first
    if last < first:
        raise LinkError(f"{_show(text)}: the range {part} ends before it starts")
    return first, last


def _message_id(part: str, text: str, what: str) -> int:
    if not _NUMBER.fullmatch(part) or not 1 <= int(part) <= MAX_MESSAGE_ID:
        raise LinkError(f"{_show(text)}: {_show(part)} is not a {what} number")
    return int(part)


def _show(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 80 else text[:79] + "…")
