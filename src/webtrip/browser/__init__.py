"""The browser: the client side of all four steps of a page load.

- :mod:`~webtrip.browser.urls` — what the user typed made into a URL, and a URL
  cut into origin, request-target and Host header;
- :mod:`~webtrip.browser.stub_resolver` — step 1: the name's address, asked of
  a DNS server with real DNS messages (or found in /etc/hosts, or a literal);
- :mod:`~webtrip.browser.http1` — step 2: a TCP (and TLS) connection and an
  HTTP/1.1 request through h11; step 3: the answer read piece by piece, every
  read recorded, the kernel's packet counters asked (TCP_INFO);
- :mod:`~webtrip.browser.pool` — at most six persistent connections per
  origin, idle ones reused first;
- :mod:`~webtrip.browser.page` and :mod:`~webtrip.browser.css` — step 4:
  the HTML parsed, the files it needs found, the page's text built;
- :mod:`~webtrip.browser.loader` — the page loader that runs the four steps
  for the page and every file it needs;
- :mod:`~webtrip.browser.errors` — why a load failed: a type and an exit code
  per kind, and its sentence in any language (:func:`failure_sentence`).
"""

from webtrip.browser.errors import failure_sentence
from webtrip.browser.loader import Browser, BrowserOptions, Fetched, PageLoad
from webtrip.browser.page import Document
from webtrip.browser.stub_resolver import StubResolver

__all__ = [
    "Browser",
    "BrowserOptions",
    "Document",
    "Fetched",
    "PageLoad",
    "StubResolver",
    "failure_sentence",
]
