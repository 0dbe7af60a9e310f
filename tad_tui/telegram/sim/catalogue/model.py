"""The demo catalogue's data: what the simulated server serves (``Catalogue``) and what a render
makes of it (``CataloguePlan``), with the seeded ids both are built from."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tad_tui.telegram.sim.media import Encoding, Tags, Tone

if TYPE_CHECKING:
    from tad_tui.telegram.sim.catalogue.generation import CatalogueRender

CATALOGUE_VERSION = 4
MANIFEST_NAME = "manifest.json"
DEMO_PLAN_NAME = "demo"
DC_ID = 2


# ---- what the server sees ---------------------------------------------------------------------


@dataclass(frozen=True)
class DemoFile:
    document_id: int  # Telegram document id (int64, positive); the same file posted twice shares it
    access_hash: int  # int64
    path: Path  # where the bytes live on disk (inside the catalogue dir)
    size: int  # exact byte size of the file at `path`
    md5: str  # hex md5 of the bytes
    mime_type: str  # e.g. audio/mpeg, audio/flac, audio/ogg
    file_name: str | None  # DocumentAttributeFilename value; None = no filename attribute
    title: str | None  # DocumentAttributeAudio.title (None = no title in the audio attribute)
    performer: str | None  # DocumentAttributeAudio.performer
    duration: int  # seconds, as the audio attribute reports it (0 without an audio attribute)
    has_audio_attribute: bool = True  # False = "audio sent as a plain file": only mime + filename
    dc_id: int = DC_ID
    tags: Tags = ()  # the tags written inside the file ((key, value) pairs); () = an untagged file
    cover: str | None = None  # the album its thumbnail is drawn for (sim.cover); None = no thumbnail


@dataclass(frozen=True)
class DemoMessage:
    id: int  # message id, increasing with date within a group, starting at 1
    date: datetime  # tz-aware UTC
    text: str  # caption / message text
    file: DemoFile | None  # None = a text-only message
    # In a forum group: the topic the message is in (1 = General, whose messages carry no reply
    # header); 0 outside a forum. A topic's id is the id of the service message that created it.
    topic: int = 0
    reply_to: int = 0  # the message this one replies to (0: none)
    created_topic: str | None = None  # a service message creating the topic of this title (its id)


@dataclass(frozen=True)
class DemoTopic:
    id: int  # the id of the message that created it; 1 = General, which no message creates
    title: str
    icon_color: int


GENERAL_TOPIC = 1
GENERAL_TITLE = "General"
GENERAL_COLOR = 0x6FB9F0


@dataclass(frozen=True)
class DemoGroup:
    id: int  # bare channel id (positive, e.g. 1_000_000_001)
    access_hash: int
    title: str
    username: str  # without '@'; "" for a private channel (reached by its t.me/c/ link only)
    megagroup: bool  # True = a supergroup, False = a broadcast channel
    about: str
    messages: tuple[DemoMessage, ...]  # ids increase; a deleted message leaves a gap
    forum: bool = False  # a forum supergroup: its messages are in topics

    @property
    def topics(self) -> tuple[DemoTopic, ...]:
        """A forum's topics, General first, then in order of creation; () outside a forum."""
        if not self.forum:
            return ()
        created = tuple(DemoTopic(m.id, m.created_topic, _TOPIC_COLORS[m.id % len(_TOPIC_COLORS)])
                        for m in self.messages if m.created_topic is not None)
        return (DemoTopic(GENERAL_TOPIC, GENERAL_TITLE, GENERAL_COLOR), *created)


# The colours Telegram allows for a topic's icon.
_TOPIC_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)


