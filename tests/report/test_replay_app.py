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
