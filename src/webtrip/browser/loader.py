"""The page loader: the four steps for a page and every file it needs.

``Browser.load(url)`` fetches the document (following up to ten redirects),
parses it, then fetches its sub-resources — and the files their stylesheets
import — concurrently, over at most six persistent connections per origin,
as browsers do. Each request goes through the same stages, recorded in the
trace so that a view can time them the way HAR does:

    queued ─ blocked ─┬─ dns ─ connect ─ ssl ─┬─ send ─ wait ─ receive
                      └─ (connection reused) ─┘

A name is resolved once per load (the browser's DNS cache); a connection is
reused when one to the same origin is idle (:mod:`webtrip.browser.pool`).
Failures are typed (:mod:`webtrip.browser.errors`) and recorded; a failing
sub-resource does not fail the page. The code below reads in the order of the
steps: :meth:`Browser.load`, then resolve, connect, request and response, and
the page with the files it needs.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import ssl
import urllib.parse
from collections.abc import Coroutine
from dataclasses import dataclass, field

from webtrip import __version__
from webtrip.browser.cache import CacheDecision, HttpCache, StoredResponse
from webtrip.browser.css import StyleSheet, parse_sheet
from webtrip.browser.errors import (
    ConnectionFailed,
    ConnectionRefused,
    HttpStatusError,
    LoadError,
    Timeout,
    TlsFailure,
    TooManyRedirects,
    Unreachable,
    system_reason,
)
from webtrip.browser.http1 import (
    HttpConnection,
    Limits,
    NoResponse,
    PageBudget,
    PageTooLarge,
    Response,
)
from webtrip.browser.media import DEFAULT_SCREEN, Screen, matches
from webtrip.browser.page import Document, SubResource, module_imports, parse_html
from webtrip.browser.pool import ConnectionPool
from webtrip.browser.stub_resolver import ResolvedName, StubResolver
from webtrip.browser.style import apply as apply_style
from webtrip.browser.urls import Origin, split_url
from webtrip.net import Network, format_address
from webtrip.outcomes import N_
from webtrip.trace import (
    NULL_TRACE,
    HttpCacheLookup,
    HttpCacheStored,
    HttpRequestFailed,
    HttpRequestQueued,
    HttpRequestRetried,
    NameLookupFailed,
    NameLookupStarted,
    NameResolved,
    PageLoadFinished,
    PageLoadStarted,
    TcpConnectFailed,
    TcpConnectionOpened,
    TcpConnectStarted,
    TlsHandshakeCompleted,
    Trace,
)

MAX_REDIRECTS = 10
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})  # RFC 9110 §9.2.2
SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # RFC 9110 §9.2.1
MAX_RESOURCES = 200
MAX_FRAME_DEPTH = 3
"""Frames inside frames are loaded three deep, no deeper (a page framing itself ends)."""
MAX_IMPORT_DEPTH = 8
MAX_MODULE_DEPTH = 16
# CSS the browser reads: the first MAX_SHEET_CHARS characters of each stylesheet, and the
# first MAX_CSS_RULES rules of a page's stylesheets together are applied. (CSS is parsed
# by tinycss2, in Python: about a second per 100 KB on a slow machine. Real stylesheets
# are a few hundred KB at most.)
MAX_SHEET_CHARS = 1_000_000
MAX_CSS_RULES = 10_000
MAX_ADDRESSES = 4
"""Of a name's addresses, the browser tries at most the first four: an answer with
thousands of records must not become thousands of connection attempts (Chromium
races two families and moves on after a few; curl splits its time over all)."""
USER_AGENT = f"Mozilla/5.0 (X11; Linux x86_64) webtrip/{__version__}"
_ACCEPT = {
    "document": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "stylesheet": "text/css,*/*;q=0.1",
    "import": "text/css,*/*;q=0.1",
    "image": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "icon": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "frame": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}


@dataclass
class BrowserOptions:
    """Limits and choices of the page loader (sane defaults)."""

    connections_per_origin: int = 6
    # Chromium: a connection attempt, over all of a name's addresses, may take 4 minutes
    # (the kernel gives up on an address sooner: Linux after 6 SYN retransmissions, ~2 min);
    # a TLS handshake 30 s; a page has no time limit of its own (None) unless one is set.
    connect_timeout: float = 240.0
    tls_timeout: float = 30.0
    total_timeout: float | None = None
    limits: Limits = field(default_factory=Limits)
    language: str = "en"
    fetch_subresources: bool = True
    screen: Screen = DEFAULT_SCREEN
    """The viewport and device pixel ratio the page is laid out for (what srcset,
    sizes, picture and @media choose by)."""
    page_text: bool = True
    """Lay out the page's text (``Document.blocks``); off when nothing will show it."""


