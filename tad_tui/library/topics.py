"""Finding a forum group's topic by what a person types: its id, or its title in any case and accent
form (a unique prefix is enough), as groups are found (``library.finding``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from tad_tui.library.fold import fold

SHOWN = 8  # topics named when one is not found or is ambiguous


class TopicError(LookupError):
    """No topic, or more than one, matches; or the group has none: in words."""


class _Topic(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...


T = TypeVar("T", bound=_Topic)


def find_topic(topics: Sequence[T], text: str, group_title: str) -> T:
    """The topic ``text`` names among a forum group's ``topics``: its id, its whole title, a prefix of
    it, or every typed word starting a word of it (the first tier with a match decides)."""
    typed = text.strip()
    if typed.isdigit():
        found = [t for t in topics if t.id == int(typed)]
        if found:
            return found[0]
        raise TopicError(f"{group_title} has no topic {typed}: {_listed(topics)}")
    folded = fold(typed)
    words = folded.split()
    tiers = (
        lambda t: fold(t.title) == folded,
        lambda t: bool(folded) and fold(t.title).startswith(folded),
        lambda t: bool(words) and all(any(w.startswith(word) for w in fold(t.title).split()) for word in words),
    )
    for matches in tiers:
        found = [t for t in topics if matches(t)]
        if len(found) == 1:
            return found[0]
        if found:
            raise TopicError(
                f"{typed!r} matches {len(found)} topics of {group_title}: {_names(found)}; give more of the title or its id"
            )
    raise TopicError(f"{group_title} has no topic matching {typed!r}: {_listed(topics)}")


def _listed(topics: Sequence[_Topic]) -> str:
    return "its topics are " + _names(topics) if topics else "it has no topics"


def _names(topics: Sequence[_Topic]) -> str:
    """"2 Jazz Standards; 3 Field Recordings" (by id, the first SHOWN of them)."""
    names = [f"{t.id} {t.title}" for t in sorted(topics, key=lambda t: t.id)]
    more = f"; and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return "; ".join(names[:SHOWN]) + more
