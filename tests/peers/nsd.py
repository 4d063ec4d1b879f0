"""Run the real NSD authoritative server on a free loopback port, as a test peer.

``write_nsd_config`` only writes a configuration file (the benchmark reuses it);
``nsd_server`` starts ``nsd -d -c CONF`` in a private temporary directory, waits
until every zone answers its SOA, and stops NSD and removes the directory on exit.
Everything NSD writes (pid file, zone list, xfrd state, log, cookie secrets, xfr
scratch directory) stays inside that directory, so it runs as root or as any user.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone

from peers._process import read_logs, spawn, stop, wait_until
from support import free_port, require_peer, require_program, wait_for_dns

__all__ = ["NsdStartError", "RunningPeer", "nsd_server", "write_nsd_config", "zone_origin"]


class NsdStartError(RuntimeError):
    """NSD exited, or did not serve every zone, before the start-up deadline."""


@dataclass(frozen=True)
class RunningPeer:
    """A third-party DNS server answering on ``host``:``port``."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    config: Path
    logfile: Path
    zones: tuple[dns.name.Name, ...]

    def log(self) -> str:
        """What NSD has logged so far (its log file, then its stderr)."""
        return _read_logs(self.workdir)


def zone_origin(path: Path) -> dns.name.Name:
    """The zone's name, taken from the file's ``$ORIGIN``.

    A file dnspython cannot parse falls back to its first ``$ORIGIN`` line, so a
    deliberately broken zone still reaches NSD, which then reports the error.
    """
    try:
        origin = dns.zone.from_file(str(path), relativize=False).origin
    except dns.exception.DNSException:
        origin = None
        for line in Path(path).read_text(errors="replace").splitlines():
            fields = line.split(";", 1)[0].split()
            if len(fields) >= 2 and fields[0].upper() == "$ORIGIN":
                origin = dns.name.from_text(fields[1])
                break
    if origin is None:
        raise ValueError(f"{path} has no $ORIGIN")
    return origin


def _quote(value: str | Path) -> str:
    text = str(value)
    if '"' in text or "\n" in text:
        raise ValueError(f"cannot put {text!r} in an nsd.conf string")
    return f'"{text}"'


def write_nsd_config(
    workdir: Path,
    zones: Sequence[Path],
    port: int,
    host: str = "127.0.0.1",
    *,
    extra_server_options: Sequence[str] = (),
    extra_zone_options: Sequence[str] = (),
) -> Path:
    """Write ``workdir/nsd.conf`` serving ``zones`` on ``host``:``port`` and return its path.

    One server process, no rate limiting, no privilege drop, no chroot, no remote
    control, and every file NSD reads or writes lives in ``workdir`` (the zone
    files are referenced by absolute path). ``extra_server_options`` are raw lines
    such as ``"minimal-responses: yes"`` appended to the ``server:`` clause;
    ``extra_zone_options`` (``"provide-xfr: 127.0.0.1 NOKEY"``) go in every ``zone:``.
    """
    if not zones:
        raise ValueError("NSD needs at least one zone")
    workdir = workdir.resolve()
    ipv6 = ":" in host
    server = [
        f"ip-address: {host}@{port}",
        f"port: {port}",
        f"do-ip4: {'no' if ipv6 else 'yes'}",
        f"do-ip6: {'yes' if ipv6 else 'no'}",
        "server-count: 1",
        "reuseport: no",
        'username: ""',
        'chroot: ""',
        f"zonesdir: {_quote(workdir)}",
        'database: ""',
        # After ``database``, which otherwise changes its default.
        "zonefiles-write: 0",
        f"zonelistfile: {_quote(workdir / 'zone.list')}",
        f"xfrdfile: {_quote(workdir / 'xfrd.state')}",
        f"xfrdir: {_quote(workdir)}",
        f"pidfile: {_quote(workdir / 'nsd.pid')}",
        f"logfile: {_quote(workdir / 'nsd.log')}",
        f"cookie-secret-file: {_quote(workdir / 'cookiesecrets.txt')}",
        "verbosity: 1",
        # No response rate limiting: tests and benchmarks send bursts from one address.
        "rrl-ratelimit: 0",
        "rrl-whitelist-ratelimit: 0",
        *extra_server_options,
    ]
    lines = ["server:", *(f"    {line}" for line in server), ""]
    lines += ["remote-control:", "    control-enable: no", ""]
    for path in zones:
        lines += [
            "zone:",
            f"    name: {_quote(zone_origin(path).to_text())}",
            f"    zonefile: {_quote(Path(path).resolve())}",
            *(f"    {line}" for line in extra_zone_options),
            "",
        ]
    config = workdir / "nsd.conf"
    config.write_text("\n".join(lines))
    return config


