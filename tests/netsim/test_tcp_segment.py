"""The TCP segment codec: header layout, checksum, options, and strict decoding."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webtrip.packets.tcp_segment import (
    Flags,
    SegmentError,
    TcpSegment,
    tcp_checksum,
)

SRC = "10.0.0.1"
DST = "10.0.0.2"


def syn(**changes: object) -> TcpSegment:
    fields: dict[str, object] = {
        "src_port": 40000,
        "dst_port": 80,
        "seq": 1000,
        "ack": 0,
        "flags": Flags.SYN,
        "window": 65535,
        "mss": 1460,
    }
    fields.update(changes)
    return TcpSegment(**fields)  # type: ignore[arg-type]


def raw(options: bytes = b"", payload: bytes = b"", *, offset_words: int | None = None) -> bytes:
    """Hand-made segment bytes with a correct checksum, for options the encoder would not write."""
    words = offset_words if offset_words is not None else (20 + len(options)) // 4
    header = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, words << 4, Flags.SYN, 1024, 0, 0)
    segment = bytearray(header + options + payload)
    struct.pack_into("!H", segment, 16, tcp_checksum(SRC, DST, bytes(segment)))
    return bytes(segment)


def reference_checksum(src: bytes, dst: bytes, segment: bytes) -> int:
    """RFC 1071 written out the slow way, byte pair by byte pair."""
    data = src + dst + bytes([0, 6]) + len(segment).to_bytes(2, "big") + segment
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# --- encoding -------------------------------------------------------------------


def test_header_fields_sit_where_rfc_9293_draws_them():
    wire = syn(seq=0x01020304, window=0x1234).encode(SRC, DST)
    assert wire[0:2] == (40000).to_bytes(2, "big")
    assert wire[2:4] == (80).to_bytes(2, "big")
    assert wire[4:8] == bytes([1, 2, 3, 4])
    assert wire[12] >> 4 == 6  # data offset: 24 bytes = 20 + the 4-byte MSS option
    assert wire[13] == 0x02  # SYN
    assert wire[14:16] == bytes([0x12, 0x34])
    assert wire[20:24] == bytes([2, 4, 0x05, 0xB4])  # kind 2, length 4, 1460


def test_window_scale_follows_a_nop_and_the_header_stays_32_bit_aligned():
    wire = syn(window_scale=7).encode(SRC, DST)
    assert wire[20:28] == bytes([2, 4, 0x05, 0xB4, 1, 3, 3, 7])
    assert wire[12] >> 4 == 7


def test_a_segment_without_options_has_the_minimum_20_byte_header():
    wire = TcpSegment(1, 2, 3, 4, Flags.ACK, 5, payload=b"data").encode(SRC, DST)
    assert len(wire) == 24
    assert wire[12] >> 4 == 5


def test_checksum_is_rfc_1071_over_pseudo_header_and_segment():
    segment = TcpSegment(1234, 80, 7, 9, Flags.PSH | Flags.ACK, 512, payload=b"odd length!")
    wire = segment.encode(SRC, DST)
    zeroed = wire[:16] + b"\0\0" + wire[18:]
    expected = reference_checksum(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), zeroed)
    assert int.from_bytes(wire[16:18], "big") == expected


@pytest.mark.parametrize(
    "segment",
    [
        syn(),
        syn(flags=Flags.SYN | Flags.ACK, ack=4242, window_scale=14),
        TcpSegment(80, 40000, 2**32 - 1, 2**32 - 1, Flags.FIN | Flags.ACK, 0),
        TcpSegment(80, 40000, 5, 6, Flags.PSH | Flags.ACK, 100, payload=bytes(range(256)) * 6),
        TcpSegment(1, 2, 0, 0, Flags.RST, 0),
    ],
    ids=["syn", "syn-ack", "fin", "data", "rst"],
)
def test_a_segment_survives_encoding_and_decoding(segment: TcpSegment):
    assert TcpSegment.decode(segment.encode(SRC, DST), SRC, DST) == segment


@settings(max_examples=200, deadline=None)
@given(
    ports=st.tuples(st.integers(0, 65535), st.integers(0, 65535)),
    numbers=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    flags=st.integers(0, 255).map(Flags),
    window=st.integers(0, 65535),
    payload=st.binary(max_size=200),
    mss=st.none() | st.integers(0, 65535),
    window_scale=st.none() | st.integers(0, 14),
)
def test_any_segment_round_trips(ports, numbers, flags, window, payload, mss, window_scale):
    segment = TcpSegment(
        *ports, *numbers, flags, window, payload=payload, mss=mss, window_scale=window_scale
    )
    assert TcpSegment.decode(segment.encode(SRC, DST), SRC, DST) == segment


def test_seg_len_counts_data_plus_one_for_syn_and_one_for_fin():
    assert syn().seg_len == 1
    assert TcpSegment(1, 2, 0, 0, Flags.FIN | Flags.ACK, 0, payload=b"abc").seg_len == 4
    assert TcpSegment(1, 2, 0, 0, Flags.ACK, 0).seg_len == 0


def test_summary_reads_like_tcpdump():
    assert syn(window_scale=7).summary() == (
        "40000 → 80 [SYN] seq=1000 win=65535 <mss 1460,wscale 7> len=0"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("src_port", 65536), ("seq", 2**32), ("ack", -1), ("window", 70000), ("window_scale", 15)],
)
def test_fields_out_of_range_are_refused(field: str, value: int):
    with pytest.raises(ValueError, match="must be between"):
        syn(**{field: value})


# --- strict decoding ---------------------------------------------------------------


def test_decoding_rejects_a_header_shorter_than_20_bytes():
    with pytest.raises(SegmentError, match="at least 20 bytes"):
        TcpSegment.decode(syn().encode(SRC, DST)[:19], SRC, DST)


def test_decoding_rejects_a_data_offset_below_five_words():
    with pytest.raises(SegmentError, match="less than the 20-byte minimum"):
        TcpSegment.decode(raw(offset_words=4), SRC, DST)


def test_decoding_rejects_a_data_offset_past_the_end():
    with pytest.raises(SegmentError, match="header is 60 bytes, but the segment has only 20"):
        TcpSegment.decode(raw(offset_words=15), SRC, DST)


def test_decoding_rejects_a_corrupted_byte():
    wire = bytearray(TcpSegment(1, 2, 3, 4, Flags.ACK, 5, payload=b"hello").encode(SRC, DST))
    wire[-1] ^= 0x01
    with pytest.raises(SegmentError, match="checksum"):
        TcpSegment.decode(bytes(wire), SRC, DST)


def test_decoding_rejects_a_segment_meant_for_another_address():
    wire = syn().encode(SRC, DST)
    with pytest.raises(SegmentError, match="sent to another address"):
        TcpSegment.decode(wire, SRC, "10.0.0.3")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (b"\x01\x01\x01\x08", "has no length byte"),
        (b"\x08\x01\x00\x00", "has length 1; the least is 2"),
        (b"\x08\x00\x00\x00", "has length 0"),
        (b"\x08\x08\x00\x00", "runs past the header"),
        (b"\x02\x03\x05\x00", "MSS option is 4 bytes long, not 3"),
        (b"\x02\x04\x05\xb4\x02\x04\x05\xb4", "MSS option appears twice"),
        (b"\x03\x04\x07\x00", "window scale option is 3 bytes long, not 4"),
        (b"\x03\x03\x07\x03\x03\x07\x00\x00", "window scale option appears twice"),
    ],
)
def test_decoding_rejects_malformed_options(options: bytes, message: str):
    with pytest.raises(SegmentError, match=message):
        TcpSegment.decode(raw(options), SRC, DST)


def test_unknown_options_are_skipped():
    timestamps = b"\x01\x01\x08\x0a" + bytes(8)
    segment = TcpSegment.decode(raw(timestamps + b"\x02\x04\x02\x18"), SRC, DST)
    assert segment.mss == 536


def test_end_of_option_list_ends_parsing():
    segment = TcpSegment.decode(raw(b"\x00\x02\x04\x05"), SRC, DST)
    assert segment.mss is None


def test_a_window_scale_above_14_is_read_as_14():
    assert TcpSegment.decode(raw(b"\x01\x03\x03\x0f"), SRC, DST).window_scale == 14


def test_reserved_bits_are_ignored():
    wire = bytearray(raw())
    wire[12] |= 0x0F
    struct.pack_into("!H", wire, 16, 0)
    struct.pack_into("!H", wire, 16, tcp_checksum(SRC, DST, bytes(wire)))
    assert TcpSegment.decode(bytes(wire), SRC, DST).flags == Flags.SYN


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_decode_or_raise_segment_error(data: bytes):
    with contextlib.suppress(SegmentError):
        TcpSegment.decode(data, SRC, DST)


@settings(max_examples=300, deadline=None)
@given(options=st.binary(max_size=40).map(lambda b: b[: len(b) - len(b) % 4]))
def test_arbitrary_options_with_a_good_checksum_decode_or_raise_segment_error(options: bytes):
    try:
        segment = TcpSegment.decode(raw(options), SRC, DST)
    except SegmentError:
        return
    assert segment.flags == Flags.SYN
