"""Why a page load failed: one type per kind, each with its own exit code.

Each failure carries a ``kind`` (a stable word for JSON and tests) and a
message that is one clear sentence; the narration explains it, the command
line exits with ``exit_code``.
"""

from __future__ import annotations


class LoadError(Exception):
    """A page load failed; ``str(error)`` is one sentence for the user."""

    kind = "error"
    exit_code = 1


class BadUrl(LoadError):
    kind = "bad-url"
    exit_code = 2


class NameNotFound(LoadError):
    """NXDOMAIN: the DNS says the name does not exist."""

    kind = "nxdomain"
    exit_code = 10


class NoAddress(LoadError):
    """The name exists but has no A or AAAA record."""

    kind = "no-address"
    exit_code = 11


class DnsFailure(LoadError):
    """The DNS server did not answer, or answered with an error."""

    kind = "dns-failure"
    exit_code = 12


class ConnectionRefused(LoadError):
    kind = "connection-refused"
    exit_code = 13


class Timeout(LoadError):
    kind = "timeout"
    exit_code = 14


class TlsFailure(LoadError):
    kind = "tls-failure"
    exit_code = 15


class ProtocolFailure(LoadError):
    """The server broke HTTP (malformed response, too large, closed early)."""

    kind = "protocol-failure"
    exit_code = 16


class HttpStatusError(LoadError):
    """The page itself came back with a 4xx or 5xx status."""

    kind = "http-error"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        self.exit_code = 17 if status < 500 else 18


class TooManyRedirects(LoadError):
    kind = "too-many-redirects"
    exit_code = 19


class ConnectionFailed(LoadError):
    """The connection failed for another reason (unreachable, reset...)."""

    kind = "connection-failed"
    exit_code = 20


class Unreachable(ConnectionFailed):
    """A router answered that the server's address cannot be reached (ICMP net or host
    unreachable: ENETUNREACH, EHOSTUNREACH), as a kernel reports at connect()."""

    kind = "unreachable"
