"""``webtrip sim``: a lab in the simulated network, every packet shown.

The same DNS server, web server and browser as ``webtrip demo``, on simulated
hosts joined by routers (the demo lab, or a lab file), on a virtual clock:
runs take no real time, the browser's link has the latency, bandwidth, loss
and MTU you ask for, targeted faults drop or delay the packets you name, and
the same seed gives the same packets, byte for byte. The packet table and the
pcap file are views of the run's trace, which holds every packet.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.parse

import click

from webtrip import branching, lab
from webtrip.browser.errors import BadUrl
from webtrip.browser.media import Screen
from webtrip.browser.urls import normalize_url
from webtrip.cli.common import (
    Command,
    UserError,
    _,
    err_console,
    out_console,
    write_stdout,
    write_whole,
)
from webtrip.cli.options import (
    JSON_OPTION,
    LANGUAGE_OPTION,
    NO_RENDER_OPTION,
    RELOAD_OPTION,
    REPORT_OPTION,
    count,
    screen_options,
    view_options,
)
from webtrip.cli.output import load_exit_code, show_loads, show_packets, write_views
from webtrip.i18n import actor_name, choose_language, milliseconds, number, translation
from webtrip.lab import sim as simulated
from webtrip.lab.profiles import PROFILES, NetworkProfile
from webtrip.outcomes import EXIT_USAGE
from webtrip.report.compare import show as show_comparison
from webtrip.report.narration import fault_note
from webtrip.report.pcap import capture_files
from webtrip.trace import FaultOutcome

_CLI_UNITS = {"latency": ("time", "ms"), "bandwidth": ("rate", "mbit")}


def parse_quantity(kind: str, text: str) -> float:
    """``40ms`` → 0.04, ``10mbit`` → 1e7 (a bare number: ms, Mbit/s); UserError otherwise."""
    unit_kind, default_unit = _CLI_UNITS[kind]
    bare = re.fullmatch(r"\s*[0-9]*\.?[0-9]+\s*", text) is not None
    try:
        value = lab.parse_quantity(unit_kind, text + default_unit if bare else text)
    except ValueError:
        known = ", ".join(unit for unit in lab.UNITS[unit_kind] if unit)
        message = _("--{option} {value}: give a number with a unit ({units})").format(
            option=kind, value=text, units=known
        )
        raise UserError(message, EXIT_USAGE) from None
    if kind == "bandwidth" and value <= 0:
        message = _("--bandwidth {value}: a link's speed must be above 0").format(value=text)
        raise UserError(message, EXIT_USAGE)
    return value


def parse_share(option: str, text: str) -> float:
    """``2%`` or ``2`` → 0.02 for ``--loss``, ``--duplicate``, ``--reorder``: on the command
    line a bare number is a percentage too; UserError otherwise."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%?)\s*", text)
    if match is None:
        message = _("--{option} {value}: give a percentage, like 2%").format(
            option=option, value=text
        )
        raise UserError(message, EXIT_USAGE)
    try:
        return lab.parse_share(match.group(1) + "%")
    except ValueError:
        message = _(
            "--{option} {value}: a share of packets must be at least 0% and below 100%"
        ).format(option=option, value=text)
        raise UserError(message, EXIT_USAGE) from None


def parse_profile(name: str) -> NetworkProfile:
    """The profile ``--network`` names; UserError listing the known ones otherwise."""
    profile = PROFILES.get(name.strip().lower())
    if profile is None:
        known = ", ".join(PROFILES)
        raise UserError(
            f"--network {name}: not a network profile (known: {known}; "
            "see webtrip sim --network list)",
            EXIT_USAGE,
        )
    return profile


