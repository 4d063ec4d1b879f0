"""Bundled labs: the zones and sites the demo runs with no configuration."""

from importlib import resources
from pathlib import Path


def demo_path(*parts: str) -> Path:
    """A file of the bundled demo lab (e.g. ``demo_path("zones", "webtrip.test.zone")``)."""
    return Path(str(resources.files("webtrip.labs").joinpath("demo", *parts)))


def internet_root_hints() -> Path:
    """The Internet's root servers, in named.root's format: where a walk starts by default."""
    return Path(str(resources.files("webtrip.labs").joinpath("internet", "root.hints")))
