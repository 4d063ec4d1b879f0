"""Zones: the data an authoritative DNS server answers from.

A zone is loaded from an RFC 1035 master file (the format NSD and BIND read)
by dnspython. On top of dnspython's nodes we precompute what the lookup
algorithm of RFC 1034 §4.3.2 needs: every name that exists, including the
empty non-terminals between the apex and deeper names (they block wildcards,
RFC 4592), and the zone cuts where the zone delegates a child to other
servers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.tokenizer
import dns.zone
import dns.zonefile

from webtrip.files import InputFileError, read_input


def rrset_of(owner: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    """The records of ``rdataset`` as an RRset owned by ``owner`` (what a message section holds)."""
    rrset = dns.rrset.RRset(owner, rdataset.rdclass, rdataset.rdtype)
    rrset.update(rdataset)  # type: ignore[no-untyped-call]  # dnspython's Set.update is untyped
    return rrset


class ZoneError(Exception):
    """A zone file cannot be loaded; the message is one sentence for the user."""


@dataclass
class Zone:
    """One zone and the facts the lookup algorithm needs about it."""

    origin: dns.name.Name
    source: str
    data: dns.zone.Zone
    soa: dns.rrset.RRset
    names: set[dns.name.Name] = field(default_factory=set)
    cuts: set[dns.name.Name] = field(default_factory=set)
    dnames: set[dns.name.Name] = field(default_factory=set)

    @classmethod
    def from_dnspython(cls, data: dns.zone.Zone, source: str) -> Zone:
        origin = data.origin
        if origin is None:  # a file with no records and no $ORIGIN
            raise ZoneError(f"{source} has no records: a zone needs at least its SOA")
        soa_rdataset = data.get_rdataset(origin, dns.rdatatype.SOA)
        if soa_rdataset is None:
            raise ZoneError(f"{source}: the zone {origin} has no SOA record at its apex")
        if data.get_rdataset(origin, dns.rdatatype.NS) is None:
            raise ZoneError(f"{source}: the zone {origin} has no NS records at its apex")
        soa = rrset_of(origin, soa_rdataset)
        zone = cls(origin=origin, source=source, data=data, soa=soa)
        for name, node in data.nodes.items():
            # Every ancestor up to the apex exists too (empty non-terminals).
            ancestor = name
            while ancestor != origin and ancestor not in zone.names:
                zone.names.add(ancestor)
                ancestor = ancestor.parent()
            zone.names.add(origin)
            if name != origin and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS):
                zone.cuts.add(name)
            if node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.DNAME):
                zone.dnames.add(name)
        return zone

    def rdataset(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> dns.rdataset.Rdataset | None:
        """The rdataset of ``rdtype`` owned by ``name`` in this zone, if any."""
        node = self.data.nodes.get(name)
        if node is None:
            return None
        return node.get_rdataset(dns.rdataclass.IN, rdtype)

    def negative_soa(self) -> dns.rrset.RRset:
        """The SOA to put in the authority section of NXDOMAIN and NODATA answers.

        RFC 2308 §3: its TTL is the minimum of the SOA's own TTL and its
        MINIMUM field, which is how long resolvers may cache the "no".
        """
        soa = self.soa
        ttl = min(soa.ttl, soa[0].minimum)
        if ttl == soa.ttl:
            return soa
        return dns.rrset.from_rdata_list(soa.name, ttl, list(soa))


def load_zone(path: str | os.PathLike[str], origin: str | None = None) -> Zone:
    """Load the master file at ``path``; the origin is ``origin`` or the file's ``$ORIGIN``.

    Raises ZoneError with a message naming the file and, where the problem is
    on a line, the line.
    """
    path = Path(path)
    try:
        text = read_input(path).decode("utf-8")
    except FileNotFoundError:
        raise ZoneError(f"{path}: no such zone file") from None
    except InputFileError as exc:
        raise ZoneError(f"{path}: the zone file {exc}") from None
    except UnicodeDecodeError as exc:
        raise ZoneError(f"{path}: not a text file ({exc.reason})") from None
    except OSError as exc:
        raise ZoneError(f"{path}: cannot be read ({exc.strerror})") from None
    if all(not line.strip() or line.lstrip().startswith(";") for line in text.splitlines()):
        raise ZoneError(f"{path} has no records: a zone needs at least its SOA")
    try:
        data = _parse(text, path, origin)
    except ZoneError:
        raise
    except (dns.exception.DNSException, ValueError) as exc:
        line = _first_failing_line(text, path, origin, exc)
        if line is None:
            raise ZoneError(f"{path}: {_describe(exc)}") from None
        content = text.splitlines()[line - 1].strip()
        message = _describe(exc)
        directive = _TTL_LINE.match(content)
        if directive is not None and message.startswith("a TTL is out of range"):
            message = f"TTL {directive.group(1)} is out of range (0 to {MAX_TTL})"
        raise ZoneError(f"{path}:{line}: {message} (in {content!r})") from None
    if not data.nodes:
        raise ZoneError(f"{path} has no records: a zone needs at least its SOA")
    _refuse_ttls_out_of_range(text, path, origin, data)
    return Zone.from_dnspython(data, str(path))


MAX_TTL = 2**31 - 1
"""The largest TTL (RFC 2181 §8): a TTL is an unsigned 32-bit number whose top bit is 0."""


class _OutsideRecord(Exception):
    """A record whose name is outside the zone ``apex``, at ``line`` of the file."""

    def __init__(self, line: int, apex: dns.name.Name | None) -> None:
        super().__init__(line)
        self.line = line
        self.apex = apex


class _SecondSoa(Exception):
    """A second, different SOA record at the apex, at ``line`` of the file."""

    def __init__(self, line: int, apex: dns.name.Name) -> None:
        super().__init__(line)
        self.line = line
        self.apex = apex


class _Reader(dns.zonefile.Reader):
    """dnspython's master-file reader, but a record outside the zone stops it.

    dnspython skips such a record without a word (its only two callers of
    ``_eat_line`` are that check, for records and for ``$GENERATE``); here it
    is refused, so that the user hears of it rather than losing it — found in
    the same single pass that reads the zone.
    """

    record_line = 0  # the line the record being read starts on

    def _rr_line(self) -> None:
        self.record_line = self.tok.where()[1]
        super()._rr_line()

    def _generate_line(self) -> None:
        self.record_line = self.tok.where()[1]
        super()._generate_line()  # type: ignore[no-untyped-call]

    def _eat_line(self) -> None:
        raise _OutsideRecord(self.record_line, self.zone_origin)


def _parse(text: str, path: Path, origin: str | None) -> dns.zone.Zone:
    """The zone in ``text``, read in one pass (a ZoneError for a record outside it)."""
    zone = dns.zone.Zone(origin, dns.rdataclass.IN, relativize=False)
    tokenizer = dns.tokenizer.Tokenizer(text, str(path))
    reader: _Reader | None = None

    def one_soa(txn: object, name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> None:
        # A zone has exactly one SOA (RFC 1035 §5.2), and NSD refuses a second
        # one; dnspython would silently keep the last.
        if rdataset.rdtype == dns.rdatatype.SOA:
            existing = txn.get(name, dns.rdatatype.SOA)  # type: ignore[attr-defined]
            if existing is not None and set(existing) != set(rdataset):
                assert reader is not None
                raise _SecondSoa(reader.record_line, name)

    try:
        with zone.writer(True) as txn:
            txn.check_put_rdataset(one_soa)
            reader = _Reader(tokenizer, dns.rdataclass.IN, txn, allow_directives=True)
            reader.read()
    except (_OutsideRecord, _SecondSoa) as stop:
        lines = text.splitlines()
        content = lines[stop.line - 1].strip() if 0 < stop.line <= len(lines) else ""
        where = f"{path}:{stop.line}" if content else str(path)
        content = f" (in {content!r})" if content else ""
        if isinstance(stop, _SecondSoa):
            raise ZoneError(
                f"{where}: a second SOA record for {stop.apex}: a zone has exactly one{content}"
            ) from None
        raise ZoneError(
            f"{where}: this record's name is outside the zone {stop.apex}, "
            f"so it would never be served{content}"
        ) from None
    return zone


def _refuse_ttls_out_of_range(
    text: str, path: Path, origin: str | None, data: dns.zone.Zone
) -> None:
    """Raise ZoneError for a TTL above 2147483647, which dnspython accepts up to 2**32 - 1."""
    if all(rdataset.ttl <= MAX_TTL for _name, rdataset in data.iterate_rdatasets()):
        return
    lines = text.splitlines(keepends=True)

    def too_long(count: int) -> bool:
        try:
            part = _parse("".join(lines[:count]), path, origin)
        except (ZoneError, dns.exception.DNSException, ValueError):
            return False
        return any(rdataset.ttl > MAX_TTL for _name, rdataset in part.iterate_rdatasets())

    line = _first_line_where(len(lines), too_long)
    ttl = max(rdataset.ttl for _name, rdataset in data.iterate_rdatasets())
    where = f"{path}:{line}" if line else str(path)
    content = f" (in {lines[line - 1].strip()!r})" if line else ""
    raise ZoneError(f"{where}: TTL {ttl} is out of range (0 to {MAX_TTL}){content}")


# dnspython reads a TTL too large for it as a record type, and words a
# $TTL too large in its own way.
_TTL_AS_TYPE = re.compile(r"unknown rdatatype '((?:[0-9]+[smhdwSMHDW]?)+)'")
_TTL_DIRECTIVE = re.compile(r"TTL should be between 0 and 2\*\*32 - 1 \(inclusive\)")
_TTL_LINE = re.compile(r"\$TTL\s+(\S+)")


def _describe(exc: Exception) -> str:
    """dnspython's message without the "file:line:" it sometimes prepends."""
    message = str(exc) or type(exc).__name__
    parts = message.split(": ", 1)
    if len(parts) == 2 and ":" in parts[0] and parts[0].rsplit(":", 1)[-1].isdigit():
        message = parts[1]
    if isinstance(exc, dns.zonefile.UnknownOrigin) or "origin is unknown" in message:
        message = "the zone's name is unknown: start the file with $ORIGIN NAME. or give NAME=FILE"
    ttl = _TTL_AS_TYPE.fullmatch(message)
    if ttl is not None:
        message = f"TTL {ttl.group(1)} is out of range (0 to {MAX_TTL})"
    elif _TTL_DIRECTIVE.fullmatch(message):
        message = f"a TTL is out of range (0 to {MAX_TTL})"
    if isinstance(exc, dns.zonefile.CNAMEAndOtherData):
        message = "a name cannot have a CNAME and other records (RFC 1034 §3.6.2)"
    return message.rstrip(".")


