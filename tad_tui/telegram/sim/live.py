"""``@tad_demo_live``: a simulated channel that posts a new audio track every ``interval`` seconds.

Post ``k`` (0, 1, 2, …) appears at ``origin + k * interval`` of wall-clock time; its message id is
``k + 1`` and so is the channel's pts after it. Everything else about it (title, performer, duration,
document id, the audio bytes and their MD5) derives from ``k`` alone through a seeded generator, so
two servers, or one restarted later, agree on what was posted and when. A track's audio (a few
seconds of MP3, tens of KB) is rendered when it is first needed, into the channel's directory.

The times of posts live in :class:`Schedule`: segments of (first post, origin, interval). The demo
keeps it in its server state file, so the history does not restart with each run; a changed
interval or a long time with nothing running starts a new segment instead of rewriting the past
(``resume``), so ids and pts only ever grow.
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tad_tui.telegram.sim.catalogue.model import DC_ID, AudioSource, DemoFile, DemoGroup, DemoMessage
from tad_tui.telegram.sim.media import MIME_TYPES, Encoding, Tone

LIVE_USERNAME = "tad_demo_live"
LIVE_TITLE = "TAD Demo · Live Radio"
LIVE_GROUP_ID = 1_000_000_005
LIVE_ACCESS_HASH = 0x11FE_0000_7AD0_0005
DEFAULT_INTERVAL = 20.0
INITIAL_POSTS = 3  # a new channel has this many posts already, the next one ``interval`` later
MAX_BACKLOG = 30  # posts made while nothing ran that a run still finds; older silence is off the air
TRACK_SECONDS = (3, 4, 5)
_SEED = "tad-demo-live"

_ADJECTIVES = ("Midnight", "Electric", "Quiet", "Golden", "Northern", "Velvet", "Paper", "Slow", "Neon", "Blue")
_NOUNS = ("Signal", "Harbour", "Orbit", "Garden", "Static", "Lantern", "Tide", "Circuit", "Meadow", "Echo")
_PERFORMERS = ("The Test Pattern", "Carrier Wave", "Night Shift Trio", "DJ Sine", "Ada & the Oscillators", "Helix")
_ROOTS_HZ = (110.0, 123.75, 132.0, 165.0, 198.0, 220.0)
_TRIADS = ((1.0, 5 / 4, 3 / 2), (4 / 3, 5 / 3, 2.0), (3 / 2, 15 / 8, 9 / 4), (1.0, 6 / 5, 3 / 2))


@dataclass(frozen=True)
class Segment:
    first: int  # the first post it times
    origin: float  # when that post appeared (Unix seconds)
    interval: float


class Schedule:
    """When each post appears: a sorted list of segments (post ``k`` belongs to the last segment
    whose ``first`` is at most ``k``)."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = sorted(segments, key=lambda s: s.first)
        if not segments or self.segments[0].first != 0 or any(s.interval <= 0 for s in segments):
            raise ValueError("a live schedule starts with post 0 and has intervals above 0")

    @classmethod
    def starting(cls, now: float, interval: float, *, initial: int = INITIAL_POSTS) -> Schedule:
        """A new channel: ``initial`` posts made already, the next one ``interval`` from ``now``."""
        return cls([Segment(0, now - (initial - 1) * interval, interval)])

    def time_of(self, k: int) -> float:
        segment = next(s for s in reversed(self.segments) if s.first <= k)
        return segment.origin + (k - segment.first) * segment.interval

    def count(self, now: float) -> int:
        """How many posts have appeared by ``now``."""
        last = self.segments[-1]
        if now >= last.origin:
            return last.first + math.floor((now - last.origin) / last.interval + 1e-9) + 1
        for before, after in zip(reversed(self.segments[:-1]), reversed(self.segments[1:]), strict=True):
            if now >= before.origin:
                return min(after.first, before.first + math.floor((now - before.origin) / before.interval + 1e-9) + 1)
        return 0

    def resume(self, now: float, interval: float, seen: int) -> Schedule:
        """The schedule for a run starting at ``now`` with ``interval``, when earlier runs saw ``seen``
        posts: unchanged, or a new segment after the posts already made (at most MAX_BACKLOG of them
        since ``seen``), the next one ``interval`` from now."""
        made = self.count(now)
        last = self.segments[-1]
        if last.interval == interval and made <= seen + MAX_BACKLOG:
            return self
        made = min(made, max(seen, last.first) + MAX_BACKLOG)
        kept = [s for s in self.segments if s.first < made]
        return Schedule([*kept, Segment(made, now + interval, interval)])

    def to_json(self) -> list[list[float]]:
        return [[s.first, s.origin, s.interval] for s in self.segments]

    @classmethod
    def from_json(cls, data: Any) -> Schedule:
        return cls([Segment(int(first), float(origin), float(interval)) for first, origin, interval in data])


