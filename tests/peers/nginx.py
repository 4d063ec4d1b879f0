"""Run the real nginx web server on a free loopback port, as a test peer.

``write_nginx_config`` only writes a configuration file; ``nginx_server`` starts
``nginx -p DIR/ -c DIR/nginx.conf -e DIR/error.log`` (one worker, ``daemon off``)
in a private temporary directory serving a given folder, waits until it listens,
and on exit stops it gracefully (SIGQUIT: idle keep-alive connections are
closed, requests in flight finish) before removing the directory. Everything
nginx writes (pid file, error and access logs, its five temp directories) stays
inside that directory, so it runs as root or as any user.

Started as root, nginx would run its worker as ``nobody``, which cannot read a
folder under a private (0700) temporary directory such as pytest's ``tmp_path``;
the configuration therefore names the current user in a ``user`` directive, so
the worker reads exactly what the test itself can read. As another user nginx
cannot change user and the directive is left out.

The access log records, for each request, the client's address and port, the
connection's serial number and how many requests it has carried so far — what a
test needs to see connection reuse from the server's side.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from peers._process import read_logs, spawn, stop, wait_until
from support import free_port, require_peer, require_program

__all__ = [
    "ACCESS_LOG_FIELDS",
    "GZIP_EVERYTHING",
    "AccessLogLine",
    "NginxStartError",
    "RunningNginx",
    "nginx_server",
    "write_nginx_config",
]

SYSTEM_MIME_TYPES = Path("/etc/nginx/mime.types")
# Used when /etc/nginx/mime.types is missing (nginx-common not installed).
FALLBACK_MIME_TYPES = {
    "text/html": "html htm",
    "text/css": "css",
    "text/plain": "txt",
    "application/javascript": "js",
    "application/json": "json",
    "image/svg+xml": "svg svgz",
    "image/png": "png",
    "image/jpeg": "jpeg jpg",
    "image/gif": "gif",
    "image/x-icon": "ico",
}

# Extra ``http`` lines that make nginx gzip every text type, however small, when asked.
GZIP_EVERYTHING = (
    "gzip on;",
    "gzip_min_length 1;",
    "gzip_comp_level 6;",
    "gzip_vary on;",
    "gzip_types text/css text/plain application/javascript application/json image/svg+xml;",
)

# One access log line: tab-separated, in this order.
ACCESS_LOG_FIELDS = (
    "remote_addr",
    "remote_port",
    "connection",
    "connection_requests",
    "request",
    "status",
    "body_bytes_sent",
    "http_host",
    "http_accept_encoding",
    "sent_http_content_encoding",
)


class NginxStartError(RuntimeError):
    """nginx rejected its configuration, exited, or did not listen before the deadline."""


@dataclass(frozen=True)
class AccessLogLine:
    """One request as nginx logged it."""

    remote_addr: str
    remote_port: int
    connection: int  # nginx's serial number of the connection
    connection_requests: int  # 1 for the first request on the connection, 2 for the next...
    request: str  # "GET /style.css HTTP/1.1"
    status: int
    body_bytes_sent: int
    http_host: str
    http_accept_encoding: str
    sent_http_content_encoding: str

    @property
    def path(self) -> str:
        parts = self.request.split(" ")
        return parts[1] if len(parts) >= 2 else ""


@dataclass(frozen=True)
class RunningNginx:
    """A third-party web server answering on ``host``:``port``, serving ``root``."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    config: Path
    root: Path
    access_log: Path
    error_log: Path

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def log(self) -> str:
        """What nginx has written to its error log and stderr so far."""
        return _read_logs(self.workdir)

    def access_lines(self) -> list[AccessLogLine]:
        """Every request nginx has logged so far, oldest first."""
        try:
            text = self.access_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        return [_parse_access_line(line) for line in text.splitlines() if line.strip()]


def _parse_access_line(line: str) -> AccessLogLine:
    fields = line.split("\t")
    if len(fields) != len(ACCESS_LOG_FIELDS):
        raise ValueError(f"unexpected nginx access log line: {line!r}")
    values = dict(zip(ACCESS_LOG_FIELDS, fields, strict=True))
    return AccessLogLine(
        remote_addr=values["remote_addr"],
        remote_port=int(values["remote_port"]),
        connection=int(values["connection"]),
        connection_requests=int(values["connection_requests"]),
        request=values["request"],
        status=int(values["status"]),
        body_bytes_sent=int(values["body_bytes_sent"]),
        http_host=values["http_host"],
        http_accept_encoding=values["http_accept_encoding"],
        sent_http_content_encoding=values["sent_http_content_encoding"],
    )


def _quote(value: str | Path) -> str:
    """An nginx string; refuse what would need escaping or expand as a variable."""
    text = str(value)
    if any(c in text for c in '"\\$\n\r;{}') or not text:
        raise ValueError(f"cannot put {text!r} in an nginx.conf string")
    return f'"{text}"'


def _user_directive() -> list[str]:
    if os.geteuid() != 0:
        return []  # nginx cannot switch users: the worker runs as we do
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return [f"user {user} {group};"]


def _mime_types() -> list[str]:
    if SYSTEM_MIME_TYPES.is_file():
        return [f"include {_quote(SYSTEM_MIME_TYPES)};"]
    lines = ["types {"]
    lines += [f"    {mime} {' '.join(ext.split())};" for mime, ext in FALLBACK_MIME_TYPES.items()]
    return [*lines, "}"]


