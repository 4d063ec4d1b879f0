"""Content negotiation by language: which translation of a page a client gets.

A browser says which languages its user reads in every request's
``Accept-Language`` header, most wanted first or with weights — Chromium set
to Spanish sends ``es-ES,es;q=0.9``. A server that holds a page in several
languages picks one from it (RFC 9110 §12.5.4 "proactive negotiation"), says
which in ``Content-Language``, and adds ``Vary: Accept-Language`` so that a
cache knows the answer depends on that header.

Where the translations are, as many sites keep them: a site's top folder may
hold a folder per language, named by its tag (``es/``, ``pt-br/``: two
letters, an optional region), with the same paths as the site's own files,
which are in the server's default language. A request for ``/about.html``
gets ``es/about.html`` when the client prefers Spanish and that file exists;
otherwise the default file. A URL that names a language (``/es/about.html``,
or ``/en/about.html`` for the default language when no ``en/`` folder exists)
is served as it is, with no negotiation.

Matching follows RFC 4647: a range matches a tag equal to it or starting
with it and a hyphen (``es`` matches ``es-mx``) — "basic filtering", §3.3.1 —
and, as Apache's and browsers' fallback, a range also matches the language
it starts with (``es-ES`` matches ``es``: "lookup", §3.4). Ranges are taken
by weight, highest first, then in the order given; ``q=0`` means "not this";
``*`` means any, so the default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = ["LANGUAGE_FOLDER", "accepted_languages", "choose_language", "language_folders"]

LANGUAGE_FOLDER = re.compile(r"[a-z]{2}(-[a-z0-9]{2,8})?")
"""A folder named like a language tag: ``es``, ``pt-br``, ``es-419`` (lower case)."""

_RANGE = re.compile(r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*")


def accepted_languages(header: str | None) -> list[str]:
    """The language ranges of an ``Accept-Language`` value, most wanted first (lower case).

    Ranges with ``q=0`` and malformed items are left out, as RFC 9110 lets a
    server ignore what it cannot read.
    """
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        match = _RANGE.fullmatch(item)
        if match is None:
            continue
        try:
            weight = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        if 0 < weight <= 1:
            weighted.append((-weight, position, match.group(1).lower()))
    return [language for _, _, language in sorted(weighted)]


def choose_language(wanted: Sequence[str], available: Iterable[str], default: str) -> str:
    """The first of ``available`` that the client's ``wanted`` ranges match; else ``default``."""
    offered = list(available)
    for language in wanted:
        if language == "*":
            return default
        for tag in offered:
            if tag == language or tag.startswith(language + "-") or language.startswith(tag + "-"):
                return tag
    return default


def language_folders(names: Iterable[str]) -> tuple[str, ...]:
    """Of a site's top-level folder names, those named like a language tag, sorted."""
    return tuple(sorted(name for name in names if LANGUAGE_FOLDER.fullmatch(name)))
