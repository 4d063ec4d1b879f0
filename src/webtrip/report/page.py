"""The page as text in the terminal: what the browser built in step 4."""

from __future__ import annotations

from rich.console import Group
from rich.rule import Rule
from rich.text import Text

from webtrip.browser import Document
from webtrip.i18n import translation


def render_page(document: Document, language: str = "en") -> Group:
    """Title, headings, paragraphs, list items, images by their alt text, numbered links."""
    _ = translation(language).gettext
    parts: list[Rule | Text] = [Rule(document.title or _("(untitled)"))]
    for block in document.blocks:
        if block.kind == "heading":
            style = "bold underline" if block.level <= 1 else "bold"
            parts.append(Text("\n" + block.text, style=style))
        elif block.kind == "item":
            parts.append(Text("  " * (block.level - 1) + "  • " + block.text))
        elif block.kind == "image":
            parts.append(Text("[" + _("image: {alt}").format(alt=block.text) + "]", style="italic"))
        elif block.kind == "quote":
            parts.append(Text("  │ " + block.text, style="italic"))
        elif block.kind == "pre":
            parts.append(Text(block.text, style="dim"))
        else:
            parts.append(Text(block.text))
    if document.links:
        parts.append(Text("\n" + _("Links:"), style="bold"))
        for number, (text, url) in enumerate(document.links, 1):
            parts.append(Text(f"  [{number}] {url}" + (f"  ({text})" if text else "")))
    parts.append(Rule())
    return Group(*parts)
