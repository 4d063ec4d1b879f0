"""dig and kdig, the reference DNS clients, query our server over UDP and TCP.

Each tool must parse every answer without complaint, and the records it shows
must be exactly the ones the server sent (as dnspython reads them).
"""

from __future__ import annotations

import re
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from support import ZONES, require_program, webtrip_dns_server

pytestmark = pytest.mark.peer("dig")

QUERIES = [
    ("www.example.test", "A"),
    ("WwW.ExAmPlE.TeSt", "AAAA"),
    ("example.test", "SOA"),
    ("example.test", "NS"),
    ("example.test", "MX"),
    ("example.test", "TXT"),
    ("example.test", "CAA"),
    ("_http._tcp.example.test", "SRV"),
    ("10.example.test", "PTR"),
    ("alias.example.test", "A"),
    ("chain1.example.test", "A"),
    ("loop1.example.test", "A"),
    ("any.wild.example.test", "TXT"),
    ("x.ent.empty.example.test", "A"),
    ("nope.example.test", "A"),
    ("www.example.test", "MX"),
    ("host.child.example.test", "A"),
    ("big.example.test", "TXT"),
    ("example.test", "ANY"),
    ("www.example.com", "A"),
]

SECTION_TITLES = {"ANSWER": "answer", "AUTHORITY": "authority", "ADDITIONAL": "additional"}


@pytest.fixture(scope="module")
def server():
    with webtrip_dns_server([ZONES / "example.test.zone", ZONES / "other.test.zone"]) as running:
        yield running


def records_in(section: list) -> set[tuple]:
    return {
        (rrset.name.to_text().lower(), rrset.ttl, rrset.rdtype, rdata.to_text())
        for rrset in section
        for rdata in rrset
    }


def parse_tool_output(text: str) -> tuple[str, dict[str, set[tuple]]]:
    """The status and the records of each section, from dig's or kdig's text."""
    status = re.search(r"status: ([A-Z]+)", text)
    assert status, text
    sections: dict[str, set[tuple]] = {name: set() for name in SECTION_TITLES.values()}
    current = None
    for line in text.splitlines():
        title = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
        if title:
            current = SECTION_TITLES[title.group(1)]
            continue
        if not line.strip() or line.startswith(";"):
            current = None if not line.strip() else current
            continue
        if current is None:
            continue
        name, ttl, rdclass, rdtype, rdata = line.split(None, 4)
        parsed = dns.rdata.from_text(
            dns.rdataclass.from_text(rdclass), dns.rdatatype.from_text(rdtype), rdata
        )
        sections[current].add((name.lower(), int(ttl), parsed.rdtype, parsed.to_text()))
    return status.group(1), sections


def reference(server, name: str, rdtype: str, tcp: bool) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    if tcp:
        return dns.query.tcp(query, server.host, port=server.port, timeout=3)
    response, _ = dns.query.udp_with_fallback(query, server.host, port=server.port, timeout=3)
    return response


def run_tool(tool: str, server, name: str, rdtype: str, tcp: bool) -> str:
    args = [
        require_program(tool),
        f"@{server.host}",
        "-p",
        str(server.port),
        "+tries=1" if tool == "dig" else "+retry=0",
        "+time=3",
        name,
        rdtype,
    ]
    if tcp:
        args.append("+tcp")
    done = subprocess.run(args, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("tool", ["dig", pytest.param("kdig", marks=pytest.mark.peer("kdig"))])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize(("name", "rdtype"), QUERIES, ids=[f"{n}-{t}" for n, t in QUERIES])
def test_tool_parses_our_answer_and_shows_what_we_sent(server, tool, transport, name, rdtype):
    tcp = transport == "tcp"
    output = run_tool(tool, server, name, rdtype, tcp)
    assert "malformed" not in output.lower(), output
    assert "warning: message parser" not in output.lower(), output
    status, sections = parse_tool_output(output)
    expected = reference(server, name, rdtype, tcp)
    assert status == dns.rcode.to_text(expected.rcode())
    for title in SECTION_TITLES.values():
        assert sections[title] == records_in(getattr(expected, title)), title


def test_dig_retries_a_truncated_answer_over_tcp(server):
    output = run_tool("dig", server, "big.example.test", "TXT", tcp=False)
    assert "Truncated, retrying in TCP mode" in output
    _, sections = parse_tool_output(output)
    assert len(sections["answer"]) == 7


def test_dig_sees_the_question_name_in_the_letter_case_it_sent(server):
    output = run_tool("dig", server, "WwW.ExAmPlE.TeSt", "A", tcp=False)
    assert re.search(r"^WwW\.ExAmPlE\.TeSt\.\s+300\s+IN\s+A\s+192\.0\.2\.10$", output, re.M)


def test_dig_without_edns_gets_no_opt_record(server):
    args = [require_program("dig"), f"@{server.host}", "-p", str(server.port), "+noedns"]
    done = subprocess.run(
        [*args, "+tries=1", "www.example.test"], capture_output=True, text=True, timeout=20
    )
    assert "OPT PSEUDOSECTION" not in done.stdout
    assert "status: NOERROR" in done.stdout
