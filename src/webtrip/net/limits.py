"""How many connections a server can hold: its file-descriptor limit (``ulimit -n``).

Every open connection costs a descriptor, and so does every file being sent,
log being written and socket a resolver opens. A connection cap larger than
what the process may open does not protect anything: ``accept()`` fails with
EMFILE first. :func:`size_connection_cap` raises the process's soft limit
towards its hard limit (allowed without privileges) and lowers a wanted cap
to what then fits, leaving room for everything else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

try:
    import resource
except ImportError:  # not on every platform
    resource = None  # type: ignore[assignment]

# Never ask for more than this, even with an unlimited hard limit: the kernel's
# per-process maximum (fs.nr_open) is 1,048,576 by default.
_CEILING = 1 << 20
# Descriptors kept for what is not a connection: the listening sockets, files
# being sent, logs, DNS sockets, and connections accepted only to be refused.
RESERVE = 64


@dataclass(frozen=True)
class ConnectionCap:
    """A cap on open connections, as wanted and as the descriptor limit allows."""

    wanted: int
    chosen: int
    limit: int  # the process's soft RLIMIT_NOFILE after raising it (0: unknown)

    @property
    def lowered(self) -> bool:
        return self.chosen < self.wanted


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE as far as allowed; return it (0 if unknown)."""
    if resource is None:
        return 0
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 0
    target = _CEILING if hard == resource.RLIM_INFINITY else min(hard, _CEILING)
    if soft != resource.RLIM_INFINITY and soft < target:
        while target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                return target
            except (OSError, ValueError):  # above fs.nr_open: try half as many
                target //= 2
    return _CEILING if soft == resource.RLIM_INFINITY else soft


def open_descriptors() -> int:
    """How many descriptors the process has open now (a guess where it cannot tell)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 16


def size_connection_cap(
    wanted: int, *, per_connection: int = 1, reserve: int = RESERVE
) -> ConnectionCap:
    """The connection cap to use instead of ``wanted``, given the descriptor limit.

    ``per_connection``: descriptors one connection may hold at once (a web
    connection sending a file holds its socket and the file). At least one
    connection is always allowed.
    """
    limit = raise_descriptor_limit()
    if limit <= 0:
        return ConnectionCap(wanted, wanted, 0)
    available = limit - open_descriptors() - reserve
    fits = max(1, available // max(1, per_connection))
    return ConnectionCap(wanted, min(wanted, fits), limit)
