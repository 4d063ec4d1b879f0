"""Views: pure functions from a trace (or an actor's result) to text, tables and files.

Nothing here touches the network or runs an actor; each view reads a trace
and produces something for a person or a program. Facts several views need
are worked out once, in :mod:`facts`.

- :mod:`timings` — HAR 1.2's phases of each request (blocked, dns, connect,
  ssl, send, wait, receive): the one place they are defined;
- :mod:`facts` — a page load's lookups, connections, resends and packets;
- :mod:`narration` — the four steps told in words, in English and Spanish;
- :mod:`waterfall`, :mod:`page` — the requests on a time axis, the page as text;
- :mod:`packets` — the Wireshark-style packet list of a capture;
- :mod:`pcap` — which captured packets a node saw, and its pcap file;
- :mod:`har`, :mod:`mermaid`, :mod:`html` — files people open: HAR, a sequence
  diagram, and the self-contained HTML replay: the visual replay app (its
  template, CSS and scripts in ``app/``) with :mod:`app_data`'s JSON inside;
- :mod:`dns`, :mod:`http` — DNS messages as dig prints them, log lines.
"""
