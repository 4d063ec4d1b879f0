"""dnslib's authoritative server over a zone file: the Python peer in bench/dns_qps.py.

Runs ``dnslib.zoneresolver.ZoneResolver`` (dnslib's own zone-file resolver) behind
``dnslib.server.DNSServer`` on UDP, with dnslib's defaults for everything except the
listen address/port and, unless ``--log default`` is given, the per-query log lines:

* ``--log quiet`` (the bench default) passes ``DNSLogger("error")``: only errors are
  logged.  dnslib's default logger formats and prints two lines for every query
  (request + reply), which would measure ``print`` as much as DNS serving.
* ``--log default`` passes no logger, i.e. exactly ``DNSServer``'s default.

Blocks in ``DNSServer.start()`` (``serve_forever`` in the main thread; dnslib's UDP
server is a ``ThreadingMixIn`` server, one thread per request) until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from dnslib.server import DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone", required=True, help="zone file in master-file format")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument(
        "--log",
        choices=("quiet", "default"),
        default="quiet",
        help="quiet: DNSLogger('error'); default: dnslib's default per-query logging",
    )
    args = parser.parse_args(argv)

    with open(args.zone, encoding="utf-8") as handle:
        resolver = ZoneResolver(handle.read())
    logger = DNSLogger("error", prefix=False) if args.log == "quiet" else None
    server = DNSServer(resolver, port=args.port, address=args.address, logger=logger)
    print(
        f"dnslib ZoneResolver: {len(resolver.zone)} records, "
        f"udp {args.address}:{args.port}, log={args.log}",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
