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
