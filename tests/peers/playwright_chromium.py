"""Drive Debian's Chromium with Playwright: real clicks and keys on a page a learner sees.

Playwright's own browser builds are never downloaded: it launches the system's
``chromium`` (``executable_path``), headless, with the same quiet flags as
:mod:`peers.chromium` and a fresh profile. :func:`chromium_page` yields a
:class:`WatchedPage`: the Playwright page plus everything the page did that a
test must check afterwards — console errors, uncaught exceptions, and every
request that left for somewhere other than the page's own origin (such a
request is also blocked, so a page that tries cannot reach the network).
Tests using it are marked ``@pytest.mark.peer("chromium")``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from peers.chromium import CHROMIUM_FLAGS
from support import require_program

__all__ = ["WatchedPage", "chromium_page"]

PHONE = (390, 844)
DESKTOP = (1280, 800)


@dataclass
class WatchedPage:
    page: object  # playwright.sync_api.Page (typed loosely: playwright is a test-only import)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """No request that left the page's origin, no script error, no console error."""
        assert self.outside_requests == [], f"requests left the page: {self.outside_requests}"
        assert self.page_errors == [], f"script errors: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme != "file" else "file://"


def _inside(url: str, origins: set[str]) -> bool:
    if url.startswith(("data:", "blob:", "about:")):
        return True
    return _origin(url) in origins


@contextlib.contextmanager
def chromium_page(
    url: str,
    *,
    size: tuple[int, int] = DESKTOP,
    language: str = "en",
    timeout: float = 20.0,
    bypass_csp: bool = False,
) -> Iterator[WatchedPage]:
    """Open ``url`` in headless Chromium at ``size`` (width, height) with ``language``
    preferred; yield the watched page. Requests to any other origin are blocked and listed.
    ``bypass_csp``: the page's policy lets the test inject a script (an accessibility
    checker) into a page that allows none of its own inline."""
    program = require_program("chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    flags = [flag for flag in CHROMIUM_FLAGS if flag != "--headless"]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    origins = {_origin(url)}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=program, args=flags, env=env, timeout=timeout * 1000
        )
        try:
            context = browser.new_context(
                viewport={"width": size[0], "height": size[1]},
                locale="es-ES" if language == "es" else "en-GB",
                extra_http_headers={"Accept-Language": "es-ES,es" if language == "es" else "en"},
                service_workers="block",
                bypass_csp=bypass_csp,
            )
            context.set_default_timeout(timeout * 1000)
            page = context.new_page()
            watched = WatchedPage(page)
            page.on(
                "console",
                lambda message: (
                    watched.console_errors.append(message.text) if message.type == "error" else None
                ),
            )
            page.on("pageerror", lambda error: watched.page_errors.append(str(error)))

            def route(route: object) -> None:
                request = route.request  # type: ignore[attr-defined]
                if _inside(request.url, origins):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    watched.outside_requests.append(request.url)
                    route.abort()  # type: ignore[attr-defined]

            context.route("**/*", route)
            page.goto(url)
            yield watched
        finally:
            browser.close()
