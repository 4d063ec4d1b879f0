"""Languages: every sentence webtrip narrates exists in English and Spanish.

Messages are written in English in the code, marked with ``_()`` (or
``ngettext`` for plurals), and translated through GNU gettext catalogs in
``webtrip/locale/<lang>/LC_MESSAGES/webtrip.po`` (compiled to ``.mo``, which
is what the standard ``gettext`` module reads). ``--lang`` chooses; without
it, the usual environment variables do (LANGUAGE, LC_ALL, LC_MESSAGES, LANG).
"""

from __future__ import annotations

import gettext
import os
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


def translation(language: str) -> gettext.NullTranslations:
    """The catalog for ``language`` (English: the messages as written)."""
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