def link_conditions(
    profile: NetworkProfile | None,
    latency: str | None,
    bandwidth: str | None,
    shares: dict[str, str | None],
    mtu: int | None,
) -> simulated.LinkConditions:
    """The browser's link: the profile's values, each replaced by the flag given for it."""
    chosen = {key: parse_share(key, text) for key, text in shares.items() if text is not None}
    if profile is not None and profile.loss and "loss" not in chosen:
        chosen["loss"] = profile.loss
    return simulated.LinkConditions(
        latency=parse_quantity("latency", latency) if latency is not None
        else profile.latency if profile is not None else None,
        bandwidth=parse_quantity("bandwidth", bandwidth) if bandwidth is not None
        else profile.bandwidth if profile is not None else None,
        mtu=mtu,
        **chosen,
    )  # fmt: skip


def profiles_table(language: str) -> str:
    """``--network list``: each profile's name, round trip, speed and loss, and what it is."""
    _ = translation(language).gettext
    lines = [_("Network profiles for the browser's link (webtrip sim --network NAME):")]
    for profile in PROFILES.values():
        if profile.bandwidth is not None:
            mbits = profile.bandwidth / 1e6
            speed = number(mbits, language, 0 if mbits == int(mbits) else 1) + " Mbit/s"
        else:
            speed = _("the lab's speed")
        loss = profile.loss * 100
        numbers = _("round trip {rtt} ms, {speed}, loss {loss}%").format(
            rtt=number(profile.rtt * 1000, language),
            speed=speed,
            loss=number(loss, language, 0 if loss == int(loss) else 1),
        )
        lines.append(f"  {profile.name:<10} {_(profile.title)}")
        lines.append(f"  {'':<10} {numbers}")
    lines.append(_("Sources and exact numbers: docs/network-profiles.md."))
    return "\n".join(lines)


def parse_faults(drops: tuple[str, ...], delays: tuple[str, ...]) -> list[lab.FaultSpec]:
    faults = []
    for action, texts in (("drop", drops), ("delay", delays)):
        for text in texts:
            try:
                faults.append(lab.parse_fault(action, text))
            except ValueError as exc:
                raise UserError(f"--{action} {exc}", EXIT_USAGE) from None
    return faults


FILTER_HELP = (
    "FILTER is one of: "
    + ", ".join(lab.FILTERS)
    + ", tcp:PORT, udp:PORT; add #N for the Nth such packet on the browser's link (default: 1st)."
)


def profiles_help(language: str) -> str:
    """The help's list of network profiles, in ``language``: a paragraph kept as written,
    made at render time from the catalog's words and the profiles' own values."""
    _ = translation(language).gettext
    lines = [_("Network profiles (--network NAME; round trip, download speed):")]
    for profile in PROFILES.values():
        if profile.bandwidth is None:
            speed = _("the lab's speed")
        else:
            mbits = profile.bandwidth / 1e6
            speed = number(mbits, language, 0 if mbits == int(mbits) else 1) + " Mbit/s"
        rtt = milliseconds(profile.rtt * 1000, language)
        lines.append(f"  {profile.name:<10} {rtt}, {speed}  ({_(profile.source)})")
    return "\b\n" + "\n".join(lines)