@dataclass(frozen=True)
class LiveTrack:
    """What post ``k`` carries, before its audio is rendered."""

    k: int
    document_id: int
    access_hash: int
    title: str
    performer: str
    duration: int
    source: AudioSource

    @property
    def file_name(self) -> str:
        return f"live-{self.k + 1:05d}.mp3"


def live_track(k: int) -> LiveTrack:
    """Post ``k``'s track: the same ``k``, the same track, on any machine and in any run."""
    rng = random.Random(f"{_SEED}:{k}")
    document_id = (1 << 62) + rng.randrange(1 << 61)
    access_hash = rng.getrandbits(63) + 1
    title = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} No. {k + 1}"
    performer = rng.choice(_PERFORMERS)
    seconds = rng.choice(TRACK_SECONDS)
    root = rng.choice(_ROOTS_HZ)
    chords = tuple(tuple(root * ratio for ratio in rng.choice(_TRIADS)) for _ in range(4))
    tone = Tone(seconds=seconds, sample_rate=16000, channels=1, seed=rng.getrandbits(63), chords=chords,
                bar_seconds=rng.choice((0.5, 1.0)), noise=0.0003)
    tags = (("title", title), ("artist", performer), ("album", LIVE_TITLE), ("tracknumber", str(k + 1)))
    source = AudioSource(tone, Encoding("mp3"), tags, ogg_serial=zlib.crc32(str(document_id).encode()))
    return LiveTrack(k, document_id, access_hash, title, performer, seconds, source)


class LiveChannel:
    """The channel's posts as of a clock: which exist, and each one's message and (rendered) file.

    ``directory`` holds the rendered tracks (``<document id>.mp3``; the same for every run, so it
    may be shared). ``clock`` gives Unix seconds (tests pass their own).
    """

    def __init__(self, directory: Path, schedule: Schedule, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.schedule = schedule
        self.clock = clock
        self._files: dict[int, DemoFile] = {}  # k -> rendered file
        self.group = DemoGroup(
            id=LIVE_GROUP_ID,
            access_hash=LIVE_ACCESS_HASH,
            title=LIVE_TITLE,
            username=LIVE_USERNAME,
            megagroup=False,
            about="A new track every few seconds (the simulated Telegram's live channel).",
            messages=(),
        )

    @classmethod
    def every(cls, directory: Path, interval: float, *, clock: Callable[[], float] = time.time,
              initial: int = INITIAL_POSTS) -> LiveChannel:
        """A channel that starts now with ``initial`` posts and posts every ``interval`` seconds."""
        return cls(directory, Schedule.starting(clock(), interval, initial=initial), clock=clock)

    def count(self, now: float | None = None) -> int:
        return self.schedule.count(self.clock() if now is None else now)

    def time_of(self, k: int) -> float:
        return self.schedule.time_of(k)

    def rendered(self, k: int) -> DemoFile | None:
        return self._files.get(k)

    def render(self, k: int) -> DemoFile:
        """Post ``k``'s file, rendered now if no run has rendered it before (blocking: call it off the loop)."""
        known = self._files.get(k)
        if known is not None:
            return known
        track = live_track(k)
        path = self.directory / f"{track.document_id}.mp3"
        if not path.exists():
            from tad_tui.telegram.sim.catalogue.render import render_file  # numpy and libsndfile: rendering only
            from tad_tui.telegram.sim.catalogue.model import FilePlan

            self.directory.mkdir(parents=True, exist_ok=True)
            render_file(self.directory, FilePlan(
                document_id=track.document_id, access_hash=track.access_hash, relpath=path.name,
                mime_type=MIME_TYPES["mp3"], file_name=track.file_name, title=track.title,
                performer=track.performer, duration=track.duration, has_audio_attribute=True, source=track.source,
            ))
        from tad_tui.telegram.sim.media import md5_of_file

        file = DemoFile(
            document_id=track.document_id, access_hash=track.access_hash, path=path, size=path.stat().st_size,
            md5=md5_of_file(path), mime_type=MIME_TYPES["mp3"], file_name=track.file_name, title=track.title,
            performer=track.performer, duration=track.duration, dc_id=DC_ID, tags=track.source.tags,
        )
        self._files[k] = file
        return file

    def message(self, k: int) -> DemoMessage:
        """Post ``k`` (its file must be rendered)."""
        file = self._files[k]
        date = datetime.fromtimestamp(math.floor(self.time_of(k)), UTC)
        return DemoMessage(id=k + 1, date=date, text=f"Now playing: {file.performer} – {file.title}", file=file)
