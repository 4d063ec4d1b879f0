"""IPv4, UDP and ICMP on the wire: exact bytes, checksums, and strict decoding."""

from __future__ import annotations

import struct

import pytest

from webtrip.packets import icmp
from webtrip.packets.dissect import Match, dissect
from webtrip.packets.ipv4 import (
    PROTOCOL_TCP,
    PROTOCOL_UDP,
    IPv4Packet,
    PacketError,
    internet_checksum,
    tcp_checksum,
)
from webtrip.packets.udp import UdpDatagram

# A well-known example header (192.168.0.1 → 192.168.0.199, UDP, 115 bytes).
EXAMPLE_HEADER = bytes.fromhex("450000730000400040 11b861c0a80001c0a800c7".replace(" ", ""))


def udp_packet(payload: bytes = b"hello", **ip_fields) -> IPv4Packet:
    datagram = UdpDatagram(5353, 53, payload).encode("10.0.0.1", "10.0.0.2")
    return IPv4Packet("10.0.0.1", "10.0.0.2", PROTOCOL_UDP, datagram, **ip_fields)


def tcp_segment(flags: int, payload: bytes = b"", src: str = "10.0.0.1", dst: str = "10.0.0.2"):
    header = bytearray(struct.pack("!HHIIBBHHH", 40000, 80, 1000, 0, 5 << 4, flags, 65535, 0, 0))
    segment = bytes(header) + payload
    struct.pack_into("!H", header, 16, tcp_checksum(src, dst, segment))
    return bytes(header) + payload


# --- the Internet checksum (RFC 1071) ---------------------------------------------


def test_checksum_of_a_known_header_matches():
    unsummed = EXAMPLE_HEADER[:10] + b"\x00\x00" + EXAMPLE_HEADER[12:]
    assert internet_checksum(unsummed) == 0xB861


def test_checksum_over_bytes_with_a_correct_checksum_is_zero():
    assert internet_checksum(EXAMPLE_HEADER) == 0


def test_checksum_pads_an_odd_length_with_a_zero_byte():
    assert internet_checksum(b"\x01\x02\x03") == internet_checksum(b"\x01\x02\x03\x00")


# --- IPv4 (RFC 791) -----------------------------------------------------------------


def test_ipv4_header_encodes_the_known_example():
    packet = IPv4Packet("192.168.0.1", "192.168.0.199", PROTOCOL_UDP, bytes(95), ttl=64)
    assert packet.encode()[:20] == EXAMPLE_HEADER


def test_ipv4_round_trips_every_field():
    packet = udp_packet(ttl=3, identification=0xBEEF, dont_fragment=False, tos=0x10)
    assert IPv4Packet.decode(packet.encode()) == packet


def test_ipv4_sets_the_dont_fragment_flag_by_default():
    data = udp_packet().encode()
    assert struct.unpack_from("!H", data, 6)[0] == 0x4000


def test_ipv4_options_lengthen_the_header():
    packet = udp_packet(options=b"\x01\x01\x01\x00")  # NOP NOP NOP EOL
    data = packet.encode()
    assert data[0] == 0x46
    assert IPv4Packet.decode(data) == packet


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:19], "too few"),
        (lambda d: b"\x65" + d[1:], "version is 6"),
        (lambda d: b"\x44" + d[1:], "header length is 16"),
        (lambda d: d[:10] + b"\x00\x00" + d[12:], "checksum is wrong"),
        (lambda d: d + b"\x00", "total length says"),
        (lambda d: d[:-1], "total length says"),
    ],
)
def test_ipv4_decoding_rejects_malformed_datagrams(mutate, message):
    with pytest.raises(PacketError, match=message):
        IPv4Packet.decode(mutate(udp_packet().encode()))


def test_ipv4_decoding_rejects_the_reserved_flag():
    data = bytearray(udp_packet().encode())
    data[6] |= 0x80
    data[10:12] = b"\x00\x00"
    struct.pack_into("!H", data, 10, internet_checksum(bytes(data[:20])))
    with pytest.raises(PacketError, match="reserved"):
        IPv4Packet.decode(bytes(data))


def test_ipv4_encoding_rejects_an_out_of_range_ttl():
    with pytest.raises(PacketError, match="TTL"):
        udp_packet(ttl=256).encode()


def test_ipv4_encoding_rejects_a_non_ipv4_address():
    with pytest.raises(PacketError, match="not an IPv4 address"):
        IPv4Packet("::1", "10.0.0.2", PROTOCOL_UDP, b"").encode()


# --- UDP (RFC 768) ------------------------------------------------------------------


def test_udp_round_trips():
    data = UdpDatagram(5353, 53, b"query").encode("10.0.0.1", "10.0.0.2")
    assert UdpDatagram.decode(data, "10.0.0.1", "10.0.0.2") == UdpDatagram(5353, 53, b"query")


