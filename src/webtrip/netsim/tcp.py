"""TCP, as RFC 9293 describes it: one connection endpoint of the simulated network, sans-I/O.

Step 2 of a page load — "open a TCP connection and send the request" — and
step 3 — "the answer comes back cut into segments" — happen here. A
:class:`TcpConnection` turns the application's bytes into segments and the
peer's segments back into bytes, reliably and in order, over a network that
loses, duplicates and reorders packets. It never touches a socket, a clock or
a packet: it is driven from outside and answers through callbacks, so it runs
on the virtual-time loop of the simulation, in a test's own scheduler, or in
any other event loop.

The rest of TCP is in modules of one concept each: the state machine a
connection follows (states, events, the transition table, RFC 9293's
diagram) in :mod:`webtrip.netsim.tcp_state`; the retransmission timeout in
:mod:`webtrip.netsim.tcp_rtt`; data that arrived out of order in
:mod:`webtrip.netsim.tcp_reassembly`; the congestion window in
:mod:`webtrip.netsim.congestion`; a segment's bytes on the wire in
:mod:`webtrip.packets.tcp_segment`. This module is the connection itself:
what it does with each user call, arriving segment and timer.

How to drive it (the whole interface)
-------------------------------------

Construct ``TcpConnection(local_port, remote_port, emit=..., timers=...,
clock=..., rng=..., app=..., config=TcpConfig())``. Then:

* ``connect()`` (active OPEN) or ``listen()`` (passive OPEN; usually done for
  you by :class:`TcpListener`, which spawns one connection per SYN);
* ``segment_received(segment)`` for every :class:`TcpSegment` the IP layer
  delivers for this connection's address pair;
* ``send(data) -> int``: how many bytes the send buffer accepted (maybe fewer
  than offered — wait for ``app.on_writable()`` and offer the rest);
* ``close()``: a FIN after the queued data (half-close: receiving goes on);
  ``abort()``: a RST now, queued data dropped;
* ``pause_reading()`` / ``resume_reading()``: stop and restart ``on_data``; the
  unread bytes fill the receive buffer and shrink the window the peer sees —
  TCP's flow control;
* ``timer_expired(name)`` when a timer fires (the callback passed to
  ``Timers.set_timer`` does exactly that);
* ``icmp_error(seq, errno, ends_half_open=...)`` and ``mtu_reduced(seq, mss)`` when an ICMP error
  quotes one of the connection's segments (the owner finds the connection
  by the quoted addresses and ports).

The connection talks back only through what it was given:

* ``emit(segment)`` — hand a segment to the IP layer (which adds the
  addresses, computes the checksum with :meth:`TcpSegment.encode` and sends
  it). It must not deliver anything back into this connection synchronously;
* ``timers`` — a :class:`Timers`: ``set_timer(name, delay, expired)`` arms or
  re-arms one of the three timers of :class:`Timer`, ``cancel_timer(name)``
  stops it. :class:`~webtrip.netsim.stream.LoopTimers` implements it on any
  ``call_later`` loop;
* ``clock()`` — the time in seconds, for round-trip measurements;
* ``rng`` — a seeded :class:`random.Random`, for the initial sequence number;
* ``app`` — a :class:`TcpApplication`, told ``on_established()``,
  ``on_data(bytes)``, ``on_eof()``, ``on_writable()``, ``on_closed(reason)``
  and, for traces, ``on_state_change(old, new, event)``. Notifications are
  queued and given only once the connection has finished reacting to the
  call or segment that caused them, so the application may call back into
  the connection from any of them.

The owner of the connection (the host) finds it by its address pair, sends a
segment that no connection or listener claims to :func:`reset_for`, and
forgets the connection once it is CLOSED (``on_closed``). Counters for ``tcp_info()``
are in :attr:`TcpConnection.counters`, :attr:`~TcpConnection.rtt`,
:attr:`~TcpConnection.congestion` and :attr:`~TcpConnection.send_mss`.

What it implements: the handshake, with the MSS and window scale options;
segmentation into MSS-sized segments; cumulative acknowledgments; the receive
window (free buffer space, without silly-window announcements) and the
sliding send window, min(cwnd, peer's window); retransmission on a timer
(RFC 6298: SRTT, RTTVAR, Karn's algorithm, exponential backoff); fast
retransmit and fast recovery (through :mod:`webtrip.netsim.congestion`);
reassembly of out-of-order data; FIN teardown and TIME-WAIT; RST for what
cannot belong to a connection (RFC 9293 §3.10.7, with RFC 5961's challenge
ACKs); zero-window probing; and what ICMP errors tell (``icmp_error``,
``mtu_reduced``: an unreachable peer ends an attempt to connect, path MTU
discovery lowers the MSS). Not implemented: urgent data, delayed ACKs,
Nagle's algorithm (off, as most servers set it), SACK, timestamps, ECN,
limited transmit, keep-alives, a FIN-WAIT-2 timeout, RFC 6069's RTO revert
on ICMP errors, probing whether the path MTU has grown (RFC 1191 §6.3).

Simulation defaults to know (all in :class:`TcpConfig`): the RTO starts at 1 s
and never goes below ``min_rto`` = 1 s, as RFC 6298 says (Linux uses 200 ms;
a lab with short links may lower it); the maximum segment lifetime ``msl`` is
30 s, so TIME-WAIT lasts 60 s, as on Linux (RFC 9293 suggests 2 minutes).
"""

from __future__ import annotations

import enum
import errno
import functools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from webtrip.netsim.congestion import CongestionControl, NewReno
from webtrip.netsim.tcp_reassembly import ReassemblyQueue
from webtrip.netsim.tcp_rtt import RttEstimator
from webtrip.netsim.tcp_state import (
    ACCEPTS_SEND,
    RECEIVES_DATA,
    RESET_ON_ABORT,
    SENDS_DATA,
    TRANSITIONS,
    Event,
    State,
)
from webtrip.packets.tcp_segment import Flags, TcpSegment, segment_in_range

# ---------------------------------------------------------------------------
# Sequence numbers
# ---------------------------------------------------------------------------
#
# Sequence numbers are 32 bits on the wire and wrap around. Inside, this
# module keeps them as plain growing integers ("unwrapped") and reduces them
# modulo 2**32 only when writing a segment; a received number is unwrapped to
# the value nearest the one expected (see _unwrap). So comparisons read as
# ordinary arithmetic, where RFC 9293 writes modular comparisons.

SEQ_SPACE: Final = 2**32
# The control bits as plain ints, for the paths every segment takes: ``bits & _ACK``
# on ``segment.flags._value_`` costs a quarter of ``Flags.ACK in segment.flags``.
_FIN: Final = int(Flags.FIN)
_SYN: Final = int(Flags.SYN)
_RST: Final = int(Flags.RST)
_ACK: Final = int(Flags.ACK)
DEFAULT_MSS: Final = 536  # RFC 9293 §3.7.1: what to assume when a SYN has no MSS option
# At most one answer per this many seconds to a peer's repeated SYN (Linux's
# tcp_invalid_ratelimit, 500 ms): a flood of copies gets no flood of SYN,ACKs.
SYN_ACK_RESEND_INTERVAL: Final = 0.5
MAX_WINDOW_FIELD: Final = 0xFFFF