class SimCommand(Command):
    """``webtrip sim``: its help ends with the network profiles, in the help's language."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        formatter.write_paragraph()
        with formatter.indentation():
            # Already in the help's language: written as it is, not looked up again.
            click.HelpFormatter.write_text(formatter, profiles_help(choose_language()))


@click.command(cls=SimCommand, epilog=FILTER_HELP)
@click.argument("url", required=False)
@click.option(
    "--lab",
    "lab_file",
    type=click.Path(dir_okay=False),
    help="A lab file (TOML): hosts, routers, links, zones, sites (default: the demo lab). "
    "It and its zone files are read up to 64 MB each; set WEBTRIP_MAX_FILE_MB to raise that.",
)
@click.option("--latency", help="One-way delay of the browser's link (demo lab: 20ms).")
@click.option("--bandwidth", help="The browser's link speed (demo lab: 10mbit).")
@click.option(
    "--loss", help="Share of packets lost at random on the browser's link, e.g. 2% or 2 (0%)."
)
@click.option(
    "--duplicate",
    help="Share of packets the browser's link delivers twice, e.g. 2% (0%).",
)
@click.option(
    "--reorder",
    help="Share of packets the browser's link holds back one latency, so that later ones "
    "overtake them, e.g. 10% (0%): watch TCP put them back in order.",
)
@click.option("--mtu", type=click.IntRange(576, 65535), help="The browser's link MTU (1500).")
@click.option(
    "--network",
    "network_profile",
    metavar="PROFILE",
    help="A kind of connection for the browser's link, as DevTools' throttling presets: "
    + ", ".join(PROFILES)
    + " (see below, or --network list); --latency, --bandwidth, --loss override its values.",
)
@click.option(
    "--seed",
    default=1,
    show_default=True,
    type=count(0, 2**63 - 1),
    help="Same seed, same packets (0 or more).",
)
@click.option(
    "--drop",
    "drops",
    multiple=True,
    metavar="FILTER",
    help="Drop a packet on the browser's link, e.g. synack or dns-response#2 (repeatable).",
)
@click.option(
    "--delay",
    "delays",
    multiple=True,
    metavar="FILTER=TIME",
    help="Hold a packet back on the browser's link, e.g. synack=300ms (repeatable).",
)
@click.option("--dns-silent", is_flag=True, help="The DNS server takes questions, never answers.")
@click.option(
    "--pcap",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the browser's packets (or --at's) to a pcap file, pcapng if it ends .pcapng; "
    "a router's, one file per link (r-eth0.pcap...).",
)
@click.option("--no-packets", is_flag=True, help="Do not print the packet list.")
@click.option(
    "--at",
    "at_host",
    metavar="HOST",
    help="Whose packets to list and capture: a host or router of the lab, e.g. resolver "
    "to see its walk from the root, router to see it forward (default: the browser's).",
)
@click.option(
    "--what-if",
    "what_if",
    metavar='"at=MOMENT, CHANGE"',
    help="Run the lab twice with the same seed, the second time changed from a moment on, "
    "and compare the two runs. MOMENT: an event's number (at=40: right after events[40] "
    "of the --json trace) or a time (at=1.2s). CHANGE: drop FILTER, delay FILTER=TIME "
    "(the next such packet from then on), silent HOST, slow HOST=TIME (every packet it "
    "sends, lost or late), latency=TIME, bandwidth=RATE, loss=SHARE (the browser's link), "
    "flush-dns (empty the resolver's cache and the browser's: a name is asked from the root "
    "again; try it with --reload). "
    "--json then prints the comparison; --pcap, --har, --report are the changed run's.",
)
@click.option(
    "--trace-a",
    metavar="A.json",
    type=click.Path(dir_okay=False, writable=True),
    help="With --what-if: write the first run's trace (as --json would) to this file.",
)
@click.option(
    "--trace-b",
    metavar="B.json",
    type=click.Path(dir_okay=False, writable=True),
    help="With --what-if: write the changed run's trace to this file.",
)
@RELOAD_OPTION
@LANGUAGE_OPTION
@JSON_OPTION
@view_options
@REPORT_OPTION
@NO_RENDER_OPTION
@screen_options
def sim(
    url: str | None,
    lab_file: str | None,
    latency: str | None,
    bandwidth: str | None,
    loss: str | None,
    duplicate: str | None,
    reorder: str | None,
    mtu: int | None,
    network_profile: str | None,
    seed: int,
    drops: tuple[str, ...],
    delays: tuple[str, ...],
    dns_silent: bool,
    pcap: str | None,
    no_packets: bool,
    at_host: str | None,
    what_if: str | None,
    trace_a: str | None,
    trace_b: str | None,
    reload: bool,
    lang: str | None,
    as_json: bool,
    har_file: str | None,
    mermaid_file: str | None,
    mermaid_style: str,
    report_file: str | None,
    no_render: bool,
    viewport: tuple[int, int],
    dpr: float,
) -> None:
    """Run a lab in the simulated network and show every packet.

    The demo lab: the browser (10.0.0.1), a recursive resolver (10.0.0.53),
    a root DNS server (192.0.2.1), the server of .test (198.51.100.1),
    webtrip.test's own DNS server (10.0.0.2) and the web server (10.0.0.3)
    are webtrip's own actors on simulated hosts joined by a router; the
    packets are real IPv4/UDP/TCP bytes (open the --pcap file in Wireshark or
    tshark). Faults act on the browser's link. Exit codes are webtrip
    browse's (0 loaded, 21 loaded but some of its files did not, 10-20 why
    the page did not load; see webtrip browse --help); 2 for a mistake in
    the command, 1 when a file cannot be written. A --drop or --delay that
    matched no packet is said on stderr and in the narration; it leaves the
    exit code to the page load.

    \b
    Examples:
      webtrip sim
      webtrip sim --latency 100ms --bandwidth 1mbit --loss 5% --seed 7
      webtrip sim --network 3g         # DevTools' 3G: 400 ms round trip, 500 kbit/s
      webtrip sim --network satellite --loss 1%
      webtrip sim --reorder 20%        # segments overtake each other; TCP reorders them
      webtrip sim --lang es --pcap lab.pcap   # Accept-Language: es-ES: the Spanish page
      webtrip sim --drop synack        # the browser sends its SYN again after 1 s
      webtrip sim --delay synack=300ms --drop dns-response#1
      webtrip sim --dns-silent         # no answer: the resolver gives up
      webtrip sim --reload             # reloaded: the caches answer, 304 Not Modified
      webtrip sim --at resolver        # the resolver's packets: root, .test, webtrip.test
      webtrip sim --json > run.json    # the trace, every packet in it
      webtrip sim --har lab.har --mermaid lab.mmd --report lab.html
      webtrip sim --lab my-lab/lab.toml
      webtrip sim --what-if "at=40, drop synack"       # and if that SYN-ACK were lost?
      webtrip sim --what-if "at=0.1s, latency=80ms" --trace-a a.json --trace-b b.json
      webtrip sim --what-if "at=100, silent web" --json > branch.json
      webtrip sim --reload --what-if "at=0.3s, flush-dns"  # the reload asks the root again
    """
    if network_profile is not None and network_profile.strip().lower() == "list":
        click.echo(profiles_table(choose_language(lang)))
        return
    profile = parse_profile(network_profile) if network_profile is not None else None
    chosen = _chosen_lab(lab_file)
    url = _checked_url(chosen, url)
    if at_host is not None and at_host not in chosen.hosts and at_host not in chosen.routers:
        nodes = ", ".join([*chosen.hosts, *chosen.routers])
        raise UserError(
            _("--at {name}: not a host or router of the lab (it has: {names})").format(
                name=at_host, names=nodes
            ),
            EXIT_USAGE,
        )
    shares = {"loss": loss, "duplicate": duplicate, "reorder": reorder}
    conditions = link_conditions(profile, latency, bandwidth, shares, mtu)
    faults = parse_faults(drops, delays)
    language = choose_language(lang)
    if what_if is not None:
        _what_if(chosen, seed, conditions, what_if, url, language, faults, reload,
                 (trace_a, trace_b), as_json, (pcap, at_host or chosen.browser_host),
                 (har_file, mermaid_file, report_file, mermaid_style))  # fmt: skip
    if trace_a or trace_b:
        raise UserError(_("--trace-a and --trace-b go with --what-if"), EXIT_USAGE)
    try:
        run = simulated.run(
            chosen,
            seed,
            conditions,
            url=url,
            language=language,
            faults=faults,
            dns_silent=dns_silent,
            loads=2 if reload else 1,
            screen=Screen(viewport[0], viewport[1], dpr),
        )
    except lab.LabError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None
    trace = run.world.trace
    for outcome in trace.of_type(FaultOutcome):
        if not outcome.fired:  # not a mistake, but worth knowing: the narration says it too
            err_console().print(f"webtrip: {fault_note(outcome, language)}", highlight=False)
    node = at_host or chosen.browser_host
    if pcap:
        _write_captures(capture_files(trace, node, pcap), node, language)
    write_views(trace, har_file, mermaid_file, report_file, language, mermaid_style=mermaid_style)
    if as_json:
        write_stdout(trace.to_json() + "\n")
        sys.exit(load_exit_code(run.loads))
    console = out_console()
    show_loads(console, trace, run.loads, language, render=not no_render)
    if not no_packets:
        # A router has an address on each of its links: its name says enough.
        name = actor_name(node, language)
        where = f"{name} ({chosen.address_of(node)})" if node in chosen.hosts else name
        title = _("Packets at {where}").format(where=where)
        console.print()
        show_packets(console, trace, node, title, language)
    sys.exit(load_exit_code(run.loads))


def _what_if(
    chosen: lab.Lab,
    seed: int,
    conditions: simulated.LinkConditions,
    text: str,
    url: str,
    language: str,
    faults: list[lab.FaultSpec],
    reload: bool,
    trace_files: tuple[str | None, str | None],
    as_json: bool,
    capture: tuple[str | None, str],
    views: tuple[str | None, str | None, str | None, str],
) -> None:
    """``--what-if``: the run, its branch, their traces and the comparison; exits."""
    try:
        what_if = lab.parse_what_if(text)
    except ValueError as exc:
        raise UserError(f"--what-if {exc}", EXIT_USAGE) from None
    try:
        result = branching.branch_what_if(chosen, seed, what_if, conditions, url=url,
                                          language=language, faults=tuple(faults),
                                          loads=2 if reload else 1)  # fmt: skip
    except lab.LabError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None
    for name, trace in zip(trace_files, (result.trace_a, result.trace_b), strict=True):
        if name:
            write_whole(name, trace.to_json() + "\n")
    pcap, node = capture
    if pcap:
        _write_captures(capture_files(result.trace_b, node, pcap), node, language)
    har_file, mermaid_file, report_file, mermaid_style = views
    write_views(result.trace_b, har_file, mermaid_file, report_file, language,
                mermaid_style=mermaid_style)  # fmt: skip
    if as_json:
        write_stdout(json.dumps(result.comparison.to_json(language), ensure_ascii=False,
                                indent=1) + "\n")  # fmt: skip
    else:
        show_comparison(out_console(), result.comparison, language)
    sys.exit(load_exit_code(result.runs.b.loads))


def _chosen_lab(lab_file: str | None) -> lab.Lab:
    """The lab file's lab, or the demo lab; a mistake in the file is a usage error."""
    try:
        return lab.load_lab(lab_file) if lab_file else lab.demo_lab()
    except lab.LabError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None


