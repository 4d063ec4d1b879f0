"""The visual replay app, driven in the system's Chromium with real clicks and keys.

The report of a ``--drop synack`` sim, in English and Spanish, on a desktop (1280 px)
and a phone (390 px): jump to step 2 and click "next packet" until the lost SYN-ACK,
which the network drawing shows stopped with a cross; its PDU window opens with the
TCP flags field, whose bytes light up in the hex when it is clicked; the story's
sentence about the loss is the highlighted one; the language switches without
a reload; a click on a story sentence moves the scrubber there; the received page is
in a sandboxed iframe; and nothing leaves the page or fails in its console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from peers.axe import axe_bundle, serious
from peers.playwright_chromium import DESKTOP, PHONE, chromium_page
from webtrip import lab
from webtrip.lab import sim as simulated
from webtrip.report.html import embedded_data, html_report
from webtrip.trace import Trace

LOST = {"en": "lost", "es": "perdido"}


@pytest.fixture(scope="module")
def dropped() -> Trace:
    fault = lab.parse_fault("drop", "synack")
    return simulated.run(lab.demo_lab(), 1, faults=[fault]).world.trace


def write_report(trace: Trace, language: str, folder: Path) -> tuple[Path, dict[str, Any]]:
    page = html_report(trace, language)
    path = folder / f"report-{language}.html"
    path.write_text(page, encoding="utf-8")
    data = embedded_data(page)
    assert data is not None
    return path, data


def show(page: Any, view: str) -> None:
    """On a phone the views are tabs: open ``view``'s (on a desktop every view is shown)."""
    tab = page.locator(f"#tab-{view}")
    if tab.is_visible():
        tab.click()
    assert page.locator(f"#v-{view}").is_visible()


@pytest.mark.peer("chromium")
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_step_to_the_lost_synack_and_see_it(dropped, tmp_path, language, size):
    path, data = write_report(dropped, language, tmp_path)
    words = data["words"][language]
    lost = [f for f in data["flights"] if f["lost"] is not None]
    assert len(lost) == 1
    with chromium_page(path.as_uri(), size=size, language=language) as watched:
        page = watched.page
        assert page.evaluate("document.documentElement.lang") == language
        assert page.locator("#h-network").text_content() == words["views"]["network"]
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
        # Step 2, then "next packet" until the lost one is drawn dropped on the network.
        show(page, "network")
        page.keyboard.press("2")
        next_packet = page.locator("#next-packet")
        assert next_packet.get_attribute("aria-label") == words["controls"]["next_packet"]
        for _ in range(30):
            if page.locator("#network .flight.lost").count():
                break
            next_packet.click()
        dropped_glyph = page.locator("#network .flight.lost")
        assert dropped_glyph.count() == 1 and dropped_glyph.is_visible()
        assert dropped_glyph.get_attribute("data-flight") == str(data["flights"].index(lost[0]))
        assert dropped_glyph.locator(".cross").is_visible()
        assert words["lost_here"] in dropped_glyph.text_content()
        current = page.evaluate("S.i")
        assert current == lost[0]["sent_event"], "stopped at the packet that was lost"
        assert (
            page.locator("#position").text_content().startswith(words["position"].split("{k}")[0])
        )
        # The conversation marks the lost message (dashed, with a cross) as the current one.
        show(page, "conversation")
        message = page.locator("#sequence .message.current")
        assert message.count() == 1 and "lost" in message.get_attribute("class")
        # Its layers: the TCP flags field, whose bytes light up in the hex dump.
        show(page, "packets")
        page.wait_for_selector(f'#pdu[data-frame="{lost[0]["frame"]}"]:not([hidden])')
        flags = page.locator('#pdu .field[data-key="tcp.flags"]')
        assert flags.count() == 1
        start, end = int(flags.get_attribute("data-start")), int(flags.get_attribute("data-end"))
        flags.click()
        assert page.locator("#pdu .hex .b.hl").count() == end - start > 0
        assert "SYN" in flags.locator(".fvalue").text_content()
        assert flags.locator(".explain").text_content()
        # At that moment the story's highlighted sentence is the one telling the loss.
        show(page, "story")
        said = " ".join(page.locator("#story .sentence.now").all_text_contents())
        assert LOST[language] in said and "SYN-ACK" in said
        page.keyboard.press("Shift+ArrowRight")  # the next packet, from the keyboard
        assert page.evaluate("S.i") > current
        # Switch language at once, without reloading.
        other = "es" if language == "en" else "en"
        page.select_option("#language", other)
        assert page.evaluate("document.documentElement.lang") == other
        assert page.locator("#h-story").text_content() == data["words"][other]["views"]["story"]
        first_heading = data["story"][0]["heading"][other]
        assert page.locator("#story h3").first.text_content() == first_heading
        # A click on a sentence moves the scrubber to the moment it tells.
        sentence = next(s for part in data["story"] if part["step"] == 3 for s in part["sentences"])
        page.locator("#story .sentence", has_text=sentence["text"][other]).first.click()
        assert page.evaluate("S.i") == sentence["event"]
        assert abs(float(page.locator("#timeline").input_value()) - sentence["t"]) < 1e-6
        # The page as received: a sandboxed iframe with nothing that runs or loads.
        show(page, "files")
        frame = page.locator("#page-box iframe")
        assert frame.count() == 1 and frame.get_attribute("sandbox") == ""
        srcdoc = frame.get_attribute("srcdoc")
        assert "<script" not in srcdoc and "default-src 'none'" in srcdoc
        assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    watched.assert_clean()


