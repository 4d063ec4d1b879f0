"""Every way a page load can fail: a typed error, its exit code, one clear sentence.

Specification. Each failure is provoked against a deliberately broken server
on loopback — a name in ``tests/data/zones/lab.test.zone`` served by
``webtrip dns serve``, and misbehaving HTTP servers that run in a thread of
the test — and is checked through ``python -m webtrip browse``: the exit code
is the error's, standard error stays empty, and the narration ends with a
"What went wrong" paragraph (Spanish: "Qué ha fallado") that is one sentence
plus the details in parentheses, never a traceback. Where the kind of error
or what the browser did matters, the same load is also run through
:class:`~webtrip.browser.loader.Browser` directly.

====================  ====  ==================================================
failure               exit  provoked by
====================  ====  ==================================================
NXDOMAIN              10    a name the zone does not have
no address            11    a name with only a TXT record
DNS failure           12    a DNS server that reads queries and never answers
                            (after the resolver's tries, cut short to 0.3 s);
                            a server that refuses the question
connection refused    13    a name for 127.0.0.1 and a port nobody listens on
timeout               14    a server that accepts and never answers
                            (``--timeout 0.5``)
connection failed     20    a server that reads the request and closes without
                            answering (not retried: the connection was new)
TLS failure           15    a self-signed certificate (``--cacert`` it: loads)
protocol failure      16    ``Content-Length: nope``; a body over
                            ``--max-size`` (memory stays bounded); a gzip bomb
4xx / 5xx page        17/18 404 and 500 pages (the error page is still parsed)
too many redirects    19    /a → /b → /a → ...
====================  ====  ==================================================

Every loop is bounded, every server is closed at the end, and all traffic
stays on loopback. The same failures with the waits as ``webtrip browse`` has
them — a silent DNS server given glibc's 2 tries of 5 s, ``--timeout 2``
against a server that never answers and one that drips a byte a second — are
in ``test_failures_sim.py``, in virtual time.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import itertools
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support import SENTENCE_AND_DETAILS, ZONES, free_port, webtrip_dns_server
from webtrip.browser.errors import (
    DnsFailure,
    HttpStatusError,
    ProtocolFailure,
    TlsFailure,
    TooManyRedirects,
)
from webtrip.browser.http1 import Limits
from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.stub_resolver import StubResolver
from webtrip.net import Address, RealNetwork
from webtrip.trace import HttpRequestQueued, TlsHandshakeCompleted, Trace

MIB = 1024 * 1024
HUGE = 200 * MIB  # what /huge offers: far more than --max-size 1 lets in


# --- the broken servers ---------------------------------------------------------------

Handler = Callable[["BrokenWebServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class BrokenWebServer:
    """An HTTP "server" on 127.0.0.1 that misbehaves on purpose, one way per path.

    It reads a request head, counts a hit for its path and lets the path's
    handler answer (or not); then it closes the connection. It runs in its
    own event loop in a thread, so that a ``webtrip browse`` process and a
    Browser in the test's own loop can both talk to it; leaving the ``with``
    block cancels whatever it is still doing and stops the thread.
    """

    def __init__(
        self, routes: dict[str, Handler], *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.routes = routes
        self.ssl_context = ssl_context
        self.port = 0
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # body bytes handed to the kernel, per path
        self.loop_errors: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    def __enter__(self) -> BrokenWebServer:
        # A client that gives up mid-handshake is the point of some tests: keep it quiet.
        self._loop.set_exception_handler(lambda loop, context: self.loop_errors.append(context))
        self._thread.start()
        self._server = self._run(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the broken web server did not stop"
        self._loop.close()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            path = head.split(b" ", 2)[1].decode("latin-1")
            self.hits[path] += 1
            await self.routes.get(path, not_found)(self, reader, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError):
            pass  # not an HTTP request head: just close
        except (ConnectionError, TimeoutError, ssl.SSLError):
            pass  # the client left, went silent or failed the TLS handshake
        finally:
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]


def response(status: str, body: bytes = b"", *headers: str) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def html_page(status: str, title: str, text: str) -> bytes:
    body = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )
    return response(status, body.encode(), "Content-Type: text/html; charset=utf-8")


def send(data: bytes) -> Handler:
    """A handler that sends ``data`` at once."""

    async def handler(
        server: BrokenWebServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(data)
        await writer.drain()

    return handler


not_found = send(response("404 Not Found", b"no such route\n", "Content-Type: text/plain"))


async def close_at_once(
    server: BrokenWebServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Read the request and close the connection without a byte of answer."""