class CloseReason(enum.Enum):
    """Why a connection reached CLOSED."""

    CLOSED = "closed"  # both FINs sent and acknowledged, or closed before the handshake
    REFUSED = "connection refused"  # a RST answered our SYN: nobody listens there
    RESET = "connection reset by peer"
    TIMEOUT = "retransmissions timed out"
    ABORTED = "aborted"  # this side called abort()
    UNREACHABLE = "destination unreachable"  # an ICMP error ended the opening: see error

    def __str__(self) -> str:
        return self.value


class TcpError(ConnectionError):
    """A call the connection cannot honour in its state (RFC 9293 §3.10's "error: ...")."""


class Timer(enum.Enum):
    """The timers a connection runs, at most one of each at a time."""

    # Members are singletons compared by identity: hash them so too (Enum's __hash__,
    # hash(self._name_), is a Python call, made for every set and dict lookup).
    __hash__ = object.__hash__

    RETRANSMISSION = "retransmission"  # RFC 6298: resend the oldest unacknowledged segment
    PERSIST = "persist"  # RFC 9293 §3.8.6.1: probe a zero window
    TIME_WAIT = "time-wait"  # 2·MSL in TIME-WAIT


class Timers(Protocol):
    """Where a connection's timers run."""

    def set_timer(self, name: Timer, delay: float, expired: Callable[[], None]) -> None:
        """Call ``expired()`` after ``delay`` seconds, replacing any pending timer ``name``."""

    def cancel_timer(self, name: Timer) -> None:
        """Stop the timer ``name`` if it is pending."""


class TcpApplication:
    """What a connection tells its user — the application. Override what you need."""

    def on_established(self) -> None:
        """The handshake is complete: data can flow both ways."""

    def on_data(self, data: bytes) -> None:
        """The next bytes of the peer's stream, in order, each exactly once."""

    def on_eof(self) -> None:
        """The peer sent its FIN: it will send no more (comes after all its data)."""

    def on_writable(self) -> None:
        """The send buffer has room again, after ``send()`` accepted less than offered."""

    def on_closed(self, reason: CloseReason) -> None:
        """The connection reached CLOSED; nothing more will happen on it."""

    def on_state_change(self, old: State, new: State, event: Event) -> None:
        """The state changed (for traces and teaching)."""


@dataclass(frozen=True, slots=True)
class TcpConfig:
    """A connection's knobs; the defaults follow the RFCs (times in seconds, sizes in bytes)."""

    mss: int = 1460
    """The largest segment we accept, announced in our SYN: Ethernet's 1500 − 20 (IP) − 20 (TCP)."""
    send_buffer: int = 128 * 1024
    receive_buffer: int = 128 * 1024
    window_scaling: bool = True
    """Offer RFC 7323's window scale option, so the window can exceed 64 KiB."""
    initial_rto: float = 1.0  # RFC 6298 §2.1
    min_rto: float = 1.0  # RFC 6298 §2.4 (Linux: 0.2)
    max_rto: float = 60.0  # RFC 6298 §2.5
    clock_granularity: float = 0.001  # G of RFC 6298: the virtual clock is exact
    max_retransmissions: int = 15
    """Timeouts in a row for one segment before the connection is given up (Linux: 15)."""
    msl: float = 30.0
    """Maximum segment lifetime: TIME-WAIT lasts 2·MSL."""
    congestion: Callable[[int], CongestionControl] = NewReno
    """Makes the congestion-control policy, given the MSS, once the handshake is done."""

    def __post_init__(self) -> None:
        if not 1 <= self.mss <= 0xFFFF:
            raise ValueError(f"the MSS must be between 1 and 65535 bytes, not {self.mss}")
        if self.send_buffer < 1 or self.receive_buffer < 1:
            raise ValueError("the send and receive buffers must hold at least one byte")
        if self.receive_buffer > MAX_WINDOW_FIELD << 14:
            raise ValueError("the receive buffer cannot exceed what window scaling can announce")
        if not 0 < self.min_rto <= self.initial_rto <= self.max_rto:
            raise ValueError("the RTO bounds must satisfy 0 < min_rto <= initial_rto <= max_rto")


@dataclass(slots=True)
class TcpCounters:
    """What a connection counts, named as Linux's TCP_INFO (for ``Stream.tcp_info()``)."""

    segments_out: int = 0
    segments_in: int = 0
    data_segments_out: int = 0
    data_segments_in: int = 0
    retransmissions: int = 0
    bytes_acked: int = 0
    bytes_received: int = 0


def _unwrap(wire: int, near: int) -> int:
    """The sequence number whose low 32 bits are ``wire`` and which lies nearest ``near``."""
    delta = (wire - near) % SEQ_SPACE
    if delta >= SEQ_SPACE // 2:
        delta -= SEQ_SPACE
    return near + delta


def _window_shift_for(buffer: int) -> int:
    """The smallest window scale shift that lets the 16-bit field announce ``buffer`` bytes."""
    shift = 0
    while buffer >> shift > MAX_WINDOW_FIELD:
        shift += 1
    return shift


