"""Lab files: a network, its zones and sites, in TOML — built, run, and checked for mistakes."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from support import run_webtrip
from support.school_lab import TWO_ROUTERS, write_lab
from webtrip import lab
from webtrip.lab import sim as simulated
from webtrip.packets.dissect import dissect
from webtrip.report.narration import narrate
from webtrip.trace import NameResolved, ResolverStep


def webtrip(*args: str) -> subprocess.CompletedProcess[str]:
    return run_webtrip(*args, columns=140)


def test_the_demo_lab_is_a_lab_file():
    demo = lab.demo_lab()
    assert demo.source.endswith("labs/demo/lab.toml")
    assert (demo.browser_host, demo.dns_host, demo.web_host) == ("browser", "dns", "web")
    assert demo.hosts["browser"] == "10.0.0.1/24" and demo.routers == ["router"]
    assert demo.browser_link.options == {"latency": 0.020, "bandwidth": 10e6, "mtu": 1500}
    assert demo.zone_origins() == ["webtrip.test", ".", "test"]
    assert demo.resolver_host == "resolver" and demo.asked_host == "resolver"
    assert demo.root_hints() == [("a.root-servers.lab.", "192.0.2.1")]


def test_hosts_without_loopback_addresses_get_free_ones_of_127_53_1(tmp_path):
    text = TWO_ROUTERS.replace(
        'address = "192.168.2.53/24"', 'address = "192.168.2.53/24"\nloopback = ["127.53.1.1"]'
    )
    chosen = lab.load_lab(write_lab(tmp_path, text))
    assert chosen.loopback == {
        "pc": ("127.53.1.2",),
        "ns": ("127.53.1.1",),
        "www": ("127.53.1.3",),
    }


def test_a_lab_of_two_routers_loads_its_page(tmp_path):
    chosen = lab.load_lab(write_lab(tmp_path))
    run = simulated.run(chosen, 1)
    assert run.load.error is None
    assert run.load.fetched[0].response is not None
    assert run.load.fetched[0].response.body == (tmp_path / "site" / "index.html").read_bytes()
    # The browser's packets crossed both routers: the TTL went down by two on the way back.
    arrived = [r for r in run.world.packets if r.node == "pc" and r.direction == "in"]
    assert arrived and all(dissect(r.data).ip.ttl == 62 for r in arrived)
    # The routers' ends got free addresses of the host's network, or their own.
    assert run.nodes["home"].addresses == ["192.168.1.254", "172.31.2.254"]
    assert run.nodes["isp"].addresses == ["172.31.2.253", "192.168.2.254", "192.168.2.253"]


def test_command_line_link_options_override_the_browsers_link_only(tmp_path):
    chosen = lab.load_lab(write_lab(tmp_path))
    run = simulated.run(chosen, 1, simulated.LinkConditions(latency=0.1, mtu=1000))
    assert (run.browser_link.latency, run.browser_link.mtu) == (0.1, 1000)
    assert run.browser_link.bandwidth == 50e6
    assert [link.latency for link in run.world.links[1:]] == [0.030, 0.001, 0.001]


def test_webtrip_sim_runs_a_lab_file(tmp_path):
    path = write_lab(tmp_path)
    done = webtrip("sim", "--lab", str(path), "--no-render")
    assert done.returncode == 0, done.stderr
    assert "192.168.2.53:53" in done.stdout and "GET / HTTP/1.1" in done.stdout
    assert "Packets at pc (192.168.1.10)" in done.stdout
    wrong = webtrip("sim", "--lab", str(path), "http://www.webtrip.test/")
    assert wrong.returncode == 2 and "school.test" in wrong.stderr


MISTAKES = [
    (('between = ["pc", "home"]', 'between = ["pc", "hom"]'),
     "link 1 joins 'hom', which is not a host or router"),
    (('"192.168.1.10/24"', '"192.168.1.300/24"'), "'192.168.1.300/24', which is not an IPv4"),
    (('"zones/school.test.zone"', '"zones/missing.zone"'), "no such zone file"),
    (('"site" }', '"nowhere" }'), "not a folder"),
    (('latency = "5ms"', 'latency = "5 parsecs"'), "link 1's latency"),
    (('host = "ns"', 'host = "dns"'), "[dns] runs on 'dns', which is not a host"),
    (('[[links]]\nbetween = ["isp", "ns"]', '[[links]]\nlatncy = 1\nbetween = ["isp", "ns"]'),
     "unknown key 'latncy'"),
    (('[[links]]\nbetween = ["isp", "www"]', '[[links]]\nbetween = ["pc", "www"]'),
     "host 'pc' is on 2 links"),
    (("[browser]", "[browser"), "not valid TOML"),
    (("[web]", '[resolver]\nhost = "ns"\n\n[web]'), "[resolver] runs on 'ns', where a [[dns]]"),
    (("[web]", '[resolver]\nhost = "pc2"\n\n[web]'), "[resolver] runs on 'pc2', which is not"),
    (("[web]", '[resolver]\nhost = "pc"\n\n[web]'), "[resolver] needs a [[dns]] server with"),
    (("[dns]", "[[dns]]\nhost = \"www\"\nzones = 3\n\n[[dns]]"),
     "[[dns]] 1 needs 'zones'"),
    (('address = "192.168.2.80/24"', 'address = "192.168.2.53/24"'),
     "hosts 'ns' and 'www' have the same address, 192.168.2.53"),
    (('latency = "5ms"', "latency = nan"), "link 1's latency: 'nan' is not a finite number"),
    (('latency = "5ms"', "latency = inf"), "link 1's latency: 'inf' is not a finite number"),
    (('bandwidth = "50mbit"', "bandwidth = nan"), "'nan' is not a finite number"),
    (('latency = "5ms"', 'latency = "5ms"\nmtu = 100000'), "mtu must be a whole number from 576"),
    (('latency = "5ms"', 'latency = "5ms"\nmtu = 68'), "mtu must be a whole number from 576"),
    (('address = "192.168.1.10/24"', 'address = "192.168.1.10/24"\nloopback = ["10.0.0.1"]'),
     "host 'pc''s loopback '10.0.0.1' is not a loopback address"),
    (('address = "192.168.1.10/24"', 'address = "192.168.1.10/24"\nloopback = ["::1"]'),
     "must start with an IPv4 one"),
    (('address = "192.168.1.10/24"', 'address = "192.168.1.10/24"\nloopback = []'),
     "'loopback' must be a list of addresses"),
    (('address = "192.168.1.10/24"', 'address = "192.168.1.10/24"\nloopback = ["me"]'),
     "loopback 'me' is not an IP address"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "words"), MISTAKES)
def test_each_mistake_in_a_lab_file_is_one_sentence(tmp_path, change, words):
    old, new = change
    assert old in TWO_ROUTERS
    path = write_lab(tmp_path, TWO_ROUTERS.replace(old, new, 1))
    with pytest.raises(lab.LabError) as caught:
        lab.load_lab(path)
    message = str(caught.value)
    assert words in message and message.startswith(str(path))
    assert "\n" not in message


ROOT_ZONE = """\
$ORIGIN .
$TTL 86400
@             IN SOA a.root. admin.school.test. 1 1800 900 604800 86400
              IN NS  a.root.
