"""The files a stylesheet asks for: ``@import`` rules and ``url(...)`` values.

tinycss2 tokenizes the CSS exactly as the CSS Syntax specification says (the
same tokenizer browsers implement), so a ``url(`` inside a string or a comment
is not mistaken for one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import tinycss2
import tinycss2.ast

from webtrip.browser.media import Screen, matches
from webtrip.browser.selection import IMAGE_TYPES


def stylesheet_urls(css: str) -> list[tuple[str, str]]:
    """``(url, kind)`` pairs in order: kind "import" for @import, "css-url" for url()."""
    found: list[tuple[str, str]] = []
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    for rule in rules:
        if isinstance(rule, tinycss2.ast.AtRule) and rule.lower_at_keyword == "import":
            target = _first_url(rule.prelude)
            if target:
                found.append((target, "import"))
            continue
        if isinstance(rule, tinycss2.ast.AtRule | tinycss2.ast.QualifiedRule):
            found += [(url, "css-url") for url in _urls(rule.prelude or [])]
            found += [(url, "css-url") for url in _urls(rule.content or [])]
    return found


def inline_style_urls(css: str) -> list[str]:
    """``url(...)`` values of a ``style`` attribute (a declaration list)."""
    return list(_urls(tinycss2.parse_component_value_list(css)))


def _first_url(tokens: Iterable[tinycss2.ast.Node]) -> str | None:
    for token in tokens:
        if isinstance(token, tinycss2.ast.StringToken):
            return str(token.value)
        urls = list(_urls([token]))
        if urls:
            return urls[0]
    return None


def _urls(tokens: Iterable[tinycss2.ast.Node]) -> Iterable[str]:
    for token in tokens:
        if isinstance(token, tinycss2.ast.URLToken):
            yield token.value
        elif isinstance(token, tinycss2.ast.FunctionBlock):
            if token.lower_name == "url":
                args = [a for a in token.arguments if isinstance(a, tinycss2.ast.StringToken)]
                if args:
                    yield args[0].value
            else:
                yield from _urls(token.arguments)
        elif isinstance(
            token,
            tinycss2.ast.ParenthesesBlock
            | tinycss2.ast.SquareBracketsBlock
            | tinycss2.ast.CurlyBracketsBlock,
        ):
            yield from _urls(token.content or [])
        elif isinstance(token, (tinycss2.ast.QualifiedRule, tinycss2.ast.AtRule)):
            yield from _urls(token.prelude or [])
            yield from _urls(token.content or [])


# --- CSS applied to the document: which of its files a browser fetches ------------------
#
# A stylesheet's url()s are not all fetched: Chromium computes each element's style (the
# cascade: !important, then inline styles, then specificity, then order) and loads an
# image only when it is the winning value of a property of an element the page shows
# (display: none hides an element and its descendants), a ::before/::after image only when
# that pseudo-element exists (its content is not none), a web font only when some text is
# set in it (the first family of font-family that @font-face declares, the face that
# matches the text's weight and style, the first src whose format Chromium reads, the
# unicode-range subsets the text's characters need). Selectors are matched by Lexbor
# (selectolax), the same engine that parsed the HTML; a selector it cannot parse, or a
# state the page is not in (:hover, :focus, :visited), matches nothing.

IMAGE_PROPERTIES = {
    "background": "background-image",
    "background-image": "background-image",
    "list-style": "list-style-image",
    "list-style-image": "list-style-image",
    "border-image": "border-image-source",
    "border-image-source": "border-image-source",
    "mask": "mask-image",
    "mask-image": "mask-image",
    "-webkit-mask": "mask-image",
    "-webkit-mask-image": "mask-image",
    "cursor": "cursor",
    "content": "content",
}
FONT_PROPERTIES = {"font", "font-family", "font-weight", "font-style"}
INHERITED = ("font-family", "font-weight", "font-style", "list-style-image", "cursor")
FONT_FORMATS = frozenset({"woff2", "woff", "truetype", "opentype", "collection"})
"""What Chromium reads in @font-face src: format() (no embedded-opentype, no svg)."""
GENERIC_FAMILIES = frozenset({
    "serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "math",
    "emoji", "ui-serif", "ui-sans-serif", "ui-monospace", "ui-rounded", "-apple-system",
})  # fmt: skip
PSEUDO_ELEMENTS = ("::before", "::after", ":before", ":after")


@dataclass(frozen=True, slots=True)
class Declaration:
    """One declaration of a rule: the property it sets, its value's tokens, its rank."""

    name: str
    value: tuple[tinycss2.ast.Node, ...]
    important: bool
    sheet: str  # the URL of the stylesheet (the page's, for <style> and style=)


