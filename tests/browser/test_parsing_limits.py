"""The browser's parsing work is bounded (issue 14): elements, tags, CSS characters and rules.

Each bound is far above a real page's and says what it left out, in English and
Spanish; the page's text is laid out only when it is to be shown (--no-render).
"""

from __future__ import annotations

from webtrip.browser import loader
from webtrip.browser.css import parse_sheet
from webtrip.browser.media import DEFAULT_SCREEN
from webtrip.browser.page import MAX_ELEMENTS, parse_html
from webtrip.cli.output import limits_notes


def test_the_text_is_laid_out_only_when_asked():
    html = "<title>T</title><h1>Hello</h1><p>World <img src=a.png alt=pic></p>"
    shown = parse_html(html, "http://x/")
    unshown = parse_html(html, "http://x/", text=False)

    assert [b.text for b in shown.blocks] == ["Hello", "World [pic]"]
    assert unshown.blocks == [] and unshown.title == "T"
    assert [r.url for r in unshown.resources] == ["http://x/a.png"]


def test_elements_past_the_bound_are_not_looked_at_and_it_is_said():
    html = "<p>x</p>" * (MAX_ELEMENTS + 10) + '<img src="late.png">'
    document = parse_html(html, "http://x/")

    assert document.too_large
    assert document.resources == []  # the image after the bound is not known
    assert len(document.blocks) <= MAX_ELEMENTS


def test_a_stylesheet_past_its_bound_is_cut_and_it_is_said_in_spanish(monkeypatch):
    monkeypatch.setattr(loader, "MAX_SHEET_CHARS", 1_000)
    notes: list[tuple[str, tuple[tuple[str, object], ...]]] = []
    css = "a{background:url(a.png)}" * 100
    cut = loader._cut_sheet(css, "http://x/s.css", notes)

    assert len(cut) == 1_000
    assert len(parse_sheet(cut, "http://x/s.css", DEFAULT_SCREEN).rules) == 1_000 // 24 + 1

    class Load:
        document = parse_html("", "http://x/")

    Load.document.notes.extend(notes)
    assert limits_notes(Load, "es") == [  # type: ignore[arg-type]
        "La hoja de estilos http://x/s.css tiene más de 1000 caracteres: el navegador solo "
        "ha leído los primeros 1000."
    ]


def test_rules_past_the_bound_are_not_applied(monkeypatch):
    monkeypatch.setattr(loader, "MAX_CSS_RULES", 5)
    notes: list[tuple[str, tuple[tuple[str, object], ...]]] = []
    sheets = [
        parse_sheet("p{background:url(a.png)}" * 3, "http://x/1.css", DEFAULT_SCREEN),
        parse_sheet("p{background:url(b.png)}" * 4, "http://x/2.css", DEFAULT_SCREEN),
    ]
    capped = loader._cap_rules(sheets, notes)

    assert [len(sheet.rules) for sheet in capped] == [3, 2]
    assert [len(sheet.rules) for sheet in sheets] == [3, 4]  # the sheets themselves untouched
    assert len(notes) == 1 and "{count} rules" in notes[0][0]