a.root.       IN A   192.168.3.1
school.test.  IN NS  ns.school.test.
ns.school.test. IN A 192.168.2.53
"""


def test_a_lab_with_a_resolver_walks_from_its_own_root(tmp_path):
    """[[dns]] servers plus a [resolver]: the root refers straight to school.test's server."""
    text = (
        TWO_ROUTERS.replace("[dns]", "[[dns]]")
        + f"""
[[dns]]
host = "root"
zones = [{{ text = \"\"\"\n{ROOT_ZONE}\"\"\" }}]

[resolver]
host = "resolver"

[[hosts]]
name = "root"
address = "192.168.3.1/24"

[[hosts]]
name = "resolver"
address = "192.168.1.53/24"

[[links]]
between = ["root", "isp"]

[[links]]
between = ["resolver", "home"]
"""
    )
    chosen = lab.load_lab(write_lab(tmp_path, text))
    assert chosen.root_hints() == [("a.root.", "192.168.3.1")]
    run = simulated.run(chosen, 3)
    assert run.load.error is None
    steps = [e for e in run.world.trace.of_type(ResolverStep) if e.question.endswith(" A")]
    assert [(e.server[0], e.outcome) for e in steps] == [
        ("192.168.3.1", "referral"),
        ("192.168.2.53", "answer"),
    ]
    names = run.world.trace.of_type(NameResolved)
    assert names[0].server == ("192.168.1.53", 53)


def test_the_demo_resolver_asks_again_when_the_servers_links_lose_packets():
    """10% loss on the root, .test and webtrip.test links: lost questions are asked again."""
    demo = lab.demo_lab()
    servers = {"root", "tld", "dns"}
    demo.links = [
        dataclasses.replace(link, options={**link.options, "loss": 0.1})
        if servers & set(link.ends) else link
        for link in demo.links
    ]  # fmt: skip
    retried = 0
    for seed in range(1, 11):
        run = simulated.run(demo, seed)
        assert run.load.error is None, (seed, run.load.error)
        steps = run.world.trace.of_type(ResolverStep)
        silent = [s for s in steps if s.outcome == "no answer"]
        if silent:
            retried += 1
            # Each silence was followed by the same question to the same zone answered later.
            for step in silent:
                assert any(
                    later.t > step.t and later.zone == step.zone and later.qtype == step.qtype
                    and later.outcome in ("referral", "answer", "nodata")
                    for later in steps
                )  # fmt: skip
    assert retried >= 5  # the loss really hit the resolver's questions


def test_a_failed_walk_is_told_as_a_failure_once_per_question():
    """webtrip.test's server unreachable: the resolver's SERVFAIL, its retries counted, no boast."""
    demo = lab.demo_lab()
    demo.links = [
        dataclasses.replace(link, options={**link.options, "loss": 1.0})
        if "dns" in link.ends else link
        for link in demo.links
    ]  # fmt: skip
    run = simulated.run(demo, 1)
    assert run.load.error is not None and run.load.error.exit_code == 12  # DNS failure
    story = narrate(run.world.trace)[0].text
    assert "tried to find it by walking down the DNS tree" in story and "but failed:" in story
    assert "then it asked 10.0.0.2, which did not answer (5 times)" in story
    assert "found it by walking" not in story and "It remembers" not in story
    assert story.count("The AAAA question took") <= 1  # the stub's retries told once
    spanish = narrate(run.world.trace, "es")[0].text
    assert "pero no lo ha conseguido" in spanish and "(5 veces)" in spanish
