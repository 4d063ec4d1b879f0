"""Step 4: from HTML bytes to a page — what it says, and what else it needs.

The HTML is parsed by Lexbor (through selectolax), a parser that follows the
WHATWG HTML specification's tree construction, so broken markup becomes the
same tree a browser would build. From the tree we take two things:

- the **sub-resources** a browser would fetch: stylesheets, scripts, images
  (``src``, and the ``srcset`` candidate a 1x screen picks), icons, ``<source>``
  in ``<picture>``, and ``url()``s in ``<style>`` and ``style=``;
- the **text** of the page in reading order: title, headings, paragraphs,
  list items, quotations, preformatted text, with links numbered and images
  shown by their alternative text.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from webtrip.browser.css import inline_style_urls, stylesheet_urls

_BLOCKS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "dt", "dd",
    "figcaption", "caption", "td", "th",
}  # fmt: skip
_SKIP = {"script", "style", "template", "noscript", "head", "svg", "math", "iframe"}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SubResource:
    """A file the page needs: absolute URL, what kind, and which element asked."""

    url: str
    kind: str  # stylesheet, script, image, icon, css-url, import
    element: str


@dataclass(frozen=True, slots=True)
class Block:
    """One block of the page's text: ``kind`` is title, heading, paragraph, item, quote, pre."""

    kind: str
    text: str
    level: int = 0


@dataclass
class Document:
    """What the browser built from the HTML."""

    title: str
    lang: str
    blocks: list[Block] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, absolute URL)
    resources: list[SubResource] = field(default_factory=list)


def parse_html(html: str, base_url: str) -> Document:
    """Build the :class:`Document` for ``html`` served at ``base_url``."""
    tree = LexborHTMLParser(html)
    base = base_url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = urllib.parse.urljoin(base_url, (base_node.attributes.get("href") or "").strip())
    title_node = tree.css_first("title")
    html_node = tree.css_first("html")
    document = Document(
        title=_clean(title_node.text()) if title_node is not None else "",
        lang=(html_node.attributes.get("lang") or "") if html_node is not None else "",
    )
    document.resources = _resources(tree, base)
    body = tree.body
    if body is not None:
        _Renderer(document, base).render(body)
    return document


def _resources(tree: LexborHTMLParser, base: str) -> list[SubResource]:
    found: list[SubResource] = []
    seen: set[str] = set()

    def add(raw: str | None, kind: str, element: str) -> None:
        if not raw:
            return
        url = urllib.parse.urljoin(base, raw.strip())
        url = urllib.parse.urldefrag(url)[0]
        if urllib.parse.urlsplit(url).scheme not in ("http", "https") or url in seen:
            return
        seen.add(url)
        found.append(SubResource(url, kind, element))

    for node in tree.css("link[href], script[src], img, source, style, [style], video[poster]"):
        tag = node.tag
        attrs = node.attributes
        if tag == "link":
            rel = (attrs.get("rel") or "").lower().split()
            if "stylesheet" in rel and "alternate" not in rel:
                add(attrs.get("href"), "stylesheet", "link")
            elif "icon" in rel or "apple-touch-icon" in rel:
                add(attrs.get("href"), "icon", "link")
        elif tag == "script":
            add(attrs.get("src"), "script", "script")
        elif tag == "img":
            add(_pick_source(attrs.get("srcset")) or attrs.get("src"), "image", "img")
        elif tag == "source" and node.parent is not None and node.parent.tag == "picture":
            add(_pick_source(attrs.get("srcset")), "image", "source")
        elif tag == "video":
            add(attrs.get("poster"), "image", "video")
        elif tag == "style":
            for url, kind in stylesheet_urls(node.text() or ""):
                add(url, kind, "style")
        if tag != "style" and attrs.get("style"):
            for url in inline_style_urls(attrs.get("style") or ""):
                add(url, "css-url", f"{tag}[style]")
    return found


