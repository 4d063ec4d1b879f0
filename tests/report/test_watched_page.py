"""The Playwright peer itself: a page's requests to elsewhere are blocked and listed,
so the replay's "no request leaves the page" checks can be trusted."""

from __future__ import annotations

from pathlib import Path

import pytest

from peers.playwright_chromium import PHONE, chromium_page


@pytest.mark.peer("chromium")
def test_a_request_leaving_the_page_is_blocked_and_listed(tmp_path: Path) -> None:
    page = tmp_path / "a.html"
    page.write_text("<!doctype html><title>t</title><img src='http://192.0.2.1/x.png'><p>hi")
    with chromium_page(page.as_uri(), size=PHONE) as watched:
        watched.page.wait_for_timeout(300)  # type: ignore[attr-defined]
        assert watched.outside_requests == ["http://192.0.2.1/x.png"]
        with pytest.raises(AssertionError, match="requests left the page"):
            watched.assert_clean()


@pytest.mark.peer("chromium")
def test_real_clicks_and_keys_reach_the_page(tmp_path: Path) -> None:
    page = tmp_path / "b.html"
    page.write_text(
        "<!doctype html><title>t</title><button onclick=\"document.title='clicked'\">b</button>"
        "<script>addEventListener('keydown', e => { if (e.key === 'ArrowRight') "
        "document.body.dataset.key = e.key })</script>"
    )
    with chromium_page(page.as_uri()) as watched:
        watched.page.click("button")  # type: ignore[attr-defined]
        watched.page.keyboard.press("ArrowRight")  # type: ignore[attr-defined]
        assert watched.page.title() == "clicked"  # type: ignore[attr-defined]
        assert watched.page.evaluate("document.body.dataset.key") == "ArrowRight"  # type: ignore[attr-defined]
        watched.assert_clean()
