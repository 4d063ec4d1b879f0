"""Media queries, evaluated for a stated screen (Media Queries level 4).

A page asks ``(max-width: 600px)`` in ``<source media>``, ``sizes``, ``@media``
and ``<link media>``; the answer depends on the screen the browser pretends
to have: :class:`Screen` (viewport in CSS pixels and device pixel ratio,
Chromium's headless defaults 1280×800 at 1x). The CSS is tokenized by tinycss2
(the CSS Syntax tokenizer browsers implement). A feature webtrip does not know
makes its query false, as the specification says of unknown features.
"""

from __future__ import annotations

from dataclasses import dataclass

import tinycss2
import tinycss2.ast

FONT_SIZE = 16.0
"""The initial font size in CSS pixels: what ``em`` and ``rem`` mean in a media query."""


@dataclass(frozen=True, slots=True)
class Screen:
    """The viewport (CSS pixels) and device pixel ratio the page is laid out for."""

    width: int = 1280
    height: int = 800
    dpr: float = 1.0


DEFAULT_SCREEN = Screen()

_Tokens = list[tinycss2.ast.Node]


def matches(query: str | None, screen: Screen) -> bool:
    """Whether a media query list (``screen and (min-width: 40em), print``) matches.

    An empty or missing list matches (``media=""`` means all media).
    """
    if query is None or not query.strip():
        return True
    tokens = tinycss2.parse_component_value_list(query, skip_comments=True)
    return any(_query(part, screen) for part in _split_commas(tokens))


def length(tokens: _Tokens, screen: Screen) -> float | None:
    """A length in CSS pixels (px, em, rem, vw, vh, vmin, vmax, calc of those), or None."""
    tokens = _strip(tokens)
    if len(tokens) != 1:
        return None
    token = tokens[0]
    if isinstance(token, tinycss2.ast.NumberToken) and token.value == 0:
        return 0.0
    if isinstance(token, tinycss2.ast.DimensionToken):
        unit = token.lower_unit
        per = {
            "px": 1.0,
            "em": FONT_SIZE,
            "rem": FONT_SIZE,
            "vw": screen.width / 100,
            "vh": screen.height / 100,
            "vmin": min(screen.width, screen.height) / 100,
            "vmax": max(screen.width, screen.height) / 100,
            "in": 96.0,
            "cm": 96 / 2.54,
            "mm": 96 / 25.4,
            "pt": 96 / 72,
            "pc": 16.0,
        }.get(unit)
        return None if per is None else float(token.value) * per
    if isinstance(token, tinycss2.ast.FunctionBlock) and token.lower_name == "calc":
        return _calc(_strip(token.arguments), screen)
    return None


def _calc(tokens: _Tokens, screen: Screen) -> float | None:
    """``calc()`` with + and - of lengths, * and / by numbers (left to right per level)."""
    terms: list[tuple[str, _Tokens]] = [("+", [])]
    for token in tokens:
        if isinstance(token, tinycss2.ast.LiteralToken) and token.value in "+-" and terms[-1][1]:
            terms.append((token.value, []))
        elif not isinstance(token, tinycss2.ast.WhitespaceToken):
            terms[-1][1].append(token)
    total = 0.0
    for sign, term in terms:
        value = _product(term, screen)
        if value is None:
            return None
        total += value if sign == "+" else -value
    return total


def _product(tokens: _Tokens, screen: Screen) -> float | None:
    value: float | None = None
    operator = ""
    for token in tokens:
        if isinstance(token, tinycss2.ast.LiteralToken) and token.value in "*/":
            operator = token.value
            continue
        if isinstance(token, tinycss2.ast.NumberToken):
            number = float(token.value)
            if value is None:
                value = number
            elif operator == "/":
                value = value / number if number else None
            else:
                value *= number
            continue
        if isinstance(token, tinycss2.ast.ParenthesesBlock):
            part = _calc(_strip(token.content), screen)
        else:
            part = length([token], screen)
        if part is None:
            return None
        value = part if value is None else value * part
    return value


