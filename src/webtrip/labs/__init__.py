"""Bundled lab data (no code): what runs with no configuration.

- ``demo/`` — the demo lab: ``lab.toml`` (hosts, links, servers, and each
  host's loopback addresses), its zones (``zones/``: root, .test and
  webtrip.test, with the lab's addresses) and its site (``site/``: a page about
  the four steps, in English and Spanish, with a 53 KB photo that travels as
  dozens of TCP segments — its source and licence in ``site/img/NOTICE.txt``).
  ``webtrip sim`` and ``webtrip demo`` both run it (:mod:`webtrip.lab`);
- ``internet/root.hints`` — the Internet's root servers, where a DNS walk starts
  by default.
"""

from importlib import resources
from pathlib import Path


def demo_path(*parts: str) -> Path:
    """A file of the bundled demo lab (e.g. ``demo_path("zones", "webtrip.test.zone")``)."""
    return Path(str(resources.files("webtrip.labs").joinpath("demo", *parts)))


def internet_root_hints() -> Path:
    """The Internet's root servers, in named.root's format: where a walk starts by default."""
    return Path(str(resources.files("webtrip.labs").joinpath("internet", "root.hints")))
