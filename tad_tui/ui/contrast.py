"""Readable text in 16 colours: a theme's colours fall to the nearest of the 16 ANSI ones, and two
that differ in truecolor (gruvbox's cream on sage) can land on bright white over light grey.

Measured on Rich's own 16-colour palette, the one its downgrade matches against.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.color import Color, ColorSystem
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style

MIN_CONTRAST = 3.0  # WCAG's least for large or bold text: the cursor row is bold when focused
BLACK = Color.from_rgb(0, 0, 0)
WHITE = Color.from_rgb(255, 255, 255)


def luminance(rgb: ColorTriplet) -> float:
    """Relative luminance (WCAG 2) of an sRGB colour."""
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(rgb.red) + 0.7152 * linear(rgb.green) + 0.0722 * linear(rgb.blue)


def contrast(a: ColorTriplet, b: ColorTriplet) -> float:
    """WCAG contrast ratio, 1 (the same) to 21 (black on white)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def as_shown(color: Color, system: ColorSystem) -> ColorTriplet:
    """The RGB a terminal with ``system`` shows for ``color`` (Rich's palette for the 16 colours)."""
    return color.downgrade(system).get_truecolor()


def readable(segments: Iterable[Segment], system: ColorSystem) -> list[Segment]:
    """The segments with black or white text wherever their colours, as ``system`` shows them, are
    too close; segments in the terminal's default colours are left alone (its own pair is readable)."""
    result = []
    for segment in segments:
        style = segment.style
        if style is None or style.color is None or style.bgcolor is None:
            result.append(segment)
            continue
        if style.color.is_default or style.bgcolor.is_default:
            result.append(segment)
            continue
        background = as_shown(style.bgcolor, system)
        if contrast(as_shown(style.color, system), background) >= MIN_CONTRAST:
            result.append(segment)
            continue
        best = max((BLACK, WHITE), key=lambda c: contrast(as_shown(c, system), background))
        result.append(Segment(segment.text, style + Style(color=best), segment.control))
    return result