def _split_commas(tokens: _Tokens) -> list[_Tokens]:
    parts: list[_Tokens] = [[]]
    for token in tokens:
        if isinstance(token, tinycss2.ast.LiteralToken) and token.value == ",":
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _strip(tokens: _Tokens) -> _Tokens:
    return [
        t for t in tokens if not isinstance(t, tinycss2.ast.WhitespaceToken | tinycss2.ast.Comment)
    ]


def _query(tokens: _Tokens, screen: Screen) -> bool:
    tokens = _strip(tokens)
    if not tokens:
        return False
    negate = False
    first = tokens[0]
    if isinstance(first, tinycss2.ast.IdentToken) and first.lower_value in ("not", "only"):
        negate = first.lower_value == "not"
        tokens = tokens[1:]
        if not tokens:
            return False
        first = tokens[0]
    if isinstance(first, tinycss2.ast.IdentToken):
        kind = first.lower_value in ("all", "screen")
        rest = tokens[1:]
        if rest:
            head = rest[0]
            if not (isinstance(head, tinycss2.ast.IdentToken) and head.lower_value == "and"):
                return False  # not a media query: "not all"
            result = kind and condition(rest[1:], screen)
        else:
            result = kind
        return result != negate
    result = condition(tokens, screen)
    return result != negate


def condition(tokens: _Tokens, screen: Screen) -> bool:
    """A media condition: ``(feature)``, ``not (…)``, joined by ``and`` or ``or``."""
    tokens = _strip(tokens)
    if not tokens:
        return False
    head = tokens[0]
    if isinstance(head, tinycss2.ast.IdentToken) and head.lower_value == "not":
        return not condition(tokens[1:], screen)
    result: bool | None = None
    joiner = "and"
    for token in tokens:
        if isinstance(token, tinycss2.ast.IdentToken) and token.lower_value in ("and", "or"):
            joiner = token.lower_value
            continue
        if not isinstance(token, tinycss2.ast.ParenthesesBlock):
            return False
        value = _in_parens(_strip(token.content), screen)
        if result is None:
            result = value
        elif joiner == "and":
            result = result and value
        else:
            result = result or value
    return bool(result)


def _in_parens(tokens: _Tokens, screen: Screen) -> bool:
    if not tokens:
        return False
    head = tokens[0]
    if isinstance(head, tinycss2.ast.ParenthesesBlock) or (
        isinstance(head, tinycss2.ast.IdentToken) and head.lower_value == "not"
    ):
        return condition(tokens, screen)
    colon = next(
        (
            i
            for i, t in enumerate(tokens)
            if isinstance(t, tinycss2.ast.LiteralToken) and t.value == ":"
        ),
        None,
    )
    if colon is not None:
        if colon != 1 or not isinstance(head, tinycss2.ast.IdentToken):
            return False
        return _feature(head.lower_value, tokens[2:], screen)
    if len(tokens) == 1 and isinstance(head, tinycss2.ast.IdentToken):
        return _boolean(head.lower_value)
    return _range(tokens, screen)


_BOOLEAN = {"color": True, "hover": True, "pointer": True, "any-hover": True, "any-pointer": True,
            "grid": False, "monochrome": False, "color-index": False}  # fmt: skip
_KEYWORDS = {
    "orientation": None,  # from the viewport
    "prefers-color-scheme": "light",
    "prefers-reduced-motion": "no-preference",
    "prefers-contrast": "no-preference",
    "prefers-reduced-transparency": "no-preference",
    "forced-colors": "none",
    "hover": "hover",
    "any-hover": "hover",
    "pointer": "fine",
    "any-pointer": "fine",
    "scripting": "enabled",
    "display-mode": "browser",
    "update": "fast",
    "inverted-colors": "none",
    "dynamic-range": "standard",
    "color-gamut": "srgb",
}


def _boolean(name: str) -> bool:
    return _BOOLEAN.get(name, False)


