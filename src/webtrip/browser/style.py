"""Style applied to the document: which images and fonts of its CSS a browser fetches.

Every rule's selectors are matched against the parsed tree by Lexbor (the
engine selectolax wraps, which parsed the HTML); the cascade then picks, per
element and property, the winning declaration — ``!important`` first, then a
``style=`` attribute, then the selector's specificity, then the later one —
and inherited properties (fonts, list-style-image, cursor) flow from parent to
child. What the winners ask for is what the page needs (see the end of
:mod:`webtrip.browser.css`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import tinycss2
import tinycss2.ast
from selectolax.lexbor import LexborHTMLParser, LexborNode

from webtrip.browser.css import (
    GENERIC_FAMILIES,
    IMAGE_PROPERTIES,
    INHERITED,
    PSEUDO_ELEMENTS,
    Declaration,
    FontFace,
    StyleSheet,
    _family_names,
    _weight,
    declarations_of,
    image_urls,
)
from webtrip.browser.media import Screen
from webtrip.outcomes import N_

HIDDEN = frozenset({
    "head", "script", "style", "template", "noscript", "title", "meta", "link", "base",
    "datalist", "param", "source", "track", "area", "map",
})  # fmt: skip
"""Elements a browser does not render (its default style says display: none)."""
BOLD = frozenset({"b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6", "dt"})
ITALIC = frozenset({"i", "em", "cite", "var", "dfn", "address"})
MONOSPACE = frozenset({"pre", "code", "kbd", "samp", "tt"})
_Rank = tuple[int, int, tuple[int, int, int], int]


@dataclass(frozen=True, slots=True)
class Need:
    """A file the applied CSS needs: its URL (relative to ``sheet``), kind and why."""

    url: str
    kind: str  # css-url (an image), font
    sheet: str
    why: str
    values: tuple[tuple[str, object], ...] = ()


def specificity(selector: str) -> tuple[int, int, int]:
    """(ids, classes/attributes/pseudo-classes, types/pseudo-elements) of one selector."""
    a = b = c = 0
    for match in re.finditer(
        r"#[\w-]+|\.[\w-]+|\[[^\]]*\]|::?[\w-]+(\((?:[^()]|\([^()]*\))*\))?|(?<![\w-])[a-zA-Z][\w-]*",
        selector,
    ):
        token = match.group(0)
        if token.startswith("#"):
            a += 1
        elif token.startswith((".", "[")):
            b += 1
        elif token.startswith("::") or token.lower() in (":before", ":after"):
            c += 1
        elif token.startswith(":"):
            name = token[1:].split("(", 1)[0].lower()
            argument = token[len(name) + 2 : -1] if "(" in token else ""
            if name == "where":
                continue
            if name in ("is", "not", "has", "matches"):
                inner = [specificity(part) for part in argument.split(",")]
                best = max(inner, default=(0, 0, 0))
                a, b, c = a + best[0], b + best[1], c + best[2]
            else:
                b += 1
        elif token != "*":
            c += 1
    return a, b, c


def _split_selectors(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


class _Cascade:
    def __init__(self) -> None:
        # (element id, pseudo) → property → (rank, declaration)
        self.winners: dict[tuple[int, str], dict[str, tuple[_Rank, Declaration]]] = {}

    def offer(self, node: int, pseudo: str, rank: _Rank, declaration: Declaration) -> None:
        names = [declaration.name]
        longhand = IMAGE_PROPERTIES.get(declaration.name)
        if longhand is not None:
            names = [longhand]
        elif declaration.name == "font":
            names = ["font-family", "font-weight", "font-style"]
        table = self.winners.setdefault((node, pseudo), {})
        for name in names:
            current = table.get(name)
            if current is None or rank >= current[0]:
                table[name] = (rank, declaration)

    def value(self, node: int, pseudo: str, name: str) -> Declaration | None:
        found = self.winners.get((node, pseudo), {}).get(name)
        return found[1] if found else None


def apply(
    tree: LexborHTMLParser, sheets: list[StyleSheet], page: str, screen: Screen
) -> list[Need]:
    """The images and fonts the page's applied CSS needs, in document order."""
    cascade = _Cascade()
    order = 0
    for sheet in sheets:
        for selector_list, declarations in sheet.rules:
            for selector in _split_selectors(selector_list):
                pseudo = ""
                bare = selector
                for suffix in PSEUDO_ELEMENTS:
                    if bare.lower().endswith(suffix):
                        pseudo, bare = suffix.lstrip(":"), bare[: -len(suffix)] or "*"
                        break
                if "::" in bare or re.search(r":(hover|focus|active|visited|focus-within|"
                                             r"focus-visible|target)\b", bare):  # fmt: skip
                    continue  # a state the page is not in, or another pseudo-element
                try:
                    nodes = tree.css(bare)
                except Exception:
                    continue
                if not nodes:
                    continue
                spec = specificity(selector)
                for declaration in declarations:
                    order += 1
                    rank = (int(declaration.important), 0, spec, order)
                    for node in nodes:
                        cascade.offer(node.mem_id, pseudo, rank, declaration)
    for node in tree.css("[style]"):
        for declaration in declarations_of(node.attributes.get("style") or "", page):
            order += 1
            rank = (int(declaration.important), 1, (0, 0, 0), order)
            cascade.offer(node.mem_id, "", rank, declaration)
    faces: dict[str, list[FontFace]] = {}
    for sheet in sheets:
        for face in sheet.faces:
            faces.setdefault(face.family, []).append(face)
    return _Walker(cascade, faces, screen).walk(tree)


