"""What a browser on a stated screen chooses: srcset, sizes, picture, media queries, CSS."""

from __future__ import annotations

import pytest

from webtrip.browser.css import parse_sheet
from webtrip.browser.media import Screen, matches
from webtrip.browser.page import module_imports, parse_html
from webtrip.browser.selection import choose, parse_srcset
from webtrip.browser.style import apply, specificity

BASE = "http://www.example.test/dir/page.html"
DESKTOP = Screen(1280, 800, 1.0)
PHONE = Screen(400, 800, 2.0)


@pytest.mark.parametrize(
    ("query", "desktop", "phone"),
    [
        ("(max-width: 600px)", False, True),
        ("screen and (min-width: 40em)", True, False),
        ("print", False, False),
        ("not print", True, True),
        ("(-webkit-min-device-pixel-ratio: 2), (min-resolution: 192dpi)", False, True),
        ("(400px < width <= 700px)", False, False),
        ("(width >= 1200px)", True, False),
        ("(orientation: portrait)", False, True),
        ("(prefers-color-scheme: dark)", False, False),
        ("(min-width: calc(600px + 10em))", True, False),
        ("(unknown-feature: 1)", False, False),
        ("", True, True),
    ],
)
def test_media_queries_are_evaluated_for_the_screen(query: str, desktop: bool, phone: bool):
    assert (matches(query, DESKTOP), matches(query, PHONE)) == (desktop, phone)


def test_srcset_is_parsed_as_html_says():
    assert [(c.url, c.density, c.width) for c in parse_srcset("a.png, b,c.png 2x ,d.png 300w")] == [
        ("a.png", None, None),
        ("b,c.png", 2.0, None),
        ("d.png", None, 300),
    ]
    assert parse_srcset("bad.png 2q, ok.png 1x") == parse_srcset("ok.png 1x")


@pytest.mark.parametrize(
    ("srcset", "sizes", "screen", "chosen"),
    [
        ("big.png 2x", None, DESKTOP, "src.png"),  # src is the 1x candidate
        ("big.png 2x", None, PHONE, "big.png"),
        ("a.png 1x, b.png 1.5x, c.png 3x", None, PHONE, "c.png"),  # least density ≥ 2
        ("w400.jpg 400w, w800.jpg 800w", "(max-width: 600px) 100vw, 33vw", DESKTOP, "w800.jpg"),
        ("w400.jpg 400w, w800.jpg 800w", "(max-width: 600px) 100vw, 33vw", PHONE, "w800.jpg"),
        ("w400.jpg 400w, w900.jpg 900w", "calc(50vw - 40px)", DESKTOP, "w900.jpg"),
    ],
)
def test_srcset_candidates_are_chosen_as_chromium_does(srcset, sizes, screen, chosen):
    choice = choose(parse_srcset(srcset), "src.png", sizes, screen)
    assert choice is not None and choice.url == chosen


def test_the_choice_says_why():
    choice = choose(parse_srcset("w400.jpg 400w, w800.jpg 800w"), None, "33vw", DESKTOP)
    assert choice is not None
    assert (
        choice.why.format(**dict(choice.values))
        == "srcset 800w: a 422 px slot (33vw) on a 1x screen"
    )


def test_picture_takes_the_first_source_of_a_type_and_media_that_fit():
    html = (
        '<picture><source type="image/heic" srcset="a.heic">'
        '<source media="(max-width: 600px)" srcset="small.webp">'
        '<source type="image/webp" srcset="big.webp"><img src="b.jpg"></picture>'
    )
    assert [r.url.rsplit("/", 1)[1] for r in parse_html(html, BASE, DESKTOP).resources] == [
        "big.webp"
    ]
    assert [r.url.rsplit("/", 1)[1] for r in parse_html(html, BASE, PHONE).resources] == [
        "small.webp"
    ]


def test_inert_markup_and_scripts_webtrip_does_not_run_ask_for_nothing():
    html = (
        '<body><noscript><img src="n.png"></noscript><template><img src="t.png"></template>'
        '<script nomodule src="old.js"></script><script type="text/template" src="x.js"></script>'
        '<script type="module" src="m.js"></script>'
    )
    document = parse_html(html, BASE)
    assert [(r.kind, r.url.rsplit("/", 1)[1]) for r in document.resources] == [("module", "m.js")]


def test_static_imports_are_followed_not_dynamic_ones():
    source = (
        'import a from "./a.js";\nexport * from "./b.js";\n// import "./c.js"\nimport("./d.js");'
    )
    assert module_imports(source) == ["./a.js", "./b.js"]


def needs(html: str, css: str, screen: Screen = DESKTOP) -> list[str]:
    document = parse_html(html, BASE, screen)
    assert document.tree is not None
    sheet = parse_sheet(css, BASE, screen)
    return [need.url for need in apply(document.tree, [sheet], BASE, screen)]


def test_only_rules_that_apply_to_a_shown_element_fetch_their_images():
    css = (
        ".used { background: url(used.png) } .nobody { background: url(nobody.png) }"
        " a:hover { background: url(hover.png) } .gone { display: none; background: url(gone.png) }"
        " p::before { background: url(no-content.png) } p::after { content: url(after.png) }"
    )
    html = '<div class="used">x</div><a href="#">a</a><div class="gone"><p>p</p></div><p>q</p>'
    assert needs(html, css) == ["used.png", "after.png"]


def test_the_cascade_picks_one_winner_per_property():
    css = "#a .x { background: url(id.png) } .x { background: url(class.png) }" \
          " .y { background: url(sheet.png) !important }"  # fmt: skip
    html = (
        '<div id="a"><p class="x">x</p></div>'
        '<p class="x" style="background-image: url(inline.png)">i</p>'
        '<p class="y" style="background-image: url(loses.png)">y</p>'
    )
    assert needs(html, css) == ["id.png", "inline.png", "sheet.png"]
    assert specificity("#a .x") == (1, 1, 0) and specificity("p:where(.z)::before") == (0, 0, 2)


def test_fonts_are_fetched_when_text_uses_them():
    css = (
        '@font-face { font-family: F; src: url(f.eot) format("embedded-opentype"),'
        ' url(f.woff2) format("woff2") }'
        "@font-face { font-family: F; font-weight: 700; src: url(f-bold.woff2) }"
        "@font-face { font-family: Unused; src: url(u.woff2) }"
        "@font-face { font-family: F2; src: url(cyr.woff2); unicode-range: U+0400-04FF }"
        "body { font-family: F, sans-serif } .none { font-family: Unused } pre { font-family: F2 }"
    )
    html = "<h1>Title</h1><p>text</p><div class=none></div><pre>latin only</pre>"
    assert needs(html, css) == ["f-bold.woff2", "f.woff2"]


def test_media_rules_and_image_set_follow_the_screen():
    css = (
        "@media (max-width: 600px) { .b { background: url(small.png) } }"
        " @media (min-width: 601px) { .b { background: url(large.png) } }"
        " .l { background: image-set(url(l1.png) 1x, url(l2.png) 2x) }"
    )
    html = '<div class="b">b</div><div class="l">l</div>'
    assert needs(html, css) == ["large.png", "l1.png"]
    assert needs(html, css, PHONE) == ["small.png", "l2.png"]
