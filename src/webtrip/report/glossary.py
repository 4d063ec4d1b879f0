"""The packet fields a learner can open, each named and explained in one plain sentence.

The app's packet window (Packet Tracer's PDU window) lists a packet's layers —
IPv4, UDP or TCP, DNS or HTTP — and under each its fields; choosing one
highlights its bytes. Keys are Wireshark's display-filter names (``ip.ttl``),
so a learner can type the same name in Wireshark. Every name and sentence goes
through gettext: the app gets both languages and switches without reloading.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webtrip.i18n import LANGUAGES, translation

__all__ = ["FIELDS", "glossary"]


def N_(text: str) -> str:
    """Marks ``text`` for the catalog; it is translated where it is used."""
    return text


FIELDS: dict[str, tuple[str, str]] = {
    "ip.version": (N_("Version"), N_("Which version of IP this is: 4, the Internet's usual one.")),
    "ip.hdr_len": (N_("Header length"), N_("How many bytes the IP header takes, usually 20.")),
    "ip.dsfield": (
        N_("Differentiated services"),
        N_("A hint for routers about how urgent the packet is; 0 means an ordinary packet."),
    ),
    "ip.len": (N_("Total length"), N_("The size of the whole packet in bytes, header included.")),
    "ip.id": (
        N_("Identification"),
        N_(
            "A number the sender gives each packet, so that the "
            "pieces of a packet cut in fragments can be put back together."
        ),
    ),
    "ip.flags.df": (
        N_("Don't fragment"),
        N_(
            "1 means no router may cut this packet into "
            "smaller pieces; one that cannot pass it whole drops it and says so."
        ),
    ),
    "ip.flags.mf": (
        N_("More fragments"),
        N_("1 means this is a piece of a larger packet and more pieces follow."),
    ),
    "ip.frag_offset": (
        N_("Fragment offset"),
        N_("Where this piece goes in the original packet, in bytes; 0 for a whole packet."),
    ),
    "ip.ttl": (
        N_("Time to live"),
        N_(
            "Each router lowers it by one; at 0 the packet is "
            "dropped, so a packet can never travel in circles forever."
        ),
    ),
    "ip.proto": (N_("Protocol"), N_("What the packet carries: 6 is TCP, 17 is UDP, 1 is ICMP.")),
    "ip.checksum": (
        N_("Header checksum"),
        N_(
            "A sum of the header's bytes: a receiver that "
            "gets a different sum knows the header was damaged and drops it."
        ),
    ),
    "ip.src": (N_("Source address"), N_("The IP address of the computer that sent the packet.")),
    "ip.dst": (
        N_("Destination address"),
        N_("The IP address the packet is going to; routers read it to choose the next link."),
    ),
    "udp.srcport": (N_("Source port"), N_("The sender's port: the reply comes back to it.")),
    "udp.dstport": (
        N_("Destination port"),
        N_("Which program on the receiving computer gets it: 53 is DNS."),
    ),
    "udp.length": (N_("Length"), N_("The size of the UDP header and its data, in bytes.")),
    "udp.checksum": (
        N_("Checksum"),
        N_("A sum over the data: the receiver checks that nothing was damaged on the way."),
    ),
    "tcp.srcport": (
        N_("Source port"),
        N_("The sender's port; with the addresses it tells one connection from another."),
    ),
    "tcp.dstport": (
        N_("Destination port"),
        N_("Which program on the receiving computer gets it: 80 is a web server."),
    ),
    "tcp.seq_raw": (
        N_("Sequence number"),
        N_(
            "The number of this segment's first byte in "
            "the sender's stream, so the receiver can put the bytes in order."
        ),
    ),
    "tcp.ack_raw": (
        N_("Acknowledgment number"),
        N_(
            "The next byte the sender expects from "
            "the other side: everything before it has arrived."
        ),
    ),
    "tcp.hdr_len": (
        N_("Header length"),
        N_("How many bytes the TCP header takes, options included."),
    ),
    "tcp.flags": (
        N_("Flags"),
        N_(
            "What the segment is for: SYN opens a connection, ACK "
            "acknowledges, FIN closes, RST breaks it off, PSH asks to deliver at once."
        ),
    ),
    "tcp.window_size_value": (
        N_("Window"),
        N_(
            "How many more bytes the sender can take in "
            "right now: the other side must not send more."
        ),
    ),
    "tcp.checksum": (
        N_("Checksum"),
        N_("A sum over the segment: the receiver checks that nothing was damaged on the way."),
    ),
    "tcp.urgent_pointer": (N_("Urgent pointer"), N_("Hardly ever used; 0 here.")),
    "tcp.options": (
        N_("Options"),
        N_(
            "Extra settings agreed at the start, such as the largest "
            "segment each side can take (MSS)."
        ),
    ),
    "tcp.len": (
        N_("Data length"),
        N_("How many bytes of the application's data this segment carries."),
    ),
    "icmp.type": (
        N_("Type"),
        N_(
            "What the ICMP message says: 3 means the destination could "
            "not be reached, 11 that the time to live ran out."
        ),
    ),
    "icmp.code": (N_("Code"), N_("The detail of the type, such as why it could not be reached.")),
    "icmp.checksum": (N_("Checksum"), N_("A sum over the message, to find damage.")),
    "dns.id": (
        N_("Transaction ID"),
        N_(
            "A random number the question carries; the answer "
            "must carry the same one to be believed."
        ),
    ),
    "dns.flags": (
        N_("Flags"),
        N_(
            "Whether this is a question or an answer, whether the "
            "server is the name's own (authoritative), and the outcome."
        ),
    ),
    "dns.count.queries": (N_("Questions"), N_("How many questions the message holds.")),
    "dns.count.answers": (N_("Answers"), N_("How many answer records it holds.")),
    "dns.count.auth_rr": (
        N_("Authority records"),
        N_("How many records name the servers that know more (a referral)."),
    ),
    "dns.count.add_rr": (
        N_("Additional records"),
        N_("How many extra records it holds, such as those servers' addresses."),
    ),
    "dns.qry.name": (N_("Name asked"), N_("The name whose address is wanted.")),
    "dns.qry.type": (
        N_("Type asked"),
        N_("What is wanted about the name: A is an IPv4 address, AAAA an IPv6 one."),
    ),
    "dns.answers": (
        N_("Records"),
        N_("What the server answered: addresses, or the servers to ask next."),
    ),
    "http.request.line": (
        N_("Request line"),
        N_(
            "What the browser asks for: a method (GET: "
            "send me), the file's path and the HTTP version."
        ),
    ),
    "http.response.line": (
        N_("Status line"),
        N_(
            "The server's answer in a number and words: "
            "200 OK means here it is, 404 that there is no such file."
        ),
    ),
    "http.header": (
        N_("Header"),
        N_("One piece of information about the message, as name: value."),
    ),
    "http.body": (N_("Body"), N_("The file itself, or the part of it this segment carries.")),
}
"""Each field's name and its one-sentence explanation, in English (the catalog's keys)."""


def glossary() -> dict[str, dict[str, Any]]:
    """``{key: {"name": {lang: ...}, "explain": {lang: ...}}}`` for every field in
    :data:`FIELDS`, in every language."""
    catalogs: dict[str, Callable[[str], str]] = {
        language: translation(language).gettext for language in LANGUAGES
    }
    return {
        key: {
            "name": {language: say(name) for language, say in catalogs.items()},
            "explain": {language: say(explain) for language, say in catalogs.items()},
        }
        for key, (name, explain) in FIELDS.items()
    }
