"""The simulated world: hosts, routers and links on a virtual clock, every packet real bytes.

The same DNS server, web server and browser that run on real sockets run here
unchanged, through :class:`~webtrip.netsim.network.SimNetwork`. Read it in
layers, bottom up (as in ns-3):

- :mod:`clock` — the virtual-time asyncio loop everything runs on;
- :mod:`link` — wires with latency, bandwidth, queues, MTU, loss;
- :mod:`ipv4`, :mod:`icmp` — datagrams and the network's error messages;
  :mod:`node`, :mod:`router`, :mod:`host` — the machines that send them;
- :mod:`udp`, :mod:`tcp_segment` and :mod:`tcp` — transport, demultiplexed
  by the host; :mod:`sockets` and :mod:`stream` — what a program holds;
- :mod:`network` — the :class:`webtrip.net.Network` an actor sees;
- :mod:`capture`, :mod:`pcap`, :mod:`packets` — every packet, on record;
- :mod:`world` — one run: the clock, the seeded randomness, the topology.
"""
