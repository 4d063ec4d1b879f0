"""Every sentence webtrip narrates exists in English and in Spanish."""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages import pofile
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo

import webtrip
from webtrip.i18n import LOCALE_DIR, choose_language, milliseconds, number, seconds, translation

SOURCE = Path(webtrip.__file__).parent
PO = LOCALE_DIR / "es" / "LC_MESSAGES" / "webtrip.po"
MO = LOCALE_DIR / "es" / "LC_MESSAGES" / "webtrip.mo"
PLACEHOLDER = re.compile(r"\{\w+\}")


KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}


def messages_in_code() -> set[tuple[str, str | None]]:
    """Every message the code marks for translation: (singular, context)."""
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(SOURCE), keywords=KEYWORDS
    ):
        found.add((message if isinstance(message, str) else message[0], context))
    return found


def spanish_catalog():
    with PO.open("rb") as file:
        return pofile.read_po(file)


def test_every_message_in_the_code_has_a_spanish_translation():
    catalog = spanish_catalog()
    missing = []
    for message, context in messages_in_code():
        entry = catalog.get(message, context=context)
        strings = [] if entry is None else (
            list(entry.string) if isinstance(entry.string, tuple) else [entry.string]
        )  # fmt: skip
        if not strings or not all(strings):
            missing.append(message)
    assert missing == []


def _singular(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def test_the_catalog_has_no_message_the_code_no_longer_uses():
    used = messages_in_code()
    stale = [m.id for m in spanish_catalog() if m.id and (_singular(m.id), m.context) not in used]
    assert stale == []


def test_translations_keep_every_placeholder():
    for message in spanish_catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        allowed = {name for text in ids for name in PLACEHOLDER.findall(text)}
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == allowed or (
                len(strings) > 1 and set(PLACEHOLDER.findall(string)) <= allowed
            ), string


def test_the_compiled_catalog_matches_its_source(tmp_path):
    rebuilt = tmp_path / "webtrip.mo"
    with rebuilt.open("wb") as file:
        write_mo(file, spanish_catalog())
    fresh = gettext.GNUTranslations(rebuilt.open("rb"))
    shipped = gettext.GNUTranslations(MO.open("rb"))
    messages = {key: value for key, value in fresh._catalog.items() if key != ""}  # type: ignore[attr-defined]
    shipped_messages = {key: value for key, value in shipped._catalog.items() if key != ""}  # type: ignore[attr-defined]
    assert messages == shipped_messages


def test_spanish_is_chosen_by_option_or_environment(monkeypatch):
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    assert choose_language() == "en"
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    assert choose_language() == "es"
    assert choose_language("en") == "en"
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert choose_language() == "en"


def test_spanish_translation_is_used():
    assert translation("es").gettext("What went wrong") == "Qué salió mal"


def test_a_word_in_context_is_translated_in_that_context():
    """The replay's phase names: "connect" as a phase of a request, not the verb."""
    assert translation("es").pgettext("phase", "connect") == "conexión"
    assert translation("en").pgettext("phase", "connect") == "connect"


@pytest.mark.parametrize(("lang", "heading"), [("en", "Step 1 — DNS"), ("es", "Paso 1 — DNS")])
def test_the_demo_narrates_in_each_language(lang, heading):
    done = subprocess.run(
        [sys.executable, "-m", "webtrip", "demo", "--lang", lang, "--no-render"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", "COLUMNS": "100"},
    )
    assert done.returncode == 0, done.stderr
    assert heading in done.stdout


@pytest.mark.parametrize(
    ("value", "decimals", "english", "spanish"),
    [
        (5, 0, "5", "5"),
        (2086, 0, "2,086", "2086"),  # Spain groups from five digits on (CLDR, RAE)
        (12345, 0, "12,345", "12.345"),
        (1234567, 0, "1,234,567", "1.234.567"),
        (9.49, 2, "9.49", "9,49"),
        (1042.34, 1, "1,042.3", "1042,3"),
        (99999.6, 0, "100,000", "100.000"),  # grouping decided on the rounded value
    ],
)
def test_numbers_are_written_as_each_language_writes_them(value, decimals, english, spanish):
    assert number(value, "en", decimals) == english
    assert number(value, "es", decimals) == spanish


def test_durations_keep_two_decimals_only_below_ten_milliseconds():
    assert milliseconds(0.0123, "es") == "0,01 ms"
    assert milliseconds(9.49, "en") == "9.49 ms"
    assert milliseconds(1042.3, "en") == "1,042 ms"
    assert milliseconds(1042.3, "es") == "1042 ms"
    assert milliseconds(-1, "es") == "–"
    assert seconds(1.0, "es") == "1 s"
    assert seconds(1.5, "es") == "1,5 s"
