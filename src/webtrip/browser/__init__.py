"""The browser: the client side of all four steps of a page load.

- :mod:`~webtrip.browser.resolver` — step 1: the name's address, asked of a
  DNS server with real DNS messages (or found in /etc/hosts, or a literal);
- :mod:`~webtrip.browser.http1` — step 2: a TCP (and TLS) connection and an
  HTTP/1.1 request through h11;
- the same module, step 3: the answer read piece by piece, every read
  recorded, the kernel's packet counters asked (TCP_INFO);
- :mod:`~webtrip.browser.page` and :mod:`~webtrip.browser.css` — step 4:
  the HTML parsed, the files it needs found, the page's text built;
- :mod:`~webtrip.browser.loader` — the page loader that runs the four steps
  and fetches sub-resources over up to six connections per origin.
"""
