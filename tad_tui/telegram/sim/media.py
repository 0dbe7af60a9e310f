"""What the demo catalogue's audio is made of, without the synthesis (numpy, libsndfile).

Reading an existing catalogue needs only these; ``audio`` imports numpy and soundfile, which only
generating one does (kept out of the app's start-up).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

AudioFormat = Literal["mp3", "flac", "ogg"]

MIME_TYPES: dict[AudioFormat, str] = {"mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg"}

Tags = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Tone:
    """A plucked chord progression (one chord per bar, cycled) over a bed of uniform hiss."""

    seconds: float
    sample_rate: int
    channels: int
    seed: int
    chords: tuple[tuple[float, ...], ...]  # frequencies in Hz; every chord has the same voice count
    bar_seconds: float = 1.0
    level: float = 0.12  # peak amplitude of the chord, kept quiet on purpose
    noise: float = 0.0005  # amplitude of the hiss; raise it to make FLAC incompressible

    @property
    def frames(self) -> int:
        return round(self.seconds * self.sample_rate)


@dataclass(frozen=True)
class Encoding:
    """Container/codec settings; ``compression_level`` and ``bitrate_mode`` are soundfile's."""

    format: AudioFormat
    flac_bits: int = 16  # 16 or 24, FLAC only
    compression_level: float | None = None
    bitrate_mode: Literal["CONSTANT", "AVERAGE", "VARIABLE"] | None = None


def md5_of_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
