"""The demo's album covers: small baseline JPEGs drawn from an album's name, as Telegram sends them.

An audio document's thumbnail comes in two sizes: a ``PhotoSize`` of type "m" (a JPEG fetched with
upload.getFile) and a ``PhotoStrippedSize`` of type "i" (a tiny JPEG inlined in the document, its
fixed header stripped: byte 1, height, width, then the scan; Telethon's ``stripped_photo_to_jpg``
puts the header back). Both are encoded here with that same header (Telegram's quantization and the
standard Huffman tables, 4:2:0), every 16x16 block one flat colour, so only DC coefficients are
coded: a real JPEG any decoder reads, made in a few milliseconds with no imaging library.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from telethon import utils

THUMB_TYPE = "m"  # the PhotoSize type of a cover, as getFile asks for it (InputDocumentFileLocation.thumb_size)
COVER_SIDE = 320  # the "m" thumbnail Telegram sends for a music document's cover
STRIPPED_SIDE = 40  # the "i" stripped thumbnail
_MCU = 16  # 4:2:0: a minimum coded unit is 16x16 pixels: four luma blocks, one of each chroma

# Telegram's stripped-thumbnail header (the one Telethon restores) with height and width zeroed: its
# quantization tables (DC steps below) and Huffman tables are the ones every cover is coded with.
_HEADER = bytearray(utils.stripped_photo_to_jpg(b"\x01\x00\x00"))[:-2]
_HEIGHT_AT, _WIDTH_AT = 163, 165  # two bytes each, big-endian, in the SOF0 segment
_LUMA_DC_STEP, _CHROMA_DC_STEP = _HEADER[25], _HEADER[94]  # the first (DC) step of each DQT table

# Canonical codes of the standard DC tables (JPEG Annex K.3), by magnitude category; and EOB.
_DC_LENGTHS_LUMA = (2, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9)
_DC_LENGTHS_CHROMA = (2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_EOB_LUMA, _EOB_CHROMA = (0b1010, 4), (0b00, 2)

RGB = tuple[int, int, int]


def _canonical(lengths: tuple[int, ...]) -> list[tuple[int, int]]:
    """(code, length) of each symbol in order, for symbols listed by increasing code length."""
    codes, code, previous = [], 0, lengths[0]
    for length in lengths:
        code <<= length - previous
        codes.append((code, length))
        code, previous = code + 1, length
    return codes


_DC_LUMA, _DC_CHROMA = _canonical(_DC_LENGTHS_LUMA), _canonical(_DC_LENGTHS_CHROMA)


class _Bits:
    """Entropy-coded bytes: bits packed high first, a 0x00 stuffed after every 0xFF, 1s padding the end."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._value = 0
        self._count = 0

    def put(self, value: int, length: int) -> None:
        self._value = (self._value << length) | (value & ((1 << length) - 1))
        self._count += length
        while self._count >= 8:
            self._count -= 8
            byte = (self._value >> self._count) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)
        self._value &= (1 << self._count) - 1

    def end(self) -> bytes:
        if self._count:
            self.put((1 << (8 - self._count)) - 1, 8 - self._count)
        return bytes(self.out)


def _dc(bits: _Bits, table: list[tuple[int, int]], eob: tuple[int, int], difference: int) -> None:
    """One block with only a DC coefficient: its difference from the previous one, then end-of-block."""
    category = abs(difference).bit_length()
    bits.put(*table[category])
    if category:
        bits.put(difference if difference > 0 else difference + (1 << category) - 1, category)
    bits.put(*eob)


def _ycbcr(colour: RGB) -> tuple[float, float, float]:
    r, g, b = colour
    return (0.299 * r + 0.587 * g + 0.114 * b,
            128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
            128 + 0.5 * r - 0.418688 * g - 0.081312 * b)


def _level(value: float, step: int) -> int:
    """A flat 8x8 block's quantized DC coefficient: 8 x (value - 128) / step."""
    return round(8 * (value - 128) / step)