class _Walker:
    def __init__(self, cascade: _Cascade, faces: dict[str, list[FontFace]], screen: Screen):
        self.cascade = cascade
        self.faces = faces
        self.screen = screen
        self.needs: list[Need] = []
        self.seen: set[tuple[str, str]] = set()

    def walk(self, tree: LexborHTMLParser) -> list[Need]:
        root = tree.root
        if root is not None:
            self._visit(root, {})
        return self.needs

    def _add(self, url: str, kind: str, sheet: str, why: str, **values: object) -> None:
        if (url, sheet) in self.seen:
            return
        self.seen.add((url, sheet))
        self.needs.append(Need(url, kind, sheet, why, tuple(values.items())))

    def _visit(self, node: LexborNode, inherited: dict[str, Declaration | str]) -> None:
        tag = node.tag or ""
        if tag in HIDDEN or "hidden" in node.attributes:
            return
        key = node.mem_id
        display = self.cascade.value(key, "", "display")
        if display is not None and _ident(display.value) == "none":
            return
        style: dict[str, Declaration | str] = dict(inherited)
        if tag in BOLD:
            style["font-weight"] = "700"
        if tag in ITALIC:
            style["font-style"] = "italic"
        if tag in MONOSPACE:
            style["font-family"] = "monospace"
        for name in INHERITED:
            declaration = self.cascade.value(key, "", name)
            if declaration is not None and _ident(declaration.value) != "inherit":
                style[name] = declaration
        label = _describe(node)
        for name in ("background-image", "border-image-source", "mask-image", "content"):
            declaration = self.cascade.value(key, "", name)
            if declaration is not None:
                self._images(declaration, name, label)
        for name in ("list-style-image", "cursor"):
            value = style.get(name)
            if isinstance(value, Declaration):
                self._images(value, name, label)
        for pseudo in ("before", "after"):
            content = self.cascade.value(key, pseudo, "content")
            if content is None or _ident(content.value) in ("none", "normal"):
                continue
            for name in ("content", "background-image", "border-image-source", "mask-image"):
                declaration = self.cascade.value(key, pseudo, name)
                if declaration is not None:
                    self._images(declaration, name, f"{label}::{pseudo}")
        text = "".join(
            child.text(deep=False) or "" for child in _children(node) if child.tag == "-text"
        ).strip()
        if text and tag not in ("html",):
            self._font(style, text, label)
        for child in _children(node):
            if child.tag and not child.tag.startswith("-"):
                self._visit(child, style)

    def _images(self, declaration: Declaration, name: str, label: str) -> None:
        for url, density in image_urls(declaration.value, self.screen.dpr):
            if density:
                why = N_("image-set() {density} for {element} on a {dpr}x screen")
                self._add(url, "css-url", declaration.sheet, why, density=density,
                          element=label, dpr=f"{self.screen.dpr:g}")  # fmt: skip
            else:
                why = N_("{property} of {element}")
                self._add(url, "css-url", declaration.sheet, why, property=name, element=label)

    def _font(self, style: dict[str, Declaration | str], text: str, label: str) -> None:
        family_value = style.get("font-family")
        families = _font_families(family_value) if isinstance(family_value, Declaration) else []
        weight = _number_weight(style.get("font-weight"))
        italic = _ident_of(style.get("font-style")) in ("italic", "oblique")
        characters = {ord(c) for c in text if not c.isspace()}
        # While a web font loads the text is laid out in the next family, so Chromium
        # starts the next web font of the list too, up to a generic family.
        for family in families:
            if family in self.faces:
                for face in _pick_faces(self.faces[family], weight, italic, characters):
                    why = N_("font {family} used by the text of {element}")
                    self._add(face.sources[0], "font", face.sheet, why, family=face.family,
                              element=label)  # fmt: skip
            elif family in GENERIC_FAMILIES:
                return


