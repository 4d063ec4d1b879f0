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

Both walks stop after :data:`MAX_ELEMENTS` elements, and the text is built
only when it is to be shown: a page of millions of elements (a small gzip
"bomb") costs seconds, not minutes, and the document says what was left out
(``notes``).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from webtrip.browser.media import DEFAULT_SCREEN, Screen, matches
from webtrip.browser.selection import IMAGE_TYPES, choose, parse_srcset
from webtrip.outcomes import N_

_BLOCKS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "dt", "dd",
    "figcaption", "caption", "td", "th",
}  # fmt: skip
_SKIP = {"script", "style", "template", "noscript", "head", "svg", "math", "iframe"}
_SPACE = re.compile(r"\s+")
MAX_ELEMENTS = 50_000
"""Elements looked at for the files they ask for, and for the page's text (Chromium has
no such limit; a page of a learner's lab has a few hundred)."""
MAX_TAGS = 200_000
"""Tags (``<``) of the HTML parsed at most: Lexbor's tree takes some 250 bytes an element,
so 8 MB of ``<p>`` would otherwise take 700 MB of memory."""


@dataclass(frozen=True, slots=True)
class SubResource:
    """A file the page needs: absolute URL, what kind, which element asked, and why.

    ``why`` is an English template (translated where it is shown) filled with ``values``.
    """

    url: str
    kind: str  # stylesheet, script, module, image, icon, frame, font, object, fetch, import…
    element: str
    why: str = ""
    values: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class StyleSource:
    """A stylesheet of the page in document order: linked (``url``) or inline (``text``)."""

    url: str
    text: str | None
    media: str | None


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
    styles: list[StyleSource] = field(default_factory=list)
    srcdocs: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)  # inline module scripts' text
    scripts: int = 0  # how many scripts the page runs (webtrip does not run them)
    base: str = ""
    tree: LexborHTMLParser | None = field(default=None, repr=False, compare=False)
    elements: int = 0  # elements looked at (at most MAX_ELEMENTS + 1)
    notes: list[tuple[str, tuple[tuple[str, object], ...]]] = field(default_factory=list)
    """What the browser left out, and why: English templates with their values."""

    @property
    def too_large(self) -> bool:
        """More elements than :data:`MAX_ELEMENTS`: the files asked for past them are not known."""
        return self.elements > MAX_ELEMENTS


def parse_html(
    html: str, base_url: str, screen: Screen = DEFAULT_SCREEN, *, text: bool = True
) -> Document:
    """Build the :class:`Document` for ``html`` served at ``base_url``, seen on ``screen``.

    ``text``: also lay out the page's text (``blocks``), which only a view that shows
    it needs.
    """
    cut = _tags_end(html)
    tree = LexborHTMLParser(html[:cut])
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
    document.base = base
    document.tree = tree
    if cut < len(html):
        document.notes.append((
            N_("The page's HTML has more than {count} tags: the browser parsed only the "
               "first {count}."),
            (("count", MAX_TAGS),),
        ))  # fmt: skip
    _Collector(document, base, screen).collect(tree)
    if document.too_large:
        document.notes.append((
            N_("The page has more than {count} elements: the browser looked only at the "
               "first {count} for the files they ask for and for the page's text."),
            (("count", MAX_ELEMENTS),),
        ))  # fmt: skip
    body = tree.body
    if body is not None and text:
        _Renderer(document, base).render(body)
    return document


def _tags_end(html: str) -> int:
    """Where the :data:`MAX_TAGS`-th tag after the first starts (the text's end if sooner)."""
    if html.count("<") <= MAX_TAGS:
        return len(html)
    at = -1
    for _ in range(MAX_TAGS):
        at = html.find("<", at + 1)
    return html.find("<", at + 1)


_SCRIPT_TYPES = frozenset({
    "", "text/javascript", "application/javascript", "application/ecmascript",
    "text/ecmascript", "application/x-javascript", "module",
})  # fmt: skip
_PRELOAD_KINDS = {"script": "script", "style": "stylesheet", "image": "image", "font": "font",
                  "fetch": "fetch", "track": "fetch", "audio": "fetch", "video": "fetch",
                  "document": "frame"}  # fmt: skip
