"""A lab on real Linux networking: one network namespace per host, veth pairs for links.

The simulated world (:mod:`webtrip.lab.sim`) builds a lab's hosts, routers
and links in virtual time. This module builds the same network out of the
kernel's own parts, so that the same actors load the same page over Linux's
TCP/IP instead of webtrip's:

- each host and each router is a *network namespace* (``ip netns add``): its
  own interfaces, addresses, routes and sockets, as if it were a machine;
- each link is a *veth pair*, a virtual cable whose two ends are put in the two
  namespaces it joins. Every address is a /32 with a route to the other end, as
  in the simulation (several hosts share a /24 there, each on its own link);
  routers forward (``net.ipv4.ip_forward=1``) along the fewest hops;
- the browser's link is shaped as asked: ``tc``'s token bucket (``tbf``) on
  both ends for the bandwidth, and for the latency ``netem`` where the kernel
  has it. Where it does not (this machine's kernel has no ``sch_netem``), the
  link is cut in two by a *delay namespace* whose small Python bridge
  (:func:`delay_bridge`, its own process) holds each Ethernet frame for the
  one-way latency before passing it on — a cable that is longer, done in user
  space. The run says which it used (:attr:`RealRun.latency_by`);
- every veth sends segments no larger than its MTU (``gso_max_segs 1``), as a
  wire does, so a capture holds the packets a wire would carry.

The actors all run in this one process, on one event loop: each host's
:class:`NamespaceNetwork` makes its sockets inside that host's namespace (a
socket belongs for ever to the namespace it was made in; the thread enters it
for the instant of ``socket()`` and comes back). The browser's packets are
captured in its namespace as :mod:`webtrip.net.capture` does for ``browse
--capture``, into the trace. Everything is torn down afterwards, even on
failure: the bridge's process and exactly the namespaces this run created.
Root only (CAP_NET_ADMIN and CAP_SYS_ADMIN).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import ipaddress
import json
import os
import secrets
import select
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from webtrip.browser.loader import BrowserOptions, PageLoad
from webtrip.lab.actors import Placement, run_lab
from webtrip.lab.capture import captured_events, completed_checksum, flows_of, merge_packets
from webtrip.lab.sim import LinkConditions, _free_address
from webtrip.lab.spec import Lab, LinkSpec
from webtrip.net import RealNetwork, Stream
from webtrip.net.base import DatagramEndpoint, DatagramHandler
from webtrip.net.capture import PACKET_AUXDATA, SOL_PACKET, TP_STATUS_CSUMNOTREADY, PacketCapture
from webtrip.net.capture import PACKET_OUTGOING as _OUTGOING
from webtrip.net.real import RealDatagramEndpoint, RealStream, _StreamProtocol
from webtrip.trace import LinkConditionsSet, TcpConnectStarted, Trace
from webtrip.trace.events import Event

__all__ = [
    "NamespaceNetwork",
    "NamespacesUnavailable",
    "RealRun",
    "delay_bridge",
    "has_netem",
    "real_run",
]

BROWSER_ACTOR = "browser"
CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
BRIDGE_QUEUE = 10_000
"""Frames the delay bridge holds at most in each direction (a full queue drops, as a router's)."""


class NamespacesUnavailable(Exception):
    """The machine cannot build the lab: ``reason`` is ``root`` (not root), ``tools`` (no
    ``ip`` or ``tc``) or ``step`` (a step failed; the message says which and why)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# --- entering a namespace --------------------------------------------------------------


_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def inside(namespace: str) -> Iterator[None]:
    """This thread in the network namespace ``namespace`` (``/run/netns/NAME``), then back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


class NamespaceNetwork(RealNetwork):
    """Real sockets made inside one namespace: a host of the lab, as an actor sees it."""

    def __init__(self, namespace: str) -> None:
        super().__init__()
        self.namespace = namespace

    def _socket(self, family: int, kind: int) -> socket.socket:
        with inside(self.namespace):
            return socket.socket(family, kind)

    async def open_tcp_stream(
        self, host: str, port: int, *, local_host: str | None = None
    ) -> Stream:
        loop = asyncio.get_running_loop()
        sock = self._socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if local_host:
                sock.bind((local_host, 0))
            await loop.sock_connect(sock, (host, port))
            transport, protocol = await loop.create_connection(_StreamProtocol, sock=sock)
        except BaseException:
            sock.close()
            raise
        return RealStream(transport, protocol)

    async def _listening_sockets(self, host: str, port: int, backlog: int) -> list[socket.socket]:
        sock = self._socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host or "0.0.0.0", port))
            sock.listen(backlog)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return [sock]

    async def open_udp_endpoint(
        self, host: str, port: int = 0, *, on_datagram: DatagramHandler | None = None
    ) -> DatagramEndpoint:
        sock = self._socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.bind((host, port))
        except BaseException:
            sock.close()
            raise
        return RealDatagramEndpoint(asyncio.get_running_loop(), sock, on_datagram)