def _pick_faces(
    faces: list[FontFace], weight: int, italic: bool, characters: set[int]
) -> list[FontFace]:
    """The faces of a family a text needs (CSS Fonts §5.2: style, then weight, then ranges)."""
    styles = ("italic", "oblique", "normal") if italic else ("normal", "oblique", "italic")
    for wanted in styles:
        group = [f for f in faces if f.style == wanted]
        if group:
            break
    else:
        return []

    def distance(face: FontFace) -> tuple[int, int]:
        low, high = face.weights
        if low <= weight <= high:
            return (0, 0)
        if 400 <= weight <= 500:
            if weight < low <= 500:
                return (1, low - weight)
            if high < weight:
                return (2, weight - high)
            return (3, low - weight)
        if weight < 400:
            return (1, weight - high) if high < weight else (2, low - weight)
        return (1, low - weight) if low > weight else (2, weight - high)

    best = min(distance(f) for f in group)
    chosen = [f for f in group if distance(f) == best]
    needed = [
        f for f in chosen
        if not f.ranges or any(lo <= c <= hi for c in characters for lo, hi in f.ranges)
    ]  # fmt: skip
    return needed


def _font_families(declaration: Declaration) -> list[str]:
    tokens = list(declaration.value)
    if declaration.name == "font":
        # font: [style] [weight] size[/line-height] family, family
        for index, token in enumerate(tokens):
            if isinstance(token, tinycss2.ast.DimensionToken | tinycss2.ast.PercentageToken):
                rest = tokens[index + 1 :]
                stripped = [t for t in rest if not isinstance(t, tinycss2.ast.WhitespaceToken)]
                first = stripped[0] if stripped else None
                if isinstance(first, tinycss2.ast.LiteralToken) and first.value == "/":
                    stripped = stripped[2:]
                tokens = stripped
                break
        else:
            return []
    return [name.lower() for name in _family_names(tokens)]


def _number_weight(value: Declaration | str | None) -> int:
    if isinstance(value, str):
        return int(value)
    if value is None:
        return 400
    tokens = [t for t in value.value if not isinstance(t, tinycss2.ast.WhitespaceToken)]
    if value.name == "font":
        for token in tokens:
            weight = _weight(token)
            if weight is not None and not isinstance(token, tinycss2.ast.NumberToken | str):
                return weight
            if isinstance(token, tinycss2.ast.NumberToken) and token.value >= 100:
                return int(token.value)
        return 400
    if tokens:
        if isinstance(tokens[0], tinycss2.ast.IdentToken) and tokens[0].lower_value == "bolder":
            return 700
        weight = _weight(tokens[0])
        if weight is not None:
            return weight
    return 400


def _ident_of(value: Declaration | str | None) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "normal"
    if value.name == "font":
        idents = [t.lower_value for t in value.value if isinstance(t, tinycss2.ast.IdentToken)]
        return "italic" if "italic" in idents else "normal"
    return _ident(value.value)


def _ident(tokens: tuple[tinycss2.ast.Node, ...]) -> str:
    for token in tokens:
        if isinstance(token, tinycss2.ast.IdentToken):
            return str(token.lower_value)
        if not isinstance(token, tinycss2.ast.WhitespaceToken):
            return ""
    return ""


def _children(node: LexborNode) -> Iterator[LexborNode]:
    child = node.child
    while child is not None:
        yield child
        child = child.next


def _describe(node: LexborNode) -> str:
    """``div#hero``, ``li.item``: the element as a person would point at it."""
    name = node.tag or ""
    attributes = node.attributes
    if attributes.get("id"):
        return f"{name}#{attributes['id']}"
    classes = (attributes.get("class") or "").split()
    with contextlib.suppress(IndexError):
        return f"{name}.{classes[0]}"
    return name


__all__ = ["Need", "apply", "specificity"]
