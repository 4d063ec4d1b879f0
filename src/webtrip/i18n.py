"""Languages: every sentence webtrip narrates exists in English and Spanish.

Messages are written in English in the code, marked with ``_()`` (or
``ngettext`` for plurals), and translated through GNU gettext catalogs in
``webtrip/locale/<lang>/LC_MESSAGES/webtrip.po`` (compiled to ``.mo``, which
is what the standard ``gettext`` module reads). ``--lang`` chooses; without
it, the usual environment variables do (LANGUAGE, LC_ALL, LC_MESSAGES, LANG).
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import os
from collections.abc import Iterator
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "webtrip"
LANGUAGES = ("en", "es")


def choose_language(option: str | None = None) -> str:
    """``option`` if given, else the environment's language; "en" or "es"."""
    if option:
        return option
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            code = value.split(":")[0].split("_")[0].split(".")[0].lower()
            return code if code in LANGUAGES else "en"
    return "en"


@functools.cache
def translation(language: str) -> gettext.NullTranslations:
    """The catalog for ``language`` (English: the messages as written), read once."""
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])


# Numbers as each language writes them: "1,042.5 ms" in English, "1042,5 ms" in
# Spain (decimal comma; a dot groups thousands from five digits on). The
# symbols and patterns come from CLDR through babel.
_LOCALES = {"en": "en_US", "es": "es_ES"}
# CLDR's minimumGroupingDigits, which babel does not apply: Spain writes 2086
# but 12.345 (RAE, Ortografía 2010, §4.2.2.1.1).
_MINIMUM_GROUPING = {"es": 2}


def number(value: float, language: str, decimals: int = 0) -> str:
    """``value`` with ``decimals`` digits after the separator, as ``language`` writes it."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    rounded = round(value, decimals) if decimals > 0 else round(value)
    digits = len(str(abs(int(rounded))))
    grouped = digits >= 3 + _MINIMUM_GROUPING.get(language, 1)
    return format_decimal(
        value,
        format=pattern,
        locale=_LOCALES.get(language, "en_US"),
        group_separator=grouped,
    )


def milliseconds(value: float, language: str) -> str:
    """A duration in milliseconds: two decimals below 10 ms, whole ones above ("–" if unknown)."""
    if value < 0:
        return "–"
    return number(value, language, 2 if value < 10 else 0) + " ms"


def seconds(value: float, language: str) -> str:
    """A duration in seconds, with up to one decimal ("1 s", "1.5 s" / "1,5 s")."""
    if value < 0:
        return "–"
    whole = abs(value - round(value)) < 0.05
    return number(value, language, 0 if whole else 1) + " s"


# The command line's language. click writes its own words ("Usage:", "Error:",
# "Show this message and exit.") with the standard ``gettext.gettext``, which
# reads the process's text domain and the LANGUAGE variable; the catalog holds
# them too, so a command run with ``--lang es`` (or a Spanish LANG) speaks
# Spanish from its usage line to its last error.


def language_in(arguments: list[str]) -> str:
    """The language a command line asks for: ``--lang X`` anywhere before ``--``, else
    the environment's (an unknown ``X`` is left for the option to refuse)."""
    for index, argument in enumerate(arguments):
        if argument == "--":
            break
        value = None
        if argument == "--lang" and index + 1 < len(arguments):
            value = arguments[index + 1]
        elif argument.startswith("--lang="):
            value = argument.partition("=")[2]
        if value in LANGUAGES:
            return value
    return choose_language()


@contextlib.contextmanager
def speaking(language: str) -> Iterator[None]:
    """While inside, ``gettext.gettext`` (click's words, the command line's sentences)
    answers from webtrip's catalog in ``language``; the process's settings come back after."""
    saved_domain = gettext.textdomain()
    saved_language = os.environ.get("LANGUAGE")
    gettext.bindtextdomain(DOMAIN, str(LOCALE_DIR))
    gettext.textdomain(DOMAIN)
    os.environ["LANGUAGE"] = language
    try:
        yield
    finally:
        gettext.textdomain(saved_domain)
        if saved_language is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = saved_language


def mark_in_context(context: str, message: str) -> str:
    """Mark ``message`` in ``context`` for the catalog; translated where it is shown."""
    return message


# The actors' names in a trace are the lab's host names or an actor's own word
# ("browser", "web-server", "dns-server@root": the DNS server program on host root):
# short English ids, which a learner reads in the views as words — a server program
# by its host's name, as people call a server. The names used by the
# bundled lab and by the actors have their words in each language; any other name is
# the user's own and is shown as written.
ACTOR_NAMES = {
    "browser": mark_in_context("actor", "browser"),
    "client": mark_in_context("actor", "client"),
    "resolver": mark_in_context("actor", "resolver"),
    "root": mark_in_context("actor", "root server"),
    "tld": mark_in_context("actor", "TLD server"),
    "dns": mark_in_context("actor", "DNS server"),
    "dns-server": mark_in_context("actor", "DNS server"),
    "web": mark_in_context("actor", "web server"),
    "web-server": mark_in_context("actor", "web server"),
    "router": mark_in_context("actor", "router"),
    "network": mark_in_context("actor", "network"),
}


def known_actor(name: str) -> bool:
    """Whether ``name`` is one of webtrip's own actors or hosts (it has words of its own)."""
    program, _, host = name.partition("@")
    return name in ACTOR_NAMES or (program == "dns-server" and host in ACTOR_NAMES)


def actor_name(name: str, language: str) -> str:
    """An actor's or a host's name as ``language`` calls it ("browser" → "navegador",
    "dns-server@root" → "servidor raíz")."""
    catalog = translation(language)
    program, _, host = name.partition("@")
    if program == "dns-server" and host in ACTOR_NAMES:
        return catalog.pgettext("actor", ACTOR_NAMES[host])
    if name not in ACTOR_NAMES:
        return name
    return catalog.pgettext("actor", ACTOR_NAMES[name])
