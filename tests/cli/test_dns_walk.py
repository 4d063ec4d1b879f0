"""``webtrip dns query --trace`` and ``webtrip dns resolver`` against the demo's DNS hierarchy.

The hierarchy (root, .test and webtrip.test servers on 127.53.0.1–3, one
port, and the demo's resolver on 127.53.0.4) runs in this process, on its
own event loop thread; the commands run as separate processes, as a user
runs them, and dig checks the resolver command.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from support import cli_env, free_port, require_program, run_webtrip, wait_for_dns
from webtrip.lab import demo_lab, loopback
from webtrip.lab.actors import LabServers, start_servers
from webtrip.lab.spec import root_hints
from webtrip.net import RealNetwork
from webtrip.trace import Trace


def webtrip(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return run_webtrip(*args, timeout=timeout, columns=200)


@dataclass(frozen=True)
class Hierarchy:
    port: int  # the port every name server listens on
    resolver: tuple[str, int]  # the demo's own resolver
    hints: str  # a root hints file naming the demo's root server


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hierarchy]:
    """The demo lab's name servers and resolver on loopback (its web server too)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    lab = demo_lab()
    where = loopback.placement(lab, RealNetwork())
    hints = tmp_path_factory.mktemp("hints") / "root.hints"
    hints.write_text(
        "".join(f". 3600 NS {name}\n{name} 3600 A {address}\n"
                for name, address in root_hints(where.zones))
    )  # fmt: skip
    running: list[LabServers] = []

    async def start() -> None:
        running.append(await start_servers(lab, where, Trace()))

    try:
        asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    except OSError as exc:
        pytest.skip(f"127.53.0.x is not usable here: {exc}")
    servers = running[0]
    try:
        yield Hierarchy(servers.nameserver[1], servers.nameserver, str(hints))
    finally:
        asyncio.run_coroutine_threadsafe(servers.aclose(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


def test_trace_walks_from_the_root_down_like_dig_trace(hierarchy):
    port = str(hierarchy.port)
    done = webtrip("dns", "query", "www.webtrip.test", "--trace",
                   "--root-hints", hierarchy.hints, "--server-port", port)  # fmt: skip
    assert done.returncode == 0, done.stderr
    received = re.findall(
        r";; Received (\d+) bytes from (\S+) \(a server of ([^)]+)\)", done.stdout
    )
    assert [(where, zone) for _size, where, zone in received] == [
        (f"127.53.0.1#{port}", "the root"),
        (f"127.53.0.2#{port}", "test."),
        (f"127.53.0.3#{port}", "webtrip.test."),
    ]
    # Each server's records are printed before it: the referrals with their glue, then the answer.
    assert re.search(r"^test\. 86400 IN NS ns\.test\.\n^ns\.test\. 86400 IN A 127\.53\.0\.2",
                     done.stdout, re.M)  # fmt: skip
    assert re.search(r"^www\.webtrip\.test\. 300 IN A 127\.0\.0\.1$", done.stdout, re.M)
    assert done.stdout.rstrip().endswith(";; NOERROR after 3 queries")


def test_trace_json_holds_each_servers_response(hierarchy):
    port = str(hierarchy.port)
    done = webtrip("dns", "query", "nope.webtrip.test", "AAAA", "--trace", "--json",
                   "--root-hints", hierarchy.hints, "--server-port", port)  # fmt: skip
    assert done.returncode == 0, done.stderr
    walk = json.loads(done.stdout)
    assert (walk["rcode"], walk["queries"], walk["answer"]) == ("NXDOMAIN", 3, [])
    assert [step["outcome"] for step in walk["walk"]] == ["referral", "referral", "nxdomain"]
    last = walk["walk"][-1]["response"]
    assert last["AA"] == 1 and last["RCODE"] == 3  # RFC 8427 fields of the real response


def test_trace_failures_are_one_sentence(hierarchy, tmp_path):
    silent = f"127.0.0.1:{free_port()}"
    hints = tmp_path / "silent.hints"
    hints.write_text(". 3600 NS a.silent.\na.silent. 3600 A 127.0.0.1\n")
    done = webtrip("dns", "query", "www.webtrip.test", "--trace", "--timeout", "0.2",
                   "--root-hints", str(hints), "--server-port", silent.split(":")[1])  # fmt: skip
    assert done.returncode == 9 and "Traceback" not in done.stderr
    assert "the walk failed: no server of the zone . gave a usable answer" in done.stderr
    for args, words in [
        (("--root-hints", str(tmp_path / "none.hints")), "cannot read the root hints"),
        (("@127.0.0.1",), "--trace starts at the root servers"),
    ]:
        done = webtrip("dns", "query", "www.webtrip.test", "--trace", *args)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert words in done.stderr


@pytest.mark.peer("dig")
def test_the_resolver_command_answers_dig_and_logs_each_answer(hierarchy):
    dig = require_program("dig")
    port = free_port("127.53.0.4")
    server = subprocess.Popen(
        [sys.executable, "-m", "webtrip", "dns", "resolver", "--root-hints", hierarchy.hints,
         "--server-port", str(hierarchy.port), "--listen", f"127.53.0.4:{port}", "--log"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(200),
    )  # fmt: skip
    try:
        wait_for_dns("127.53.0.4", port, "webtrip.test.")
        answers = []
        for _ in range(2):
            done = subprocess.run(
                [dig, "@127.53.0.4", "-p", str(port), "static.webtrip.test", "+noall",
                 "+answer", "+comments"],
                capture_output=True, text=True, timeout=10,
            )  # fmt: skip
            answers.append(done.stdout)
        # RD=0 ("tell me what you have cached") is refused: cache snooping, as Unbound does.
        snoop = subprocess.run(
            [dig, "@127.53.0.4", "-p", str(port), "static.webtrip.test", "+norec"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        assert "status: REFUSED" in snoop.stdout and re.search(r"flags: qr ra;", snoop.stdout)
        for answer in answers:
            assert "status: NOERROR" in answer and re.search(r"flags: qr rd ra;", answer)
            assert re.search(r"^static\.webtrip\.test\.\s+\d+\s+IN\s+CNAME\s+www\.webtrip\.test\.$",
                             answer, re.M)  # fmt: skip
            assert re.search(r"^www\.webtrip\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1$", answer, re.M)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
    assert "answers 127.0.0.0/8, ::1/128" in err
    lines = [line for line in out.splitlines() if "static.webtrip.test. A NOERROR" in line]
    assert len(lines) == 2
    assert re.search(r" \d+ queries \d", lines[0]) and " cache " in lines[1]
    assert re.search(r"static\.webtrip\.test\. A REFUSED .*cache snooping", out)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--forward", "127.0.0.1", "--root-hints", "root.hints"), "not both"),
        (("--allow", "everyone"), "--allow everyone: not a network"),
        (("--forward", "127.0.0.1:99999"), "127.0.0.1:99999"),
        (("--root-hints", "/nonexistent/hints"), "cannot read the root hints"),
    ],
)
def test_resolver_mistakes_are_one_sentence(args, words):
    done = webtrip("dns", "resolver", *args, timeout=10)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert words in done.stderr


@pytest.mark.peer("dig")
def test_the_resolver_forwards_to_another_resolver(hierarchy):
    """dig → `webtrip dns resolver --forward` → the demo's resolver → root, .test, webtrip.test."""
    dig = require_program("dig")
    port = free_port("127.0.0.1")
    upstream = "{}:{}".format(*hierarchy.resolver)
    server = subprocess.Popen(
        [sys.executable, "-m", "webtrip", "dns", "resolver", "--forward", upstream,
         "--listen", f"127.0.0.1:{port}", "--log", "--0x20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(200),
    )  # fmt: skip
    try:
        wait_for_dns("127.0.0.1", port, "webtrip.test.")
        done = subprocess.run(
            [dig, "@127.0.0.1", "-p", str(port), "static.webtrip.test", "+noall", "+answer"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
    assert "forwarding to 127.53.0.4" in err
    # The names come back in their own case although the questions went out in 0x20 case.
    assert re.search(r"^static\.webtrip\.test\.\s+\d+\s+IN\s+CNAME\s+www\.webtrip\.test\.$",
                     done.stdout, re.M)  # fmt: skip
    assert re.search(r"^www\.webtrip\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.1$", done.stdout, re.M)
    assert re.search(r"static\.webtrip\.test\. A NOERROR 1 queries", out)
