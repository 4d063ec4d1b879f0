"""Who may talk to the app: the checks every request passes before the app sees it.

A local app that makes network requests is a target for web pages the same
browser visits. Three attacks, three checks (an ASGI middleware, so that no
route can forget them):

- **DNS rebinding**: a page at ``evil.example`` makes its name point to
  127.0.0.1 and then talks to us "same-origin". Its requests still carry
  ``Host: evil.example:PORT``, so only the exact address we are bound to
  (and ``localhost:PORT`` when bound to 127.0.0.1) is answered — others get
  421 Misdirected Request.
- **Cross-site requests that change things** (CSRF): a POST from any other page
  carries that page's ``Origin``; a POST, PUT or DELETE is taken only with our
  own origin and ``Content-Type: application/json`` (which a plain HTML form
  cannot send) — otherwise 403.
- **Big bodies**: read at most :data:`MAX_BODY` bytes — 413 beyond.

Every answer also carries headers that keep the page to itself: a Content
Security Policy allowing only our own origin (no inline script), no framing,
no sniffing, no referrer. Refusals are one sentence, in the visitor's language
(``?lang=`` or Accept-Language).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from webtrip.i18n import LANGUAGES, number, translation

__all__ = ["MAX_BODY", "SECURITY_HEADERS", "Guard", "language_of"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 64 * 1024
"""The largest request body taken, in bytes."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Our own files only; styles may be set inline (the app sizes its drawings with them);
images may be data: URIs (the page as received shows its images so)."""

SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def language_of(scope: Scope) -> str:
    """The visitor's language: ``?lang=es``, else the first of Accept-Language we speak."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    asked = query.get("lang", [""])[0]
    if asked in LANGUAGES:
        return str(asked)
    for name, value in scope.get("headers", []):
        if name == b"accept-language":
            for part in value.decode("latin-1").split(","):
                code = part.split(";")[0].strip().split("-")[0].lower()
                if code in LANGUAGES:
                    return str(code)
                if code == "*":
                    break
    return "en"


class Guard:
    """The ASGI middleware in front of the app: Host, Origin, Content-Type, body size,
    security headers. ``hosts`` are the ``Host`` values answered; ``origin`` ours."""

    def __init__(self, app: ASGIApp, hosts: set[str], origin: str) -> None:
        self.app = app
        self.hosts = {host.lower() for host in hosts}
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope["headers"]}
        language = language_of(scope)
        _ = translation(language).gettext
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            sentence = _(
                "This app answers only at {address}, not at {host}: open it at its own address."
            ).format(address=self.origin, host=host[:100] or "?")
            await refuse(send, 421, sentence)
            return
        if scope["method"] in CHANGING:
            origin = headers.get(b"origin", b"").decode("latin-1")
            if origin != self.origin:
                await refuse(send, 403, _("Changes are taken only from the app's own page."))
                return
            kind = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip()
            if kind.lower() != "application/json":
                await refuse(send, 403, _("Send the parameters as JSON (application/json)."))
                return
            length = headers.get(b"content-length")
            too_big = _("The request is larger than {size} KB.").format(
                size=number(MAX_BODY // 1024, language)
            )
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
                await refuse(send, 413, too_big)
                return
            body = await _read_body(receive)
            if body is None:
                await refuse(send, 413, too_big)
                return
            receive = _replay(body)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None as soon as it passes :data:`MAX_BODY` (chunked bodies too)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A ``receive`` that gives the app the body already read, then waits for disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def refuse(send: Send, status: int, sentence: str) -> None:
    """Answer ``status`` with ``{"error": sentence}`` (and the security headers)."""
    body = json.dumps({"error": sentence}, ensure_ascii=False).encode()
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
