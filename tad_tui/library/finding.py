"""Finding a group by what a person types: ``@username``, ``username``, a ``t.me`` link, a numeric
id (bare or Telethon's marked -100…), or its title in any case and accent form.

Titles are folded as the search folds them (``library.fold.fold``). Tiers are tried in order and
the first with a match decides: the id, the username, the whole title, a prefix of the title, then
every typed word starting a word of the title. One match is the group; more than one is an
:class:`AmbiguousGroup` naming them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tad_tui.library.links import LinkError, chat_key
from tad_tui.library.fold import fold

T = TypeVar("T")
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,31}")
_CHANNEL_MARK = 10**12  # Telethon marks a channel id as -(10**12 + id), a small group's as -id
SHOWN = 6  # groups named in an ambiguity


class GroupNotFound(LookupError):
    """No group matches, in words."""


class AmbiguousGroup(LookupError):
    """More than one group matches, in words (their titles)."""


@dataclass(frozen=True)
class GroupKey:
    """What was typed, read: an id, a username, a title, or a bare word that is a username or a title."""

    text: str
    group_id: int | None = None
    username: str | None = None  # without '@'
    title: str | None = None  # folded; None when only a username or an id can match

    @property
    def strict_username(self) -> bool:
        """@name or a link: only a username matches, never a title."""
        return self.username is not None and self.title is None


def read_key(text: str) -> GroupKey:
    """``text`` read as a group key; LinkError for a link that names no chat, GroupNotFound for nothing."""
    key = text.strip()
    if not key:
        raise GroupNotFound("no group given: give an @username, a t.me link, a numeric id or the title")
    linked = chat_key(key)  # LinkError for a bad link
    if linked is not None:
        key = linked
        if key.startswith("-"):
            return GroupKey(text, group_id=int(key))
    if key.lstrip("-").isdigit() and key.count("-") <= 1:
        return GroupKey(text, group_id=int(key))
    if key.startswith("@"):
        name = key[1:]
        if not _USERNAME.fullmatch(name):
            raise GroupNotFound(f"{key!r} is not a Telegram username")
        return GroupKey(text, username=name)
    folded = fold(key)
    if _USERNAME.fullmatch(key):
        return GroupKey(text, username=key, title=folded)
    return GroupKey(text, title=folded)


def bare_id(group_id: int) -> int:
    """Telethon's marked id without its mark: a channel's -100123 → 123, a small group's -45 → 45."""
    if group_id <= -_CHANNEL_MARK:
        return -group_id - _CHANNEL_MARK
    return abs(group_id)


def find(
    groups: Sequence[T],
    key: GroupKey,
    *,
    group_id: Callable[[T], int],
    title: Callable[[T], str],
    username: Callable[[T], str | None],
    loose: bool = True,
) -> T | None:
    """The group ``key`` names among ``groups``: None when none matches, AmbiguousGroup for more
    than one in the first tier that matches. ``loose=False`` stops before the prefix and word tiers
    (for a list that may lack a group the whole title names)."""
    checks: list[Callable[[T], bool]] = []
    if key.group_id is not None:
        wanted = key.group_id
        checks.append(lambda g: wanted in (group_id(g), bare_id(group_id(g))))
    if key.username is not None:
        name = key.username.casefold()
        checks.append(lambda g: (username(g) or "").casefold() == name)
    if key.title is not None:
        typed = key.title
        words = typed.split()
        checks.append(lambda g: fold(title(g)) == typed)
        if loose:
            checks.append(lambda g: bool(typed) and fold(title(g)).startswith(typed))
            checks.append(lambda g: bool(words) and all(_starts_a_word(w, fold(title(g)).split()) for w in words))
    for check in checks:
        found = [g for g in groups if check(g)]
        if len(found) == 1:
            return found[0]
        if found:
            raise AmbiguousGroup(_ambiguity(key.text, [(title(g), username(g)) for g in found]))
    return None


def not_found(key: GroupKey) -> GroupNotFound:
    """The refusal for a key nothing matched, saying what was looked for."""
    if key.group_id is not None:
        return GroupNotFound(f"no group or channel of yours has the id {key.group_id}")
    if key.strict_username:
        return GroupNotFound(f"no group or channel is called @{key.username}")
    return GroupNotFound(
        f"no group or channel matches {key.text.strip()!r}: use its @username, a t.me link, its numeric id "
        "or the start of its title"
    )


def _starts_a_word(word: str, title_words: list[str]) -> bool:
    return any(candidate.startswith(word) for candidate in title_words)


def _ambiguity(text: str, found: list[tuple[str, str | None]]) -> str:
    names = [f"{name} (@{user})" if user else name for name, user in found]
    shown = "; ".join(names[:SHOWN]) + (f"; and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    return f"{text.strip()!r} matches {len(names)} groups: {shown}; give more of the title or the @username"


__all__ = ["AmbiguousGroup", "GroupKey", "GroupNotFound", "LinkError", "bare_id", "find", "not_found", "read_key"]
