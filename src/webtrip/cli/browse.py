"""``webtrip browse`` and the shared way a page load is shown (also used by the demo)."""

from __future__ import annotations

import asyncio
import ssl
import sys

import click
from rich.console import Console
from rich.text import Text

from webtrip.browser.errors import LoadError
from webtrip.browser.http1 import Limits
from webtrip.browser.loader import Browser, BrowserOptions, PageLoad
from webtrip.browser.stub_resolver import StubResolver
from webtrip.browser.urls import normalize_url
from webtrip.cli.common import EXIT_USAGE, UserError, out_console
from webtrip.cli.report import REPORT_OPTION, view_options, write_views
from webtrip.i18n import LANGUAGES, choose_language, translation
from webtrip.net import Address, Network, RealNetwork, parse_address
from webtrip.report.narration import narrate
from webtrip.report.page import render_page
from webtrip.report.timings import request_timings
from webtrip.report.waterfall import legend, waterfall
from webtrip.trace import PageLoadFinished, Trace

LANGUAGE_OPTION = click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Language of the narration (default: from LANG).",
)
JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the whole trace as JSON (loadable later)."
)
NO_RENDER_OPTION = click.option("--no-render", is_flag=True, help="Do not print the page's text.")


def show_load(
    console: Console, trace: Trace, load: PageLoad, language: str, *, render: bool = True
) -> None:
    """Narration, waterfall and the page's text, for a person at a terminal."""
    _ = translation(language).gettext
    console.print(Text.assemble(("webtrip", "bold"), f" → {load.url}\n"))
    for paragraph in narrate(trace, language):
        console.print(Text(paragraph.heading, style="bold"))
        console.print(paragraph.text + "\n")
    timings = request_timings(trace)
    if timings:
        bar_width = max(12, min(48, console.width - 64))
        title = _("Timeline of every request")
        console.print(waterfall(timings, bar_width, title=title, language=language))
        console.print(legend(language))
    if render and load.document is not None:
        console.print()
        console.print(render_page(load.document, language))


def show_loads(
    console: Console,
    trace: Trace,
    loads: list[PageLoad],
    language: str,
    *,
    render: bool = True,
) -> None:
    """:func:`show_load` for each load of a run that loaded the page more than once."""
    if len(loads) == 1:
        show_load(console, trace, loads[0], language, render=render)
        return
    _ = translation(language).gettext
    for number, (part, load) in enumerate(zip(load_parts(trace), loads, strict=False), 1):
        if number > 1:
            console.rule(_("Load {number}: the same page again, the caches warm").format(
                number=number))  # fmt: skip
            console.print()
        show_load(console, part, load, language, render=render and number == 1)


def load_parts(trace: Trace) -> list[Trace]:
    """The trace cut after each page load the browser finished: one part per load."""
    cuts = [index + 1 for index, event in enumerate(trace.events)
            if isinstance(event, PageLoadFinished) and event.actor == "browser"]  # fmt: skip
    starts = [0, *cuts[:-1]]
    stops: list[int | None] = [*cuts[:-1], None]  # what follows the last load belongs to it
    return [trace.part(start, stop) for start, stop in zip(starts, stops, strict=True)]


def load_exit_code(loads: list[PageLoad]) -> int:
    """The first failing load's exit code, or 0."""
    return next((code for code in map(exit_code, loads) if code), 0)


RELOAD_OPTION = click.option(
    "--reload",
    "reload",
    is_flag=True,
    help="Load the page a second time with a new browser, and tell that load too: "
    "see what the resolver's cache saves.",
)


async def run_browser(
    network: Network,
    trace: Trace,
    url: str,
    *,
    nameserver: Address | None,
    options: BrowserOptions,
    tls_context: ssl.SSLContext | None = None,
    hosts: dict[str, list[str]] | None = None,
) -> PageLoad:
    resolver = StubResolver(network, trace, nameserver=nameserver, hosts=hosts)
    browser = Browser(network, resolver, trace, options=options, tls_context=tls_context)
    return await browser.load(url)


EXIT_INCOMPLETE = 21  # the page loaded, but some of the files it needs did not


def exit_code(load: PageLoad) -> int:
    error: LoadError | None = load.error
    if error is not None:
        return error.exit_code
    failed = any(
        f.error is not None or f.response is None or f.response.status >= 400
        for f in load.fetched
        if f.kind != "document"
    )
    return EXIT_INCOMPLETE if failed else 0


@click.command()
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
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds the whole page load may take.",
)
@click.option(
    "--max-size",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest response accepted, in megabytes (as sent and decoded).",
)
@click.option(
    "--cacert",
    type=click.Path(exists=True, dir_okay=False),
    help="Trust the certificate authority in this PEM file too (for a lab's HTTPS).",
)
def browse(
    url: str,
    dns_server: str | None,
    lang: str | None,
    as_json: bool,
    har_file: str | None,
    mermaid_file: str | None,
    report_file: str | None,
    no_render: bool,
    timeout: float,
    max_size: int,
    cacert: str | None,
) -> None:
    """Load a web page like a browser and show the four steps, for real.

    The name is looked up with real DNS messages (or /etc/hosts), the page
    and the files it needs are fetched over up to six connections per site,
    and every step is timed.

    \b
    Exit codes: 0 loaded; 2 bad URL; 10 no such name (NXDOMAIN); 11 no address;
    12 DNS failure; 13 connection refused; 14 timeout; 15 TLS failure;
    16 HTTP protocol failure; 17 4xx page; 18 5xx page; 19 too many redirects;
    20 other connection failure; 21 the page loaded but some of its files did not.

    \b
    Examples:
      webtrip browse http://www.webtrip.test:8080/ --dns 127.0.0.1:5353
      webtrip browse https://example.com/ --lang es
      webtrip browse example.com --json > trace.json
      webtrip browse example.com --har example.har --mermaid example.mmd --report example.html
    """
    language = choose_language(lang)
    try:
        url = normalize_url(url)
    except LoadError as exc:
        raise UserError(str(exc), exit_code=exc.exit_code) from None
    nameserver = None
    if dns_server:
        try:
            nameserver = parse_address(dns_server, 53)
        except ValueError as exc:
            raise UserError(f"--dns: {exc}", exit_code=EXIT_USAGE) from None
    context = None
    if cacert:
        context = ssl.create_default_context(cafile=cacert)
    limit = max_size * 1024 * 1024
    options = BrowserOptions(
        total_timeout=timeout,
        limits=Limits(max_body_bytes=limit),
        language=language,
    )

    async def main() -> tuple[Trace, PageLoad]:
        network = RealNetwork()
        trace = Trace(network.now)
        load = await run_browser(
            network,
            trace,
            url,
            nameserver=nameserver,
            options=options,
            tls_context=context,
        )
        return trace, load

    trace, load = asyncio.run(main())
    write_views(trace, har_file, mermaid_file, report_file, language)
    if as_json:
        sys.stdout.write(trace.to_json() + "\n")
    else:
        show_load(out_console(), trace, load, language, render=not no_render)
    sys.exit(exit_code(load))