def _read_logs(workdir: Path) -> str:
    return read_logs(workdir, ("nsd.log", "nsd.stderr"), "(NSD logged nothing)")


def _serves_zone(host: str, port: int, zone: dns.name.Name) -> bool:
    query = dns.message.make_query(zone, dns.rdatatype.SOA)
    try:
        response = dns.query.udp(query, host, port=port, timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return False
    return response.rcode() == dns.rcode.NOERROR and bool(response.flags & dns.flags.AA)


@contextlib.contextmanager
def nsd_server(
    zones: Sequence[Path],
    host: str = "127.0.0.1",
    *,
    nsd: str | None = None,
    extra_server_options: Sequence[str] = (),
    extra_zone_options: Sequence[str] = (),
    timeout: float = 10.0,
) -> Iterator[RunningPeer]:
    """Run ``nsd -d -c CONF`` serving ``zones`` on a free port of ``host``.

    ``nsd`` is the program's path; by default it is looked up and the test is
    skipped when NSD is not installed. Raises ``NsdStartError`` with NSD's log
    and stderr if NSD exits or does not answer authoritatively for every zone
    within ``timeout`` seconds.
    """
    require_peer("nsd")  # also when the caller names the program
    program = nsd or require_program("nsd")
    origins = tuple(zone_origin(Path(zone)) for zone in zones)
    with tempfile.TemporaryDirectory(prefix="webtrip-nsd-") as tmp:
        workdir = Path(tmp)
        port = free_port(host)
        config = write_nsd_config(
            workdir,
            zones,
            port,
            host,
            extra_server_options=extra_server_options,
            extra_zone_options=extra_zone_options,
        )
        process = spawn([program, "-d", "-c", str(config)], workdir, "nsd.stderr")
        try:
            _wait_until_serving(process, host, port, origins, workdir, timeout)
            yield RunningPeer(
                host=host,
                port=port,
                process=process,
                workdir=workdir,
                config=config,
                logfile=workdir / "nsd.log",
                zones=origins,
            )
        finally:
            # SIGTERM: NSD stops its xfrd and server children.
            stop(process, signal.SIGTERM)


def _wait_until_serving(
    process: subprocess.Popen[bytes],
    host: str,
    port: int,
    origins: Sequence[dns.name.Name],
    workdir: Path,
    timeout: float,
) -> None:
    pending = list(origins)

    def serving() -> bool:
        try:
            wait_for_dns(host, port, origins[0].to_text(), timeout=0.2)
        except TimeoutError:
            return False
        pending[:] = [zone for zone in pending if not _serves_zone(host, port, zone)]
        return not pending

    def exited(code: int) -> NsdStartError:
        return NsdStartError(
            f"nsd exited with status {code} before serving {host}@{port}\n" + _read_logs(workdir)
        )

    def timed_out() -> NsdStartError:
        missing = ", ".join(zone.to_text() for zone in pending)
        return NsdStartError(
            f"nsd on {host}@{port} did not serve {missing} within {timeout}s\n"
            + _read_logs(workdir)
        )

    wait_until(process, serving, timeout=timeout, interval=0.05, exited=exited, timed_out=timed_out)