async def hang(
    server: BrokenWebServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Accept the request and never answer: wait (at most 30 s) for the client to leave."""
    await asyncio.wait_for(reader.read(1), timeout=30)


async def huge(
    server: BrokenWebServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Offer a 200 MiB page and send it as fast as the client takes it."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {HUGE}\r\n\r\n"
    writer.write(head.encode())
    chunk = bytes(64 * 1024)
    for _ in range(HUGE // len(chunk)):
        writer.write(chunk)
        await writer.drain()
        server.sent["/huge"] += len(chunk)


BOMB = gzip.compress(bytes(10 * MIB), compresslevel=9)  # 10 MiB of zeros in about 10 KB

ROUTES: dict[str, Handler] = {
    "/ok": send(html_page("200 OK", "Safe and sound", "This page loaded.")),
    "/missing": send(html_page("404 Not Found", "Nothing here", "Try the home page.")),
    "/broken": send(html_page("500 Internal Server Error", "Server trouble", "Sorry.")),
    "/malformed": send(b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"),
    "/bomb": send(response("200 OK", BOMB, "Content-Type: text/html", "Content-Encoding: gzip")),
    "/a": send(response("302 Found", b"", "Location: /b")),
    "/b": send(response("302 Found", b"", "Location: /a")),
    "/hang": hang,
    "/close": close_at_once,
    "/huge": huge,
}


class SilentDnsServer:
    """A UDP socket on 127.0.0.1 that reads every DNS query and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address: Address = self.sock.getsockname()
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ignore, daemon=True)

    def __enter__(self) -> SilentDnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        assert not self._thread.is_alive(), "the silent DNS server did not stop"

    def _ignore(self) -> None:
        while not self._stop.is_set():
            if select.select([self.sock], [], [], 0.05)[0]:
                self.sock.recvfrom(65535)
                self.received += 1


def self_signed_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A fresh self-signed certificate for ``name`` and its key, as PEM files."""
    pytest.importorskip("cryptography", reason="the TLS tests make a certificate with it")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dns_server() -> Iterator[Address]:
    """``webtrip dns serve`` with the lab.test zone."""
    with webtrip_dns_server([ZONES / "lab.test.zone"]) as running:
        yield (running.host, running.port)


@pytest.fixture(scope="module")
def web() -> Iterator[BrokenWebServer]:
    with BrokenWebServer(ROUTES) as server:
        yield server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PEM file of tls.lab.test's self-signed certificate (the key beside it)."""
    cert_file, _ = self_signed_certificate(tmp_path_factory.mktemp("tls"), "tls.lab.test")
    return cert_file


@pytest.fixture(scope="module")
def tls_web(certificate: Path) -> Iterator[BrokenWebServer]:
    """The same routes over TLS, with the self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, certificate.with_suffix(".key"))
    with BrokenWebServer(ROUTES, ssl_context=context) as server:
        yield server


# --- the two ways to load a page ------------------------------------------------------------


@dataclass
class Run:
    """How a ``webtrip browse`` process ended."""

    code: int
    stdout: str
    stderr: str
    seconds: float


PEAK_RSS = """\
import resource, runpy, sys
try:
    runpy.run_module("webtrip", run_name="__main__")