# --- the network ----------------------------------------------------------------------


def has_netem(tc: str, namespace: str) -> bool:
    """Can ``tc`` add a netem qdisc in ``namespace`` (is ``sch_netem`` in this kernel)?"""
    done = subprocess.run(
        [tc, "-n", namespace, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
        capture_output=True, timeout=10,
    )  # fmt: skip
    if done.returncode == 0:
        subprocess.run([tc, "-n", namespace, "qdisc", "del", "dev", "lo", "root"],
                       capture_output=True, timeout=10)  # fmt: skip
    return done.returncode == 0


@dataclass
class RealRun:
    """A lab built in namespaces: what it made (to remove), and how the link was shaped."""

    lab: Lab
    prefix: str = field(default_factory=lambda: f"wtr{os.getpid() % 100000}{secrets.token_hex(2)}")
    namespaces: dict[str, str] = field(default_factory=dict)  # node → namespace
    created: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    browser_interface: str = "eth0"
    latency_by: str = "none"
    """How the latency was made: ``netem``, ``bridge`` (user space), or ``none`` (no latency)."""
    ip: str = "ip"
    tc: str = "tc"
    loads: list[PageLoad] = field(default_factory=list)
    """The page loads, once the run is done."""

    def run(self, *args: str) -> None:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise NamespacesUnavailable("step", f"`{' '.join(args)}`: {done.stderr.strip()}")

    def add_namespace(self, node: str) -> str:
        name = f"{self.prefix}-{len(self.created)}"
        self.run(self.ip, "netns", "add", name)
        self.created.append(name)
        self.namespaces[node] = name
        self.run(self.ip, "-n", name, "link", "set", "lo", "up")
        return name

    def veth(self, a: str, a_name: str, b: str, b_name: str, mtu: int) -> None:
        """A veth pair made straight inside namespaces ``a`` and ``b`` (never in ours)."""
        self.run(self.ip, "link", "add", a_name, "netns", a, "type", "veth",
                 "peer", "name", b_name, "netns", b)  # fmt: skip
        for namespace, name in ((a, a_name), (b, b_name)):
            self.run(self.ip, "-n", namespace, "link", "set", "dev", name, "mtu", str(mtu),
                     "gso_max_segs", "1", "up")  # fmt: skip

    def remove(self) -> None:
        """Stop the bridge, delete the namespaces this run made (their veths go with them)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for name in reversed(self.created):
            subprocess.run([self.ip, "netns", "delete", name], capture_output=True, timeout=20)
        self.created.clear()


def build(run: RealRun, conditions: LinkConditions) -> None:
    """The lab's nodes as namespaces, its links as veths, the routes, the browser's link shaped."""
    lab = run.lab
    for node in [*lab.routers, *lab.hosts]:
        run.add_namespace(node)
    taken = {ipaddress.IPv4Interface(a).ip for a in lab.hosts.values()}
    counts: collections.Counter[str] = collections.Counter()
    neighbours: dict[str, list[tuple[str, str, str]]] = {n: [] for n in run.namespaces}
    browser_options = {**lab.browser_link.options, **conditions.options()}
    latency = float(browser_options.get("latency", 0.0))
    bandwidth = browser_options.get("bandwidth")
    mtu = int(browser_options.get("mtu", 1500))
    if latency and has_netem(run.tc, run.namespaces[lab.browser_host]):
        run.latency_by = "netem"
    elif latency:
        run.latency_by = "bridge"
    for number, spec in enumerate(lab.links, 1):
        ends = spec.ends
        addresses = [_address(lab, spec, i, number, taken) for i in range(2)]
        names = []
        for end in ends:
            names.append(f"eth{counts[end]}")
            counts[end] += 1
        a, b = run.namespaces[ends[0]], run.namespaces[ends[1]]
        on_browser_link = lab.browser_host in ends
        link_mtu = mtu if on_browser_link else int(spec.options.get("mtu", 1500))
        if on_browser_link and run.latency_by == "bridge":
            middle = run.add_namespace(f"{lab.browser_host}~delay")
            run.veth(a, names[0], middle, "d0", link_mtu)
            run.veth(middle, "d1", b, names[1], link_mtu)
            run.processes.append(_start_bridge(run.ip, middle, latency))
        else:
            run.veth(a, names[0], b, names[1], link_mtu)
        for i in (0, 1):
            here = (a, b)[i]
            run.run(run.ip, "-n", here, "addr", "add", f"{addresses[i]}/32", "dev", names[i])
            run.run(run.ip, "-n", here, "route", "add", f"{addresses[1 - i]}/32", "dev", names[i])
            neighbours[ends[i]].append((ends[1 - i], names[i], addresses[1 - i]))
            if on_browser_link:
                _shape(run, here, names[i], bandwidth, latency, run.latency_by == "netem")
        if on_browser_link:
            run.browser_interface = names[0 if ends[0] == lab.browser_host else 1]
        _neighbours(run, (a, names[0], addresses[0]), (b, names[1], addresses[1]))
    for host in lab.hosts:
        (_, interface, gateway), *_ = neighbours[host]
        run.run(run.ip, "-n", run.namespaces[host], "route", "add", "default", "via", gateway,
                "dev", interface)  # fmt: skip
    for router in lab.routers:
        with inside(run.namespaces[router]), open("/proc/sys/net/ipv4/ip_forward", "w") as knob:
            knob.write("1")  # sysctl net.ipv4.ip_forward=1, in the router's namespace
        adjacent = {n for n, _, _ in neighbours[router]}
        for host, (interface, via) in _first_hops(lab, router, neighbours).items():
            if host not in adjacent:  # a host beyond another router: through that router
                run.run(run.ip, "-n", run.namespaces[router], "route", "add",
                        f"{lab.address_of(host)}/32", "via", via, "dev", interface,
                        "onlink")  # fmt: skip


def _neighbours(run: RealRun, *ends: tuple[str, str, str]) -> None:
    """Each end of a link knows the other's Ethernet address from the start (a permanent
    neighbour entry): the simulated world has no ARP, so neither does the real run."""
    macs = []
    for namespace, interface, _here in ends:
        done = subprocess.run([run.ip, "-n", namespace, "-j", "link", "show", "dev", interface],
                              capture_output=True, text=True, timeout=20, check=True)  # fmt: skip
        macs.append(json.loads(done.stdout)[0]["address"])
    for (namespace, interface, _here), (_n, _i, other), mac in zip(
        ends, reversed(ends), reversed(macs), strict=True
    ):
        run.run(run.ip, "-n", namespace, "neigh", "replace", other, "lladdr", mac,
                "dev", interface, "nud", "permanent")  # fmt: skip


def _address(
    lab: Lab, spec: LinkSpec, index: int, number: int, taken: set[ipaddress.IPv4Address]
) -> str:
    """The address of a link's end: the host's own, or the free one the simulation picks."""
    end = spec.ends[index]
    if end in lab.hosts and spec.addresses[index] is None:
        return lab.address_of(end)
    return str(ipaddress.IPv4Interface(_free_address(spec, index, number, taken)).ip)


def _first_hops(
    lab: Lab, router: str, neighbours: dict[str, list[tuple[str, str, str]]]
) -> dict[str, tuple[str, str]]:
    """For each host, the interface and next hop ``router`` reaches it through (fewest hops)."""
    found: dict[str, tuple[str, str]] = {}
    seen = {router}
    queue: collections.deque[tuple[str, tuple[str, str] | None]] = collections.deque(
        [(router, None)]
    )
    while queue:
        node, first = queue.popleft()
        for neighbour, interface, address in neighbours[node]:
            if neighbour in seen:
                continue
            seen.add(neighbour)
            hop = first or (interface, address)
            found[neighbour] = hop
            if neighbour in lab.routers:
                queue.append((neighbour, hop))
    return {n: hop for n, hop in found.items() if n in lab.hosts}


def _shape(
    run: RealRun, namespace: str, interface: str, bandwidth: object, latency: float, netem: bool
) -> None:
    """``tbf`` at ``bandwidth`` on the interface's way out, under ``netem`` if it delays."""
    qdisc = [run.tc, "-n", namespace, "qdisc", "add", "dev", interface]
    parent = ["root"]
    if netem:
        run.run(*qdisc, "root", "handle", "1:", "netem", "delay", f"{latency * 1e6:.0f}us",
                "limit", "100000")  # fmt: skip
        parent = ["parent", "1:1", "handle", "10:"]
    if bandwidth:
        rate = float(bandwidth)  # type: ignore[arg-type]
        # A bucket of a few full packets, a queue of a second's worth: a router's, roughly.
        burst = max(3028, int(rate / 8 / 250))
        limit = max(100_000, int(rate / 8))
        run.run(*qdisc, *parent, "tbf", "rate", f"{rate:.0f}bit", "burst", str(burst),
                "limit", str(limit))  # fmt: skip


