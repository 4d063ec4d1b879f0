"""How a command ends: every exit code, and every way a page load can fail — one table.

A page load that fails does so in one of a few *kinds*: the name does not
exist, the server refused the connection, the answer did not come in time...
Each kind is a word the trace records (``PageLoadFinished.failed``), a typed
error the browser raises (:mod:`webtrip.browser.errors`), a sentence the
narration explains it with, and an exit code the command line ends with. All
of them read :data:`FAILURES`, so that they cannot disagree; ``webtrip browse
--help`` lists the codes from it too.

The codes follow dig where they overlap: 1 for an error, 2 for a mistake in
the command, 9 when a DNS server does not answer. A load's own codes are 10
and up.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXIT_CLIENT_ERROR_PAGE",
    "EXIT_ERROR",
    "EXIT_INCOMPLETE",
    "EXIT_LOADED",
    "EXIT_NO_REPLY",
    "EXIT_SERVER_ERROR_PAGE",
    "EXIT_USAGE",
    "FAILURES",
    "Failure",
    "exit_codes_help",
    "failure",
]

EXIT_LOADED = 0
"""The page and every file it needs loaded (or the command did its job)."""
EXIT_ERROR = 1
"""Something else failed: a file cannot be written, a server cannot start."""
EXIT_USAGE = 2
"""A mistake in the command: an unknown option, a bad value, a bad URL."""
EXIT_NO_REPLY = 9
"""A DNS server did not answer (``webtrip dns query``), as dig exits."""
EXIT_CLIENT_ERROR_PAGE = 17
"""The page came back with a 4xx status (not found, forbidden...)."""
EXIT_SERVER_ERROR_PAGE = 18
"""The page came back with a 5xx status (the server failed)."""
EXIT_INCOMPLETE = 21
"""The page loaded, but some of the files it needs did not."""


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Failure:
    """One way a page load fails: its kind, its exit code and what it means.

    ``summary`` is a few words for ``--help``'s list of exit codes (None: the
    code is listed by another kind); ``explanation`` is the narration's sentence
    (English, marked for translation).
    """

    kind: str
    exit_code: int
    summary: str | None
    explanation: str


FAILURES = (
    Failure("bad-url", EXIT_USAGE, "bad URL", N_("The address is not a valid web address.")),
    Failure("nxdomain", 10, "no such name (NXDOMAIN)",
            N_("The DNS says this name does not exist (NXDOMAIN): check its spelling.")),
    Failure("no-address", 11, "no address",
            N_("The name exists, but the DNS has no IPv4 or IPv6 address for it.")),
    Failure("dns-failure", 12, "DNS failure",
            N_("The DNS server could not be asked, or could not answer.")),
    Failure("connection-refused", 13, "connection refused",
            N_("The server's computer answered, but no program accepts connections on that "
               "port.")),
    Failure("timeout", 14, "timeout",
            N_("Something took too long: the network or the server did not answer in time.")),
    Failure("tls-failure", 15, "TLS failure",
            N_("The secure connection (TLS) could not be set up safely.")),
    Failure("protocol-failure", 16, "HTTP protocol failure",
            N_("The server's answer did not follow the HTTP rules, or was too big.")),
    Failure("http-error", EXIT_CLIENT_ERROR_PAGE, "4xx page",
            N_("The server answered, but with an error status instead of the page.")),
    Failure("http-error", EXIT_SERVER_ERROR_PAGE, "5xx page",
            N_("The server answered, but with an error status instead of the page.")),
    Failure("too-many-redirects", 19, "too many redirects",
            N_("The server kept sending the browser elsewhere (too many redirects).")),
    Failure("connection-failed", 20, "other connection failure",
            N_("The connection to the server failed.")),
    Failure("unreachable", 20, None,
            N_("A router on the way answered that the server's address cannot be reached "
               "(an ICMP message): there is no route to it.")),
)  # fmt: skip
"""Every kind of failure of a page load, in the order of their exit codes."""

_BY_KIND = {f.kind: f for f in reversed(FAILURES)}  # a kind's first row


def failure(kind: str) -> Failure | None:
    """The table's row for ``kind`` (for "http-error", the 4xx one), or None."""
    return _BY_KIND.get(kind)


def exit_codes_help() -> str:
    """The exit codes of a page load, for ``--help``: ``0 loaded; 2 bad URL; 10 ...``."""
    listed = [f"{EXIT_LOADED} loaded"]
    listed += [f"{f.exit_code} {f.summary}" for f in FAILURES if f.summary is not None]
    listed.append(f"{EXIT_INCOMPLETE} the page loaded but some of its files did not")
    return "; ".join(listed) + "."
