"""Why a page load failed: one type per kind, each with its own exit code.

Each failure carries a ``kind`` (a stable word for JSON and tests) and a
message that is one clear sentence; the narration explains it, the command
line exits with ``exit_code``. Kinds and codes are the table in
:mod:`webtrip.outcomes`: a subclass names its kind and takes its code from there.

The sentence exists in every language the narration speaks: an error keeps its
English ``template`` (marked for the catalog with ``N_``, ``{named}`` places) and
the run's ``values``, which the trace records beside the English sentence, so
that a view says ``_(template)`` with the same values (:func:`failure_sentence`).
Two kinds of value are not plain text, and are shown in the reader's language too:

- ``reason`` and ``tried``: what the operating system (or our simulated one)
  said, as its errno name ("ECONNREFUSED" — the words are in :data:`REASONS`);
  ``tried`` lists every address tried with its reason ("10.0.0.3:80=ETIMEDOUT",
  separated by ";"). Words from no errno table are kept and quoted as the
  system's own;
- the names in :data:`SECONDS` (durations, written "2" or "0.5") and
  :data:`COUNTS` (whole numbers): numbers as each language writes them.

Text from a library (h11's "illegal header line", OpenSSL's reasons) goes in a
value the template quotes: the library's own words, in no language of ours.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from webtrip.outcomes import EXIT_CLIENT_ERROR_PAGE, EXIT_ERROR, EXIT_SERVER_ERROR_PAGE, N_, failure

Values = tuple[tuple[str, str], ...]
"""A failure's values as the trace records them: (name, text) pairs, in order."""

REASONS: dict[str, str] = {
    "ECONNREFUSED": N_("refused the connection"),
    "ETIMEDOUT": N_("no answer"),
    "ENETUNREACH": N_("the network cannot be reached"),
    "EHOSTUNREACH": N_("no route to the host"),
    "EHOSTDOWN": N_("the host is down"),
    "ENETDOWN": N_("the network is down"),
    "ECONNRESET": N_("the connection was reset (RST)"),
    "ECONNABORTED": N_("the connection was aborted"),
    "EPIPE": N_("the connection was already closed"),
    "EMSGSIZE": N_("the packet is too large for the path"),
    "EADDRNOTAVAIL": N_("the address is not available"),
}
"""What the operating system's errors mean, by errno name (the words a view shows)."""

SECONDS = frozenset({"timeout", "total"})
"""Values that are durations in seconds."""

COUNTS = frozenset({"tries", "hops", "redirects", "megabytes", "count", "total_count"})
"""Values that are whole numbers."""


def system_reason(error: BaseException) -> str:
    """An OS error as a value for ``reason``: its errno name if :data:`REASONS` knows
    it, else the system's own words."""
    code = getattr(error, "errno", None)
    name = errno.errorcode.get(code, "") if isinstance(code, int) else ""
    if name in REASONS:
        return name
    for kind, name in _BY_TYPE:
        if isinstance(error, kind):
            return name
    return str(getattr(error, "strerror", None) or error)


_BY_TYPE: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "ECONNREFUSED"),
    (ConnectionResetError, "ECONNRESET"),
    (ConnectionAbortedError, "ECONNABORTED"),
    (BrokenPipeError, "EPIPE"),
    (TimeoutError, "ETIMEDOUT"),
)


def _english_seconds(value: float) -> str:
    return f"{value:g} s"


def _english_count(value: int) -> str:
    return f"{value:,}"


def failure_sentence(
    template: str,
    values: Values,
    gettext: Callable[[str], str] = str,
    seconds: Callable[[float], str] = _english_seconds,
    count: Callable[[int], str] = _english_count,
) -> str:
    """A failure's sentence: ``template`` through ``gettext`` (a language's catalog;
    English as written by default) with ``values`` written in that language."""

    def reason(text: str) -> str:
        if text in REASONS:
            return gettext(REASONS[text])
        return gettext(N_("“{words}”")).format(words=text)  # the system's own words

    shown: dict[str, str] = {}
    for name, text in values:
        if name == "reason":
            shown[name] = reason(text)
        elif name == "tried":
            parts = (part.rpartition("=") for part in text.split(";") if part)
            shown[name] = "; ".join(f"{peer}: {reason(why)}" for peer, _, why in parts)
        elif name in SECONDS and _is_number(text):
            shown[name] = seconds(float(text))
        elif name in COUNTS and text.isdigit():
            shown[name] = count(int(text))
        else:
            shown[name] = text
    try:
        return gettext(template).format(**shown)
    except (KeyError, IndexError, ValueError):  # a template and values that do not match
        return template.format_map(_Kept(shown))


class _Kept(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class LoadError(Exception):
    """A page load failed; ``str(error)`` is one sentence for the user, in English.

    ``LoadError(N_("the server sent nothing for {timeout}"), timeout=2.0)``: the
    template is the catalog's message, the keywords its values (kept as text).
    """

    kind = "error"
    exit_code = EXIT_ERROR

    def __init__(self, template: str, /, **values: object) -> None:
        self.template = template
        self.values: Values = tuple((name, _text(value)) for name, value in values.items())
        super().__init__(failure_sentence(template, self.values))

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        row = failure(cls.kind)
        if row is None:
            raise TypeError(f"{cls.__name__}: the kind '{cls.kind}' is not in outcomes.FAILURES")
        cls.exit_code = row.exit_code

    def sentence(
        self,
        gettext: Callable[[str], str],
        seconds: Callable[[float], str] = _english_seconds,
        count: Callable[[int], str] = _english_count,
    ) -> str:
        """The sentence in the language of ``gettext`` (see :func:`failure_sentence`)."""
        return failure_sentence(self.template, self.values, gettext, seconds, count)


def _text(value: object) -> str:
    """A value as the trace keeps it: numbers plainly ("2", "0.5"), so a view can
    write them its own way."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


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

    def __init__(self, template: str, /, *, status: int, **values: object) -> None:
        super().__init__(template, status=status, **values)
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