def encode_scan(width: int, height: int, colour_at: Callable[[int, int], RGB]) -> bytes:
    """The entropy-coded scan of a ``width`` x ``height`` image whose 16x16 blocks are each one
    colour: ``colour_at(x, y)`` of the block's top-left pixel."""
    bits = _Bits()
    last = [0, 0, 0]
    for y in range(0, height, _MCU):
        for x in range(0, width, _MCU):
            luma, cb, cr = _ycbcr(colour_at(x, y))
            levels = (_level(luma, _LUMA_DC_STEP), _level(cb, _CHROMA_DC_STEP), _level(cr, _CHROMA_DC_STEP))
            for _ in range(4):
                _dc(bits, _DC_LUMA, _EOB_LUMA, levels[0] - last[0])
                last[0] = levels[0]
            for component in (1, 2):
                _dc(bits, _DC_CHROMA, _EOB_CHROMA, levels[component] - last[component])
                last[component] = levels[component]
    return bits.end()


def jpeg(width: int, height: int, scan: bytes) -> bytes:
    """A complete baseline JPEG: the header with this size, the scan, end-of-image."""
    header = bytearray(_HEADER)
    header[_HEIGHT_AT:_HEIGHT_AT + 2] = height.to_bytes(2, "big")
    header[_WIDTH_AT:_WIDTH_AT + 2] = width.to_bytes(2, "big")
    return bytes(header) + scan + b"\xff\xd9"


def _palette(seed: int) -> tuple[RGB, RGB, RGB]:
    """Background, band and disc colours: saturated hues a third of the wheel apart."""
    hue = seed % 360

    def colour(degrees: int, light: float) -> RGB:
        # A simple hue wheel: each channel a triangle wave of the hue.
        def channel(offset: int) -> int:
            distance = abs(((degrees + offset) % 360) - 180) / 180  # 0..1
            return max(0, min(255, round(255 * light * (0.25 + 0.75 * distance))))
        return channel(0), channel(120), channel(240)

    return colour(hue, 0.35), colour(hue + 120, 0.95), colour(hue + 240, 0.8)


def _drawing(seed: int, side: int) -> Callable[[int, int], RGB]:
    """A cover design of ``side`` pixels: a diagonal band and a disc on a dark background."""
    background, band, disc = _palette(seed)
    band_at = (seed >> 9) % 3  # which diagonal the band runs along
    centre = side * (0.35 + ((seed >> 12) % 4) * 0.1)

    def colour_at(x: int, y: int) -> RGB:
        cx, cy = x + 8 * side / COVER_SIDE, y + 8 * side / COVER_SIDE
        if (cx - centre) ** 2 + (cy - side / 2) ** 2 < (side * 0.22) ** 2:
            return disc
        if abs(cx - cy + (band_at - 1) * side / 3) < side / 10:
            return band
        return background

    return colour_at


@dataclass(frozen=True)
class Cover:
    """An album's thumbnail in the two sizes a document carries."""

    jpeg: bytes  # the "m" PhotoSize: COVER_SIDE pixels square
    stripped: bytes  # the "i" PhotoStrippedSize's bytes
    side: int = COVER_SIDE


@lru_cache(maxsize=64)
def cover_for(name: str) -> Cover:
    """The cover drawn for ``name`` (an album): the same bytes for the same name, every run."""
    seed = zlib.crc32(name.encode("utf-8"))
    full = jpeg(COVER_SIDE, COVER_SIDE, encode_scan(COVER_SIDE, COVER_SIDE, _drawing(seed, COVER_SIDE)))
    small = encode_scan(STRIPPED_SIDE, STRIPPED_SIDE, _drawing(seed, STRIPPED_SIDE))
    return Cover(full, bytes((1, STRIPPED_SIDE, STRIPPED_SIDE)) + small)
