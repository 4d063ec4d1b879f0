"""The simulated world: hosts, routers and links on a virtual clock, every packet real bytes.

The same DNS server, web server and browser that run on real sockets run here
unchanged, through :class:`~webtrip.netsim.network.SimNetwork`. Read it in
layers, bottom up (as in ns-3):

- :mod:`clock` — the virtual-time asyncio loop everything runs on;
- :mod:`link` — wires with latency, bandwidth, queues, MTU, loss and faults;
- :mod:`node`, :mod:`router`, :mod:`host` — the machines that send IPv4
  datagrams and ICMP errors (their bytes are :mod:`webtrip.packets`');
- :mod:`tcp` — TCP's behaviour, demultiplexed by the host, with its parts in
  modules of their own: :mod:`tcp_state` (the state machine), :mod:`tcp_rtt`
  (the retransmission timeout), :mod:`tcp_reassembly` (out-of-order data),
  :mod:`congestion` (the congestion window);
- :mod:`sockets` and :mod:`stream` — what a program holds (the stream also
  runs its connection's timers on the event loop);
- :mod:`network` — the :class:`webtrip.net.Network` an actor sees;
- :mod:`capture` — every packet, on record (a trace event each);
- :mod:`world` — one run: the clock, the seeded randomness, the topology.

Labs (which host runs which actor) are built on it by :mod:`webtrip.lab.sim`.
"""