@pytest.mark.peer("chromium")
def test_address_opens_an_event_or_a_moment_and_play_moves_time(dropped, tmp_path):
    """``#e=N`` opens the N-th event, ``#t=S`` the moment S; play advances virtual time."""
    path, data = write_report(dropped, "en", tmp_path)
    with chromium_page(path.as_uri() + "#e=118", size=DESKTOP) as watched:
        page = watched.page
        assert page.evaluate("S.i") == 118
        assert page.locator("#position").text_content().startswith("event 119 of ")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("S.i") == 119
        # the address follows once the timeline stands still
        page.wait_for_function("() => location.hash === '#e=119'")
        page.evaluate("location.hash = '#t=1.2'")
        page.wait_for_function("() => Math.abs(S.t - 1.2) < 1e-9")
        before = page.evaluate("S.t")
        page.keyboard.press("Space")
        page.wait_for_function(f"() => S.t > {before}")
        page.keyboard.press("Space")
        assert page.evaluate("S.playing") is False
        page.keyboard.press("+")
        assert page.locator("#speed").input_value() == "0.25"
        page.keyboard.press("4")
        step4 = next(s for s in data["steps"] if s["step"] == 4)
        assert page.evaluate("S.i") == step4["event"]
        # Filters: without TCP the browser's list shows only DNS and HTTP rows.
        page.locator("#filters input[value=tcp]").uncheck()
        shown = page.locator("#packets .prow").all()
        assert shown and all("kind-tcp" not in row.get_attribute("class") for row in shown)
        # The public API `webtrip ui` uses.
        assert page.evaluate("typeof webtrip.load + typeof webtrip.on + typeof webtrip.seek") == (
            "function" * 3
        )
        page.evaluate("webtrip.seek(0.5)")
        assert page.evaluate("S.t") == 0.5
        assert page.locator("#controls").count() == 1 and page.locator("nav#runs").count() == 1
    watched.assert_clean()


@pytest.mark.peer("chromium")
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_axe_finds_nothing_serious(dropped, tmp_path, language, size):
    """axe-core on the report, at the lost SYN-ACK with its layers open: no serious or
    critical violation (contrast, names, roles), in English and Spanish, desktop and phone."""
    axe_bundle()
    path, _data = write_report(dropped, language, tmp_path)
    with chromium_page(path.as_uri(), size=size, language=language) as watched:
        page = watched.page
        page.wait_for_function("S.data !== null")
        page.keyboard.press("2")
        for _ in range(30):
            if page.evaluate("document.querySelector('#network .flight.lost') !== null"):
                break
            page.locator("#next-packet").click()
        show(page, "packets")
        page.locator("#packets .prow").first.click()
        assert serious(page) == []
        for view in ("conversation", "files", "story"):
            if page.locator(f"#tab-{view}").is_visible():
                show(page, view)
                assert serious(page) == [], view
    watched.assert_clean()


