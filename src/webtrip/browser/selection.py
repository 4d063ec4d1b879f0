"""Which image a responsive ``<img>`` or ``<picture>`` fetches (HTML §4.8.4.3).

A browser fetches one image per ``<img>``: of ``<picture>``'s ``<source>``
elements, the first whose ``type`` it can decode and whose ``media`` matches
the screen, else the ``<img>`` itself; of that element's ``srcset``
candidates (with ``src`` as the ``1x`` one when no candidate says ``1x`` and
none has a width), the one whose density suits the screen. A width descriptor
becomes a density by dividing by the slot's width, which ``sizes`` gives
(its first entry whose media condition matches; ``100vw`` without one).

Of the candidates, Chromium takes the one of the smallest density at least the
screen's (never upscale), else the densest; this module does the same (Blink
once took the nearer of two by their geometric mean: the corpus test against
today's Chromium, a 3x candidate chosen over 1.5x on a 2x screen, says no more).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import tinycss2
import tinycss2.ast

from webtrip.browser.media import Screen, condition, length
from webtrip.outcomes import N_

IMAGE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/gif", "image/webp",
    "image/avif", "image/svg+xml", "image/bmp", "image/x-icon", "image/vnd.microsoft.icon",
    "image/apng", "image/jxl",
})  # fmt: skip
"""The image types Debian's Chromium decodes (JPEG XL too; no HEIC, no TIFF)."""

_WHITESPACE = " \t\n\r\f"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One image candidate: its URL and what it says of itself (``2x``, ``800w``)."""

    url: str
    density: float | None = None
    width: int | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """The URL chosen and why, as a translatable template with its values."""

    url: str
    why: str
    values: tuple[tuple[str, object], ...] = ()


def parse_srcset(srcset: str | None) -> list[Candidate]:
    """The image candidates of a ``srcset`` attribute (the HTML parsing algorithm)."""
    if not srcset:
        return []
    text, position = srcset, 0
    found: list[Candidate] = []
    while True:
        while position < len(text) and (text[position] in _WHITESPACE or text[position] == ","):
            position += 1
        if position >= len(text):
            return found
        start = position
        while position < len(text) and text[position] not in _WHITESPACE:
            position += 1
        url = text[start:position]
        descriptors: list[str] = []
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            current, in_parens = "", False
            while position < len(text):
                char = text[position]
                position += 1
                if in_parens:
                    current += char
                    in_parens = char != ")"
                elif char in _WHITESPACE:
                    if current:
                        descriptors.append(current)
                        current = ""
                elif char == ",":
                    break
                else:
                    current += char
                    in_parens = char == "("
            if current:
                descriptors.append(current)
        candidate = _candidate(url, descriptors)
        if candidate is not None:
            found.append(candidate)


_NUMBER = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _candidate(url: str, descriptors: list[str]) -> Candidate | None:
    density: float | None = None
    width: int | None = None
    for descriptor in descriptors:
        value, unit = descriptor[:-1], descriptor[-1:].lower()
        if unit == "w" and value.isdigit() and width is None and density is None:
            width = int(value)
            if width == 0:
                return None
        elif unit == "x" and _NUMBER.match(value) and width is None and density is None:
            density = float(value)
        elif unit == "h" and value.isdigit():
            continue  # allowed beside a width, and not used to choose
        else:
            return None
    if not url:
        return None
    return Candidate(url, density, width)


def source_size(sizes: str | None, screen: Screen) -> tuple[float, str]:
    """The slot width ``sizes`` gives on ``screen`` in CSS pixels, and the entry that gave it."""
    if sizes and sizes.strip():
        tokens = tinycss2.parse_component_value_list(sizes, skip_comments=True)
        entries: list[list[tinycss2.ast.Node]] = [[]]
        for token in tokens:
            if isinstance(token, tinycss2.ast.LiteralToken) and token.value == ",":
                entries.append([])
            elif not isinstance(token, tinycss2.ast.WhitespaceToken):
                entries[-1].append(token)
        for entry in entries:
            if not entry:
                continue
            size = length([entry[-1]], screen)
            if size is None or size < 0:
                continue
            if len(entry) == 1 or condition(entry[:-1], screen):
                return size, tinycss2.serialize(entry).strip()
    return float(screen.width), "100vw"


def choose(
    candidates: list[Candidate], src: str | None, sizes: str | None, screen: Screen
) -> Choice | None:
    """The candidate a browser on ``screen`` fetches, or None if there is none."""
    has_width = any(c.width is not None for c in candidates)
    if src and not has_width and not any((c.density or 1.0) == 1.0 for c in candidates):
        candidates = [*candidates, Candidate(src, 1.0)]
    if not candidates:
        return None
    slot, entry = source_size(sizes, screen) if has_width else (0.0, "")
    rated: list[tuple[float, Candidate]] = []
    for candidate in candidates:
        if candidate.width is not None:
            density = candidate.width / slot if slot > 0 else math.inf
        else:
            density = candidate.density if candidate.density is not None else 1.0
        if all(abs(density - d) > 1e-9 for d, _ in rated):  # the first of equal densities
            rated.append((density, candidate))
    rated.sort(key=lambda pair: pair[0])
    index = _selection_logic([d for d, _ in rated], screen.dpr)
    chosen = rated[index][1]
    dpr = _short(screen.dpr)
    if chosen.width is not None:
        return Choice(
            chosen.url,
            N_("srcset {width}w: a {slot} px slot ({sizes}) on a {dpr}x screen"),
            (("width", chosen.width), ("slot", round(slot)), ("sizes", entry), ("dpr", dpr)),
        )
    if chosen.url == src and chosen is candidates[-1] and len(candidates) > 1:
        return Choice(chosen.url, N_("src, the 1x candidate, on a {dpr}x screen"), (("dpr", dpr),))
    if len(candidates) == 1 and chosen.url == src:
        return Choice(chosen.url, N_("the image's src"))
    chosen_density = _short(chosen.density if chosen.density is not None else 1.0)
    return Choice(
        chosen.url,
        N_("srcset {density}x on a {dpr}x screen"),
        (("density", chosen_density), ("dpr", dpr)),
    )


def _selection_logic(densities: list[float], dpr: float) -> int:
    """The least density at least the screen's, else the greatest (sorted ``densities``)."""
    for index, density in enumerate(densities):
        if density >= dpr - 1e-9:
            return index
    return len(densities) - 1


def _short(value: float) -> str:
    return f"{value:g}"


__all__ = ["IMAGE_TYPES", "Candidate", "Choice", "choose", "parse_srcset", "source_size"]
