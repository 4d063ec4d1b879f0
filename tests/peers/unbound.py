"""Run the real Unbound recursive resolver on loopback, as a test peer (and for the benchmark).

``write_unbound_config`` only writes a configuration file; ``unbound_server``
starts ``unbound -d -c CONF`` in a private temporary directory, waits until it
answers, and stops it and removes the directory on exit.

Unbound runs as whoever starts it (``username: ""``, no chroot), in the
foreground, with one thread, the iterator module only (no DNSSEC validation,
so no trust anchor), and it may query loopback addresses. Where it starts is
either a root hints file (``root_hints``: it walks from that root, asking
every name server on port 53, the only port Unbound asks a referral's
servers on) or upstream resolvers (``forward``: a ``forward-zone`` for ".").
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
import dns.message
import dns.query

from peers._process import read_logs, spawn, stop, wait_until
from support import free_port, require_peer, require_program

__all__ = ["RunningUnbound", "UnboundStartError", "unbound_server", "write_unbound_config"]


class UnboundStartError(RuntimeError):
    """Unbound exited, or did not answer, before the start-up deadline."""


@dataclass(frozen=True)
class RunningUnbound:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    config: Path

    def log(self) -> str:
        return read_logs(
            self.workdir, ("unbound.log", "unbound.stderr"), "(Unbound logged nothing)"
        )


def _quote(value: str | Path) -> str:
    text = str(value)
    if '"' in text or "\n" in text:
        raise ValueError(f"cannot put {text!r} in an unbound.conf string")
    return f'"{text}"'


def write_unbound_config(
    workdir: Path,
    host: str,
    port: int,
    *,
    root_hints: Path | None = None,
    forward: Sequence[tuple[str, int]] = (),
    extra_server_options: Sequence[str] = (),
) -> Path:
    """Write ``workdir/unbound.conf`` for a resolver on ``host``:``port``; return its path."""
    if (root_hints is None) == (not forward):
        raise ValueError("give Unbound root hints or upstreams to forward to (one of them)")
    workdir = workdir.resolve()
    server = [
        f"interface: {host}",
        f"port: {port}",
        "do-ip4: yes",
        "do-ip6: no",
        "do-udp: yes",
        "do-tcp: yes",
        'username: ""',
        'chroot: ""',
        f"directory: {_quote(workdir)}",
        f"pidfile: {_quote(workdir / 'unbound.pid')}",
        f"logfile: {_quote(workdir / 'unbound.log')}",
        "use-syslog: no",
        "do-daemonize: no",
        "verbosity: 1",
        "num-threads: 1",
        "so-reuseport: no",
        "module-config: iterator",
        "do-not-query-localhost: no",
        "access-control: 127.0.0.0/8 allow",
        # Deterministic answers for comparisons: no prefetch, no stale answers.
        "prefetch: no",
        "serve-expired: no",
        # Unbound answers .test itself (NXDOMAIN, RFC 6761) unless told not to: labs live there.
        'local-zone: "test." nodefault',
        *extra_server_options,
    ]
    if root_hints is not None:
        server.append(f"root-hints: {_quote(Path(root_hints).resolve())}")
    lines = ["server:", *(f"    {line}" for line in server), ""]
    lines += ["remote-control:", "    control-enable: no", ""]
    if forward:
        lines += ["forward-zone:", '    name: "."']
        lines += [
            f"    forward-addr: {address}@{upstream_port}" for address, upstream_port in forward
        ]
        lines.append("")
    config = workdir / "unbound.conf"
    config.write_text("\n".join(lines))
    return config


def _answers(host: str, port: int) -> bool:
    # A question Unbound answers from its own data, without asking anyone.
    query = dns.message.make_query("localhost.", "A")
    try:
        dns.query.udp(query, host, port=port, timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return False
    return True


@contextlib.contextmanager
def unbound_server(
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    root_hints: Path | None = None,
    forward: Sequence[tuple[str, int]] = (),
    extra_server_options: Sequence[str] = (),
    unbound: str | None = None,
    timeout: float = 10.0,
) -> Iterator[RunningUnbound]:
    """Run ``unbound -d -c CONF`` on ``host``:``port`` (a free one if None).

    Skips the test when Unbound is not installed; raises UnboundStartError
    with its log if it exits or does not answer within ``timeout`` seconds.
    """
    require_peer("unbound")  # also when the caller names the program
    program = unbound or require_program("unbound")
    with tempfile.TemporaryDirectory(prefix="webtrip-unbound-") as tmp:
        workdir = Path(tmp)
        port = port or free_port(host)
        config = write_unbound_config(
            workdir,
            host,
            port,
            root_hints=root_hints,
            forward=forward,
            extra_server_options=extra_server_options,
        )
        process = spawn([program, "-d", "-c", str(config)], workdir, "unbound.stderr")
        try:

            def exited(code: int) -> UnboundStartError:
                logs = read_logs(workdir, ("unbound.log", "unbound.stderr"), "")
                return UnboundStartError(f"unbound exited with status {code}\n{logs}")

            def timed_out() -> UnboundStartError:
                logs = read_logs(workdir, ("unbound.log", "unbound.stderr"), "")
                return UnboundStartError(f"unbound did not answer within {timeout}s\n{logs}")

            wait_until(
                process,
                lambda: _answers(host, port),
                timeout=timeout,
                interval=0.05,
                exited=exited,
                timed_out=timed_out,
            )
            yield RunningUnbound(host, port, process, workdir, config)
        finally:
            stop(process, signal.SIGTERM)
