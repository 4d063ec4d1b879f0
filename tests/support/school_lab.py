"""A small lab of a school network for the tests: a PC behind two routers, a DNS
server and a web server for school.test (the lab file, its zone and its page)."""

from __future__ import annotations

from pathlib import Path

TWO_ROUTERS = """\
[browser]
host = "pc"
url = "http://www.school.test/"

[dns]
host = "ns"
zones = ["zones/school.test.zone"]

[web]
host = "www"
sites = { "www.school.test" = "site" }

[[hosts]]
name = "pc"
address = "192.168.1.10/24"

[[hosts]]
name = "ns"
address = "192.168.2.53/24"

[[hosts]]
name = "www"
address = "192.168.2.80/24"

[[routers]]
name = "home"

[[routers]]
name = "isp"

[[links]]
between = ["pc", "home"]
latency = "5ms"
bandwidth = "50mbit"

[[links]]
between = ["home", "isp"]
latency = "30ms"
bandwidth = "100mbit"

[[links]]
between = ["isp", "ns"]
latency = "1ms"

[[links]]
between = ["isp", "www"]
latency = 0.001
bandwidth = 1e9
"""

ZONE = """\
$ORIGIN school.test.
$TTL 60
@    IN SOA ns.school.test. admin.school.test. 1 3600 600 86400 60
     IN NS  ns.school.test.
ns   IN A   192.168.2.53
www  IN A   192.168.2.80
"""


def write_lab(folder: Path, text: str = TWO_ROUTERS, page: bytes | None = None) -> Path:
    """The lab ``text`` in ``folder`` with its zone and site; its lab file's path."""
    (folder / "zones").mkdir()
    (folder / "zones" / "school.test.zone").write_text(ZONE)
    (folder / "site").mkdir()
    index = folder / "site" / "index.html"
    index.write_bytes(page if page is not None else b"<title>School</title><p>Hello</p>")
    path = folder / "lab.toml"
    path.write_text(text)
    return path