finally:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stderr.write(f"peak-rss-kib={peak}\\n")
"""


def browse(url: str, dns: Address, *options: str, lang: str = "en", peak: bool = False) -> Run:
    """Run ``python -m webtrip browse URL --dns DNS --lang LANG OPTIONS...``.

    With ``peak``, the same command runs through a wrapper that reports the
    process's peak resident memory on its last line of standard error.
    """
    program = ["-c", PEAK_RSS] if peak else ["-m", "webtrip"]
    command = [sys.executable, *program, "browse", url, "--dns", f"{dns[0]}:{dns[1]}"]
    command += ["--lang", lang, *options]
    env = dict(os.environ, NO_COLOR="1", COLUMNS="160")
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def peak_rss(run: Run) -> int:
    """The peak memory (bytes) a ``browse(..., peak=True)`` run reported; removed from stderr."""
    match = re.search(r"peak-rss-kib=(\d+)\n\Z", run.stderr)
    assert match, run.stderr
    run.stderr = run.stderr[: match.start()]
    return int(match.group(1)) * 1024


def what_went_wrong(run: Run, heading: str = "What went wrong") -> str:
    """The details of the failure, after checking how it was told.

    No traceback anywhere and nothing on standard error; the narration has a
    paragraph under ``heading`` that is one sentence, followed by the error's
    own message in parentheses (returned).
    """
    assert "Traceback" not in run.stdout + run.stderr
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert heading in lines, run.stdout
    paragraph = lines[lines.index(heading) + 1]
    match = SENTENCE_AND_DETAILS.fullmatch(paragraph)
    assert match, f"not one sentence and its details: {paragraph!r}"
    return match.group("details")


def load(
    url: str,
    dns: Address,
    *,
    timeout: float = 10.0,
    max_size: int = 50 * MIB,
    tls_context: ssl.SSLContext | None = None,
    dns_timeout: float = 2.0,
) -> tuple[PageLoad, Trace, float]:
    """Load ``url`` with a Browser in this process: (the load, its trace, seconds)."""

    async def main() -> tuple[PageLoad, Trace, float]:
        network = RealNetwork()
        trace = Trace(network.now)
        resolver = StubResolver(network, trace, nameserver=dns, hosts={}, timeout=dns_timeout)
        options = BrowserOptions(total_timeout=timeout, limits=Limits(max_body_bytes=max_size))
        browser = Browser(network, resolver, trace, options=options, tls_context=tls_context)
        started = time.monotonic()
        page = await browser.load(url)
        return page, trace, time.monotonic() - started

    return asyncio.run(main())


def at(server: BrokenWebServer, path: str, host: str = "broken.lab.test") -> str:
    scheme = "https" if server.ssl_context else "http"
    return f"{scheme}://{host}:{server.port}{path}"


# --- step 1: DNS ------------------------------------------------------------------------------


def test_a_name_that_does_not_exist_exits_10(dns_server):
    run = browse("http://missing.lab.test/", dns_server)

    assert run.code == 10
    details = what_went_wrong(run)
    assert "missing.lab.test" in details and "NXDOMAIN" in details


def test_a_name_without_an_address_exits_11(dns_server):
    run = browse("http://noaddr.lab.test/", dns_server)

    assert run.code == 11
    assert "noaddr.lab.test" in what_went_wrong(run)


def test_a_dns_timeout_is_a_dns_failure_within_the_resolver_bound():
    with SilentDnsServer() as silent:
        page, _, seconds = load("http://www.lab.test/", silent.address, dns_timeout=0.3)
        asked = silent.received

    assert isinstance(page.error, DnsFailure)
    assert page.error.exit_code == 12
    assert page.document is None
    assert asked == 4, "A and AAAA, two tries each"
    assert 0.55 <= seconds < 1.5


def test_a_refused_question_exits_12(dns_server):
    run = browse("http://www.not-served.invalid/", dns_server)

    assert run.code == 12
    assert "REFUSED" in what_went_wrong(run)


# --- step 2: the connection -------------------------------------------------------------------


def test_a_port_nobody_listens_on_exits_13(dns_server):
    port = free_port()
    run = browse(f"http://refused.lab.test:{port}/", dns_server)

    assert run.code == 13
    assert f"127.0.0.1:{port}" in what_went_wrong(run)


def test_a_server_that_accepts_and_never_answers_exits_14(dns_server, web):
    run = browse(at(web, "/hang"), dns_server, "--timeout", "0.5")

    assert run.code == 14
    assert "0.5 s" in what_went_wrong(run)
    assert 0.5 <= run.seconds < 4.5


def test_a_self_signed_certificate_exits_15_and_loads_with_cacert(dns_server, tls_web, certificate):
    run = browse(at(tls_web, "/ok", "tls.lab.test"), dns_server)

    assert run.code == 15
    assert "could not be verified" in what_went_wrong(run)

    trusted = browse(at(tls_web, "/ok", "tls.lab.test"), dns_server, "--cacert", str(certificate))

    assert trusted.code == 0, trusted.stdout + trusted.stderr
    assert "Traceback" not in trusted.stdout + trusted.stderr
    assert "What went wrong" not in trusted.stdout
    assert "Then it set up TLS" in trusted.stdout
    assert "Safe and sound" in trusted.stdout  # the page's text


def test_an_https_server_that_closes_after_answering_leaves_stderr_empty(
    dns_server, tls_web, certificate
):
    # The server says "Connection: close" and closes its side of the TLS stream:
    # an ordinary end of a response, nothing for the user to be warned about.
    run = browse(at(tls_web, "/ok", "tls.lab.test"), dns_server, "--cacert", str(certificate))

    assert run.code == 0
    assert run.stderr == ""


def test_tls_verification_failure_and_success_through_the_browser(dns_server, tls_web, certificate):
    requests_before = tls_web.hits["/ok"]
    page, _, _ = load(at(tls_web, "/ok", "tls.lab.test"), dns_server)

    assert isinstance(page.error, TlsFailure)
    assert page.error.exit_code == 15
    assert page.document is None
    assert tls_web.hits["/ok"] == requests_before, "no request over an unverified connection"

    context = ssl.create_default_context(cafile=str(certificate))
    page, trace, _ = load(at(tls_web, "/ok", "tls.lab.test"), dns_server, tls_context=context)

    assert page.error is None
    assert page.document is not None and page.document.title == "Safe and sound"
    (handshake,) = trace.of_type(TlsHandshakeCompleted)
    assert handshake.server_name == "tls.lab.test"
    assert handshake.subject == "commonName=tls.lab.test"
    assert handshake.issuer == handshake.subject, "self-signed"


# --- step 3: the answer -------------------------------------------------------------------------


def test_a_server_that_closes_before_answering_exits_20_after_one_retry(dns_server, web):
    before = web.hits["/close"]
    run = browse(at(web, "/close"), dns_server)

    assert run.code == 20
    details = what_went_wrong(run)
    assert "closed the connection before answering" in details and "HTTP/1.1" not in details
    # A GET whose new connection said nothing goes out once more (as Firefox), not again.
    assert web.hits["/close"] == before + 2


def test_a_malformed_response_exits_16(dns_server, web):
    run = browse(at(web, "/malformed"), dns_server)

    assert run.code == 16
    assert "HTTP/1.1" in what_went_wrong(run)


def test_a_response_larger_than_max_size_exits_16_with_bounded_memory(dns_server, web):
    small = browse(at(web, "/ok"), dns_server, "--max-size", "1", peak=True)
    before = web.sent["/huge"]
    run = browse(at(web, "/huge"), dns_server, "--max-size", "1", peak=True)

    assert small.code == 0
    baseline, used = peak_rss(small), peak_rss(run)
    assert run.code == 16
    assert "larger than the limit of 1048576 bytes" in what_went_wrong(run)
    assert used - baseline < 48 * MIB, "memory grew with what the server sent"
    assert web.sent["/huge"] - before < 32 * MIB, "the browser stopped reading at the limit"
    assert run.seconds < 10


def test_a_body_over_the_limit_is_a_protocol_failure(dns_server, web):
    page, _, seconds = load(at(web, "/huge"), dns_server, max_size=MIB)

    assert isinstance(page.error, ProtocolFailure)
    assert page.error.exit_code == 16
    assert seconds < 5


def test_a_gzip_bomb_exits_16_quickly(dns_server, web):
    assert len(BOMB) < 20 * 1024
    run = browse(at(web, "/bomb"), dns_server, "--max-size", "1")

    assert run.code == 16
    assert "decoded body is larger than the limit" in what_went_wrong(run)
    assert run.seconds < 5


def test_a_gzip_bomb_is_stopped_at_the_decoded_limit(dns_server, web):
    page, _, seconds = load(at(web, "/bomb"), dns_server, max_size=MIB)

    assert isinstance(page.error, ProtocolFailure)
    assert "decoded" in str(page.error)
    assert seconds < 2


# --- the page's status ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "code", "title"),
    [("/missing", 404, 17, "Nothing here"), ("/broken", 500, 18, "Server trouble")],
)
def test_an_error_page_exits_17_or_18_and_is_still_parsed(
    dns_server, web, path, status, code, title
):
    run = browse(at(web, path), dns_server)

    assert run.code == code
    assert str(status) in what_went_wrong(run)
    assert title in run.stdout.split("What went wrong")[1], "the error page's text is shown"

    page, _, _ = load(at(web, path), dns_server)

    assert isinstance(page.error, HttpStatusError)
    assert (page.error.status, page.error.exit_code) == (status, code)
    assert page.document is not None and page.document.title == title


def test_endless_redirects_exit_19(dns_server, web):
    run = browse(at(web, "/a"), dns_server)

    assert run.code == 19
    assert "more than 10 redirects" in what_went_wrong(run)


def test_the_browser_follows_ten_redirects_and_not_one_more(dns_server, web):
    hits = web.hits["/a"] + web.hits["/b"]
    page, trace, _ = load(at(web, "/a"), dns_server)

    assert isinstance(page.error, TooManyRedirects)
    documents = [e for e in trace.of_type(HttpRequestQueued) if e.kind == "document"]
    assert [e.url.rsplit("/", 1)[1] for e in documents] == ["a", "b"] * 5 + ["a"]
    assert documents[0].initiator is None
    for previous, hop in itertools.pairwise(documents):
        assert hop.initiator == previous.url
    assert web.hits["/a"] + web.hits["/b"] - hits == 11


# --- the narration in Spanish -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "code"),
    [("http://missing.lab.test/", 10), ("/malformed", 16), ("/missing", 17)],
)
def test_the_failure_is_told_in_spanish(dns_server, web, target, code):
    url = at(web, target) if target.startswith("/") else target
    run = browse(url, dns_server, lang="es")

    assert run.code == code
    what_went_wrong(run, heading="Qué ha fallado")
    assert "What went wrong" not in run.stdout


# --- the narration of a load that failed before any answer arrived ------------------------------


def narration_steps(run: Run) -> dict[str, str]:
    """Each "Step N" heading of the narration and the paragraph under it."""
    lines = run.stdout.splitlines()
    return {
        line: lines[index + 1] if index + 1 < len(lines) else ""
        for index, line in enumerate(lines)
        if line.startswith("Step ")
    }


@pytest.mark.parametrize("failure", ["dns cut short by --timeout", "connection refused"])
def test_no_step_is_left_empty_or_told_as_if_it_happened(dns_server, failure):
    if failure == "connection refused":
        run = browse(f"http://refused.lab.test:{free_port()}/", dns_server)
        assert run.code == 13
    else:
        with SilentDnsServer() as silent:
            run = browse("http://www.lab.test/", silent.address, "--timeout", "0.3")
        assert run.code == 14
    what_went_wrong(run)

    steps = narration_steps(run)
    assert steps, run.stdout
    for heading, paragraph in steps.items():
        assert paragraph.strip(), f"{heading!r} is told with no sentence"
    # Nothing arrived, so nothing was put back together.
    assert "put the pieces back together" not in run.stdout