@pytest.mark.peer("chromium")
def test_the_projector_shows_large_type_at_1920(dropped, tmp_path):
    """At 1920×1080 the app is large by itself (type, strokes, the diagram); the header's
    button turns it off and on; ``#big`` asks for it on a smaller screen. A screenshot
    at 1920×1080 is the proof the back row reads."""
    path, _data = write_report(dropped, "en", tmp_path)
    sizes = {}
    with chromium_page(path.as_uri(), size=(1920, 1080)) as watched:
        page = watched.page
        page.wait_for_function("S.data !== null")
        page.keyboard.press("2")
        big = page.locator("#big")
        assert page.evaluate("document.documentElement.classList.contains('big')")
        assert big.get_attribute("aria-pressed") == "true"
        measure = """() => ({
          body: parseFloat(getComputedStyle(document.body).fontSize),
          node: parseFloat(
            getComputedStyle(document.querySelector('#network .node .name')).fontSize),
          link: parseFloat(getComputedStyle(document.querySelector('#network .link')).strokeWidth),
          seq: document.querySelector('#sequence svg').getBoundingClientRect().width,
          overflow: document.documentElement.scrollWidth - innerWidth })"""
        sizes["big"] = page.evaluate(measure)
        shot = page.screenshot()
        (tmp_path / "projector-1920.png").write_bytes(shot)
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(shot[16:20], "big") == 1920
        assert int.from_bytes(shot[20:24], "big") == 1080
        big.click()
        assert big.get_attribute("aria-pressed") == "false"
        sizes["normal"] = page.evaluate(measure)
        big.click()
        assert page.evaluate("document.documentElement.classList.contains('big')")
        # The current message is still drawn and highlighted in the larger diagram.
        assert page.locator("#sequence .message.current").count() == 1
    watched.assert_clean()
    big, normal = sizes["big"], sizes["normal"]
    assert big["body"] >= 24 and big["body"] >= 1.3 * normal["body"], sizes
    assert big["node"] >= 20 > normal["node"] and big["link"] >= 2 * normal["link"], sizes
    assert big["seq"] >= 1.5 * normal["seq"], sizes
    assert big["overflow"] <= 0 and normal["overflow"] <= 0, sizes
    with chromium_page(path.as_uri() + "#big", size=DESKTOP) as watched:
        page = watched.page
        page.wait_for_function("S.data !== null")
        assert page.evaluate("document.documentElement.classList.contains('big')")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => /^#e=\\d+&big$/.test(location.hash)")
    watched.assert_clean()


@pytest.mark.peer("chromium")
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_conversations_labels_stay_inside_its_drawing(tmp_path, language):
    """A long label over a short arrow near an edge ("DNS referral … — lost here") starts
    at that edge instead of being cut off (seen on a phone: "JS referral…", the README's
    lossy run)."""
    lossy = lab.demo_lab()
    link = lossy.browser_link
    lossy.links[0] = lab.LinkSpec(link.ends, link.addresses, link.options | {"loss": 0.05})
    path, _ = write_report(simulated.run(lossy, 1).world.trace, language, tmp_path)
    with chromium_page(path.as_uri(), size=PHONE) as watched:
        page = watched.page
        show(page, "conversation")
        page.wait_for_selector("#sequence .message .label")
        overflowing = page.evaluate(
            """() => {
              const svg = document.querySelector('#sequence svg');
              const width = svg.viewBox.baseVal.width;
              return [...svg.querySelectorAll('.message .label')]
                .map((t) => [t.textContent, t.getBBox()])
                .filter(([, box]) => box.x < 0 || box.x + box.width > width)
                .map(([text, box]) => `${text}: ${Math.round(box.x)}`
                  + `..${Math.round(box.x + box.width)} of ${width}`);
            }"""
        )
        assert overflowing == []
        watched.assert_clean()