def _first_failing_line(text: str, path: Path, origin: str | None, error: Exception) -> int | None:
    """The first line whose inclusion makes the file fail with ``error``.

    dnspython reports the tokenizer's position, which can already be past the
    faulty record; a binary search over prefixes of the file finds the line
    that really introduces the error.
    """
    lines = text.splitlines(keepends=True)
    wanted = (type(error), _describe(error))

    def fails_at(count: int) -> bool:
        try:
            _parse("".join(lines[:count]), path, origin)
        except ZoneError:
            return False  # a record outside the zone before the error: not this error
        except (dns.exception.DNSException, ValueError) as exc:
            return (type(exc), _describe(exc)) == wanted
        return False

    return _first_line_where(len(lines), fails_at)


def _first_line_where(count: int, holds_for_prefix: Callable[[int], bool]) -> int | None:
    """The smallest number of lines for which ``holds_for_prefix`` is true (binary search)."""
    if count == 0 or not holds_for_prefix(count):
        return None
    low, high = 1, count
    while low < high:
        middle = (low + high) // 2
        if holds_for_prefix(middle):
            high = middle
        else:
            low = middle + 1
    return low


class ZoneSet:
    """The zones one server is authoritative for, found by longest match."""

    def __init__(self, zones: Iterable[Zone] = ()) -> None:
        self._zones: dict[dns.name.Name, Zone] = {}
        for zone in zones:
            self.add(zone)

    def add(self, zone: Zone) -> None:
        if zone.origin in self._zones:
            raise ZoneError(
                f"{zone.source}: the zone {zone.origin} is already loaded from "
                f"{self._zones[zone.origin].source}"
            )
        self._zones[zone.origin] = zone

    def __iter__(self) -> Iterator[Zone]:
        return iter(self._zones.values())

    def __len__(self) -> int:
        return len(self._zones)

    def find(self, name: dns.name.Name) -> Zone | None:
        """The most specific zone containing ``name``, or None."""
        zones = self._zones
        candidate = name
        while True:
            zone = zones.get(candidate)
            if zone is not None:
                return zone
            if candidate == dns.name.root:
                return None
            candidate = candidate.parent()
