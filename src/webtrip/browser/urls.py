"""Web addresses: what a user typed made into a URL, and a URL split into what a request needs.

Before step 1 the browser needs to know *which* name to look up and where to
connect: :func:`normalize_url` turns what a person types (``example.test``)
into an absolute ``http://`` or ``https://`` URL, refusing in one sentence
what no browser could load; :func:`split_url` cuts a URL into its *origin*
(scheme, host, port: the unit connections are kept and reused by), the
request-target of the HTTP request line and the ``Host`` header (RFC 9110
§7.2: the port only when it is not the scheme's default).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

from webtrip.browser.errors import BadUrl
from webtrip.outcomes import N_

__all__ = ["Origin", "normalize_url", "split_url"]

Origin = tuple[str, str, int]
"""A URL's origin: (scheme, host, port)."""

_HOST_NAME = re.compile(
    r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?"
)


def split_url(url: str) -> tuple[Origin, str, str]:
    """(origin, request-target, Host header) of an absolute http(s) URL; BadUrl otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadUrl(N_("'{url}' is not a valid URL (\"{detail}\")"), url=url, detail=exc) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadUrl(N_("'{url}' is not an http:// or https:// address"), url=url)
    host = parts.hostname
    if not host:
        raise BadUrl(N_("'{url}' has no host name"), url=url)
    default = 443 if scheme == "https" else 80
    port = port or default
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default else f"{shown}:{port}"
    return (scheme, host, port), target, host_header


def normalize_url(text: str) -> str:
    """What a user typed → an absolute http(s) URL (``example.test`` → ``http://example.test/``).

    Raises BadUrl, with one sentence saying why, for anything a browser could not load.
    """
    text = text.strip()
    if not text:
        raise BadUrl(N_("the address is empty"))
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise BadUrl(
            N_("'{url}' is not a valid URL (\"{detail}\")"), url=text, detail=exc
        ) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BadUrl(N_("'{url}' is not an http:// or https:// address"), url=text)
    host = parts.hostname or ""
    if not host:
        raise BadUrl(N_("'{url}' has no host name"), url=text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host) or len(host) > 253:
            raise BadUrl(N_("'{host}' is not a valid host name"), host=host) from None
    if not parts.path:
        text = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/", parts.query, ""))
    return text
