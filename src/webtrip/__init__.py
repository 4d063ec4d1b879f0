"""webtrip: see, for real, what happens when a browser loads a web page.

The four steps of every page load — ask DNS for the address, open a TCP/IP
connection and send an HTTP request, receive the files in packets, reassemble
and show them — are played by real actors (a DNS server, a web server, a
browser) written against one small network interface (:mod:`webtrip.net`), and
every step is recorded in a :class:`webtrip.trace.Trace`.
"""

__version__ = "0.1.0"
