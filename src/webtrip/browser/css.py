"""The files a stylesheet asks for: ``@import`` rules and ``url(...)`` values.

tinycss2 tokenizes the CSS exactly as the CSS Syntax specification says (the
same tokenizer browsers implement), so a ``url(`` inside a string or a comment
is not mistaken for one.
"""

from __future__ import annotations

from collections.abc import Iterable

import tinycss2
import tinycss2.ast


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