def _pick_source(srcset: str | None) -> str | None:
    """The ``srcset`` candidate a browser picks on a 1x screen (HTML §4.8.4.3, simplified).

    With density descriptors: the smallest density ≥ 1 (else the largest).
    With width descriptors: the smallest width ≥ 1024 pixels (else the largest).
    """
    if not srcset:
        return None
    candidates: list[tuple[str, float, str]] = []
    for part in srcset.split(","):
        fields = part.strip().split()
        if not fields:
            continue
        url = fields[0]
        descriptor = fields[1] if len(fields) > 1 else "1x"
        try:
            value = float(descriptor[:-1])
        except ValueError:
            continue
        candidates.append((url, value, descriptor[-1]))
    if not candidates:
        return None
    want = 1024.0 if candidates[0][2] == "w" else 1.0
    at_least = [c for c in candidates if c[1] >= want]
    chosen = min(at_least, key=lambda c: c[1]) if at_least else max(candidates, key=lambda c: c[1])
    return chosen[0]


def _clean(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


class _Renderer:
    """Walks the body and lays its text out as blocks."""

    def __init__(self, document: Document, base: str) -> None:
        self.document = document
        self.base = base
        self.ordered_depth: list[int] = []

    def render(self, node: LexborNode) -> None:
        child = node.child
        while child is not None:
            self._visit(child)
            child = child.next

    def _visit(self, node: LexborNode) -> None:
        tag = node.tag
        if tag in _SKIP or tag in ("-text", "-comment"):
            if tag == "-text" and _clean(node.text(deep=False)):
                self._emit("paragraph", _clean(node.text(deep=False)))
            return
        if tag == "img":
            alt = (node.attributes.get("alt") or "").strip()
            if alt:
                self._emit("image", alt)
            return
        if tag in _BLOCKS and not self._has_block_child(node):
            text = self._inline(node)
            if not text:
                return
            if tag.startswith("h") and tag[1:].isdigit():
                self._emit("heading", text, int(tag[1]))
            elif tag == "li":
                self._emit("item", text, self._list_level(node))
            elif tag == "pre":
                self._emit("pre", (node.text(deep=True) or "").rstrip("\n"))
            elif tag == "blockquote":
                self._emit("quote", text)
            else:
                self._emit("paragraph", text)
            return
        self.render(node)

    def _emit(self, kind: str, text: str, level: int = 0) -> None:
        self.document.blocks.append(Block(kind, text, level))

    @staticmethod
    def _has_block_child(node: LexborNode) -> bool:
        containers = _BLOCKS | {"ul", "ol", "div", "table", "section", "article"}
        descendants = node.traverse(include_text=False)
        next(descendants, None)  # the first is the node itself
        return any(descendant.tag in containers for descendant in descendants)

    @staticmethod
    def _list_level(node: LexborNode) -> int:
        level, parent = 0, node.parent
        while parent is not None:
            if parent.tag in ("ul", "ol"):
                level += 1
            parent = parent.parent
        return max(level, 1)

    def _inline(self, node: LexborNode) -> str:
        parts: list[str] = []
        child = node.child
        while child is not None:
            tag = child.tag
            if tag == "-text":
                parts.append(child.text(deep=False) or "")
            elif tag == "br":
                parts.append("\n")
            elif tag == "img":
                alt = (child.attributes.get("alt") or "").strip()
                if alt:
                    parts.append(f"[{alt}]")
            elif tag == "a" and child.attributes.get("href"):
                text = self._inline(child)
                href = urllib.parse.urljoin(self.base, (child.attributes.get("href") or "").strip())
                self.document.links.append((text, href))
                parts.append(f"{text}[{len(self.document.links)}]")
            elif tag not in _SKIP and tag != "-comment":
                parts.append(self._inline(child))
            child = child.next
        return "\n".join(_clean(line) for line in "".join(parts).split("\n")).strip()
