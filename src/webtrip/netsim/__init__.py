"""The simulated world: hosts, routers and links on a virtual clock, every packet real bytes.

The same DNS server, web server and browser that run on real sockets run here
unchanged, through :class:`~webtrip.netsim.network.SimNetwork`. Read it in
layers, bottom up (as in ns-3):

- :mod:`clock` — the virtual-time asyncio loop everything runs on;
- :mod:`link` — wires with latency, bandwidth, queues, MTU, loss;
- :mod:`ipv4`, :mod:`icmp` — datagrams and the network's error messages;
  :mod:`node`, :mod:`router`, :mod:`host` — the machines that send them;
- :mod:`udp`, :mod:`tcp_segment` and :mod:`tcp` — transport, demultiplexed
  by the host; TCP's parts in modules of their own: :mod:`tcp_state` (the
  state machine), :mod:`tcp_rtt` (the retransmission timeout),
  :mod:`tcp_reassembly` (out-of-order data), :mod:`congestion` (the
  congestion window);
- :mod:`sockets` and :mod:`stream` — what a program holds (the stream also
  runs its connection's timers on the event loop);
- :mod:`network` — the :class:`webtrip.net.Network` an actor sees;
- :mod:`capture`, :mod:`pcap`, :mod:`packets` — every packet, on record;
- :mod:`world` — one run: the clock, the seeded randomness, the topology.
"""
