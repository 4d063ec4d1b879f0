"""Packets as bytes: encoding, decoding and capture files, below every world and every view.

A packet on a wire is only bytes. This package turns IPv4 datagrams and what
they carry into fields and back, exactly as the RFCs lay them out, with
correct checksums — and nothing else: it sends nothing and keeps no state.
The simulated world (:mod:`webtrip.netsim`) builds its packets with it; the
views (:mod:`webtrip.report`) take captured packets apart with it, the way
Wireshark's dissectors do, without knowing the simulator.

- :mod:`ipv4` — the IPv4 header (RFC 791), the Internet checksum (RFC 1071),
  and :func:`~webtrip.packets.ipv4.addresses`: who sent a datagram to whom;
- :mod:`icmp` — the network's error messages (RFC 792), and ping;
- :mod:`udp` — UDP datagrams (RFC 768), which carry DNS;
- :mod:`tcp_segment` — TCP segments' header and options (RFC 9293 §3.1);
- :mod:`dissect` — every layer of a datagram at once, and :class:`Match`,
  the filter language of faults and tests;
- :mod:`tcp_analysis` — what Wireshark works out across a capture's TCP
  segments: relative numbers, retransmissions, duplicate ACKs, keep-alives;
- :mod:`pcap` — capture files (libpcap), as Wireshark and tcpdump read them.
"""
