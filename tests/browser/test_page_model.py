"""Step 4's parsing: the text of a page and the files it needs, from HTML and CSS."""

from __future__ import annotations

import pytest

from webtrip.browser.css import inline_style_urls, stylesheet_urls
from webtrip.browser.page import parse_html

BASE = "http://www.example.test/dir/page.html"


def kinds_and_urls(html: str) -> list[tuple[str, str]]:
    return [(r.kind, r.url) for r in parse_html(html, BASE).resources]


def test_stylesheets_scripts_images_and_icons_are_found_in_document_order():
    html = """<html><head><link rel="stylesheet" href="/a.css"><link rel="icon" href="i.ico">
    <script src="s.js"></script><link rel="alternate stylesheet" href="alt.css"></head>
    <body><img src="p.png"><video poster="v.jpg"></video></body></html>"""
    assert kinds_and_urls(html) == [
        ("stylesheet", "http://www.example.test/a.css"),
        ("icon", "http://www.example.test/dir/i.ico"),
        ("script", "http://www.example.test/dir/s.js"),
        ("stylesheet", "http://www.example.test/dir/alt.css"),  # fetched, as Chromium does
        ("image", "http://www.example.test/dir/p.png"),
        ("image", "http://www.example.test/dir/v.jpg"),
    ]


def test_base_href_changes_where_relative_urls_point():
    html = '<head><base href="http://cdn.example.test/x/"></head><body><img src="y.png"></body>'
    assert kinds_and_urls(html) == [("image", "http://cdn.example.test/x/y.png")]


@pytest.mark.parametrize(
    ("srcset", "picked"),
    [
        ("a.png 1x, b.png 2x", "a.png"),
        ("b.png 2x, a.png 1.5x", "fallback.png"),  # src is the 1x candidate
        ("small.png 480w, big.png 1600w, mid.png 1100w", "big.png"),  # 1280 px wide
        ("small.png 480w, medium.png 800w", "medium.png"),
    ],
)
def test_srcset_gives_the_candidate_a_1x_screen_picks(srcset, picked):
    html = f'<img src="fallback.png" srcset="{srcset}">'
    assert kinds_and_urls(html) == [("image", f"http://www.example.test/dir/{picked}")]


def test_duplicates_fragments_and_non_http_urls_are_left_out():
    html = (
        '<img src="a.png#x"><img src="a.png"><img src="data:image/png;base64,AA==">'
        '<script src="javascript:void(0)"></script>'
    )
    assert kinds_and_urls(html) == [("image", "http://www.example.test/dir/a.png")]


def test_style_elements_and_attributes_are_kept_for_the_cascade():
    html = (
        '<style>@import "i.css"; body{background:url(bg.png)}</style>'
        '<div style="background:url(d.png)">'
    )
    document = parse_html(html, BASE)
    assert document.resources == []  # what CSS needs is known once it is applied
    assert [s.text for s in document.styles] == ['@import "i.css"; body{background:url(bg.png)}']


def test_text_blocks_keep_reading_order_with_numbered_links_and_alt_text():
    html = """<html lang="en"><head><title> A   title </title></head><body>
    <h1>Heading</h1><p>Go <a href="/next">there</a> now <img src="x.png" alt="a cat"></p>
    <ul><li>one</li><li>two <ul><li>deep</li></ul></li></ul>
    <script>ignored()</script><pre>  code
  kept</pre></body></html>"""
    document = parse_html(html, BASE)
    assert document.title == "A title" and document.lang == "en"
    kinds = [(b.kind, b.text, b.level) for b in document.blocks]
    assert kinds[0] == ("heading", "Heading", 1)
    assert kinds[1] == ("paragraph", "Go there[1] now [a cat]", 0)
    assert ("item", "one", 1) in kinds and ("item", "deep", 2) in kinds
    assert ("pre", "  code\n  kept", 0) in kinds
    assert all("ignored" not in b.text for b in document.blocks)
    assert document.links == [("there", "http://www.example.test/next")]


def test_broken_html_is_repaired_as_a_browser_would():
    document = parse_html("<p>one<p>two<b>bold<i>both</b>italic", BASE)
    assert [b.text for b in document.blocks] == ["one", "twoboldbothitalic"]


def test_css_urls_come_from_the_tokenizer_not_from_comments_or_strings():
    css = """@import "a.css"; @import url(b.css) screen;
    /* url(comment.png) */ .x { content: "url(string.png)"; background: url( "c.png" ) }
    @media print { .y { background-image: url(d.png) } }
    @font-face { src: url(f.woff2) format("woff2") }"""
    assert stylesheet_urls(css) == [
        ("a.css", "import"),
        ("b.css", "import"),
        ("c.png", "css-url"),
        ("d.png", "css-url"),
        ("f.woff2", "css-url"),
    ]


def test_inline_style_urls():
    assert inline_style_urls("background: url(a.png), url('b.png'); color: red") == [
        "a.png",
        "b.png",
    ]