_FONT_TYPES = frozenset({"font/woff2", "font/woff", "font/ttf", "font/otf", "font/sfnt",
                         "font/collection", "application/font-woff"})  # fmt: skip
_ASKING = frozenset({"link", "script", "img", "input", "video", "iframe", "object", "embed",
                     "image", "style"})  # fmt: skip
"""The elements whose attributes can make a request (each has a method below)."""
_INERT = ("noscript", "template")  # with scripting on, what is inside makes no request


class _Collector:
    """The requests the HTML itself decides (CSS-driven ones come once CSS is applied)."""

    def __init__(self, document: Document, base: str, screen: Screen) -> None:
        self.document = document
        self.base = base
        self.screen = screen
        self.seen: set[str] = set()

    def absolute(self, raw: str | None) -> str | None:
        if raw is None or not raw.strip():
            return None
        url = urllib.parse.urldefrag(urllib.parse.urljoin(self.base, raw.strip()))[0]
        return url if urllib.parse.urlsplit(url).scheme in ("http", "https") else None

    def add(self, raw: str | None, kind: str, element: str, why: str,
            values: tuple[tuple[str, object], ...] = ()) -> None:  # fmt: skip
        url = self.absolute(raw)
        if url is None or url in self.seen:
            return
        self.seen.add(url)
        self.document.resources.append(SubResource(url, kind, element, why, values))

    def collect(self, tree: LexborHTMLParser) -> None:
        root = tree.root
        if root is None:
            return
        document = self.document
        for node in root.traverse(include_text=False):
            document.elements += 1
            if document.elements > MAX_ELEMENTS:
                return
            tag = node.tag or ""
            if tag in _ASKING and not _inside(node, _INERT):
                getattr(self, f"_{tag}")(node, node.attributes)

    def _link(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        rel = (attrs.get("rel") or "").lower().split()
        href = attrs.get("href")
        if "stylesheet" in rel and "alternate" in rel:
            # Fetched (at a low priority, as Chromium does) for a reader who picks it;
            # not applied.
            self.add(
                href, "stylesheet", "link", N_("an alternate stylesheet: fetched, not applied")
            )
        elif "stylesheet" in rel and "disabled" not in attrs:
            url = self.absolute(href)
            if url is not None:
                self.document.styles.append(StyleSource(url, None, attrs.get("media")))
                why = N_("a stylesheet linked by the page")
                if attrs.get("media") and not matches(attrs.get("media"), self.screen):
                    why = N_("a stylesheet for other screens ({media}): fetched all the same")
                self.add(href, "stylesheet", "link", why, (("media", attrs.get("media")),))
        elif "icon" in rel:  # "icon", "shortcut icon"; not apple-touch-icon (no tab asks)
            self.add(href, "icon", "link", N_("the page's icon, for the browser's tab"))
        elif "manifest" in rel:
            self.add(href, "manifest", "link", N_("the web app manifest"))
        elif "prefetch" in rel:
            self.add(
                href,
                "prefetch",
                "link",
                N_("link rel=prefetch: for a page the reader may open next"),
            )
        elif "modulepreload" in rel:
            self.add(href, "module", "link", N_("link rel=modulepreload"))
        elif "preload" in rel:
            kind = _PRELOAD_KINDS.get((attrs.get("as") or "").strip().lower())
            if kind is None or not matches(attrs.get("media"), self.screen):
                return
            mime = (attrs.get("type") or "").strip().lower()
            if mime and not _supported(kind, mime):
                return
            if kind == "image" and attrs.get("imagesrcset"):
                choice = choose(parse_srcset(attrs.get("imagesrcset")), href,
                                attrs.get("imagesizes"), self.screen)  # fmt: skip
                if choice is not None:
                    self.add(choice.url, "image", "link", choice.why, choice.values)
                return
            self.add(
                href, kind, "link", N_("link rel=preload as={kind}"), (("kind", attrs.get("as")),)
            )

    def _script(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        kind = (attrs.get("type") or "").strip().lower()
        if kind not in _SCRIPT_TYPES or ("nomodule" in attrs and kind != "module"):
            return  # a data block, or a fallback for browsers without modules
        self.document.scripts += 1
        if kind == "module":
            if attrs.get("src") is not None:
                self.add(attrs.get("src"), "module", "script", N_("a module script"))
            else:
                self.document.modules.append(node.text() or "")
        else:
            self.add(attrs.get("src"), "script", "script", N_("a script"))

    def _img(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        parent = node.parent
        if parent is not None and parent.tag == "picture":
            sibling = parent.child
            while sibling is not None and sibling.mem_id != node.mem_id:
                if sibling.tag == "source" and self._source(sibling.attributes):
                    return
                sibling = sibling.next
        choice = choose(parse_srcset(attrs.get("srcset")), attrs.get("src"),
                        attrs.get("sizes"), self.screen)  # fmt: skip
        if choice is not None:
            self.add(choice.url, "image", "img", choice.why, choice.values)

    def _source(self, attrs: dict[str, str | None]) -> bool:
        """<picture>'s <source>: whether it is the one chosen (then it is added)."""
        candidates = parse_srcset(attrs.get("srcset"))
        if not candidates:
            return False
        media = attrs.get("media")
        if media and not matches(media, self.screen):
            return False
        mime = (attrs.get("type") or "").strip().lower()
        if mime and mime.split(";")[0].strip() not in IMAGE_TYPES:
            return False
        choice = choose(candidates, None, attrs.get("sizes"), self.screen)
        if choice is None:
            return False
        why, values = choice.why, choice.values
        if mime:
            why, values = N_("picture source of type {type}"), (("type", mime),)
        elif media:
            why, values = N_("picture source for {media}"), (("media", media),)
        self.add(choice.url, "image", "source", why, values)
        return True

    def _input(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        if (attrs.get("type") or "").strip().lower() == "image":
            self.add(attrs.get("src"), "image", "input", N_("an image button"))

    def _video(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        self.add(attrs.get("poster"), "image", "video", N_("a video's poster"))

    def _iframe(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        if attrs.get("srcdoc") is not None:
            self.document.srcdocs.append(attrs.get("srcdoc") or "")
        else:
            self.add(attrs.get("src"), "frame", "iframe", N_("a frame: a page inside the page"))

    def _object(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        self.add(attrs.get("data"), "object", "object", N_("an embedded object"))

    def _embed(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        self.add(attrs.get("src"), "object", "embed", N_("an embedded object"))

    def _image(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        if _inside(node, ("svg",)):
            self.add(attrs.get("href") or attrs.get("xlink:href"), "image", "svg image",
                     N_("an image in an SVG drawing"))  # fmt: skip

    def _style(self, node: LexborNode, attrs: dict[str, str | None]) -> None:
        self.document.styles.append(StyleSource(self.base, node.text() or "", attrs.get("media")))


def _supported(kind: str, mime: str) -> bool:
    mime = mime.split(";")[0].strip()
    if kind == "image":
        return mime in IMAGE_TYPES
    if kind == "font":
        return mime in _FONT_TYPES
    if kind == "stylesheet":
        return mime == "text/css"
    if kind == "script":
        return mime in _SCRIPT_TYPES or mime.endswith("javascript")
    return True


def _inside(node: LexborNode, tags: tuple[str, ...]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False


_IMPORT = re.compile(
    r"""(?:^|[;\n}])\s*(?:import\s*(?:[\w*${}\s,]+?\s*from\s*)?|export\s*(?:\*|\{[^}]*\})\s*"""
    r"""(?:as\s+\w+\s*)?from\s*)(["'])([^"'\n]+)\1""",
)
_COMMENTS = re.compile(r"/\*.*?\*/|(?<![:\\])//[^\n]*", re.S)


def module_imports(source: str) -> list[str]:
    """The specifiers of a module's static ``import``/``export … from`` statements.

    A regular expression over the source, comments removed (no JavaScript parser):
    ``import()`` is dynamic — run by the script — and is not followed.
    """
    return [match.group(2) for match in _IMPORT.finditer(_COMMENTS.sub("", source))]


def _clean(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


class _Renderer:
    """Walks the body and lays its text out as blocks."""

    def __init__(self, document: Document, base: str) -> None:
        self.document = document
        self.base = base
        self.ordered_depth: list[int] = []
        self.visited = 0

    def render(self, node: LexborNode) -> None:
        child = node.child
        while child is not None and self.visited < MAX_ELEMENTS:
            self._visit(child)
            child = child.next

    def _visit(self, node: LexborNode) -> None:
        self.visited += 1
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
