"""``webtrip dns serve`` and ``webtrip dns query`` as a user meets them: real processes,
exit codes, one-sentence errors."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest

from support import ZONES, assert_one_clear_sentence, cli_env, free_port, webtrip_dns_server
from support import run_webtrip as webtrip


@pytest.fixture(scope="module")
def server():
    with webtrip_dns_server([ZONES / "example.test.zone"]) as running:
        yield running


def test_a_bad_zone_file_names_file_and_line_and_the_server_does_not_start():
    done = webtrip("dns", "serve", "--zone", str(ZONES / "bad" / "bad-address.zone"))
    line = assert_one_clear_sentence(done, 2)
    assert "bad-address.zone:6:" in line and "300.1.2.3" in line


def test_a_missing_zone_file_is_one_sentence():
    line = assert_one_clear_sentence(webtrip("dns", "serve", "--zone", "/nonexistent.zone"), 2)
    assert "no such zone file" in line


def test_a_bad_listen_address_is_a_usage_error():
    done = webtrip("dns", "serve", "--zone", str(ZONES / "example.test.zone"), "--listen", "x:1")
    assert "is not an IP address" in assert_one_clear_sentence(done, 2)


def test_a_busy_port_is_one_sentence(server):
    done = webtrip(
        "dns", "serve", "--zone", str(ZONES / "example.test.zone"),
        "--listen", f"{server.host}:{server.port}",
    )  # fmt: skip
    assert "cannot listen on" in assert_one_clear_sentence(done, 1)


def test_query_prints_dig_sections(server):
    done = webtrip("dns", "query", "alias.example.test", f"@{server.host}:{server.port}")
    assert done.returncode == 0, done.stderr
    assert "status: NOERROR" in done.stdout
    assert ";; ANSWER SECTION:" in done.stdout
    assert "192.0.2.10" in done.stdout and "CNAME" in done.stdout


def test_query_json_is_rfc_8427(server):
    done = webtrip(
        "dns", "query", "nope.example.test", "AAAA", f"@{server.host}:{server.port}", "--json"
    )
    doc = json.loads(done.stdout)
    response = doc["response"]
    assert response["RCODEname"] == "NXDOMAIN" and response["AA"] == 1
    assert response["QTYPEname"] == "AAAA"
    assert response["authorityRRs"][0]["TYPEname"] == "SOA"
    assert doc["transport"] == "udp"


def test_query_over_tcp(server):
    done = webtrip("dns", "query", "example.test", "MX", f"@{server.host}:{server.port}", "--tcp")
    assert "(TCP)" in done.stdout and "mail.example.test." in done.stdout


def test_query_with_no_server_listening_times_out_with_exit_9():
    port = free_port()
    done = webtrip("dns", "query", "www.example.test", f"@127.0.0.1:{port}", "--timeout", "0.3")
    assert "no answer from" in assert_one_clear_sentence(done, 9)


def test_query_over_tcp_to_a_closed_port_is_refused_with_exit_9():
    port = free_port()
    done = webtrip("dns", "query", "www.example.test", f"@127.0.0.1:{port}", "--tcp")
    assert "refused" in assert_one_clear_sentence(done, 9)


@pytest.mark.parametrize(
    ("name", "words"),
    [("a" * 64 + ".test", "longer than 63"), (("a" * 60 + ".") * 5, "255 bytes")],
)
def test_query_for_an_impossible_name_is_a_usage_error(name, words):
    done = webtrip("dns", "query", name, "@127.0.0.1:9")
    assert words in assert_one_clear_sentence(done, 2)


def test_serve_log_prints_one_line_per_query_and_stops_cleanly_on_sigterm():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "webtrip", "dns", "serve", "--log",
            "--zone", str(ZONES / "example.test.zone"), "--listen", f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    try:
        from support import wait_for_dns

        wait_for_dns("127.0.0.1", port, "example.test.")
        webtrip("dns", "query", "www.example.test", "AAAA", f"@127.0.0.1:{port}")
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stdout.splitlines() if "www.example.test. AAAA" in line]
    assert len(lines) == 1
    stamp, client, transport, _name, _rdtype, rcode, size, took = lines[0].split()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert client.startswith("127.0.0.1:") and transport == "udp"
    assert (rcode, size) == ("NOERROR", "73B") and took.endswith("ms")


def _limit_descriptors() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def _non_reader_is_reset(port: int, within: float) -> bool:
    """Pipeline queries for large answers, never read: True if reset within ``within`` s."""
    import socket
    import struct
    import time

    import dns.message

    wire = dns.message.make_query("big.example.test", "TXT").to_wire()
    blob = (struct.pack("!H", len(wire)) + wire) * 2_000
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setblocking(False)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                sock.send(blob)
            except BlockingIOError:
                time.sleep(0.05)
            except OSError:
                return True  # reset
        return False


@pytest.mark.parametrize("command", ["serve", "resolver"])
def test_dns_servers_size_their_tcp_cap_to_ulimit_and_reset_a_client_that_does_not_read(
    server, command
):
    port = free_port()
    args = [sys.executable, "-m", "webtrip", "dns", command, "--listen", f"127.0.0.1:{port}"]
    if command == "serve":
        args += ["--zone", str(ZONES / "example.test.zone")]
    else:
        args += ["--forward", f"127.0.0.1:{server.port}"]
    args += ["--max-tcp-connections", "4000", "--tcp-send-timeout", "1"]
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(cli_env(), COLUMNS="200"), preexec_fn=_limit_descriptors,
    )  # fmt: skip
    try:
        from support import wait_for_dns

        wait_for_dns("127.0.0.1", port, "example.test.")
        reset = _non_reader_is_reset(port, within=6)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    first = stderr.splitlines()[0]
    assert first.startswith("Only 256 file descriptors are allowed (ulimit -n): serving at most ")
    assert first.endswith(" TCP connections at once, not 4,000."), first
    assert "Traceback" not in stderr
    assert reset