@dataclass(frozen=True)
class Catalogue:
    root: Path
    groups: tuple[DemoGroup, ...]
    # Set while the files render (open_catalogue): documents then change as they land.
    rendering: CatalogueRender | None = field(default=None, repr=False, compare=False)
    _by_username: dict[str, DemoGroup] = field(init=False, repr=False, compare=False)
    _by_id: dict[int, DemoGroup] = field(init=False, repr=False, compare=False)
    _documents: dict[int, DemoFile] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen, so the lookup indexes are set once through object.__setattr__.
        object.__setattr__(self, "_by_username", {g.username.casefold(): g for g in self.groups if g.username})
        object.__setattr__(self, "_by_id", {g.id: g for g in self.groups})
        documents = {m.file.document_id: m.file for g in self.groups for m in g.messages if m.file is not None}
        object.__setattr__(self, "_documents", documents)

    def group(self, key: str | int) -> DemoGroup:
        """By username (with or without '@', any case), bare id, or Telethon's marked id (-100...)."""
        if isinstance(key, str):
            return self._by_username[key.removeprefix("@").casefold()]
        if key < 0 and str(key).startswith("-100"):
            key = int(str(key)[4:])
        return self._by_id[key]

    def document(self, document_id: int) -> DemoFile:
        return self._documents[document_id]

    def current(self, file: DemoFile) -> DemoFile:
        """``file`` as it is now: while the catalogue renders, a message's file reads size 0 until it lands."""
        return self._documents.get(file.document_id, file)

    @property
    def files(self) -> tuple[DemoFile, ...]:
        """Every distinct file, a file posted in two groups once."""
        return tuple(self._documents.values())


# ---- what to generate -------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioSource:
    tone: Tone
    encoding: Encoding
    tags: Tags
    ogg_serial: int


@dataclass(frozen=True)
class PdfSource:
    text: str


FileSource = AudioSource | PdfSource


@dataclass(frozen=True)
class FilePlan:
    document_id: int
    access_hash: int
    relpath: str  # POSIX path inside the catalogue dir
    mime_type: str
    file_name: str | None
    title: str | None
    performer: str | None
    duration: int
    has_audio_attribute: bool
    source: FileSource
    cover: str | None = None  # see DemoFile

    @property
    def tags(self) -> Tags:
        return self.source.tags if isinstance(self.source, AudioSource) else ()


@dataclass(frozen=True)
class MessagePlan:
    date: datetime
    text: str
    file: FilePlan | None
    topic: int = 0  # see DemoMessage
    reply_to: int = 0
    created_topic: str | None = None


@dataclass(frozen=True)
class GroupPlan:
    id: int
    access_hash: int
    title: str
    username: str  # "" for a private channel
    megagroup: bool
    about: str
    messages: tuple[MessagePlan, ...]  # in date order; message ids are positions + 1
    deleted: tuple[int, ...] = ()  # ids of messages deleted since: gone from the chat, their ids not reused
    forum: bool = False  # a forum supergroup (its messages say their topic)

    def kept(self) -> list[tuple[int, MessagePlan]]:
        """The messages still in the chat, with their ids."""
        return [(number, m) for number, m in enumerate(self.messages, start=1) if number not in self.deleted]


@dataclass(frozen=True)
class CataloguePlan:
    name: str  # stored in the manifest, so a catalogue of another plan is never mistaken for this one
    groups: tuple[GroupPlan, ...]

    def files(self) -> list[FilePlan]:
        """Every distinct file in order of first appearance."""
        seen: dict[int, FilePlan] = {}
        for group in self.groups:
            for _, message in group.kept():
                if message.file is not None:
                    seen.setdefault(message.file.document_id, message.file)
        return list(seen.values())

    def only(self, *usernames: str) -> CataloguePlan:
        """The plan restricted to these groups (for tests that need a quick, real catalogue)."""
        groups = tuple(g for g in self.groups if g.username in usernames)
        return CataloguePlan(f"{self.name}[{','.join(g.username for g in groups)}]", groups)


class Ids:
    """Unique positive document ids and nonzero signed access hashes from one seeded stream."""

    def __init__(self, seed: str, taken: set[int]) -> None:
        self._rng = random.Random(seed)
        self._taken = taken  # shared across groups so ids stay unique catalogue-wide

    def document_id(self) -> int:
        while (value := self._rng.randrange(1 << 60, 1 << 63)) in self._taken:
            pass
        self._taken.add(value)
        return value

    def access_hash(self) -> int:
        while (value := self._rng.getrandbits(64) - (1 << 63)) == 0:
            pass
        return value
