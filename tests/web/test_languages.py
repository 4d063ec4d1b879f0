"""Language negotiation: a client's Accept-Language picks the translation it gets.

The rules (web/languages.py) as functions, then the demo site served by
``webtrip web serve`` and asked by curl, as a reader of RFC 9110 §12.5.4 would.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import require_program, webtrip_web_server
from webtrip.labs import demo_path
from webtrip.web.languages import accepted_languages, choose_language, language_folders


def test_accept_language_is_read_by_weight_then_order():
    assert accepted_languages("es-ES,es;q=0.9,en;q=0.8") == ["es-es", "es", "en"]
    assert accepted_languages("en;q=0.5, fr, de;q=0.7") == ["fr", "de", "en"]


def test_zero_weights_and_malformed_items_are_left_out():
    assert accepted_languages("es;q=0, en;q=x, ;;, fr;q=2, de") == ["de"]
    assert accepted_languages(None) == accepted_languages("") == []


def test_a_region_range_falls_back_to_its_language_and_a_language_matches_its_regions():
    assert choose_language(["es-es"], ["en", "es"], "en") == "es"
    assert choose_language(["pt"], ["en", "pt-br"], "en") == "pt-br"
    assert choose_language(["fr", "es"], ["en", "es"], "en") == "es"


def test_nothing_matching_or_any_gives_the_default():
    assert choose_language(["fr"], ["en", "es"], "en") == "en"
    assert choose_language(["*", "es"], ["en", "es"], "en") == "en"
    assert choose_language([], ["en", "es"], "en") == "en"


def test_only_folders_named_like_language_tags_are_translations():
    assert language_folders(["img", "es", "pt-br", "es-419", "js2", "Es"]) == (
        "es",
        "es-419",
        "pt-br",
    )


# --- curl asks the demo site -------------------------------------------------------------


def curl(server, path: str, *headers: str) -> tuple[dict[str, str], str]:
    """The response's headers (lower-case names) and body as curl received them."""
    program = require_program("curl")
    args = [program, "-s", "-D", "-", "--compressed"]
    for header in headers:
        args += ["-H", header]
    done = subprocess.run(
        [*args, f"http://{server.host}:{server.port}{path}"],
        capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    head, _, raw = done.stdout.partition(b"\r\n\r\n")
    body = raw.decode("utf-8", "replace")
    fields = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields, body


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    logs: Path = tmp_path_factory.mktemp("logs")
    with webtrip_web_server(demo_path("site"), log_dir=logs) as server:
        yield server


@pytest.mark.peer("curl")
def test_a_spanish_reader_gets_the_spanish_page_at_the_same_url(demo_site):
    fields, body = curl(demo_site, "/", "Accept-Language: es-ES,es;q=0.9")
    assert '<html lang="es">' in body
    assert fields["content-language"] == "es"
    assert "Accept-Language" in fields["vary"] and "Accept-Encoding" in fields["vary"]
    assert fields["content-location"] == "/es/"


@pytest.mark.peer("curl")
def test_an_english_reader_or_one_who_says_nothing_gets_the_default_page(demo_site):
    for headers in (("Accept-Language: en-US,en;q=0.9",), ("Accept-Language: fr",), ()):
        fields, body = curl(demo_site, "/", *headers)
        assert '<html lang="en">' in body
        assert fields["content-language"] == "en" and "Accept-Language" in fields["vary"]
        assert "content-location" not in fields


@pytest.mark.peer("curl")
def test_each_language_has_its_own_etag(demo_site):
    english, _ = curl(demo_site, "/", "Accept-Language: en")
    spanish, _ = curl(demo_site, "/", "Accept-Language: es")
    assert english["etag"] != spanish["etag"]


@pytest.mark.peer("curl")
def test_a_url_that_names_its_language_is_not_negotiated(demo_site):
    fields, body = curl(demo_site, "/es/", "Accept-Language: en")
    assert '<html lang="es">' in body and fields["content-language"] == "es"
    assert "Accept-Language" not in fields.get("vary", "")
    fields, body = curl(demo_site, "/en/", "Accept-Language: es")
    assert '<html lang="en">' in body and fields["content-language"] == "en"
    assert "Accept-Language" not in fields.get("vary", "")


@pytest.mark.peer("curl")
def test_a_file_with_no_translation_does_not_vary_by_language(demo_site):
    fields, _ = curl(demo_site, "/img/astronaut.jpg", "Accept-Language: es")
    assert "content-language" not in fields and "vary" not in fields
    assert fields["content-length"] == str(demo_path("site", "img", "astronaut.jpg").stat().st_size)