def _value(name: str, tokens: _Tokens, screen: Screen) -> float | None:
    """The value of a numeric feature's right-hand side, in the unit the feature uses."""
    tokens = _strip(tokens)
    if name.endswith("device-pixel-ratio"):
        if len(tokens) == 1 and isinstance(tokens[0], tinycss2.ast.NumberToken):
            return float(tokens[0].value)
        return None
    if name == "resolution":
        if len(tokens) != 1 or not isinstance(tokens[0], tinycss2.ast.DimensionToken):
            return None
        unit = tokens[0].lower_unit
        scale = {"dppx": 1.0, "x": 1.0, "dpi": 1 / 96, "dpcm": 2.54 / 96}.get(unit)
        return None if scale is None else float(tokens[0].value) * scale
    if name == "aspect-ratio":
        numbers = [float(t.value) for t in tokens if isinstance(t, tinycss2.ast.NumberToken)]
        if len(numbers) == 2 and numbers[1]:
            return numbers[0] / numbers[1]
        return numbers[0] if len(numbers) == 1 else None
    return length(tokens, screen)


def _actual(name: str, screen: Screen) -> float | None:
    if name in ("width", "device-width"):
        return float(screen.width)
    if name in ("height", "device-height"):
        return float(screen.height)
    if name in ("resolution", "device-pixel-ratio"):
        return screen.dpr
    if name in ("aspect-ratio", "device-aspect-ratio"):
        return screen.width / screen.height
    return None


def _feature(name: str, tokens: _Tokens, screen: Screen) -> bool:
    op, bare = "=", name.removeprefix("-webkit-")
    for prefix, comparison in (("min-", ">="), ("max-", "<=")):
        if bare.startswith(prefix):
            op, bare = comparison, bare[len(prefix) :]
            break
    if bare in _KEYWORDS:
        stripped = _strip(tokens)
        if len(stripped) != 1 or not isinstance(stripped[0], tinycss2.ast.IdentToken):
            return False
        want = str(stripped[0].lower_value)
        if bare == "orientation":
            return want == ("portrait" if screen.height >= screen.width else "landscape")
        return want == _KEYWORDS[bare]
    if bare in _BOOLEAN:
        stripped = _strip(tokens)
        number = stripped[0] if len(stripped) == 1 else None
        if isinstance(number, tinycss2.ast.NumberToken):
            return bool((1 if _BOOLEAN[bare] else 0) == number.value)
        return False
    actual = _actual(bare, screen)
    wanted = _value(bare, tokens, screen)
    if actual is None or wanted is None:
        return False
    return _compare(actual, op, wanted)


def _compare(left: float, op: str, right: float) -> bool:
    epsilon = 1e-6
    if op == "=":
        return abs(left - right) < epsilon
    if op == ">=":
        return left >= right - epsilon
    if op == "<=":
        return left <= right + epsilon
    if op == ">":
        return left > right + epsilon
    if op == "<":
        return left < right - epsilon
    return False


def _range(tokens: _Tokens, screen: Screen) -> bool:
    """Range syntax: ``width >= 600px``, ``400px < width <= 700px``."""
    parts: list[_Tokens] = [[]]
    ops: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if isinstance(token, tinycss2.ast.LiteralToken) and token.value in ("<", ">", "="):
            op = token.value
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if (
                op in "<>"
                and isinstance(following, tinycss2.ast.LiteralToken)
                and following.value == "="
            ):
                op += "="
                index += 1
            ops.append(op)
            parts.append([])
        else:
            parts[-1].append(token)
        index += 1
    if len(parts) not in (2, 3) or len(ops) != len(parts) - 1:
        return False
    names = [
        i
        for i, part in enumerate(parts)
        if len(part) == 1 and isinstance(part[0], tinycss2.ast.IdentToken)
    ]
    if not names:
        return False
    at = names[0]
    name = str(parts[at][0].lower_value)
    actual = _actual(name, screen)
    if actual is None:
        return False
    flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "="}
    for i, op in enumerate(ops):
        left, right = i, i + 1
        if left == at:
            wanted = _value(name, parts[right], screen)
            if wanted is None or not _compare(actual, op, wanted):
                return False
        elif right == at:
            wanted = _value(name, parts[left], screen)
            if wanted is None or not _compare(actual, flipped[op], wanted):
                return False
    return True


__all__ = ["DEFAULT_SCREEN", "Screen", "condition", "length", "matches"]