class TcpConnection:
    """One endpoint of a TCP connection: its state, its two byte streams, its timers.

    The attributes named as in RFC 9293 §3.3.1 are the sequence variables
    (unwrapped: see "Sequence numbers" at the top of this module): ``snd_una``
    (oldest unacknowledged), ``snd_nxt`` (next to send), ``snd_wnd`` (peer's
    window, in bytes), ``iss``; ``rcv_nxt`` (next expected), ``irs``. ``snd_max`` is
    one past the highest sequence number ever sent — what RFC 9293 calls
    SND.NXT, since there a retransmission never moves SND.NXT. Here, after a
    timeout, ``snd_nxt`` goes back to resend what followed the lost segment
    (as BSD does) while ``snd_max`` stays.
    """

    def __init__(
        self,
        local_port: int,
        remote_port: int,
        *,
        emit: Callable[[TcpSegment], None],
        timers: Timers,
        clock: Callable[[], float],
        rng: random.Random,
        app: TcpApplication | None = None,
        config: TcpConfig | None = None,
    ) -> None:
        self.local_port = local_port
        self.remote_port = remote_port
        self.config = config or TcpConfig()
        self.app = app or TcpApplication()
        self.timers = timers
        self._emit_segment = emit
        self._clock = clock
        self._rng = rng

        self.state = State.CLOSED
        self.close_reason: CloseReason | None = None
        # What ICMP said (as errno values, like Linux's sk_err and sk_err_soft).
        self.error: int | None = None
        """The error that ended the opening, when the reason is UNREACHABLE."""
        self.soft_error: int | None = None
        """The last error ICMP reported on the open connection; told only on a timeout."""
        self.counters = TcpCounters()
        self.rtt = RttEstimator(self.config)
        self.congestion: CongestionControl = self.config.congestion(self.config.mss)

        # Send sequence space: [snd_una, snd_nxt) is in flight, the send buffer
        # holds every byte not yet acknowledged, the first at _send_buffer_seq.
        self.iss = self.snd_una = self.snd_nxt = self.snd_max = 0
        self.snd_wnd = self.snd_wl1 = self.snd_wl2 = 0
        self.send_mss = DEFAULT_MSS
        self._path_mss: int | None = None  # the largest segment the path takes (RFC 1191)
        # The largest segment this connection may still have in flight unrepaired: its
        # size before the first limit, then the size it last resent at for an ICMP
        # "fragmentation needed" (Linux's icsk_pmtu_cookie). None: never limited.
        self._pmtu_cookie: int | None = None
        self._syn_ack_resent_at: float | None = None  # answering a repeated SYN, last time
        self._max_snd_wnd = 0
        self._send_buffer = bytearray()
        self._send_buffer_seq = 0
        self._fin_queued = False
        self._writer_blocked = False  # on_writable is owed
        self._more_to_come = False  # the last send() did not fit: more data is on its way

        # Receive sequence space: rcv_nxt is the next byte expected; bytes
        # before it wait in _received until the application reads them.
        self.irs = self.rcv_nxt = 0
        self._received = bytearray()
        self._out_of_order = ReassemblyQueue()
        self._rcv_adv = 0  # right edge of the window last announced
        self._peer_fin_seq: int | None = None
        self._eof_received = False
        self._eof_delivered = False
        self._reading_paused = False
        self._ack_pending = False

        # Options agreed in the handshake.
        self._peer_window_scale: int | None = None
        self._snd_wscale = 0  # the peer's shift: its window fields are multiplied by 2**this
        self._rcv_wscale = 0  # our shift: our window fields are divided by 2**this

        # Timers and retransmission.
        self._running_timers: set[Timer] = set()
        self._retransmissions_in_a_row = 0
        self._persist_backoff = 0
        self._rtt_timed: tuple[int, float] | None = None  # (ACK that ends it, time sent)
        self._syn_retransmitted = False
        self._opened = False
        self._passive = False

        self._notifications: deque[Callable[[], None]] = deque()
        self._notifying = False
        self._fields_checked = False  # one segment was made with TcpSegment's range checks

    def __repr__(self) -> str:
        return f"<TcpConnection {self.local_port}→{self.remote_port} {self.state}>"

    # ------------------------------------------------------------------ user calls

    def connect(self) -> None:
        """Active OPEN: send a SYN (CLOSED → SYN-SENT)."""
        self._open()
        self._choose_iss()
        self._transition(Event.ACTIVE_OPEN)
        self._send_syn()
        self._set_timer(Timer.RETRANSMISSION, self.rtt.rto)
        self._notify_app()

    def listen(self) -> None:
        """Passive OPEN: wait for a SYN (CLOSED → LISTEN)."""
        self._open()
        self._passive = True
        self._transition(Event.PASSIVE_OPEN)
        self._notify_app()

    def send(self, data: bytes) -> int:
        """Queue bytes for the peer; returns how many the send buffer accepted.

        When fewer than offered were accepted, ``app.on_writable()`` says when
        to offer the rest. Raises TcpError if this side has closed, or the
        connection is gone.
        """
        if self.state not in ACCEPTS_SEND:
            raise TcpError(self._why_not_open())
        accepted = min(len(data), self.send_space)
        self._send_buffer += data[:accepted]
        self._writer_blocked = self._more_to_come = accepted < len(data)
        self._output()
        self._notify_app()
        return accepted

    @property
    def send_space(self) -> int:
        """How many more bytes ``send()`` would accept now."""
        return self.config.send_buffer - len(self._send_buffer)

    def close(self) -> None:
        """CLOSE: no more data from us — the queued data, then a FIN, go out.

        Receiving goes on until the peer closes too. Closing again, or a
        closed connection, does nothing.
        """
        if (self.state, Event.CLOSE) not in TRANSITIONS:
            return
        if TRANSITIONS[self.state, Event.CLOSE] is not State.CLOSED:
            self._fin_queued = True
            self._more_to_come = False
        self._transition(Event.CLOSE)
        self._output()
        self._notify_app()

    def abort(self) -> None:
        """ABORT: drop everything and send a RST to the peer if it has one."""
        if self.state is State.CLOSED:
            return
        if self.state in RESET_ON_ABORT:
            self._emit(self._segment(self.snd_max, Flags.RST))
        self._transition(Event.ABORT, CloseReason.ABORTED)
        self._notify_app()

    def pause_reading(self) -> None:
        """Stop ``on_data``: arriving bytes wait in the receive buffer and close the window."""
        self._reading_paused = True

    def resume_reading(self) -> None:
        """Deliver what waited, and tell the peer that the window has opened again."""
        if not self._reading_paused:
            return
        self._reading_paused = False
        self._deliver()
        window_grew = self._receive_window() > self._rcv_adv - self.rcv_nxt
        if self.state in RECEIVES_DATA and window_grew:
            self._send_ack()  # a window update
        self._notify_app()

    def timer_expired(self, name: Timer) -> None:
        """A timer set through ``timers`` has fired (a cancelled one is ignored)."""
        if name not in self._running_timers:
            return
        self._running_timers.discard(name)
        if name is Timer.RETRANSMISSION:
            self._retransmission_timeout()
        elif name is Timer.PERSIST:
            self._persist_timeout()
        else:
            self._transition(Event.TIME_WAIT_TIMEOUT)
        self._notify_app()

    # ----------------------------------------------------------- segment arrives

    def segment_received(self, segment: TcpSegment) -> None:
        """Process one segment from the peer (RFC 9293 §3.10.7, "SEGMENT ARRIVES")."""
        self.counters.segments_in += 1
        if segment.payload:
            self.counters.data_segments_in += 1
        if self.state is State.CLOSED:
            reply = reset_for(segment)
            if reply is not None:
                self._emit(reply)
        elif self.state is State.LISTEN:
            self._arrives_in_listen(segment)
        elif self.state is State.SYN_SENT:
            self._arrives_in_syn_sent(segment)
        else:
            self._arrives_otherwise(segment)
        self._notify_app()

    def _arrives_in_listen(self, segment: TcpSegment) -> None:
        """RFC 9293 §3.10.7.2: only a SYN is of interest; an ACK cannot be, so RST it."""
        if Flags.RST in segment.flags:
            return
        if Flags.ACK in segment.flags:
            self._emit(_reset_acknowledging(segment))
            return
        if Flags.SYN not in segment.flags:
            return
        self._learn_peer_syn(segment)
        self._choose_iss()
        self._transition(Event.RCV_SYN)
        self._send_syn()
        self._set_timer(Timer.RETRANSMISSION, self.rtt.rto)

    def _arrives_in_syn_sent(self, segment: TcpSegment) -> None:
        """RFC 9293 §3.10.7.3: we sent a SYN and wait for the peer's."""
        ack: int | None = None
        if Flags.ACK in segment.flags:
            ack = _unwrap(segment.ack, self.snd_una)
            if not self.iss < ack <= self.snd_max:
                if Flags.RST not in segment.flags:
                    self._emit(_reset_acknowledging(segment))  # not an answer to our SYN
                return
        if Flags.RST in segment.flags:
            if ack is not None:  # the peer refuses the connection our SYN asked for
                self._reset(CloseReason.REFUSED)
            return
        if Flags.SYN not in segment.flags:
            return
        self._learn_peer_syn(segment)
        if ack is not None:
            self._syn_acknowledged(segment, segment.seq, ack)
            self._transition(Event.RCV_SYN_ACK)
            self._send_ack()
            self._output()
        else:
            self._transition(Event.RCV_SYN)  # both sides sent a SYN at once
            self._send_syn()

    def _arrives_otherwise(self, segment: TcpSegment) -> None:
        """RFC 9293 §3.10.7.4 ("Other States"): SYN-RECEIVED and every synchronized state.

        The RFC checks a segment in eight steps, in order; each may answer it,
        drop it, or let it go on. Here is where each step is done, and what is
        done differently.

        Before the RFC's steps, two checks that Linux makes too:

        * In TIME-WAIT, a FIN (without RST), whatever its sequence number: the
          peer's FIN again, so our last ACK was lost. Acknowledge it and restart
          the 2·MSL timer — the RFC's fifth and eighth steps for TIME-WAIT, done
          first, because a resent FIN lies before RCV.NXT and step 1 would only
          acknowledge it (Linux's tcp_timewait_state_process restarts the timer).
        * In SYN-RECEIVED, the peer's SYN again (no ACK, no RST, SEG.SEQ = IRS):
          our SYN,ACK was lost; :meth:`_resend_syn_ack` sends it again, at most
          once per :data:`SYN_ACK_RESEND_INTERVAL` (tcp_oow_rate_limited), and
          else drops the SYN. Step 1 would answer with a bare ACK.

        Then the RFC's steps:

        1. *Check the sequence number* — :meth:`_acceptable`, the RFC's four
           cases, with RCV.WND the free room in the receive buffer
           (:meth:`_receive_space`). A segment that is not acceptable: a RST is
           dropped silently; with the window at zero, a segment with ACK (and no
           SYN) still has its ACK field processed by :meth:`_check_ack` — the RFC's
           allowance for valid ACKs — and if that step lets it go on, it is
           answered like any other: an ACK (:meth:`_send_ack`) telling what we
           expect, and dropped. An acceptable segment that starts beyond RCV.NXT
           goes on: its ACK field counts at once, its data waits (step 7).
        2. *Check the RST bit* — as the RFC takes it from RFC 5961 §3.2: SEG.SEQ =
           RCV.NXT resets the connection (:meth:`_reset`, why in :meth:`_reset_reason`);
           anywhere else in the window, a challenge ACK. In SYN-RECEIVED after a
           passive OPEN the RFC returns to LISTEN; here the listener never left
           LISTEN (it spawned this connection), so the connection closes.
        3. *Check security* — skipped: the simulated IP carries no
           security/compartment to compare (Linux ignores this step too).
        4. *Check the SYN bit* — a SYN in the window gets a challenge ACK and is
           dropped (RFC 5961 §4.2); one outside it got the same ACK in step 1.
           In SYN-RECEIVED after a passive OPEN the RFC returns to LISTEN
           instead; here it is challenged like the synchronized states.
        5. *Check the ACK field* — a segment without the ACK bit is dropped;
           else :meth:`_check_ack`. While our SYN is unacknowledged
           (SYN-RECEIVED): an ACK of it completes the handshake (ESTABLISHED),
           any other gets a RST <SEQ=SEG.ACK>. Then: an ACK beyond SND.NXT is
           answered with an ACK and dropped; new data acknowledged
           (:meth:`_new_ack`: RTT sample, congestion window, retransmission
           timer); a duplicate ACK counted for fast retransmit
           (:meth:`_is_duplicate_ack`, RFC 5681); the send window updated
           (:meth:`_update_send_window`); our FIN acknowledged (FIN-WAIT-1 →
           FIN-WAIT-2, CLOSING → TIME-WAIT, LAST-ACK → CLOSED, which ends the
           processing). Skipped: RFC 5961 §5's lower bound (SND.UNA −
           MAX.SND.WND ≤ SEG.ACK): an ACK below SND.UNA does not drop its
           segment; it is only ignored.
        6. *Check the URG bit* — skipped: no urgent data (RFC 6093 advises new
           applications against it). The URG bit and the urgent pointer are
           ignored; urgent bytes arrive as ordinary data.
        7. *Process the segment text* — :meth:`_receive`, in ESTABLISHED,
           FIN-WAIT-1 and FIN-WAIT-2 (:data:`RECEIVES_DATA`; in the other states
           the peer has sent its FIN, and the text is ignored): cut to the
           window, delivered in order, or kept in the :class:`ReassemblyQueue`
           after a gap. The ACK rides on the next segment :meth:`_output` sends,
           or goes alone at once: no delayed ACKs.
        8. *Check the FIN bit* — in :meth:`_receive` too. The FIN counts once
           RCV.NXT reaches it (after any gap is filled): RCV.NXT passes it, the
           application gets its end of file after the data, and RCV_FIN leads
           from ESTABLISHED to CLOSE-WAIT, FIN-WAIT-1 to CLOSING, FIN-WAIT-2 to
           TIME-WAIT. A FIN again in CLOSE-WAIT, CLOSING or LAST-ACK lies before
           RCV.NXT: step 1 acknowledges it.

        Not done, where Linux does more: no PAWS check before step 1 (no
        timestamps); no rate limit on the ACKs of steps 1, 2 and 4 (RFC 5961
        §7; Linux's tcp_oow_rate_limited and challenge-ACK limit) — only the
        resent SYN,ACK above is limited. ICMP errors never come this way: they
        go to :meth:`icmp_error` and :meth:`mtu_reduced`, believed only if they
        quote a sequence number from SND.UNA to SND.NXT (RFC 5927 §4.1, as
        Linux's tcp_v4_err).
        """
        flags = segment.flags._value_
        seq = _unwrap(segment.seq, self.rcv_nxt)
        # Before the RFC's steps: the peer's FIN or SYN again.
        if self.state is State.TIME_WAIT and flags & _FIN and not flags & _RST:
            # Only a retransmitted FIN can come now: our last ACK was lost.
            self._send_ack()
            self._set_timer(Timer.TIME_WAIT, 2 * self.config.msl)
            return
        if (
            self.state is State.SYN_RECEIVED
            and flags & (_SYN | _ACK | _RST) == _SYN
            and seq == self.irs
        ):
            self._resend_syn_ack()  # the peer's SYN again: our SYN,ACK was lost
            return
        # First, is the segment within the window we are receiving?
        seg_len = len(segment.payload) + (1 if flags & _SYN else 0) + (1 if flags & _FIN else 0)
        if not self._acceptable(seq, seg_len):
            if flags & _RST:
                return
            # A full receive window still lets acknowledgments in (RFC 9293).
            ack_only = flags & _ACK and not flags & _SYN
            if self._receive_space() == 0 and ack_only and not self._check_ack(segment, seq):
                return
            self._send_ack()  # tells the peer what we do expect
            return
        # Second, a RST ends the connection only if it is exactly where we expect.
        if flags & _RST:
            if seq == self.rcv_nxt:
                self._reset(self._reset_reason())
            else:
                self._send_ack()  # a "challenge ACK" (RFC 5961 §3.2): a real peer answers
            return
        # Third, security: not checked (see the docstring).
        # Fourth, a SYN inside a connection: challenge it too (RFC 5961 §4.2).
        if flags & _SYN:
            self._send_ack()
            return
        # Fifth, the acknowledgment: what of our data has arrived.
        if not flags & _ACK or not self._check_ack(segment, seq):
            return
        # Sixth, urgent data: none. Seventh and eighth, the data and the FIN.
        if self.state in RECEIVES_DATA:
            self._receive(seq, segment.payload, fin=bool(flags & _FIN))
        self._output()
        if self._ack_pending:
            self._send_ack()

    # ------------------------------------------------------ the network's errors

    def icmp_error(self, seq: int, error: int, *, ends_half_open: bool) -> bool:
        """ICMP says that our segment numbered ``seq`` (as quoted: 32 bits) met an error.

        ``error`` is the errno its owner made of the ICMP message, as Linux's
        icmp_err_convert does: ENETUNREACH for "net unreachable", EHOSTUNREACH
        for "host unreachable" or "time exceeded", ECONNREFUSED for "port
        unreachable"... What TCP does with it (RFC 1122 §4.2.3.9, RFC 5461, and
        Linux's tcp_v4_err):

        * nothing, unless the quoted sequence number is one we sent and is not
          yet acknowledged — SND.UNA ≤ seq ≤ SND.NXT (RFC 5927 §4.1): a forged
          or stale ICMP message must not end a connection;
        * while we open (SYN-SENT, or SYN-RECEIVED in a simultaneous open), the
          attempt ends at once with ``error``: the peer cannot be reached, and
          the SYN's retransmissions would only delay the news;
        * a half-open passive connection (SYN-RECEIVED after the peer's SYN) is
          forgotten quietly if ``ends_half_open`` — the ICMP message said net or
          host unreachable or time exceeded, as Linux's tcp_req_err is told (not
          an administrative filter: the SYN-ACK may find another way) — nobody
          waits on it to be told;
        * in a synchronized state the trouble may pass (a route that flaps), so
          the error is only remembered in ``soft_error`` and reported if the
          connection times out after all.

        Returns whether the error was believed (its sequence number checked out).
        """
        if not self._quotes_unacknowledged(seq):
            return False
        opening = self.state is State.SYN_SENT or (
            self.state is State.SYN_RECEIVED and not self._passive
        )
        half_open = self.state is State.SYN_RECEIVED and self._passive
        if opening or (half_open and ends_half_open):
            self.error = error
            self._received.clear()
            self._transition(Event.RCV_ICMP_UNREACHABLE, CloseReason.UNREACHABLE)
        elif not half_open:
            self.soft_error = error
        self._notify_app()
        return True

    def mtu_reduced(self, seq: int, mss: int) -> bool:
        """ICMP "fragmentation needed" for our segment at ``seq``: the path takes ``mss`` at most.

        Path MTU discovery (RFC 1191, RFC 1122 §4.2.3.9): our datagrams carry
        "don't fragment"; a router whose next link is too small for one drops
        it and reports the link's MTU, of which the owner makes ``mss``. The
        segments in flight were all lost, without any congestion: as Linux's
        tcp_v4_mtu_reduced and tcp_simple_retransmit, TCP sends smaller
        segments from now on and resends at once, from the oldest
        unacknowledged byte, leaving cwnd and ssthresh alone. A report of a
        segment size no smaller than the one in use changes nothing (RFC 1191
        §3: the path MTU only grows by probing, which is not done here).

        Returns whether the report was believed: the quoted sequence number
        must be an unacknowledged one, as in :meth:`icmp_error`. (Then the
        owner may tell the other connections to the same peer, with
        :meth:`limit_segment_size`, as Linux keeps the path MTU in the route.)
        """
        if mss < 1 or not self._quotes_unacknowledged(seq):
            return False
        self.limit_segment_size(mss)  # perhaps already done: another connection's news
        cookie = self._pmtu_cookie
        if cookie is not None and mss < cookie:
            # Segments larger than ``mss`` may be in flight: resend them smaller, once
            # for this size (the reports for the others in flight change nothing).
            self._pmtu_cookie = mss
            self.soft_error = errno.EMSGSIZE  # Linux too: told if the connection still times out
            if (
                self.state in SENDS_DATA
                and self.snd_una != self.iss
                and self.snd_max > self.snd_una
            ):
                self._rtt_timed = None  # Karn: what is resent measures nothing certain
                self.snd_nxt = self.snd_una
                self._output()
                self._set_timer(Timer.RETRANSMISSION, self.rtt.rto)
        self._notify_app()
        return True

    def limit_segment_size(self, mss: int) -> bool:
        """The path to the peer takes segments of ``mss`` bytes at most: send none larger.

        For segments still to be sent (what is in flight is left to the
        retransmission timer). Returns True if this makes the segments smaller.
        """
        if mss < 1 or (self._path_mss is not None and mss >= self._path_mss):
            return False
        self._path_mss = mss
        if mss >= self.send_mss:
            return False
        if self._pmtu_cookie is None:
            self._pmtu_cookie = self.send_mss
        self.send_mss = mss
        self.congestion.mss = min(self.congestion.mss, mss)
        return True

    def _quotes_unacknowledged(self, seq: int) -> bool:
        """Is ``seq`` (32 bits) the number of something we sent and is not acknowledged yet?"""
        if self.state in (State.CLOSED, State.LISTEN):
            return False
        seq = _unwrap(seq, self.snd_una)
        return self.snd_una <= seq <= self.snd_max

    def _acceptable(self, seq: int, seg_len: int) -> bool:
        """RFC 9293 §3.10.7.4's four cases: does any of the segment fall in the window?"""
        window = self._receive_space()
        if seg_len == 0:
            if window == 0:
                return seq == self.rcv_nxt
            return self.rcv_nxt <= seq < self.rcv_nxt + window
        if window == 0:
            return False
        last = seq + seg_len - 1
        return (
            self.rcv_nxt <= seq < self.rcv_nxt + window
            or self.rcv_nxt <= last < self.rcv_nxt + window
        )

    def _check_ack(self, segment: TcpSegment, seq: int) -> bool:
        """The ACK field (fifth step). Returns False when the segment must go no further."""
        ack = _unwrap(segment.ack, self.snd_una)
        if self.snd_una == self.iss:  # our SYN is not yet acknowledged (SYN-RECEIVED)
            if not self.snd_una < ack <= self.snd_max:
                self._emit(_reset_acknowledging(segment))
                return False
            self._syn_acknowledged(segment, seq, ack)
            if (self.state, Event.RCV_ACK_OF_SYN) in TRANSITIONS:
                self._transition(Event.RCV_ACK_OF_SYN)
        if ack > self.snd_max:
            self._send_ack()  # it acknowledges something we never sent
            return False
        window = segment.window << self._snd_wscale
        if ack > self.snd_una:
            self._new_ack(ack)
        elif ack == self.snd_una and self._is_duplicate_ack(segment, window):
            self._duplicate_ack()
        self._update_send_window(seq, ack, window)
        if self._fin_queued and self.snd_una > self._data_end:
            if (self.state, Event.RCV_ACK_OF_FIN) in TRANSITIONS:
                self._transition(Event.RCV_ACK_OF_FIN)
            if self.state is State.CLOSED:
                return False
        return True

    def _new_ack(self, ack: int) -> None:
        """Bytes up to ``ack`` arrived: free them, measure, grow cwnd, restart the timer."""
        newly_acked = ack - self.snd_una
        rtt = self._take_rtt_sample(ack)
        self.snd_una = ack
        self.snd_nxt = max(self.snd_nxt, ack)
        acked_data = min(ack, self._data_end) - self._send_buffer_seq
        if acked_data > 0:
            del self._send_buffer[:acked_data]
            self._send_buffer_seq += acked_data
            self.counters.bytes_acked += acked_data
        self._retransmissions_in_a_row = 0
        flight_size = self.snd_max - ack
        if self.congestion.on_ack(newly_acked, rtt, ack=ack, flight_size=flight_size):
            self._retransmit_first_unacked()  # a partial ACK in fast recovery
        if self.snd_una == self.snd_max:
            self._cancel_timer(Timer.RETRANSMISSION)  # RFC 6298 §5.2
        else:
            self._set_timer(Timer.RETRANSMISSION, self.rtt.rto)  # RFC 6298 §5.3
        if self._writer_blocked and self.send_space > 0:
            self._writer_blocked = False
            self._notify(self.app.on_writable)

    def _is_duplicate_ack(self, segment: TcpSegment, window: int) -> bool:
        """RFC 5681 §2: nothing new acknowledged, data outstanding, no data, SYN or FIN,
        the same window — and a window open (a zero-window probe's answer is no signal)."""
        return (
            self.snd_max > self.snd_una
            and not segment.payload
            and not segment.flags._value_ & (_SYN | _FIN)
            and window == self.snd_wnd
            and self.snd_wnd > 0
        )

    def _duplicate_ack(self) -> None:
        if self.congestion.on_duplicate_ack(
            ack=self.snd_una, flight_size=self.snd_max - self.snd_una, high_sent=self.snd_max
        ):
            self._retransmit_first_unacked()  # fast retransmit

    def _update_send_window(self, seq: int, ack: int, window: int) -> None:
        """Take the peer's window from the newest segment only (SND.WL1/SND.WL2 of RFC 9293)."""
        newer = self.snd_wl1 < seq or (self.snd_wl1 == seq and self.snd_wl2 <= ack)
        if self.snd_una <= ack <= self.snd_max and newer:
            self.snd_wnd = window
            self.snd_wl1 = seq
            self.snd_wl2 = ack
            self._max_snd_wnd = max(self._max_snd_wnd, window)

    def _receive(self, seq: int, payload: bytes, *, fin: bool) -> None:
        """Take in the segment's data and FIN (seventh and eighth steps)."""
        fin_seq = seq + len(payload)
        if seq < self.rcv_nxt:  # the front was received before
            payload = payload[self.rcv_nxt - seq :]
            seq = self.rcv_nxt
        limit = self.rcv_nxt + self._receive_space()
        if seq + len(payload) > limit:  # the tail is beyond the window: drop it, and any FIN
            payload = payload[: max(limit - seq, 0)]
            fin = False
        if payload:
            self._ack_pending = True
            if seq == self.rcv_nxt:
                if self._out_of_order:
                    payload += self._out_of_order.take_from(seq + len(payload))
                self._append_received(payload)
            else:
                self._out_of_order.add(seq, payload)
        if fin:
            self._peer_fin_seq = fin_seq
            self._ack_pending = True
        if self._peer_fin_seq is not None and self._peer_fin_seq == self.rcv_nxt:
            self.rcv_nxt += 1  # the FIN takes one sequence number
            self._peer_fin_seq = None
            self._eof_received = True
            self._transition(Event.RCV_FIN)
        self._deliver()

    def _append_received(self, data: bytes) -> None:
        self._received += data
        self.rcv_nxt += len(data)
        self.counters.bytes_received += len(data)

    def _deliver(self) -> None:
        """Hand the in-order bytes, then the end of stream, to the application."""
        if self._reading_paused:
            return
        if self._received:
            data = bytes(self._received)
            self._received.clear()
            self._notify(self.app.on_data, data)
        if self._eof_received and not self._eof_delivered:
            self._eof_delivered = True
            self._notify(self.app.on_eof)

    # --------------------------------------------------------------- handshake

    def _open(self) -> None:
        if self._opened:
            raise TcpError("this connection was opened before; open a new one")
        self._opened = True

    def _choose_iss(self) -> None:
        """The initial send sequence number: random, so that old segments and
        blind attackers cannot guess it (RFC 9293 §3.4.1, RFC 6528)."""
        self.iss = self._rng.getrandbits(32)
        self.snd_una = self.snd_nxt = self.snd_max = self.iss
        self._send_buffer_seq = self.iss + 1

    def _learn_peer_syn(self, segment: TcpSegment) -> None:
        """What a SYN tells: the peer's ISN, the largest segment it takes, its window scale."""
        self.irs = segment.seq
        self.rcv_nxt = self._rcv_adv = self.irs + 1
        self.send_mss = min(segment.mss or DEFAULT_MSS, self.config.mss)
        if self._path_mss is not None:
            self.send_mss = min(self.send_mss, self._path_mss)
        self._peer_window_scale = segment.window_scale
        if self.config.window_scaling and segment.window_scale is not None:
            self._snd_wscale = segment.window_scale
            self._rcv_wscale = _window_shift_for(self.config.receive_buffer)

    def _send_syn(self) -> None:
        """Send our SYN (SYN,ACK once we know the peer's), with our options."""
        flags = Flags.SYN if self.state is State.SYN_SENT else Flags.SYN | Flags.ACK
        offer_scaling = self.config.window_scaling and (
            self.state is State.SYN_SENT or self._peer_window_scale is not None
        )
        segment = self._segment(
            self.iss,
            flags,
            mss=self.config.mss,
            window_scale=_window_shift_for(self.config.receive_buffer) if offer_scaling else None,
        )
        retransmission = self.snd_max > self.iss
        self.snd_nxt = self.snd_max = self.iss + 1
        self._emit(segment)
        if retransmission:
            self.counters.retransmissions += 1
        else:
            self._rtt_timed = (self.iss + 1, self._clock())

    def _resend_syn_ack(self) -> None:
        """The peer sent its SYN again, the same one: our SYN,ACK must have been lost.

        RFC 9293 §3.10.7.4 treats the old SYN as an unacceptable segment and
        answers with a bare ACK — which a peer in SYN-SENT drops, as it carries
        no SYN, so the handshake would wait for our own retransmission timer.
        Linux (tcp_check_req → inet_rtx_syn_ack) answers with the SYN,ACK
        again, and so do we: the same ISS and options as the first, counted
        as a retransmission (Karn: the ACK it brings measures no round trip),
        with the retransmission timer restarted — at most once every
        :data:`SYN_ACK_RESEND_INTERVAL` (tcp_oow_rate_limited).
        """
        now = self._clock()
        last = self._syn_ack_resent_at
        if last is not None and now - last < SYN_ACK_RESEND_INTERVAL:
            return
        self._syn_ack_resent_at = now
        self._rtt_timed = None
        self._syn_retransmitted = True
        self._send_syn()
        self._set_timer(Timer.RETRANSMISSION, self.rtt.rto)

    def _syn_acknowledged(self, segment: TcpSegment, seq: int, ack: int) -> None:
        """Our SYN is acknowledged: the handshake is done on our side."""
        self._take_rtt_sample(ack)
        if self._syn_retransmitted:
            self.rtt.after_lost_syn()
        self.snd_una = ack
        self.snd_nxt = max(self.snd_nxt, ack)
        self._retransmissions_in_a_row = 0
        self._cancel_timer(Timer.RETRANSMISSION)
        # A SYN's window is never scaled.
        shift = 0 if Flags.SYN in segment.flags else self._snd_wscale
        self.snd_wnd = self._max_snd_wnd = segment.window << shift
        self.snd_wl1 = seq
        self.snd_wl2 = ack
        self.congestion = self.config.congestion(self.send_mss)

    # ----------------------------------------------------------------- sending

    @property
    def _data_end(self) -> int:
        """One past the sequence number of the last byte queued; the FIN's number once closed."""
        return self._send_buffer_seq + len(self._send_buffer)

    def _output(self, *, force: bool = False) -> None:
        """Send what the windows allow: data in MSS-sized segments, then our FIN.

        The sender may have min(cwnd, peer's window) bytes in flight. Small
        segments are held back while a bigger one may soon fit (sender-side
        silly window avoidance, RFC 9293 §3.8.6.2.1) unless ``force``d by the
        persist timer.
        """
        if self.state not in SENDS_DATA or self.snd_una == self.iss:
            return
        while (unsent := self._data_end - self.snd_nxt) > 0:
            window = min(self.congestion.cwnd, self.snd_wnd)
            usable = self.snd_una + window - self.snd_nxt
            length = min(self.send_mss, unsent, usable)
            if length <= 0 or not (force or self._worth_sending(length, unsent)):
                break
            self.snd_nxt = self._send_data(self.snd_nxt, length)
            force = False
        if self._fin_queued and self.snd_nxt == self._data_end:
            self.snd_nxt = self._send_data(self.snd_nxt, 0)  # the FIN on its own
        self._arm_timers_after_output()

    def _worth_sending(self, length: int, unsent: int) -> bool:
        """A full segment, the last of the data (unless the application has more on
        its way), or half the largest window the peer ever offered."""
        last = length == unsent and not self._more_to_come
        return length == self.send_mss or last or length >= self._max_snd_wnd // 2

    def _send_data(self, seq: int, length: int) -> int:
        """Send ``length`` bytes from ``seq`` (with the FIN if they end the stream).

        Returns the sequence number after the segment.
        """
        start = seq - self._send_buffer_seq
        payload = bytes(self._send_buffer[start : start + length])
        end = seq + length
        flags = Flags.ACK
        if end == self._data_end:
            if length:
                flags |= Flags.PSH  # the last byte the application gave us: deliver it now
            if self._fin_queued:
                flags |= Flags.FIN
                end += 1
        retransmission = seq < self.snd_max
        self.snd_max = max(self.snd_max, end)
        self._emit(self._segment(seq, flags, payload))
        if retransmission:
            self.counters.retransmissions += 1
            self._rtt_timed = None  # Karn: a resent segment's ACK measures nothing certain
        elif self._rtt_timed is None:
            self._rtt_timed = (end, self._clock())
        return end

    def _retransmit_first_unacked(self) -> int:
        """Resend the oldest unacknowledged segment; returns the sequence numbers it spans."""
        length = min(self.send_mss, max(self._data_end - self.snd_una, 0))
        return self._send_data(self.snd_una, length) - self.snd_una

    def _arm_timers_after_output(self) -> None:
        in_flight = self.snd_nxt > self.snd_una
        if in_flight and Timer.RETRANSMISSION not in self._running_timers:
            self._set_timer(Timer.RETRANSMISSION, self.rtt.rto)  # RFC 6298 §5.1
        if self._data_end > self.snd_nxt and not in_flight:
            # Data waits, none is in flight, so no ACK will come to open the
            # window: probe it from time to time (RFC 9293 §3.8.6.1).
            if Timer.PERSIST not in self._running_timers:
                self._set_timer(Timer.PERSIST, self._persist_interval())
        else:
            self._cancel_timer(Timer.PERSIST)
            self._persist_backoff = 0

    def _persist_interval(self) -> float:
        return min(self.rtt.rto * (1 << self._persist_backoff), self.config.max_rto)

    def _send_ack(self) -> None:
        # Numbered with snd_max, not snd_nxt: after a timeout snd_nxt goes back to
        # resend, and an ACK numbered there would look like an old duplicate to
        # the peer, which would drop it — acknowledgment and all.
        self._emit(self._segment(self.snd_max, Flags.ACK))

    def _segment(
        self,
        seq: int,
        flags: Flags,
        payload: bytes = b"",
        *,
        mss: int | None = None,
        window_scale: int | None = None,
    ) -> TcpSegment:
        """A segment from us to the peer, with our acknowledgment and window filled in."""
        bits = flags._value_
        window = 0 if bits & _RST else self._window_field(syn=bool(bits & _SYN))
        if self._fields_checked:
            # Every field is in range, as the first segment's checks showed for the
            # ports, and as the arithmetic here ensures for the rest.
            return segment_in_range(
                self.local_port,
                self.remote_port,
                seq % SEQ_SPACE,
                self.rcv_nxt % SEQ_SPACE if bits & _ACK else 0,
                flags,
                window,
                payload,
                mss,
                window_scale,
            )
        segment = TcpSegment(
            src_port=self.local_port,
            dst_port=self.remote_port,
            seq=seq % SEQ_SPACE,
            ack=self.rcv_nxt % SEQ_SPACE if bits & _ACK else 0,
            flags=flags,
            window=window,
            payload=payload,
            mss=mss,
            window_scale=window_scale,
        )
        self._fields_checked = True
        return segment

    def _emit(self, segment: TcpSegment) -> None:
        if segment.flags._value_ & _ACK:
            self._ack_pending = False
        self.counters.segments_out += 1
        if segment.payload:
            self.counters.data_segments_out += 1
        self._emit_segment(segment)

    # ---------------------------------------------------------- receive window

    def _receive_space(self) -> int:
        """Free room in the receive buffer: bytes we could still take in."""
        return self.config.receive_buffer - len(self._received)

    def _receive_window(self) -> int:
        """RCV.WND to announce. The right edge never moves back, and moves forward
        only by a worthwhile step — half the buffer or one MSS (receiver-side silly
        window avoidance, RFC 9293 §3.8.6.2.2)."""
        free = self._receive_space()
        promised = max(self._rcv_adv - self.rcv_nxt, 0)
        if free - promised >= min(self.config.receive_buffer // 2, self.send_mss):
            return free
        return promised

    def _window_field(self, *, syn: bool) -> int:
        """The 16-bit window field, scaled down (except in SYNs), and the edge it promises."""
        shift = 0 if syn else self._rcv_wscale
        field = min(self._receive_window() >> shift, MAX_WINDOW_FIELD)
        if self.state not in (State.LISTEN, State.SYN_SENT):
            self._rcv_adv = max(self._rcv_adv, self.rcv_nxt + (field << shift))
        return field

    # ------------------------------------------------------------------ timers

    def _set_timer(self, name: Timer, delay: float) -> None:
        self._running_timers.add(name)
        self.timers.set_timer(name, delay, functools.partial(self.timer_expired, name))

    def _cancel_timer(self, name: Timer) -> None:
        if name in self._running_timers:
            self._running_timers.discard(name)
            self.timers.cancel_timer(name)

    def _take_rtt_sample(self, ack: int) -> float | None:
        """The round trip of the segment being timed, if ``ack`` covers it."""
        if self._rtt_timed is None or ack < self._rtt_timed[0]:
            return None
        rtt = self._clock() - self._rtt_timed[1]
        self._rtt_timed = None
        self.rtt.sample(rtt)
        return rtt

    def _retransmission_timeout(self) -> None:
        """RFC 6298 §5.4–5.6: resend the oldest segment, back off, restart the timer."""
        if self._retransmissions_in_a_row >= self.config.max_retransmissions:
            self._transition(Event.GIVE_UP, CloseReason.TIMEOUT)
            return
        self._retransmissions_in_a_row += 1
        self._rtt_timed = None  # Karn's algorithm
        if self.snd_una == self.iss:  # the SYN (or SYN,ACK) itself was lost
            self._syn_retransmitted = True
            self._send_syn()
        else:
            self.congestion.on_timeout(
                flight_size=self.snd_max - self.snd_una,
                high_sent=self.snd_max,
                repeated=self._retransmissions_in_a_row > 1,
            )
            # Go back: what followed the lost segment is resent as the window reopens.
            self.snd_nxt = self.snd_una + self._retransmit_first_unacked()
        self.rtt.back_off()
        self._set_timer(Timer.RETRANSMISSION, self.rtt.rto)

    def _persist_timeout(self) -> None:
        """The peer's window has stayed shut: send a probe to learn whether it opened."""
        if self._data_end <= self.snd_nxt or self.snd_nxt > self.snd_una:
            return
        usable = self.snd_una + min(self.congestion.cwnd, self.snd_wnd) - self.snd_nxt
        if usable > 0:
            self._output(force=True)  # a small window: send what fits after all
        else:
            self._send_data(self.snd_nxt, 1)  # one new byte, not counted as in flight
        if self.snd_nxt == self.snd_una:
            self._persist_backoff += 1
            self._set_timer(Timer.PERSIST, self._persist_interval())

    # ------------------------------------------------------------ state changes

    def _transition(self, event: Event, reason: CloseReason = CloseReason.CLOSED) -> None:
        """Move to the state TRANSITIONS gives for ``event``, and do what entering it means."""
        old = self.state
        new = TRANSITIONS.get((old, event))
        if new is None:
            raise RuntimeError(f"TCP has no transition from {old} on {event}")  # a bug here
        self.state = new
        self._notify(self.app.on_state_change, old, new, event)
        if new is State.ESTABLISHED:
            self._notify(self.app.on_established)
        elif new is State.TIME_WAIT:
            self._cancel_timer(Timer.RETRANSMISSION)
            self._cancel_timer(Timer.PERSIST)
            self._set_timer(Timer.TIME_WAIT, 2 * self.config.msl)
        elif new is State.CLOSED:
            self.close_reason = reason
            for timer in Timer:
                self._cancel_timer(timer)
            self._send_buffer.clear()
            self._notify(self.app.on_closed, reason)

    def _reset(self, reason: CloseReason) -> None:
        self._received.clear()
        self._transition(Event.RCV_RST, reason)

    def _reset_reason(self) -> CloseReason:
        """What a RST means to the application, given how far the connection had got."""
        if self.state is State.TIME_WAIT:
            # Both FINs were acknowledged: nothing was lost. (RFC 1337 would even
            # ignore the RST, to keep TIME-WAIT's protection; RFC 9293 closes.)
            return CloseReason.CLOSED
        if self.state is State.SYN_RECEIVED and not self._passive:
            return CloseReason.REFUSED  # a simultaneous open, refused
        return CloseReason.RESET

    def _why_not_open(self) -> str:
        if self.state is State.CLOSED:
            return f"the connection is closed ({self.close_reason or 'never opened'})"
        if self.state is State.LISTEN:
            return "a listening connection has no peer to send to"
        return f"the connection is closing ({self.state}): close() was called"

    # ------------------------------------------------------------ notifications

    def _notify(self, callback: Callable[..., None], *args: object) -> None:
        self._notifications.append(functools.partial(callback, *args))

    def _notify_app(self) -> None:
        """Give the application the queued notifications, now that our work is done."""
        if self._notifying:
            return  # called back from a notification: the outer loop carries on
        self._notifying = True
        try:
            while self._notifications:
                self._notifications.popleft()()
        finally:
            self._notifying = False


class TcpListener:
    """A port in LISTEN: each SYN spawns a connection of its own, and the port goes on listening.

    ``spawn(syn)`` must return a new, never-opened :class:`TcpConnection` from
    this port to the SYN's sender (wired to its emit, timers and app, and
    registered under its address pair), or None to ignore the SYN — a full
    backlog, say; the peer will try again.
    """

    def __init__(self, port: int, spawn: Callable[[TcpSegment], TcpConnection | None]) -> None:
        self.port = port
        self._spawn = spawn

    def segment_received(self, segment: TcpSegment) -> TcpSegment | None:
        """Take a segment for this port that no connection claims.

        Returns the segment to send back to its sender — a RST for an ACK,
        which cannot belong to anything here (RFC 9293 §3.10.7.2) — or None.
        """
        if Flags.RST in segment.flags:
            return None
        if Flags.ACK in segment.flags:
            return _reset_acknowledging(segment)
        if Flags.SYN not in segment.flags:
            return None
        connection = self._spawn(segment)
        if connection is not None:
            connection.listen()
            connection.segment_received(segment)
        return None


def reset_for(segment: TcpSegment) -> TcpSegment | None:
    """The answer of a port where no connection exists (RFC 9293 §3.10.7.1, CLOSED).

    A RST that the sender will accept: with the sequence number it
    acknowledged, or else acknowledging the segment. A RST itself gets no answer.
    """
    if Flags.RST in segment.flags:
        return None
    if Flags.ACK in segment.flags:
        return _reset_acknowledging(segment)
    return TcpSegment(
        src_port=segment.dst_port,
        dst_port=segment.src_port,
        seq=0,
        ack=(segment.seq + segment.seg_len) % SEQ_SPACE,
        flags=Flags.RST | Flags.ACK,
        window=0,
    )


def _reset_acknowledging(segment: TcpSegment) -> TcpSegment:
    """<SEQ=SEG.ACK><CTL=RST>: a RST whose sequence number the sender expects."""
    return TcpSegment(
        src_port=segment.dst_port,
        dst_port=segment.src_port,
        seq=segment.ack,
        ack=0,
        flags=Flags.RST,
        window=0,
    )
