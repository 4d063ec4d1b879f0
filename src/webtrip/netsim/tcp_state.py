"""TCP's connection states and every way between them: RFC 9293's state machine, as a table.

Step 2 of a page load opens a TCP connection (the three-way handshake); once
it is no longer needed, after step 3, it is closed (a FIN each way). How far
a connection has got in opening and closing is its *state*; this module
names the states, the events that move a connection between them, and where
each event leads from each state.

The rule of this file: everything that decides a connection's state lives
here — the states, the events, the table of transitions, and the sets of
states in which a connection may send, receive, or reset the peer on abort.
:class:`~webtrip.netsim.tcp.TcpConnection` only works out which
:class:`Event` a segment, a user call or a timer amounts to, and moves to the
state that :data:`TRANSITIONS` gives for it; it never sets a state of its own.
"""

from __future__ import annotations

import enum
from typing import Final

# ---------------------------------------------------------------------------
# Theory of operation
# ---------------------------------------------------------------------------
#
# A TCP connection carries two byte streams, one each way. Every byte of a
# stream has a sequence number, counted from an initial sequence number (ISN)
# that its sender picks at random. The SYN and the FIN also take one number
# each, so that they too can be acknowledged and retransmitted like data.
#
# Opening a connection means that each side learns the other's ISN — the
# three-way handshake: SYN ("my ISN is x"), SYN,ACK ("mine is y; I got x"),
# ACK ("I got y"). Closing means that each side says "no more data from me"
# with a FIN, and hears it acknowledged. The two directions close separately:
# a side that has sent its FIN may still receive (a half-close).
#
# The state records how far these two agreements have got. Everything that
# changes it is in TRANSITIONS below, and nowhere else: the code that
# processes a segment or a user call decides *which event* happened, and the
# table says where that leads. This is RFC 9293's Figure 5, event / action:
#
#                              +---------+
#           passive OPEN       | CLOSED  |       active OPEN / send SYN
#        +---------------------|         |-------------------------+
#        v                     +---------+                         v
#   +--------+                                               +----------+
#   | LISTEN |                                               | SYN-SENT |
#   +--------+                                               +----------+
#        | rcv SYN                                              |     |
#        | / send SYN,ACK      rcv SYN / send SYN,ACK           |     |
#        v                     (simultaneous open)              |     |
#   +--------------+ <------------------------------------------+     |
#   | SYN-RECEIVED |                                                  |
#   +--------------+                         rcv SYN,ACK / send ACK   |
#     |        | rcv ACK of SYN                                       |
#     |        v                                                      |
#     |   +-------------+ <-------------------------------------------+
#     |   | ESTABLISHED |   (data flows both ways)
#     |   +-------------+
#     |     |         | rcv FIN / send ACK
#     |     |         +-------------------------------+
#     |     | CLOSE / send FIN                        v
#     |     v                                  +------------+
#     +-> +------------+                       | CLOSE-WAIT |
#  CLOSE  | FIN-WAIT-1 |                       +------------+
#  / send +------------+                              | CLOSE / send FIN
#  FIN      |       | rcv FIN / send ACK              v
#   rcv ACK |       v                           +----------+
#   of FIN  v     +---------+                   | LAST-ACK |
#  +------------+ | CLOSING |                   +----------+
#  | FIN-WAIT-2 | +---------+                         | rcv ACK of FIN
#  +------------+      | rcv ACK of FIN               v
#   rcv FIN |          v                         +--------+
#   / send  +---> +-----------+  2·MSL timeout   | CLOSED |
#   ACK           | TIME-WAIT | ---------------> |        |
#                 +-----------+                  +--------+
#
# Not drawn: CLOSE in LISTEN or SYN-SENT goes straight back to CLOSED; an
# ICMP "unreachable" in SYN-SENT or SYN-RECEIVED too; and from (almost)
# every state to CLOSED: a RST received, an abort by the application,
# retransmissions given up.
#
# Why TIME-WAIT? The side that closes first waits two maximum segment
# lifetimes before forgetting the connection: if its last ACK was lost, the
# peer's FIN comes again and must be acknowledged, not answered with a RST;
# and old duplicates of this connection die out before a new connection
# could reuse the same ports.


class State(enum.Enum):
    """The connection states of RFC 9293 §3.3.2."""

    # Members are singletons compared by identity: hash them so too (Enum's __hash__,
    # hash(self._name_), is a Python call, made for every set and TRANSITIONS lookup).
    __hash__ = object.__hash__

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"

    def __str__(self) -> str:
        return self.value


class Event(enum.Enum):
    """What can move a connection from one state to another."""

    # Members are singletons compared by identity: hash them so too (Enum's __hash__,
    # hash(self._name_), is a Python call, made for every set and TRANSITIONS lookup).
    __hash__ = object.__hash__

    # The user's calls (RFC 9293 §3.10.1–3.10.5).
    PASSIVE_OPEN = "passive OPEN"
    ACTIVE_OPEN = "active OPEN"
    CLOSE = "CLOSE"
    ABORT = "ABORT"
    # What arrives from the peer.
    RCV_SYN = "rcv SYN"
    RCV_SYN_ACK = "rcv SYN,ACK"
    RCV_ACK_OF_SYN = "rcv ACK of SYN"
    RCV_FIN = "rcv FIN"
    RCV_ACK_OF_FIN = "rcv ACK of FIN"
    RCV_RST = "rcv RST"
    # Timers.
    TIME_WAIT_TIMEOUT = "2·MSL timeout"
    GIVE_UP = "retransmissions given up"
    # The network.
    RCV_ICMP_UNREACHABLE = "rcv ICMP unreachable"

    def __str__(self) -> str:
        return self.value


