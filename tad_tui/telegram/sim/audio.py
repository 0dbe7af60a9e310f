"""Deterministic synthesis, encoding and tagging of the demo catalogue's audio files.

The same ``Tone`` and ``Encoding`` give the same bytes on the same numpy/libsndfile/mutagen versions:
sines are read from a table filled by a polynomial (only +, * and abs, so no libm/SIMD ``sin``
whose last bit differs between CPUs) with integer phase accumulators, noise is uniform draws of a
seeded PCG64, and the Ogg stream serial number that libsndfile takes from the clock is overwritten
with a caller-chosen one. Lossy encoders (LAME, libvorbis) are only as deterministic as their build.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
from mutagen.flac import FLAC, VCFLACDict
from mutagen.id3 import ID3, TALB, TCOM, TCON, TDRC, TIT2, TPE1, TRCK
from mutagen.ogg import OggPage
from mutagen.oggvorbis import OggVCommentDict, OggVorbis

from tad_tui.telegram.sim.media import MIME_TYPES, AudioFormat, Encoding, Tags, Tone, md5_of_file

__all__ = ["MIME_TYPES", "AudioFormat", "Encoding", "Tags", "Tone", "md5_of_file", "encode", "render_audio"]

# Fixed so the noise stream, and hence every byte, never depends on anything but the Tone.
BLOCK_FRAMES = 1 << 16

# Files whose raw PCM exceeds this many samples are encoded straight to disk instead of in memory.
IN_MEMORY_MAX_SAMPLES = 4_000_000

_SOUNDFILE_FORMAT: dict[AudioFormat, tuple[str, str]] = {
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "ogg": ("OGG", "VORBIS"),
    "flac": ("FLAC", "PCM_16"),
}

_ID3_FRAMES = {
    "title": TIT2,
    "artist": TPE1,
    "album": TALB,
    "date": TDRC,
    "genre": TCON,
    "composer": TCOM,
    "tracknumber": TRCK,
}

def polynomial_sine(phase: np.ndarray) -> np.ndarray:
    """sin(2*pi*phase) for phase in [0, 1), within 0.1%, from a refined parabola."""
    y = 2.0 * phase - 1.0  # sin(2*pi*p) == -sin(pi*y)
    parabola = 4.0 * y * (1.0 - np.abs(y))
    return -(parabola + 0.225 * (parabola * np.abs(parabola) - parabola))


SINE_TABLE_BITS = 16
# A wavetable read with integer phase accumulators: exact integer arithmetic, and several times
# faster than evaluating the polynomial for every sample (the table's error is below -80 dB).
_SINE_TABLE = polynomial_sine(np.arange(1 << SINE_TABLE_BITS) / (1 << SINE_TABLE_BITS)).astype(np.float32)
_PHASE_BITS = 32


@dataclass(frozen=True)
class _Voicing:
    """Per-tone lookup tables, computed once and reused for every block."""

    phase_steps: np.ndarray  # (voices, chords) uint64: phase increment per frame, in 2**-32 cycles
    gains: np.ndarray  # (voices, channels) float32
    bar_envelope: np.ndarray  # (frames per bar,) float32: pluck attack and decay, times the level

    @classmethod
    def of(cls, tone: Tone) -> _Voicing:
        steps = [[round(chord[v] / tone.sample_rate * 2**_PHASE_BITS) for chord in tone.chords]
                 for v in range(len(tone.chords[0]))]
        voices = len(steps)
        pans = [0.25 + 0.5 * v / max(1, voices - 1) for v in range(voices)]
        if tone.channels == 1:
            gains = [[1.0 / voices] for _ in pans]
        else:
            gains = [[2.0 * pan / voices, 2.0 * (1.0 - pan) / voices] + [1.0 / voices] * (tone.channels - 2)
                     for pan in pans]
        bar_frames = max(1, round(tone.bar_seconds * tone.sample_rate))
        within_bar = np.arange(bar_frames) / bar_frames
        decay = 1.0 - within_bar
        envelope = np.where(within_bar < 0.02, within_bar * 50.0, decay * decay) * tone.level
        return cls(np.array(steps, dtype=np.uint64), np.array(gains, dtype=np.float32), envelope.astype(np.float32))


def synthesize_block(tone: Tone, voicing: _Voicing, start: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Frames ``start .. start+count`` of ``tone`` as float32, shape (count, channels)."""
    frame = np.arange(start, start + count, dtype=np.uint64)
    bar_frames = np.uint64(len(voicing.bar_envelope))
    chord = (frame // bar_frames) % np.uint64(voicing.phase_steps.shape[1])
    envelope = voicing.bar_envelope[frame % bar_frames]
    fade_frames = max(1, round(0.02 * tone.sample_rate))
    if start + count > tone.frames - fade_frames:
        # The file's last 20 ms fade out so a bar cut short does not end in a click.
        remaining = (tone.frames - np.arange(start, start + count)) / fade_frames
        envelope = envelope * np.minimum(1.0, remaining).astype(np.float32)

    out = np.zeros((count, tone.channels), dtype=np.float32)
    index_shift = np.uint64(_PHASE_BITS - SINE_TABLE_BITS)
    index_mask = np.uint64((1 << SINE_TABLE_BITS) - 1)
    for steps, gains in zip(voicing.phase_steps, voicing.gains, strict=True):
        table_index = ((frame * steps[chord]) >> index_shift) & index_mask
        voice = _SINE_TABLE[table_index] * envelope
        out += voice[:, None] * gains

    hiss = rng.random((count, tone.channels), dtype=np.float32) * np.float32(2.0) - np.float32(1.0)
    out += hiss * np.float32(tone.noise)
    return np.clip(out, -1.0, 1.0, out=out)


def synthesize(tone: Tone) -> Iterator[np.ndarray]:
    """The whole tone, block by block, so a long file never sits in memory at once."""
    rng = np.random.default_rng(tone.seed)
    voicing = _Voicing.of(tone)
    for start in range(0, tone.frames, BLOCK_FRAMES):
        yield synthesize_block(tone, voicing, start, min(BLOCK_FRAMES, tone.frames - start), rng)


def _to_pcm(block: np.ndarray, encoding: Encoding) -> np.ndarray:
    """Quantize ourselves for FLAC so the integer samples never depend on libsndfile's rounding."""
    if encoding.format != "flac":
        return block
    wide = block.astype(np.float64)  # float32 cannot hold 2**23 - 1 exactly
    if encoding.flac_bits == 24:
        # libsndfile keeps the top 24 bits of int32 input.
        return np.left_shift(np.rint(wide * 8_388_607.0).astype(np.int32), 8)
    return np.rint(wide * 32_767.0).astype(np.int16)


def encode(tone: Tone, encoding: Encoding, sink: BinaryIO) -> None:
    """Encode ``tone`` into the seekable binary ``sink`` (left open)."""
    container, subtype = _SOUNDFILE_FORMAT[encoding.format]
    if encoding.format == "flac" and encoding.flac_bits == 24:
        subtype = "PCM_24"
    with sf.SoundFile(
        sink,
        "w",
        samplerate=tone.sample_rate,
        channels=tone.channels,
        subtype=subtype,
        format=container,
        compression_level=encoding.compression_level,
        bitrate_mode=encoding.bitrate_mode,
    ) as out:
        for block in synthesize(tone):
            out.write(_to_pcm(block, encoding))


def restamp_ogg_serial(data: bytes, serial: int) -> bytes:
    """``data`` with every page's stream serial set to ``serial`` and its CRC recomputed."""
    source = io.BytesIO(data)
    pages: list[bytes] = []
    while source.tell() < len(data):
        page = OggPage(source)
        page.serial = serial
        pages.append(page.write())
    return b"".join(pages)


def _write_id3(sink: BinaryIO, tags: Sequence[tuple[str, str]]) -> None:
    id3 = ID3()
    for key, value in tags:
        id3.add(_ID3_FRAMES[key](encoding=3, text=[value]))
    sink.seek(0)
    id3.save(sink, v2_version=4)


def _write_vorbis_comments(sink: BinaryIO, audio_format: AudioFormat, tags: Sequence[tuple[str, str]]) -> None:
    sink.seek(0)
    audio = FLAC(sink) if audio_format == "flac" else OggVorbis(sink)
    sink.seek(0)
    if not tags and audio_format == "flac":
        audio.delete(sink)  # FLAC can drop the comment block entirely; Vorbis requires one
        return
    if audio.tags is None:
        audio.add_tags()
    comments = audio.tags
    if not isinstance(comments, VCFLACDict | OggVCommentDict):
        raise TypeError(f"unexpected tag container {type(comments).__name__}")
    comments.clear()  # libsndfile leaves an ENCODER comment behind
    for key, value in tags:
        comments[key.upper()] = [value]
    sink.seek(0)
    audio.save(sink)


def write_tags(sink: BinaryIO, audio_format: AudioFormat, tags: Sequence[tuple[str, str]]) -> None:
    """Write ``tags`` (keys from ``_ID3_FRAMES``) as ID3v2.4 or Vorbis comments; empty = untagged."""
    if audio_format == "mp3":
        if tags:
            _write_id3(sink, tags)
    else:
        _write_vorbis_comments(sink, audio_format, tags)


def render_audio(path: Path, tone: Tone, encoding: Encoding, tags: Tags, ogg_serial: int) -> tuple[int, str]:
    """Write the tagged audio file at ``path``; return its (size, hex md5)."""
    if tone.frames * tone.channels <= IN_MEMORY_MAX_SAMPLES:
        buffer = io.BytesIO()
        _encode_and_tag(buffer, tone, encoding, tags, ogg_serial)
        data = buffer.getbuffer()
        path.write_bytes(data)
        return len(data), hashlib.md5(data).hexdigest()
    with path.open("w+b") as sink:
        _encode_and_tag(sink, tone, encoding, tags, ogg_serial)
    return path.stat().st_size, md5_of_file(path)


def _encode_and_tag(sink: BinaryIO, tone: Tone, encoding: Encoding, tags: Tags, ogg_serial: int) -> None:
    encode(tone, encoding, sink)
    if encoding.format == "ogg":
        sink.seek(0)
        stamped = restamp_ogg_serial(sink.read(), ogg_serial)
        sink.seek(0)
        sink.truncate()
        sink.write(stamped)
    write_tags(sink, encoding.format, tags)
