"""The app in headless Chromium: fill the form for a lossy run, press Run, watch it load."""

from __future__ import annotations

import pytest

from peers.axe import axe_bundle, serious
from peers.playwright_chromium import DESKTOP, PHONE, chromium_page

WORDS = {
    "en": {"run": "Run", "title": "Make a run", "loss": "Loss (%)"},
    "es": {"run": "Ejecutar", "title": "Haz una ejecución", "loss": "Pérdida (%)"},
}


@pytest.mark.peer("chromium")
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_a_lossy_run_made_from_the_form_loads_into_the_app(ui_server, language, size):
    with chromium_page(ui_server.origin + "/", size=size, language=language) as watched:
        page = watched.page
        page.wait_for_selector("body[data-ready='1']")
        words = WORDS[language]
        page.locator("#ui-lang").select_option(language)
        assert page.locator("#ui-form-title").inner_text() == words["title"]
        assert page.get_by_label(words["loss"], exact=True).count() == 1
        page.get_by_label(words["loss"], exact=True).fill("5")
        page.locator("#ui-seed").fill("3")
        page.locator("#ui-fault").select_option("drop")
        page.locator("#ui-packet").select_option("synack")
        page.get_by_role("button", name=words["run"], exact=True).click()
        page.wait_for_selector("body[data-drawn]", timeout=60_000)
        run_id = page.evaluate("document.body.dataset.drawn")
        assert (
            page.locator(f"button.ui-open[data-run='{run_id}']").get_attribute("aria-current")
            == "true"
        )
        summary = page.locator(f"button.ui-open[data-run='{run_id}']").inner_text()
        assert ("seed 3" if language == "en" else "semilla 3") in summary
        # The replay app has the run: its lost SYN-ACK is a flight in its data.
        assert page.evaluate("window.webtripUi.timings.length") == 1
        # The page's own marks: the data in hand, then its first frame painted, after it.
        timing = page.evaluate("window.webtripUi.timings[0]")
        assert 0 < timing["data"] <= timing["frame"] <= timing["drawn"]
        # The first part drew the first frame; the rest (frames, streams, page) follows,
        # and every view is built once the page is idle.
        page.wait_for_selector("body[data-built='1']")
        page.wait_for_function("() => !S.restPending && S.data.frames.length > 0")
        assert page.evaluate("S.data.flights.some((f) => f.lost !== null)")
        # The form folds away so that the run has the screen; the run-again form is there.
        assert page.locator("#ui-make").get_attribute("open") is None
        assert page.locator("#ui-again").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size[0], f"sideways scroll: {width} px"
        watched.assert_clean()


@pytest.mark.peer("chromium")
def test_a_run_opened_from_the_list_then_the_language_switched(ui_server):
    run = ui_server.wait(ui_server.post_run({"seed": 9, "lang": "es"}).json()["id"])
    with chromium_page(ui_server.origin + "/", size=DESKTOP, language="en") as watched:
        page = watched.page
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#ui-form-title").inner_text() == "Make a run"
        page.locator(f"button.ui-open[data-run='{run['id']}']").click()
        page.wait_for_selector(f"body[data-run='{run['id']}']")
        page.locator("#language").select_option("es")
        page.get_by_role("button", name="Ejecutar otra vez con un cambio").wait_for()
        assert page.locator("#ui-form-title").inner_text() == "Haz una ejecución"
        assert page.locator("#ui-runs-title").inner_text() == "Ejecuciones"
        watched.assert_clean()


@pytest.mark.peer("chromium")
def test_the_empty_app_has_its_words_and_switches_language_before_any_run(ui_server):
    with chromium_page(ui_server.origin + "/", size=PHONE) as watched:
        page = watched.page
        page.wait_for_selector("body[data-ready='1']")
        english = page.locator("#h-network").inner_text()
        assert english and page.locator("#tabs [role=tab]").count() == 5
        page.locator("#language").select_option("es")
        assert page.evaluate("document.documentElement.lang") == "es"
        spanish = page.locator("#h-network").inner_text()
        assert spanish and spanish != english
        assert page.locator("#ui-form-title").inner_text() == WORDS["es"]["title"]
        watched.assert_clean()


@pytest.mark.peer("chromium")
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_axe_finds_nothing_serious_in_the_app_with_a_run(ui_server, language, size):
    """axe-core on webtrip ui (its form, the session list and a lossy run drawn): no
    serious or critical violation, in English and Spanish, desktop and phone. The test
    injects the checker past the app's policy (which allows no script of another origin)."""
    axe_bundle()
    run = ui_server.wait(ui_server.post_run({"seed": 4, "loss": 5, "lang": language}).json()["id"])
    with chromium_page(
        ui_server.origin + "/", size=size, language=language, bypass_csp=True
    ) as watched:
        page = watched.page
        page.wait_for_selector("body[data-ready='1']")
        page.locator("#ui-lang").select_option(language)
        assert serious(page) == []
        page.locator(f"button.ui-open[data-run='{run['id']}']").click()
        page.wait_for_selector(f"body[data-run='{run['id']}']")
        assert serious(page) == []
        watched.assert_clean()