_S = State
_E = Event

TRANSITIONS: Final[dict[tuple[State, Event], State]] = {
    # Opening: the three-way handshake (and the rare simultaneous open).
    (_S.CLOSED, _E.PASSIVE_OPEN): _S.LISTEN,
    (_S.CLOSED, _E.ACTIVE_OPEN): _S.SYN_SENT,
    (_S.LISTEN, _E.RCV_SYN): _S.SYN_RECEIVED,
    (_S.SYN_SENT, _E.RCV_SYN_ACK): _S.ESTABLISHED,
    (_S.SYN_SENT, _E.RCV_SYN): _S.SYN_RECEIVED,
    (_S.SYN_RECEIVED, _E.RCV_ACK_OF_SYN): _S.ESTABLISHED,
    # Closing first (active close): our FIN, then the peer's.
    (_S.ESTABLISHED, _E.CLOSE): _S.FIN_WAIT_1,
    (_S.SYN_RECEIVED, _E.CLOSE): _S.FIN_WAIT_1,
    (_S.FIN_WAIT_1, _E.RCV_ACK_OF_FIN): _S.FIN_WAIT_2,
    (_S.FIN_WAIT_2, _E.RCV_FIN): _S.TIME_WAIT,
    # Both closing at once (simultaneous close): the FINs cross.
    (_S.FIN_WAIT_1, _E.RCV_FIN): _S.CLOSING,
    (_S.CLOSING, _E.RCV_ACK_OF_FIN): _S.TIME_WAIT,
    (_S.TIME_WAIT, _E.TIME_WAIT_TIMEOUT): _S.CLOSED,
    # Closing second (passive close): the peer's FIN, then ours.
    (_S.ESTABLISHED, _E.RCV_FIN): _S.CLOSE_WAIT,
    (_S.CLOSE_WAIT, _E.CLOSE): _S.LAST_ACK,
    (_S.LAST_ACK, _E.RCV_ACK_OF_FIN): _S.CLOSED,
    # Giving up before the connection exists.
    (_S.LISTEN, _E.CLOSE): _S.CLOSED,
    (_S.SYN_SENT, _E.CLOSE): _S.CLOSED,
    # The network says the peer cannot be reached: an attempt to open ends at
    # once (RFC 1122 §4.2.3.9 allows it; Linux's tcp_v4_err does it). In a
    # synchronized state the error is only remembered (see icmp_error).
    (_S.SYN_SENT, _E.RCV_ICMP_UNREACHABLE): _S.CLOSED,
    (_S.SYN_RECEIVED, _E.RCV_ICMP_UNREACHABLE): _S.CLOSED,
    # Abrupt endings. A RST in SYN-RECEIVED sends a passively opened connection
    # back to LISTEN in RFC 9293; here the listener never left LISTEN (it
    # spawned this connection), so the connection simply closes.
    **{(state, _E.RCV_RST): _S.CLOSED for state in State if state not in (_S.CLOSED, _S.LISTEN)},
    **{(state, _E.ABORT): _S.CLOSED for state in State if state is not _S.CLOSED},
    **{
        (state, _E.GIVE_UP): _S.CLOSED
        for state in (
            _S.SYN_SENT,
            _S.SYN_RECEIVED,
            _S.ESTABLISHED,
            _S.FIN_WAIT_1,
            _S.CLOSE_WAIT,
            _S.CLOSING,
            _S.LAST_ACK,
        )
    },
}
"""Every state change of a connection: (state, event) → next state."""

ACCEPTS_SEND: Final = frozenset({_S.SYN_SENT, _S.SYN_RECEIVED, _S.ESTABLISHED, _S.CLOSE_WAIT})
"""States in which ``send()`` is allowed (before the handshake ends, data is queued)."""

SENDS_DATA: Final = frozenset(
    {_S.ESTABLISHED, _S.CLOSE_WAIT, _S.FIN_WAIT_1, _S.CLOSING, _S.LAST_ACK}
)
"""States in which our data and FIN may still go out, once our SYN is acknowledged."""

RECEIVES_DATA: Final = frozenset({_S.ESTABLISHED, _S.FIN_WAIT_1, _S.FIN_WAIT_2})
"""States in which the peer may still send data: it has not sent its FIN."""

RESET_ON_ABORT: Final = frozenset(
    {_S.SYN_RECEIVED, _S.ESTABLISHED, _S.FIN_WAIT_1, _S.FIN_WAIT_2, _S.CLOSE_WAIT}
)
"""States in which ``abort()`` tells the peer with a RST (RFC 9293 §3.10.5)."""