def _start_bridge(ip: str, namespace: str, delay: float) -> subprocess.Popen[bytes]:
    command = [ip, "netns", "exec", namespace, sys.executable, "-m", "webtrip.lab.namespaces",
               "bridge", "d0", "d1", repr(delay)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
    assert process.stdout is not None
    ready = select.select([process.stdout], [], [], 30)[0]
    if not ready or process.stdout.readline().strip() != b"ready":
        process.kill()
        raise NamespacesUnavailable("step", "the delay bridge did not start")
    return process


# --- the delay bridge (a process of its own, in the delay namespace) ------------------------


def delay_bridge(left: str, right: str, delay: float) -> None:
    """Pass every Ethernet frame between interfaces ``left`` and ``right``, each ``delay``
    seconds after it arrived: a longer cable. Frames keep their order (the delay is the
    same for all). A checksum the sender's kernel left for the card to fill in is filled
    in here, since the frame leaves as a plain one. Runs until terminated."""
    sockets = []
    for name in (left, right):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        sock.bind((name, ETH_P_ALL))
        sock.setblocking(False)
        sockets.append(sock)
    queues: list[collections.deque[tuple[float, bytes]]] = [
        collections.deque(),
        collections.deque(),
    ]
    # A cable keeps time whatever else the machine is doing: the bridge is scheduled
    # before ordinary processes (it sleeps between frames, so it takes little).
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    print("ready", flush=True)
    ancillary = socket.CMSG_SPACE(20)
    while True:
        now = time.monotonic()
        due = [q[0][0] for q in queues if q]
        wait = max(0.0, min(due) - now) if due else None
        readable, _, _ = select.select(sockets, [], [], wait)
        now = time.monotonic()
        for index, sock in enumerate(sockets):
            if sock not in readable:
                continue
            while True:
                try:
                    frame, cmsgs, _flags, address = sock.recvmsg(65536, ancillary)
                except BlockingIOError:
                    break
                if address[2] == _OUTGOING:
                    continue
                pending = any(
                    level == SOL_PACKET and kind == PACKET_AUXDATA
                    and struct.unpack("I", value[:4])[0] & TP_STATUS_CSUMNOTREADY
                    for level, kind, value in cmsgs
                )  # fmt: skip
                if pending and frame[12:14] == b"\x08\x00":
                    frame = frame[:14] + completed_checksum(frame[14:])
                if len(queues[index]) < BRIDGE_QUEUE:
                    queues[index].append((now + delay, frame))
        for index, queue in enumerate(queues):
            while queue and queue[0][0] <= now:
                _, frame = queue.popleft()
                with contextlib.suppress(OSError):
                    sockets[1 - index].send(frame)


# --- a whole run ------------------------------------------------------------------------


def real_run(
    lab: Lab,
    conditions: LinkConditions | None = None,
    *,
    url: str | None = None,
    language: str = "en",
    timeout: float = 60.0,
) -> tuple[Trace, RealRun]:
    """Load ``lab``'s page over Linux's TCP/IP in namespaces shaped by ``conditions``.

    The trace holds every actor's events and the browser's packets as captured on its
    link. Raises :class:`NamespacesUnavailable` if the network cannot be built here:
    not root, no ``ip`` or ``tc``, or a step refused.
    """
    if os.geteuid() != 0:
        raise NamespacesUnavailable("root", "network namespaces need root")
    ip, tc = (shutil.which(n) or shutil.which(n, path="/usr/sbin:/sbin") for n in ("ip", "tc"))
    if ip is None or tc is None:
        raise NamespacesUnavailable("tools", "no ip or tc command (iproute2)")
    run = RealRun(lab, ip=ip, tc=tc)
    conditions = conditions or LinkConditions()
    # The actors and the capture share this process: hand the interpreter between its
    # threads every 0.5 ms rather than 5 ms, so no packet waits on the other thread long.
    switching = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        build(run, conditions)
        trace = asyncio.run(_load(run, conditions, url, language, timeout))
    finally:
        sys.setswitchinterval(switching)
        run.remove()
    return trace, run


async def _load(
    run: RealRun, conditions: LinkConditions, url: str | None, language: str, timeout: float
) -> Trace:
    lab = run.lab
    networks = {host: NamespaceNetwork(run.namespaces[host]) for host in lab.hosts}
    trace = Trace(networks[lab.browser_host].now)
    options = {**lab.browser_link.options, **conditions.options()}
    ends = tuple(lab.browser_link.ends)
    if ends[0] != lab.browser_host:
        ends = ends[::-1]
    trace.record(LinkConditionsSet(0.0, "network", (ends[0], ends[1]),
                                   float(options.get("latency", 0.0)), options.get("bandwidth"),
                                   float(options.get("loss", 0.0)),
                                   int(options.get("mtu", 1500))))  # fmt: skip
    placement = Placement(
        networks=lambda host: networks[host],
        addresses={name: (lab.address_of(name),) for name in lab.hosts},
        zones=[server.zones for server in lab.name_servers],
        resolver_clients=sorted({ipaddress.IPv4Interface(a).network for a in lab.hosts.values()}),
    )
    capture = PacketCapture([53, 80, 443], interface=run.browser_interface)
    with inside(run.namespaces[lab.browser_host]):
        capture.start()

    def follow(event: Event) -> None:  # a page's files may come from another port
        if isinstance(event, TcpConnectStarted):
            capture.watch_port(event.peer[1])

    trace.subscribe(follow)
    try:
        browsing = BrowserOptions(total_timeout=timeout, language=language)
        run.loads = await run_lab(lab, placement, trace, browsing, url=url)
    finally:
        frames = capture.stop(quiet=0.3, longest=3.0)
    flows = flows_of(trace, {BROWSER_ACTOR})
    merge_packets(trace, captured_events(frames, trace, lab.browser_host, flows))
    return trace


if __name__ == "__main__":
    if sys.argv[1:2] == ["bridge"]:
        delay_bridge(sys.argv[2], sys.argv[3], float(sys.argv[4]))