def write_nginx_config(
    workdir: Path,
    root: Path,
    port: int,
    host: str = "127.0.0.1",
    *,
    extra_http: Sequence[str] = (),
    extra_server: Sequence[str] = (),
) -> Path:
    """Write ``workdir/nginx.conf`` serving the folder ``root`` on ``host``:``port``.

    One worker process, ``daemon off``, the error log at ``info`` level and the
    access log (``ACCESS_LOG_FIELDS``, tab-separated, unbuffered) in ``workdir``,
    as are the pid file and the temp directories; nothing else differs from
    nginx's defaults (no gzip, keep-alive 75 s and 1000 requests, ...).
    ``extra_http`` lines (e.g. ``GZIP_EVERYTHING``) go in the ``http`` block,
    ``extra_server`` lines in the ``server`` block.
    """
    workdir = workdir.resolve()
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    log_format = "\\t".join(f"${name}" for name in ACCESS_LOG_FIELDS)
    http = [
        *_mime_types(),
        "default_type application/octet-stream;",
        f"log_format webtrip_peer escape=json '{log_format}';",
        f"access_log {_quote(workdir / 'access.log')} webtrip_peer;",
        f"client_body_temp_path {_quote(workdir / 'client_body')};",
        f"proxy_temp_path {_quote(workdir / 'proxy')};",
        f"fastcgi_temp_path {_quote(workdir / 'fastcgi')};",
        f"uwsgi_temp_path {_quote(workdir / 'uwsgi')};",
        f"scgi_temp_path {_quote(workdir / 'scgi')};",
        *extra_http,
        "server {",
        f"    listen {listen};",
        f"    root {_quote(Path(root).resolve())};",
        *(f"    {line}" for line in extra_server),
        "}",
    ]
    lines = [
        *_user_directive(),
        "worker_processes 1;",
        "daemon off;",
        "master_process on;",
        f"pid {_quote(workdir / 'nginx.pid')};",
        f"error_log {_quote(workdir / 'error.log')} info;",
        "events {",
        "    worker_connections 256;",
        "}",
        "http {",
        *(f"    {line}" for line in http),
        "}",
        "",
    ]
    config = workdir / "nginx.conf"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


def _read_logs(workdir: Path) -> str:
    return read_logs(workdir, ("error.log", "nginx.stderr"), "(nginx logged nothing)")


def _accepts(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _wait_until_listening(
    process: subprocess.Popen[bytes], host: str, port: int, workdir: Path, timeout: float
) -> None:
    """nginx writes its pid file after binding its listening sockets: the pid file
    naming our process, then a TCP connection that succeeds, mean nginx listens
    (and not some other program that took the port first)."""
    pidfile = workdir / "nginx.pid"

    def listening() -> bool:
        with contextlib.suppress(OSError, ValueError):
            return int(pidfile.read_text().strip()) == process.pid and _accepts(host, port)
        return False

    wait_until(
        process,
        listening,
        timeout=timeout,
        interval=0.02,
        exited=lambda code: NginxStartError(
            f"nginx exited with status {code} before listening on {host}:{port}\n"
            + _read_logs(workdir)
        ),
        timed_out=lambda: NginxStartError(
            f"nginx did not listen on {host}:{port} within {timeout}s\n" + _read_logs(workdir)
        ),
    )


@contextlib.contextmanager
def nginx_server(
    root: Path,
    host: str = "127.0.0.1",
    *,
    nginx: str | None = None,
    extra_http: Sequence[str] = (),
    extra_server: Sequence[str] = (),
    timeout: float = 10.0,
) -> Iterator[RunningNginx]:
    """Run nginx serving the folder ``root`` on a free port of ``host``.

    ``nginx`` is the program's path; by default it is looked up (in /usr/sbin too)
    and the test is skipped when nginx is not installed. The configuration is
    checked with ``nginx -t`` first. Raises ``NginxStartError`` with nginx's
    messages if the check fails, if nginx exits, or if it does not listen within
    ``timeout`` seconds.
    """
    require_peer("nginx")  # also when the caller names the program
    program = nginx or require_program("nginx")
    root = Path(root)
    if not root.is_dir():
        raise NginxStartError(f"the folder to serve does not exist: {root}")
    with tempfile.TemporaryDirectory(prefix="webtrip-nginx-") as tmp:
        workdir = Path(tmp).resolve()
        port = free_port(host)
        config = write_nginx_config(
            workdir, root, port, host, extra_http=extra_http, extra_server=extra_server
        )
        argv = [program, "-p", f"{workdir}/", "-c", str(config), "-e", str(workdir / "error.log")]
        check = subprocess.run(
            [*argv, "-t", "-q"], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check.returncode != 0:
            raise NginxStartError(
                f"nginx -t rejected the configuration {config} (status {check.returncode}):\n"
                + (check.stderr.strip() or check.stdout.strip())
                + "\n--- nginx.conf ---\n"
                + config.read_text()
            )
        process = spawn(argv, workdir, "nginx.stderr")
        try:
            _wait_until_listening(process, host, port, workdir, timeout)
            yield RunningNginx(
                host=host,
                port=port,
                process=process,
                workdir=workdir,
                config=config,
                root=root,
                access_log=workdir / "access.log",
                error_log=workdir / "error.log",
            )
        finally:
            # SIGQUIT: graceful shutdown, the worker finishes what it is doing and
            # exits, then the master.
            stop(process, signal.SIGQUIT)
