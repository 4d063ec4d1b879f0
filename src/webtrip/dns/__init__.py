"""Step 1 of a page load: DNS, the Internet's directory of names.

- :mod:`~webtrip.dns.zones` loads zones from RFC 1035 master files (dnspython);
- :mod:`~webtrip.dns.authority` decides the answer to one query (no I/O);
- :mod:`~webtrip.dns.server` is the authoritative server actor (UDP and TCP);
- :mod:`~webtrip.dns.client` asks a server one question, as dig does.
"""
