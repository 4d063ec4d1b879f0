"""Capturing real packets on loopback with an AF_PACKET socket and its BPF port filter."""

from __future__ import annotations

import os
import socket

import pytest

from webtrip.net.capture import PacketCapture, port_filter

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a packet socket needs CAP_NET_RAW")


def udp_port() -> tuple[socket.socket, int]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    return receiver, receiver.getsockname()[1]


def test_the_port_filter_is_a_program_of_jumps_that_land_inside_it():
    program = port_filter([53, 8080])
    for index, (code, true, false, _k) in enumerate(program):
        if code & 0x07 == 0x05:  # a jump: both targets within the program
            assert index + 1 + true < len(program) and index + 1 + false < len(program)
    assert program[-1] == (0x06, 0, 0, 262144) and program[-2] == (0x06, 0, 0, 0)


def test_the_port_filter_refuses_no_ports_and_too_many():
    with pytest.raises(ValueError):
        port_filter([])
    with pytest.raises(ValueError):
        port_filter(range(1000, 1061))


@needs_root
def test_a_capture_keeps_the_packets_of_its_ports_once_each_with_the_kernels_time():
    receiver, port = udp_port()
    other, other_port = udp_port()
    with receiver, other, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        capture = PacketCapture([port], interface="lo")
        capture.start()
        for number in range(3):
            sender.sendto(b"ours %d" % number, ("127.0.0.1", port))
        sender.sendto(b"not ours", ("127.0.0.1", other_port))
        frames = capture.stop(quiet=0.05)
    assert [f.data[28:] for f in frames] == [b"ours 0", b"ours 1", b"ours 2"]
    assert {f.interface for f in frames} == {"lo"}
    assert all(f.checksum_pending for f in frames)  # loopback leaves checksums to nobody
    assert frames[0].timestamp <= frames[1].timestamp <= frames[2].timestamp
    assert capture.kernel_drops == 0 and capture.over_limit == 0


@needs_root
def test_a_port_watched_later_is_captured_from_then_on():
    receiver, port = udp_port()
    later, later_port = udp_port()
    with receiver, later, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        capture = PacketCapture([port], interface="lo")
        capture.start()
        sender.sendto(b"before", ("127.0.0.1", later_port))
        capture.watch_port(later_port)
        sender.sendto(b"after", ("127.0.0.1", later_port))
        frames = capture.stop(quiet=0.05)
    assert [f.data[28:] for f in frames] == [b"after"]


@needs_root
def test_a_capture_counts_what_it_does_not_keep_past_its_bounds():
    receiver, port = udp_port()
    with receiver, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        capture = PacketCapture([port], interface="lo", max_packets=2)
        capture.start()
        for _ in range(5):
            sender.sendto(b"x", ("127.0.0.1", port))
        frames = capture.stop(quiet=0.05)
    assert len(frames) == 2 and capture.over_limit == 3
