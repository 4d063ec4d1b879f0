"""``webtrip browse``: load a page from the real network and tell its four steps."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
import sys
import time
import urllib.parse
from collections.abc import Callable
from types import FrameType

import click

from webtrip.browser.errors import LoadError
from webtrip.browser.http1 import Limits
from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.media import Screen
from webtrip.browser.stub_resolver import StubResolver
from webtrip.browser.urls import normalize_url
from webtrip.cli.common import (
    Command,
    UserError,
    _,
    err_console,
    ngettext,
    out_console,
    write_stdout,
    write_whole,
)
from webtrip.cli.options import (
    JSON_OPTION,
    LANGUAGE_OPTION,
    NO_RENDER_OPTION,
    REPORT_OPTION,
    Seconds,
    count,
    screen_options,
    view_options,
)
from webtrip.cli.output import exit_code, show_load, write_views
from webtrip.files import LIMIT_VARIABLE, InputFileError, read_input
from webtrip.i18n import choose_language, number, seconds
from webtrip.lab.capture import captured_events, flows_of, merge_packets
from webtrip.net import RealNetwork, parse_address
from webtrip.net.capture import CapturedFrame, CaptureError, PacketCapture
from webtrip.outcomes import EXIT_USAGE, exit_codes_help, failure
from webtrip.report.pcap import capture_files
from webtrip.trace import TcpConnectStarted, Trace
from webtrip.trace.events import Event

CAPTURE_PACKETS = 100_000
CAPTURE_MEGABYTES = 256
"""What ``--capture`` keeps at most: the packets past either bound are counted, not kept."""


def _wrapped(text: str, width: int = 79) -> str:
    """``text``, a list of items separated by "; ", cut into lines between whole items."""
    lines: list[str] = []
    for item in text.split("; "):
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += "; " + item
        else:
            if lines:
                lines[-1] += ";"
            lines.append(item)
    return "\n".join(lines)


BROWSE_HELP = """Load a web page like a browser and show the four steps, for real.

    The name is looked up with real DNS messages (or /etc/hosts), the page
    and the files it needs are fetched over up to six connections per site,
    and every step is timed.

    \b
    {codes}

    \b
    Examples:
      webtrip browse http://www.webtrip.test:8080/ --dns 127.0.0.1:5353
      webtrip browse https://example.com/ --lang es
      webtrip browse example.com --json > trace.json
      webtrip browse example.com --har example.har --mermaid example.mmd --report example.html
      sudo webtrip browse http://example.com/ --capture example.pcap   # the real packets
    """.format(codes=_wrapped("Exit codes: " + exit_codes_help()).replace("\n", "\n    "))


@click.command(cls=Command, help=BROWSE_HELP)
@click.argument("url")
@click.option(
    "--dns",
    "dns_server",
    metavar="ADDR[:PORT]",
    help="Ask this DNS server (default: the first nameserver of /etc/resolv.conf).",
)
@LANGUAGE_OPTION
@JSON_OPTION
@view_options
@REPORT_OPTION
@NO_RENDER_OPTION
@screen_options
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=Seconds(0.1),
    help="Seconds the whole command may take: the page load is stopped then and what "
    "arrived is shown. If the browser is still busy a second later (parsing a huge "
    "file), the command ends then with one sentence and nothing else.",
)
@click.option(
    "--max-size",
    default=50,
    show_default=True,
    type=count(1, 4096),
    help="Largest response accepted, in megabytes (as sent; HTML, CSS and JavaScript, "
    "which the browser reads, at most 8 MB once decoded, or this if smaller).",
)
@click.option(
    "--max-page-size",
    default=64,
    show_default=True,
    type=count(1, 4096),
    help="Most megabytes all the page's files may hold once decoded; the load stops past it.",
)
@click.option(
    "--cacert",
    type=click.Path(exists=True, dir_okay=False),
    help="Trust the certificate authority in this PEM file too (for a lab's HTTPS).",
)
@click.option(
    "--capture",
    "capture_file",
    metavar="FILE.pcap",
    help="Capture the load's own packets for real (its DNS messages and its connections, "
    "IPv4) into this file (pcapng if it ends .pcapng) and into the trace, so --json and "
    "--report show them. Needs root or CAP_NET_RAW.",
)
def browse(
    url: str,
    dns_server: str | None,
    lang: str | None,
    as_json: bool,
    har_file: str | None,
    mermaid_file: str | None,
    mermaid_style: str,
    report_file: str | None,
    no_render: bool,
    viewport: tuple[int, int],
    dpr: float,
    timeout: float,
    max_size: int,
    max_page_size: int,
    cacert: str | None,
    capture_file: str | None,
) -> None:
    """Load a web page like a browser and show the four steps, for real (see BROWSE_HELP)."""
    started = time.monotonic()
    language = choose_language(lang)
    try:
        url = normalize_url(url)
    except LoadError as exc:
        raise UserError(exc.sentence(_), exit_code=exc.exit_code) from None
    nameserver = None
    if dns_server:
        try:
            nameserver = parse_address(dns_server, 53)
        except ValueError as exc:
            raise UserError(f"--dns: {exc}", exit_code=EXIT_USAGE) from None
    context = None
    if cacert:
        context = _trusting(cacert)
    limit = max_size * 1024 * 1024
    options = BrowserOptions(
        total_timeout=timeout,
        limits=Limits(max_body_bytes=limit, max_page_bytes=max_page_size * 1024 * 1024),
        language=language,
        screen=Screen(viewport[0], viewport[1], dpr),
        page_text=not (no_render or as_json),  # laid out only to be shown
    )
    results: list[tuple[Trace, PageLoad]] = []
    capture = _start_capture(url, nameserver) if capture_file else None

    async def main() -> None:
        # The results are handed back beside the task, not as its result: asyncio.run
        # may write the task's repr, and with it the result's, when it finishes.
        network = RealNetwork()
        trace = Trace(network.now)
        if capture is not None:
            trace.subscribe(_following(capture))
        resolver = StubResolver(network, trace, nameserver=nameserver)
        browser = Browser(network, resolver, trace, options=options, tls_context=context)
        results.append((trace, await browser.load(url)))

    _stop_after(started + timeout + 1.0, seconds(timeout, language))
    try:
        try:
            asyncio.run(main())
        finally:
            frames = capture.stop() if capture is not None else []
        trace, load = results[0]
        if capture is not None and capture_file is not None:
            _record_capture(trace, capture, frames, capture_file, language)
        write_views(
            trace, har_file, mermaid_file, report_file, language, mermaid_style=mermaid_style
        )
        if as_json:
            write_stdout(trace.to_json() + "\n")
        else:
            show_load(out_console(), trace, load, language, render=not no_render)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    sys.exit(exit_code(load))


def _start_capture(url: str, nameserver: tuple[str, int] | None) -> PacketCapture:
    """A capture of the ports this load will use, started; a UserError if it cannot start."""
    parts = urllib.parse.urlsplit(url)
    ports = {53, 80, 443, nameserver[1] if nameserver else 53}
    with contextlib.suppress(ValueError):  # a port out of range: the load will say so
        ports.add(parts.port or (443 if parts.scheme == "https" else 80))
    capture = PacketCapture(
        ports, max_packets=CAPTURE_PACKETS, max_bytes=CAPTURE_MEGABYTES * 1024 * 1024
    )
    try:
        capture.start()
    except CaptureError as exc:
        if exc.reason == "permission":
            message = _(
                "--capture needs root or the CAP_NET_RAW capability to read packets from the "
                "network: run webtrip as root (sudo), or leave --capture out"
            )
        else:
            message = _("--capture works on Linux only (it reads packets with an AF_PACKET socket)")
        raise UserError(message) from None
    return capture


def _following(capture: PacketCapture) -> Callable[[Event], None]:
    """A trace listener that widens the capture to each port the browser connects to,
    before its SYN leaves (a page's files may come from another port)."""

    def follow(event: Event) -> None:
        if isinstance(event, TcpConnectStarted):
            capture.watch_port(event.peer[1])

    return follow


def _record_capture(
    trace: Trace,
    capture: PacketCapture,
    frames: list[CapturedFrame],
    path: str,
    language: str,
) -> None:
    """The browser's own packets into the trace and the capture file; a note on what
    the file lacks (IPv6 connections, packets past the bounds or lost by the kernel)."""
    flows = flows_of(trace, {"browser"})
    merge_packets(trace, captured_events(frames, trace, "browser", flows))
    for name, data in capture_files(trace, "browser", path).items():
        write_whole(name, data)
    notes = []
    ipv6 = sum(1 for e in trace.of_type(TcpConnectStarted) if ":" in e.peer[0])
    if ipv6:
        notes.append(ngettext(
            "{count} connection over IPv6 is not in the capture: webtrip's packet views "
            "read IPv4 only",
            "{count} connections over IPv6 are not in the capture: webtrip's packet views "
            "read IPv4 only",
            ipv6,
        ).format(count=number(ipv6, language)))  # fmt: skip
    if capture.over_limit:
        notes.append(ngettext(
            "{count} packet is not in the capture: it keeps at most {packets} packets "
            "and {megabytes} MB",
            "{count} packets are not in the capture: it keeps at most {packets} packets "
            "and {megabytes} MB",
            capture.over_limit,
        ).format(
            count=number(capture.over_limit, language),
            packets=number(CAPTURE_PACKETS, language),
            megabytes=number(CAPTURE_MEGABYTES, language),
        ))  # fmt: skip
    if capture.kernel_drops:
        notes.append(ngettext(
            "the kernel dropped {count} packet before webtrip could read it: the "
            "capture may lack some of the load's packets",
            "the kernel dropped {count} packets before webtrip could read them: the "
            "capture may lack some of the load's packets",
            capture.kernel_drops,
        ).format(count=number(capture.kernel_drops, language)))  # fmt: skip
    for note in notes:
        err_console().print(
            _("webtrip: note: {note}").format(note=note), markup=False, highlight=False
        )


def _stop_after(deadline: float, timeout: str) -> None:
    """End the command at ``deadline`` (monotonic seconds) whatever it is doing, with one
    sentence and the timeout's exit code: --timeout bounds the whole command."""
    row = failure("timeout")
    code = row.exit_code if row is not None else 1

    def fire(signum: int, frame: FrameType | None) -> None:
        message = _("webtrip stopped: the command took longer than --timeout ({seconds})")
        sys.stderr.write(message.format(seconds=timeout) + "\n")
        sys.stderr.flush()
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise SystemExit(code)

    signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, deadline - time.monotonic()))


def _trusting(cacert: str) -> ssl.SSLContext:
    """A TLS context that also trusts the PEM certificates of ``cacert``; UserError if it cannot."""
    try:
        pem = read_input(cacert).decode("ascii")
        return ssl.create_default_context(cadata=pem)
    except InputFileError as exc:
        if exc.reason == "size":
            message = _("--cacert {file} is larger than {size} MB: set {variable} to a bigger "
                        "number of megabytes to read it").format(
                file=cacert, size=exc.limit_mb, variable=LIMIT_VARIABLE)  # fmt: skip
        elif exc.reason == "kind":
            message = _("--cacert {file} is not a regular file").format(file=cacert)
        else:
            message = _("{variable} must be a whole number of megabytes from 1 to 1048576").format(
                variable=LIMIT_VARIABLE
            )
    except (ssl.SSLError, UnicodeDecodeError, ValueError):
        message = _(
            "--cacert {file} holds no PEM certificate "
            "(a block that starts -----BEGIN CERTIFICATE-----)"
        ).format(file=cacert)
    except OSError as exc:
        message = _("cannot read {file}: {reason}").format(file=cacert, reason=exc.strerror or exc)
    raise UserError(message, EXIT_USAGE)