def test_udp_checksum_covers_the_pseudo_header():
    data = UdpDatagram(5353, 53, b"query").encode("10.0.0.1", "10.0.0.2")
    with pytest.raises(PacketError, match="UDP checksum is wrong"):
        UdpDatagram.decode(data, "10.0.0.1", "10.0.0.3")


def test_udp_checksum_that_computes_to_zero_is_sent_as_all_ones():
    # Choose a payload word that makes the ones'-complement sum 0xFFFF.
    probe = UdpDatagram(1, 2, b"\x00\x00").encode("10.0.0.1", "10.0.0.2")
    fix = struct.unpack_from("!H", probe, 6)[0]  # the checksum with a zero payload word
    data = UdpDatagram(1, 2, struct.pack("!H", fix)).encode("10.0.0.1", "10.0.0.2")
    assert data[6:8] == b"\xff\xff"
    assert UdpDatagram.decode(data, "10.0.0.1", "10.0.0.2").payload == struct.pack("!H", fix)


def test_udp_without_a_checksum_is_accepted():
    data = struct.pack("!HHHH", 1, 2, 10, 0) + b"hi"
    assert UdpDatagram.decode(data, "10.0.0.1", "10.0.0.2").payload == b"hi"


def test_udp_length_must_match_the_bytes():
    data = UdpDatagram(1, 2, b"abc").encode("10.0.0.1", "10.0.0.2")
    with pytest.raises(PacketError, match="UDP length"):
        UdpDatagram.decode(data + b"x", "10.0.0.1", "10.0.0.2")


# --- the TCP checksum helper --------------------------------------------------------


def test_tcp_checksum_verifies_to_zero_on_a_checksummed_segment():
    segment = tcp_segment(0x02)
    assert tcp_checksum("10.0.0.1", "10.0.0.2", segment) == 0
    assert tcp_checksum("10.0.0.1", "10.0.0.9", segment) != 0


# --- ICMP (RFC 792) -----------------------------------------------------------------


def test_echo_reply_mirrors_the_request():
    request = icmp.echo_request(7, 1, b"ping")
    reply = icmp.IcmpMessage.decode(icmp.echo_reply(request).encode())
    assert (reply.type, reply.identifier, reply.sequence, reply.body) == (0, 7, 1, b"ping")


def test_icmp_checksum_is_checked():
    data = bytearray(icmp.echo_request(1, 1).encode())
    data[-1] ^= 0xFF
    with pytest.raises(PacketError, match="ICMP checksum"):
        icmp.IcmpMessage.decode(bytes(data))


def test_fragmentation_needed_carries_the_next_hop_mtu_and_quotes_the_original():
    original = udp_packet(bytes(1000)).encode()
    message = icmp.destination_unreachable(icmp.FRAGMENTATION_NEEDED, original, 576)
    decoded = icmp.IcmpMessage.decode(message.encode())
    assert decoded.next_hop_mtu == 576
    assert decoded.body == original[: 576 - 28]


def test_an_icmp_error_must_quote_a_header_and_eight_bytes():
    short = icmp.IcmpMessage(icmp.TIME_EXCEEDED, 0, bytes(4), bytes(27)).encode()
    with pytest.raises(PacketError, match="quote"):
        icmp.IcmpMessage.decode(short)


# --- dissecting and matching ----------------------------------------------------------


def test_dissect_decodes_udp_ports_and_payload():
    packet = dissect(udp_packet(b"abc").encode())
    assert (packet.protocol, packet.source_port, packet.destination_port) == ("udp", 5353, 53)
    assert packet.payload_size == 3


def test_dissect_reads_tcp_flags():
    data = IPv4Packet("10.0.0.1", "10.0.0.2", PROTOCOL_TCP, tcp_segment(0x12)).encode()
    packet = dissect(data)
    assert packet.tcp_flags == ("SYN", "ACK")
    assert packet.destination_port == 80


def test_dissect_rejects_a_bad_tcp_checksum():
    segment = bytearray(tcp_segment(0x02))
    segment[4] ^= 1
    data = IPv4Packet("10.0.0.1", "10.0.0.2", PROTOCOL_TCP, bytes(segment)).encode()
    with pytest.raises(PacketError, match="TCP checksum"):
        dissect(data)


def test_match_needs_every_field_given():
    syn_ack = dissect(IPv4Packet("10.0.0.1", "10.0.0.2", PROTOCOL_TCP, tcp_segment(0x12)).encode())
    assert Match(protocol="tcp", tcp_flags=("SYN",), port=80)(syn_ack)
    assert not Match(protocol="tcp", tcp_flags=("SYN", "FIN"))(syn_ack)
    assert not Match(protocol="udp")(syn_ack)
    assert Match(with_payload=False)(syn_ack)


def test_summary_names_the_endpoints():
    assert dissect(udp_packet().encode()).summary() == "10.0.0.1:5353 > 10.0.0.2:53 udp 33 bytes"