@dataclass
class Fetched:
    """One request of the load and how it ended."""

    request: int
    url: str
    kind: str
    initiator: str | None
    response: Response | None = None
    error: LoadError | None = None
    cache: str | None = None
    """"fresh": the response came from the HTTP cache, no request sent; "revalidated": the
    server answered 304 Not Modified and ``response`` is the stored one; None: the network's."""
    why: str = ""
    """Why the browser asked for it: an English template (translated where shown)."""
    why_values: tuple[tuple[str, object], ...] = ()


@dataclass
class PageLoad:
    """Everything the load produced (the trace holds how it happened)."""

    url: str
    final_url: str
    document: Document | None
    fetched: list[Fetched]
    error: LoadError | None

    @property
    def main(self) -> Fetched | None:
        documents = [f for f in self.fetched if f.kind == "document"]
        return documents[-1] if documents else None


class Browser:
    """A browser-like page loader written against :class:`~webtrip.net.Network`."""

    def __init__(
        self,
        network: Network,
        resolver: StubResolver,
        trace: Trace = NULL_TRACE,
        *,
        options: BrowserOptions | None = None,
        tls_context: ssl.SSLContext | None = None,
        actor: str = "browser",
        cache: HttpCache | None = None,
    ) -> None:
        self.network = network
        self.resolver = resolver
        self.trace = trace
        self.options = options or BrowserOptions()
        self.tls_context = tls_context
        self.actor = actor
        self.cache = cache if cache is not None else HttpCache()
        self._reload = False
        # A browser recording into a trace where one of its name already did (a reload)
        # numbers on from there: every request and connection is one number in the trace.
        mine = [e for e in trace.events if e.actor == actor]
        requests = (e.request for e in mine if isinstance(e, HttpRequestQueued))
        connections = (e.connection for e in mine if isinstance(e, TcpConnectStarted))
        self._request_ids = itertools.count(max(requests, default=0) + 1)
        self._connection_ids = itertools.count(max(connections, default=0) + 1)
        self._names: dict[str, asyncio.Future[ResolvedName]] = {}
        self._pool = ConnectionPool(self.options.connections_per_origin, self._connect)
        self._budget = PageBudget(self.options.limits.max_page_bytes)
        self._stopped: LoadError | None = None

    def forget_names(self) -> int:
        """Empty the browser's DNS cache (what Chromium's "Clear host cache" does): a
        name asked for again is looked up again. A lookup under way goes on, and the
        requests waiting for it still get its answer. How many names were forgotten."""
        done = [name for name, future in self._names.items() if future.done()]
        for name in done:
            del self._names[name]
        return len(done)

    async def load(self, url: str, *, reload: bool = False) -> PageLoad:
        """Load ``url`` and its sub-resources. Never raises for network trouble: see ``error``.

        With ``reload`` the page is loaded again as Chromium's reload button does: the
        page itself is asked about even if its stored copy is fresh (a conditional
        request), while the files it needs are looked up in the HTTP cache as on any load.
        """
        trace = self.trace
        self._reload = reload
        self._names.clear()  # the DNS cache lives for one page load
        self._budget = PageBudget(self.options.limits.max_page_bytes)
        self._stopped = None
        trace.record(PageLoadStarted(trace.now(), self.actor, url))
        fetched: list[Fetched] = []
        document: Document | None = None
        error: LoadError | None = None
        final_url = url
        try:
            async with asyncio.timeout(self.options.total_timeout):
                main, final_url = await self._load_document(url, fetched)
                response = main.response
                assert response is not None
                if response.content_type in ("text/html", "application/xhtml+xml", ""):
                    text = _decode(response)
                    document = parse_html(
                        text, final_url, self.options.screen, text=self.options.page_text
                    )
                    if self.options.fetch_subresources:
                        await self._load_subresources(document, final_url, fetched)
                if response.status >= 400:
                    error = HttpStatusError(
                        N_("the server answered {status} {reason_phrase} for {url}"),
                        status=response.status,
                        reason_phrase=response.reason,
                        url=final_url,
                    )
        except LoadError as exc:
            error = exc
        except TimeoutError:
            total = self.options.total_timeout or 0.0  # only a set limit raises TimeoutError here
            error = Timeout(N_("the page did not load within {total} in all"), total=total)
        finally:
            # Closing is bounded too: the command's time limit covers it.
            try:
                async with asyncio.timeout(5.0):
                    await self.close()
            except TimeoutError:
                pass
        trace.record(
            PageLoadFinished(
                trace.now(),
                self.actor,
                url,
                final_url,
                _document_status(fetched),
                document.title if document else "",
                error.kind if error else None,
                str(error) if error else "",
                error.template if error else "",
                error.values if error else (),
            )
        )
        return PageLoad(url, final_url, document, fetched, error)

    async def close(self) -> None:
        """Close every connection still open (recording their kernel counters)."""
        await self._pool.close()

    # --- step 1: the name's addresses ---------------------------------------------------

    async def _resolve(self, host: str, request: int) -> ResolvedName:
        """Resolve once per load; later requests wait for, then share, the answer."""
        future = self._names.get(host)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._names[host] = future
            trace = self.trace
            trace.record(NameLookupStarted(trace.now(), self.actor, host, request))
            try:
                resolution = await self.resolver.resolve(host)
            except LoadError as exc:
                trace.record(
                    NameLookupFailed(
                        trace.now(),
                        self.actor,
                        host,
                        exc.kind,
                        str(exc),
                        request,
                        exc.template,
                        exc.values,
                    )
                )
                future.set_exception(exc)
                future.exception()  # retrieved: other waiters re-raise it themselves
                raise
            trace.record(
                NameResolved(
                    trace.now(),
                    self.actor,
                    host,
                    resolution.addresses,
                    resolution.source,
                    resolution.canonical,
                    resolution.chain,
                    resolution.ttl,
                    resolution.server,
                    request,
                )
            )
            future.set_result(resolution)
            return resolution
        return await future

    # --- step 2: a connection (TCP, then TLS for https) --------------------------------

    async def _connect(self, origin: Origin, request: int) -> HttpConnection:
        scheme, host, port = origin
        resolution = await self._resolve(host, request)
        trace = self.trace
        errors: list[str] = []
        kinds: list[str] = []
        # One limit for the whole attempt, every address included (Chromium's connect job).
        deadline = asyncio.get_running_loop().time() + self.options.connect_timeout
        for address in resolution.addresses[:MAX_ADDRESSES]:
            if errors and asyncio.get_running_loop().time() >= deadline:
                break
            connection_id = next(self._connection_ids)
            peer = (address, port)
            trace.record(TcpConnectStarted(trace.now(), self.actor, connection_id, peer, request))
            try:
                async with asyncio.timeout_at(deadline):
                    stream = await self.network.open_tcp_stream(address, port)
            except OSError as exc:  # TimeoutError and ConnectionRefusedError are OSErrors
                kind, message = _connect_failure(exc)
                reason = system_reason(exc)
                trace.record(
                    TcpConnectFailed(
                        trace.now(),
                        self.actor,
                        connection_id,
                        peer,
                        kind,
                        message,
                        reason,
                    )
                )
                kinds.append(kind)
                errors.append(f"{format_address(peer)}={reason}")
                continue
            trace.record(
                TcpConnectionOpened(
                    trace.now(),
                    self.actor,
                    stream.local_address,
                    stream.peer_address,
                    connection_id,
                )
            )
            connection = HttpConnection(
                stream, connection_id, origin, trace, self.actor, self.options.limits
            )
            self._pool.track(connection)
            if scheme == "https":
                await self._start_tls(connection, host)
            return connection
        tried = ";".join(errors)
        total = len(resolution.addresses)
        if total > len(errors) and errors:
            raise _with_count(kinds, host, port, tried, len(errors), total)
        if kinds and all(kind == "refused" for kind in kinds):
            template = N_("nothing accepts connections on port {port} of {host} ({tried})")
            raise ConnectionRefused(template, port=port, host=host, tried=tried)
        if kinds and all(kind == "timeout" for kind in kinds):
            template = N_("{host} did not answer the connection request ({tried})")
            raise Timeout(template, host=host, tried=tried)
        if kinds and all(kind == "unreachable" for kind in kinds):
            raise Unreachable(N_("{host} cannot be reached ({tried})"), host=host, tried=tried)
        raise ConnectionFailed(N_("could not connect to {host} ({tried})"), host=host, tried=tried)

    async def _start_tls(self, connection: HttpConnection, host: str) -> None:
        context = self.tls_context or ssl.create_default_context()
        try:
            async with asyncio.timeout(self.options.tls_timeout):
                info = await connection.stream.start_tls(context, host)
        except ssl.SSLCertVerificationError as exc:
            await connection.stream.aclose()
            raise TlsFailure(
                N_('the certificate of {host} could not be verified ("{detail}")'),
                host=host,
                detail=exc.verify_message,
            ) from None
        except (ssl.SSLError, ConnectionError, TimeoutError) as exc:
            await connection.stream.aclose()
            raise TlsFailure(
                N_('the TLS handshake with {host} failed ("{detail}")'), host=host, detail=exc
            ) from None
        except NotImplementedError:
            raise TlsFailure(N_("this network has no TLS")) from None
        trace = self.trace
        trace.record(
            TlsHandshakeCompleted(
                trace.now(),
                self.actor,
                connection.id,
                host,
                info.version,
                info.cipher,
                info.subject,
                info.issuer,
                info.not_after,
            )
        )

    # --- steps 2 and 3: a request on a connection, and its answer --------------------------

    async def _fetch(
        self,
        url: str,
        kind: str,
        initiator: str | None,
        why: str = "",
        why_values: tuple[tuple[str, object], ...] = (),
    ) -> Fetched:
        trace = self.trace
        request = next(self._request_ids)
        item = Fetched(request, url, kind, initiator, why=why, why_values=why_values)
        values = tuple((key, str(value)) for key, value in why_values if value is not None)
        trace.record(
            HttpRequestQueued(
                trace.now(), self.actor, request, "GET", url, initiator, kind, why, values
            )
        )
        method = "GET"
        try:
            origin, target, host_header = split_url(url)
            headers = self._headers(host_header, kind)
            decision = self._look_up(request, url, kind, headers)
            if decision.outcome == "fresh" and decision.stored is not None:
                item.response, item.cache = _from_store(decision.stored), "fresh"
                return item
            headers.extend(decision.conditions)
            asked = self.network.wall_time()
            fresh = False
            while True:
                connection = await self._pool.acquire(origin, request, fresh=fresh)
                reused = connection.requests > 0
                try:
                    item.response = await connection.fetch(
                        request, method, target, headers, self._budget
                    )
                except NoResponse as exc:
                    await self._pool.release(origin, connection, reusable=False)
                    # Nothing of the answer came: a kept-alive connection the server had
                    # closed (idle timeout, or a race with our request), or a new one it
                    # gave up on (a request lost again and again on a bad path). The
                    # request goes out once more, on a new connection — on a reused one
                    # if idempotent (RFC 9112 §9.3.1, as Chromium), on a new one too if
                    # safe (as Firefox: nsHttpTransaction restarts a safe request that
                    # received nothing). A second silent close is an error.
                    if not fresh and (method in SAFE or (reused and method in IDEMPOTENT)):
                        trace.record(
                            HttpRequestRetried(
                                trace.now(), self.actor, request, connection.id, str(exc)
                            )
                        )
                        fresh = True
                        continue
                    raise ConnectionFailed(exc.template, **dict(exc.values)) from None
                except ConnectionError as exc:
                    await self._pool.release(origin, connection, reusable=False)
                    template = N_("the connection to {host} failed ({reason})")
                    raise ConnectionFailed(
                        template, host=origin[1], reason=system_reason(exc)
                    ) from None
                except LoadError:
                    await self._pool.release(origin, connection, reusable=False)
                    raise
                await self._pool.release(origin, connection, reusable=connection.reusable)
                break
            self._keep(item, decision, headers, asked)
        except PageTooLarge as exc:
            self._failed(item, exc)
            self._stopped = exc
            raise  # the whole page stops, not only this file
        except LoadError as exc:
            self._failed(item, exc)
        except asyncio.CancelledError:
            # The page's time ran out while this request waited, or the page was stopped:
            # the browser gave up on it (it then closes its connections), which is no fault
            # of the server's.
            if isinstance(self._stopped, PageTooLarge):
                template = N_("the browser gave up on it: the page's files had passed "
                              "{megabytes} MB once decoded")  # fmt: skip
                megabytes = self._budget.limit // (1024 * 1024)
                self._failed(item, PageTooLarge(template, megabytes=megabytes))
                raise
            total = self.options.total_timeout or 0.0
            template = N_("the browser gave up on it: the page had not loaded within {total}")
            self._failed(item, Timeout(template, total=total))
            raise
        return item

    def _failed(self, item: Fetched, error: LoadError) -> None:
        item.error = error
        trace = self.trace
        trace.record(
            HttpRequestFailed(
                trace.now(),
                self.actor,
                item.request,
                error.kind,
                str(error),
                error.template,
                error.values,
            )
        )

    # --- the HTTP cache: before a request, and after its answer (RFC 9111) -------------------

    def _look_up(
        self, request: int, url: str, kind: str, headers: list[tuple[str, str]]
    ) -> CacheDecision:
        """Ask the HTTP cache about ``url`` and record what it said."""
        validate = self._reload and kind == "document"
        now = self.network.wall_time()
        decision = self.cache.lookup(url, tuple(headers), now, validate=validate)
        stored = decision.stored
        trace = self.trace
        trace.record(
            HttpCacheLookup(
                trace.now(),
                self.actor,
                request,
                url,
                decision.outcome,
                round(decision.age, 3),
                round(decision.lifetime, 3),
                decision.freshness,
                stored.status if stored else 0,
                stored.wire_size if stored else 0,
                decision.conditions,
            )
        )
        return decision

    def _keep(
        self,
        item: Fetched,
        decision: CacheDecision,
        headers: list[tuple[str, str]],
        asked: float,
    ) -> None:
        """After the answer: a 304 freshens the stored response (which becomes the answer);
        anything else is stored if it may be. Either way it is recorded."""
        response = item.response
        assert response is not None
        now = self.network.wall_time()
        answer = tuple(response.headers)
        trace = self.trace
        if response.status == 304 and decision.stored is not None:
            stored = self.cache.freshen(item.url, answer, asked, now)
            if stored is not None:
                item.response, item.cache = _from_store(stored), "revalidated"
                lifetime, source = stored.lifetime()
                updated = HttpCacheStored(
                    trace.now(), self.actor, item.request, item.url, "updated", "",
                    round(lifetime, 3), source,
                )  # fmt: skip
                trace.record(updated)
                return
        kept = StoredResponse(
            item.url,
            response.status,
            response.reason,
            answer,
            response.body,
            response.wire_size,
            response.encoding,
            asked,
            now,
            decoded_size=response.decoded_size,
            kept=response.kept,
        )
        reason = self.cache.store(item.url, tuple(headers), kept)
        lifetime, source = kept.lifetime() if reason is None else (0.0, "none")
        trace.record(
            HttpCacheStored(
                trace.now(),
                self.actor,
                item.request,
                item.url,
                "stored" if reason is None else "not-stored",
                reason or "",
                round(lifetime, 3),
                source,
            )
        )

    def _headers(self, host: str, kind: str) -> list[tuple[str, str]]:
        language = "es-ES,es;q=0.9,en;q=0.8" if self.options.language == "es" else "en-US,en;q=0.9"
        return [
            ("Host", host),
            ("User-Agent", USER_AGENT),
            ("Accept", _ACCEPT.get(kind, "*/*")),
            ("Accept-Encoding", "gzip, deflate"),
            ("Accept-Language", language),
            ("Connection", "keep-alive"),
        ]

    # --- step 4: the document (after its redirects), then what it needs -------------------

    async def _load_document(self, url: str, fetched: list[Fetched]) -> tuple[Fetched, str]:
        initiator: str | None = None
        for _ in range(MAX_REDIRECTS + 1):
            item = await self._fetch(url, "document", initiator)
            fetched.append(item)
            if item.error is not None:
                raise item.error
            response = item.response
            assert response is not None
            location = response.header("location")
            if response.status in (301, 302, 303, 307, 308) and location:
                initiator, url = url, urllib.parse.urljoin(url, location.strip())
                continue
            return item, url
        raise TooManyRedirects(
            N_("more than {redirects} redirects, the last to {url}"),
            redirects=MAX_REDIRECTS,
            url=url,
        )

    async def _load_subresources(
        self, document: Document, base: str, fetched: list[Fetched]
    ) -> None:
        """Every file the page needs: first what its HTML names, then — once its stylesheets
        are in — what its applied CSS needs, and what its frames and modules need."""
        screen = self.options.screen
        notes = document.notes  # what the CSS limits left out, said with the page's
        started: dict[str, asyncio.Task[Fetched | None]] = {f.url: _done(f) for f in fetched}
        tasks: set[asyncio.Task[object]] = set()

        def start(resource: SubResource, initiator: str) -> asyncio.Task[Fetched | None]:
            task = started.get(resource.url)
            if task is None:
                if len(started) >= MAX_RESOURCES:
                    return _done(None)
                task = asyncio.ensure_future(fetch_one(resource, initiator))
                started[resource.url] = task
                tasks.add(task)
            return task

        def follow(coroutine: Coroutine[object, object, None]) -> None:
            tasks.add(asyncio.ensure_future(coroutine))

        async def fetch_one(resource: SubResource, initiator: str) -> Fetched:
            item = await self._fetch(
                resource.url, resource.kind, initiator, resource.why, resource.values
            )
            fetched.append(item)
            return item

        async def sheets_of(
            url: str, initiator: str, kind: str, depth: int = 0
        ) -> list[StyleSheet]:
            """A linked stylesheet (once fetched) after the sheets it imports."""
            why = (
                N_("@import in {sheet}")
                if kind == "import"
                else N_("a stylesheet linked by the page")
            )
            item = await start(
                SubResource(url, kind, "css", why, (("sheet", initiator),)), initiator
            )
            if item is None or item.response is None or item.response.status >= 400:
                return []
            if item.response.content_type not in ("text/css", ""):
                return []
            sheet = parse_sheet(_cut_sheet(_decode(item.response), url, notes), url, screen)
            return [*await imported(sheet, depth), sheet]

        async def imported(sheet: StyleSheet, depth: int) -> list[StyleSheet]:
            if depth >= MAX_IMPORT_DEPTH:
                return []
            found: list[StyleSheet] = []
            targets = [_absolute(sheet.url, raw) for raw in sheet.imports]
            parts = await asyncio.gather(
                *(sheets_of(t, sheet.url, "import", depth + 1) for t in targets if t)
            )
            for part in parts:
                found += part
            return found

        async def frame(document: Document, base: str, depth: int) -> None:
            for resource in document.resources:
                task = start(resource, base)
                if resource.kind == "module":
                    follow(module(task, resource.url, 0))
                elif resource.kind == "frame" and depth < MAX_FRAME_DEPTH:
                    follow(subframe(task, depth + 1))
            for text in document.modules:
                for raw in module_imports(text):
                    target = _absolute(base, raw)
                    if target:
                        why = N_("imported by a module script of the page")
                        follow(module(start(SubResource(target, "module", "module", why), base),
                                      target, 0))  # fmt: skip
            for srcdoc in document.srcdocs:
                if depth < MAX_FRAME_DEPTH:
                    follow(frame(parse_html(srcdoc, base, screen, text=False), base, depth + 1))
            sheets: list[StyleSheet] = []
            for source in document.styles:
                if source.text is None:
                    group = await sheets_of(source.url, base, "stylesheet")
                else:
                    inline = parse_sheet(_cut_sheet(source.text, base, notes), base, screen)
                    group = [*await imported(inline, 0), inline]
                if matches(source.media, screen):
                    sheets += group
            if document.tree is None:
                return
            if document.too_large:
                document.notes.append((
                    N_("So the page's CSS was not applied either: the images and fonts it "
                       "would ask for are not fetched."),
                    (),
                ))  # fmt: skip
                return
            sheets = _cap_rules(sheets, notes)
            for need in apply_style(document.tree, sheets, base, screen):
                target = _absolute(need.sheet, need.url)
                if target:
                    kind = "font" if need.kind == "font" else "css-url"
                    start(SubResource(target, kind, "css", need.why, need.values), need.sheet)

        async def module(task: asyncio.Task[Fetched | None], url: str, depth: int) -> None:
            item = await task
            if item is None or item.response is None or item.response.status >= 400:
                return
            if depth >= MAX_MODULE_DEPTH:
                return
            for raw in module_imports(_decode(item.response)):
                target = _absolute(url, raw)
                if target:
                    why = N_("imported by the module {module}")
                    resource = SubResource(target, "module", "module", why, (("module", url),))
                    follow(module(start(resource, url), target, depth + 1))

        async def subframe(task: asyncio.Task[Fetched | None], depth: int) -> None:
            item = await task
            response = item.response if item is not None else None
            if item is None or response is None or response.status >= 400:
                return
            if response.content_type in ("text/html", "application/xhtml+xml", ""):
                subdocument = parse_html(_decode(response), item.url, screen, text=False)
                await frame(subdocument, item.url, depth)

        follow(frame(document, base, 0))
        try:
            while tasks:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                tasks.difference_update(done)
                # Every finished task's exception is looked at (two may stop the page).
                stops = [error for task in done if (error := task.exception()) is not None]
                if stops:
                    raise stops[0]
        except (asyncio.CancelledError, PageTooLarge):
            # The page's time ran out: stop every request still waiting, each telling why,
            # before the browser closes its connections under them.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise


def _done(value: Fetched | None) -> asyncio.Task[Fetched | None]:
    """A task already finished with ``value`` (a file fetched before, or none)."""

    async def given() -> Fetched | None:
        return value

    return asyncio.ensure_future(given())


def _absolute(base: str, raw: str) -> str | None:
    url = urllib.parse.urldefrag(urllib.parse.urljoin(base, raw.strip()))[0]
    return url if urllib.parse.urlsplit(url).scheme in ("http", "https") else None


def _from_store(stored: StoredResponse) -> Response:
    """A stored response as the page sees it: its status, headers and body, no bytes read."""
    return Response(
        stored.status,
        stored.reason,
        "1.1",
        list(stored.headers),
        stored.body,
        stored.wire_size,
        stored.encoding,
        decoded_size=stored.decoded_size,
        kept=stored.kept,
    )


def _with_count(
    kinds: list[str], host: str, port: int, tried: str, count: int, total: int
) -> LoadError:
    """A failed connection to some of a name's many addresses: the usual failure, with
    how many of them were tried (:data:`MAX_ADDRESSES`) in its sentence."""
    if kinds and all(kind == "refused" for kind in kinds):
        error: type[LoadError] = ConnectionRefused
    elif kinds and all(kind == "timeout" for kind in kinds):
        error = Timeout
    elif kinds and all(kind == "unreachable" for kind in kinds):
        error = Unreachable
    else:
        error = ConnectionFailed
    full = N_("could not connect to {host}: the browser tried {count} of its {total_count} "
              "addresses ({tried})")  # fmt: skip
    return error(full, host=host, port=port, tried=tried, count=count, total_count=total)


