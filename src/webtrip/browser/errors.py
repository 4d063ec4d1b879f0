"""Why a page load failed: one type per kind, each with its own exit code.

Each failure carries a ``kind`` (a stable word for JSON and tests) and a
message that is one clear sentence; the narration explains it, the command
line exits with ``exit_code``. Kinds and codes are the table in
:mod:`webtrip.outcomes`: a subclass names its kind and takes its code from there.
"""

from __future__ import annotations

from webtrip.outcomes import EXIT_CLIENT_ERROR_PAGE, EXIT_ERROR, EXIT_SERVER_ERROR_PAGE, failure


class LoadError(Exception):
    """A page load failed; ``str(error)`` is one sentence for the user."""

    kind = "error"
    exit_code = EXIT_ERROR

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        row = failure(cls.kind)
        if row is None:
            raise TypeError(f"{cls.__name__}: the kind '{cls.kind}' is not in outcomes.FAILURES")
        cls.exit_code = row.exit_code


class BadUrl(LoadError):
    kind = "bad-url"


class NameNotFound(LoadError):
    """NXDOMAIN: the DNS says the name does not exist."""

    kind = "nxdomain"


class NoAddress(LoadError):
    """The name exists but has no A or AAAA record."""

    kind = "no-address"


class DnsFailure(LoadError):
    """The DNS server did not answer, or answered with an error."""

    kind = "dns-failure"


class ConnectionRefused(LoadError):
    kind = "connection-refused"


class Timeout(LoadError):
    kind = "timeout"


class TlsFailure(LoadError):
    kind = "tls-failure"


class ProtocolFailure(LoadError):
    """The server broke HTTP (malformed response, too large, closed early)."""

    kind = "protocol-failure"


class HttpStatusError(LoadError):
    """The page itself came back with a 4xx or 5xx status."""

    kind = "http-error"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
        # 4xx and 5xx pages have codes of their own (the table's two "http-error" rows).
        self.exit_code = EXIT_SERVER_ERROR_PAGE if status >= 500 else EXIT_CLIENT_ERROR_PAGE


class TooManyRedirects(LoadError):
    kind = "too-many-redirects"


class ConnectionFailed(LoadError):
    """The connection failed for another reason (unreachable, reset...)."""

    kind = "connection-failed"


class Unreachable(ConnectionFailed):
    """A router answered that the server's address cannot be reached (ICMP net or host
    unreachable: ENETUNREACH, EHOSTUNREACH), as a kernel reports at connect()."""

    kind = "unreachable"