def _checked_url(chosen: lab.Lab, url: str | None) -> str:
    """``url`` (or the lab's) normalised; a usage error if the lab's DNS cannot know its name."""
    try:
        url = normalize_url(url or chosen.url)
    except BadUrl as exc:
        raise UserError(exc.sentence(_), EXIT_USAGE) from None
    parts = urllib.parse.urlsplit(url)
    hostname = (parts.hostname or "").rstrip(".").lower()
    origins = chosen.zone_origins()
    # With the root zone in the lab every name has an answer (NXDOMAIN for most).
    known = "." in origins or any(hostname == o or hostname.endswith("." + o) for o in origins)
    if not known:
        example = urllib.parse.urlsplit(chosen.url).hostname
        raise UserError(
            f"the simulated lab serves {example} only (its DNS knows the names under "
            f"{', '.join(origins)}), e.g. {chosen.url}",
            EXIT_USAGE,
        )
    return urllib.parse.urlunsplit(parts)


def _write_captures(files: dict[str, bytes], node: str, language: str) -> None:
    """Write the capture files; a node on several links gets one per link, and is told."""
    for name, data in files.items():
        write_whole(name, data)
    if len(files) > 1:
        err_console().print(
            _(
                "webtrip: note: {node} is on {count} links, so its capture is one file per "
                "link ({files}): in a single file, each packet it forwards would be there "
                "twice, and Wireshark would take the second copy for a retransmission."
            ).format(node=node, count=number(len(files), language), files=", ".join(files)),
            markup=False,
            highlight=False,
        )