def _document_status(fetched: list[Fetched]) -> int | None:
    """The status of the page itself: the last document request (after redirects)."""
    statuses = [f.response.status for f in fetched if f.kind == "document" and f.response]
    return statuses[-1] if statuses else None


def _connect_failure(error: OSError) -> tuple[str, str]:
    """The kind ("timeout", "refused", "unreachable", "error") of a failed connect, and
    why in a few English words (the event that records it names the address)."""
    if isinstance(error, TimeoutError):
        return "timeout", "no answer"
    if isinstance(error, ConnectionRefusedError):
        return "refused", "refused the connection"
    if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "unreachable", str(error.strerror or error)
    return "error", str(error.strerror or error)


Notes = list[tuple[str, tuple[tuple[str, object], ...]]]


def _cut_sheet(css: str, url: str, notes: Notes) -> str:
    """The part of a stylesheet the browser reads (:data:`MAX_SHEET_CHARS`), said if cut."""
    if len(css) <= MAX_SHEET_CHARS:
        return css
    notes.append((
        N_("The stylesheet {url} is longer than {count} characters: the browser read only "
           "the first {count}."),
        (("url", url), ("count", MAX_SHEET_CHARS)),
    ))  # fmt: skip
    return css[:MAX_SHEET_CHARS]


def _cap_rules(sheets: list[StyleSheet], notes: Notes) -> list[StyleSheet]:
    """The sheets with only their first :data:`MAX_CSS_RULES` rules in all, said if cut."""
    left, capped = MAX_CSS_RULES, []
    for sheet in sheets:
        if len(sheet.rules) > left:
            sheet = StyleSheet(sheet.url, sheet.rules[:left], sheet.faces, sheet.imports)
        left -= len(sheet.rules)
        capped.append(sheet)
    if sum(len(sheet.rules) for sheet in sheets) > MAX_CSS_RULES:
        notes.append((
            N_("The page's stylesheets have more than {count} rules that could ask for a "
               "file: the browser applied the first {count}, so files later rules ask for "
               "are not fetched."),
            (("count", MAX_CSS_RULES),),
        ))  # fmt: skip
    return capped


def _decode(response: Response) -> str:
    charset = "utf-8"
    for part in (response.header("content-type") or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"').lower()
    try:
        return response.body.decode(charset, errors="replace")
    except LookupError:
        return response.body.decode("utf-8", errors="replace")


__all__ = ["Browser", "BrowserOptions", "Fetched", "PageLoad"]