@dataclass(frozen=True, slots=True)
class FontFace:
    family: str
    weights: tuple[int, int]
    style: str
    sources: tuple[str, ...]  # url()s in order, formats Chromium reads only
    ranges: tuple[tuple[int, int], ...]
    sheet: str


@dataclass
class StyleSheet:
    """The rules of one stylesheet that apply on the screen (``@media`` evaluated)."""

    url: str
    rules: list[tuple[str, list[Declaration]]] = field(default_factory=list)
    faces: list[FontFace] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)


def parse_sheet(css: str, url: str, screen: Screen) -> StyleSheet:
    """The rules of ``css`` (served at ``url``) that apply on ``screen``."""
    sheet = StyleSheet(url)
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    _collect(rules, sheet, screen, top=True)
    return sheet


def _collect(rules: Iterable[tinycss2.ast.Node], sheet: StyleSheet, screen: Screen, *,
             top: bool) -> None:  # fmt: skip
    imports_allowed = top
    for rule in rules:
        if isinstance(rule, tinycss2.ast.AtRule):
            keyword = rule.lower_at_keyword
            if keyword == "import":
                target = _first_url(rule.prelude)
                if target and imports_allowed:
                    sheet.imports.append(target)  # fetched whatever its media (as Blink)
                continue
            if keyword in ("charset", "layer", "namespace") and rule.content is None:
                continue
            imports_allowed = False
            if keyword == "media" and rule.content is not None:
                if matches(tinycss2.serialize(rule.prelude), screen):
                    inner = tinycss2.parse_rule_list(rule.content, True, True)
                    _collect(inner, sheet, screen, top=False)
            elif (
                keyword in ("supports", "layer", "container", "scope", "document") and rule.content
            ):
                inner = tinycss2.parse_rule_list(rule.content, True, True)
                _collect(inner, sheet, screen, top=False)
            elif keyword == "font-face" and rule.content is not None:
                face = _font_face(rule.content, sheet.url)
                if face is not None:
                    sheet.faces.append(face)
        elif isinstance(rule, tinycss2.ast.QualifiedRule):
            imports_allowed = False
            selector = tinycss2.serialize(rule.prelude).strip()
            declarations = declarations_of(rule.content, sheet.url)
            if declarations:
                sheet.rules.append((selector, declarations))


def declarations_of(content: Iterable[tinycss2.ast.Node] | str, sheet: str) -> list[Declaration]:
    """The declarations that can make the browser fetch something (images, fonts, display)."""
    found: list[Declaration] = []
    parsed = tinycss2.parse_blocks_contents(content, skip_comments=True, skip_whitespace=True)
    for item in parsed:
        if not isinstance(item, tinycss2.ast.Declaration):
            continue
        name = item.lower_name
        if name in IMAGE_PROPERTIES or name in FONT_PROPERTIES or name == "display":
            value = tuple(t for t in item.value if not isinstance(t, tinycss2.ast.Comment))
            found.append(Declaration(name, value, item.important, sheet))
    return found


def _font_face(content: list[tinycss2.ast.Node], sheet: str) -> FontFace | None:
    family, style, weights = "", "normal", (400, 400)
    sources: list[str] = []
    ranges: list[tuple[int, int]] = []
    for item in tinycss2.parse_blocks_contents(content, True, True):
        if not isinstance(item, tinycss2.ast.Declaration):
            continue
        tokens = [t for t in item.value if not isinstance(t, tinycss2.ast.WhitespaceToken)]
        if item.lower_name == "font-family" and tokens:
            family = _family_names(item.value)[0] if _family_names(item.value) else ""
        elif item.lower_name == "font-style" and tokens:
            style = str(getattr(tokens[0], "lower_value", "normal"))
        elif item.lower_name == "font-weight":
            numbers = [_weight(t) for t in tokens]
            values = [n for n in numbers if n is not None]
            if values:
                weights = (min(values), max(values))
        elif item.lower_name == "src":
            sources = _font_sources(item.value)
        elif item.lower_name == "unicode-range":
            ranges = _unicode_ranges(tinycss2.serialize(item.value))
    if not family or not sources:
        return None
    return FontFace(family.lower(), weights, style, tuple(sources), tuple(ranges), sheet)


def _weight(token: tinycss2.ast.Node) -> int | None:
    if isinstance(token, tinycss2.ast.NumberToken):
        return int(token.value)
    if isinstance(token, tinycss2.ast.IdentToken):
        return {"normal": 400, "bold": 700}.get(token.lower_value)
    return None


def _font_sources(value: list[tinycss2.ast.Node]) -> list[str]:
    found: list[str] = []
    entries: list[list[tinycss2.ast.Node]] = [[]]
    for token in value:
        if isinstance(token, tinycss2.ast.LiteralToken) and token.value == ",":
            entries.append([])
        else:
            entries[-1].append(token)
    for entry in entries:
        urls = list(_urls(entry))
        if not urls:
            continue  # local(): a font on the computer, webtrip assumes none
        formats = [
            t for t in entry
            if isinstance(t, tinycss2.ast.FunctionBlock) and t.lower_name == "format"
        ]  # fmt: skip
        if formats:
            names = [
                str(getattr(a, "value", "")).lower()
                for a in formats[0].arguments
                if isinstance(a, tinycss2.ast.StringToken | tinycss2.ast.IdentToken)
            ]
            if not any(n in FONT_FORMATS for n in names):
                continue
        found.append(urls[0])
    return found


def _unicode_ranges(text: str) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip().upper().removeprefix("U+")
        if not part:
            continue
        try:
            if "-" in part:
                low, high = part.split("-", 1)
                found.append((int(low, 16), int(high, 16)))
            elif "?" in part:
                found.append((int(part.replace("?", "0"), 16), int(part.replace("?", "F"), 16)))
            else:
                found.append((int(part, 16), int(part, 16)))
        except ValueError:
            continue
    return found


def _family_names(value: Iterable[tinycss2.ast.Node]) -> list[str]:
    names: list[str] = []
    current: list[str] = []
    for token in value:
        if isinstance(token, tinycss2.ast.LiteralToken) and token.value == ",":
            names.append(" ".join(current))
            current = []
        elif isinstance(token, tinycss2.ast.StringToken | tinycss2.ast.IdentToken):
            current.append(token.value)
    names.append(" ".join(current))
    return [name.strip() for name in names if name.strip()]


def image_urls(value: Iterable[tinycss2.ast.Node], dpr: float) -> list[tuple[str, str]]:
    """The images a value asks for, with why: ``url()`` each, ``image-set()`` one candidate."""
    found: list[tuple[str, str]] = []
    for token in value:
        if isinstance(token, tinycss2.ast.URLToken):
            found.append((token.value, ""))
        elif isinstance(token, tinycss2.ast.FunctionBlock):
            name = token.lower_name
            if name == "url":
                found += [(url, "") for url in _urls([token])]
            elif name in ("image-set", "-webkit-image-set"):
                chosen = _image_set(token.arguments, dpr)
                if chosen is not None:
                    found.append(chosen)
            else:
                found += image_urls(token.arguments, dpr)
    return found


def _image_set(arguments: list[tinycss2.ast.Node], dpr: float) -> tuple[str, str] | None:
    options: list[tuple[float, str]] = []
    entries: list[list[tinycss2.ast.Node]] = [[]]
    for token in arguments:
        if isinstance(token, tinycss2.ast.LiteralToken) and token.value == ",":
            entries.append([])
        elif not isinstance(token, tinycss2.ast.WhitespaceToken):
            entries[-1].append(token)
    for entry in entries:
        url = next(iter(_urls(entry)), None)
        if url is None and entry and isinstance(entry[0], tinycss2.ast.StringToken):
            url = entry[0].value
        if url is None:
            continue
        density = 1.0
        kind_ok = True
        for token in entry[1:]:
            if isinstance(token, tinycss2.ast.DimensionToken) and token.lower_unit in ("x", "dppx"):
                density = float(token.value)
            elif isinstance(token, tinycss2.ast.FunctionBlock) and token.lower_name == "type":
                kinds = [
                    a.value for a in token.arguments if isinstance(a, tinycss2.ast.StringToken)
                ]
                kind_ok = bool(kinds) and kinds[0].lower() in IMAGE_TYPES
        if kind_ok:
            options.append((density, url))
    if not options:
        return None
    # Of equal densities the first counts (as in srcset); then the least density at
    # least the screen's, else the greatest.
    unique = [o for i, o in enumerate(options) if all(o[0] != p[0] for p in options[:i])]
    unique.sort(key=lambda option: option[0])
    at_least = [o for o in unique if o[0] >= dpr]
    density, url = at_least[0] if at_least else unique[-1]
    return url, f"{density:g}x"
