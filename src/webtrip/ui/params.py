"""A run's parameters as a visitor sends them, checked before anything runs.

The run form posts JSON — ``{"lab": "demo", "profile": "3g", "loss": 5,
"faults": [{"action": "drop", "packet": "synack"}], "seed": 7, "lang": "es"}``
— and :func:`check` turns it into :class:`RunParams` or raises
:class:`BadParameter` with one sentence, in the visitor's language, saying
what is wrong. Numbers are in the form's units: latency in milliseconds,
bandwidth in Mbit/s, loss/reorder/duplicate in percent, the MTU in bytes.

Only labs the person who started the app named are ever loaded (the bundled
demo, ``--lab FILE``, ``--site DIR``): a visitor picks one by name and can
never make the server read a path. A URL on the real network is taken only
with ``--allow-network``, only http(s), and only to a public host (never this
machine, a private network or a link-local address: the visitor must not
make the machine fetch internal pages).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from webtrip.browser.errors import BadUrl
from webtrip.browser.urls import normalize_url
from webtrip.i18n import LANGUAGES, number, translation
from webtrip.lab import FILTERS
from webtrip.lab.profiles import PROFILES

__all__ = [
    "INTERNET",
    "LIMITS",
    "BadParameter",
    "LabChoice",
    "RunParams",
    "check",
    "is_public_address",
]

INTERNET = "internet"
"""The name of the "lab" that is a page on the real network (``--allow-network`` only)."""

LIMITS: dict[str, tuple[float, float]] = {
    "latency": (0, 5000),  # one-way, ms
    "bandwidth": (0.01, 10000),  # Mbit/s
    "loss": (0, 50),  # percent: beyond half, a load is mostly waiting
    "reorder": (0, 50),
    "duplicate": (0, 50),
    "mtu": (576, 65535),
    "seed": (0, 2**63 - 1),
}
"""Each number's allowed range, in the form's units."""

MAX_FAULTS = 8
MAX_DELAY_MS = 60_000
KEYS: tuple[str, ...] = ("lab", "url", "profile", "latency", "bandwidth", "loss", "reorder")
KEYS += ("duplicate", "mtu", "faults", "seed", "lang")


class BadParameter(ValueError):
    """A parameter that cannot be used; ``str()`` is one sentence in the visitor's language."""

    def __init__(self, sentence: str, status: int = 400) -> None:
        super().__init__(sentence)
        self.status = status


@dataclass(frozen=True)
class LabChoice:
    """A lab the visitor may pick: its name, what it is (``demo``, ``file``, ``site``,
    ``internet``) and, for the first three, how the worker finds it (never a visitor's)."""

    name: str
    kind: str
    path: str | None = None
    url: str | None = None  # the lab's own page (sim labs)
    origins: tuple[str, ...] = ()  # the names the lab's DNS knows ("." knows them all)


@dataclass(frozen=True)
class RunParams:
    """A checked run: what the worker needs, JSON-ready (:meth:`as_json`)."""

    lab: str = "demo"
    url: str | None = None
    profile: str | None = None
    latency: float | None = None
    bandwidth: float | None = None
    loss: float | None = None
    reorder: float | None = None
    duplicate: float | None = None
    mtu: int | None = None
    faults: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    seed: int = 1
    lang: str = "en"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["faults"] = [dict(fault) for fault in self.faults]
        return data


def check(
    body: Mapping[str, Any],
    labs: Mapping[str, LabChoice],
    language: str,
    allow_network: bool,
    resolve: Callable[[str], list[str]],
) -> RunParams:
    """``body`` (the posted JSON object) as :class:`RunParams`; BadParameter otherwise.

    ``resolve(host)`` gives a name's addresses (for the real network's check).
    """
    _ = translation(language).gettext
    for key in body:
        if key not in KEYS:
            raise BadParameter(
                _("'{name}' is not a run parameter (they are: {names}).").format(
                    name=str(key)[:40], names=", ".join(KEYS)
                )
            )
    name = body.get("lab", "demo")
    if not isinstance(name, str) or name not in labs:
        raise BadParameter(
            _("There is no lab named '{name}' here; choose one of: {names}.").format(
                name=str(name)[:40], names=", ".join(labs)
            )
        )
    choice = labs[name]
    lang = body.get("lang", language)
    if not isinstance(lang, str) or lang not in LANGUAGES:
        raise BadParameter(_("The language is en or es."))
    seed = _whole(body, "seed", language, default=1)
    if choice.kind == INTERNET:
        if not allow_network:
            raise BadParameter(
                _(
                    "Loading pages from the real network is off: start webtrip ui with "
                    "--allow-network to allow it."
                ),
                403,
            )
        page = _public_url(body.get("url"), language, resolve)
        return RunParams(lab=name, url=page, seed=seed or 1, lang=lang)
    url = _lab_url(body.get("url"), choice, language)
    profile = body.get("profile")
    if profile is not None and profile not in PROFILES:
        raise BadParameter(
            _("There is no network profile named '{name}'; choose one of: {names}.").format(
                name=str(profile)[:40], names=", ".join(PROFILES)
            )
        )
    numbers = {key: _number(body, key, language) for key in ("latency", "bandwidth", "loss")} | {
        key: _number(body, key, language) for key in ("reorder", "duplicate")
    }
    mtu = _whole(body, "mtu", language)
    faults = _faults(body.get("faults", []), language)
    return RunParams(
        lab=name, url=url, profile=profile, mtu=mtu, faults=faults, seed=seed if seed is not None
        else 1, lang=lang, **numbers,
    )  # fmt: skip


def _number(body: Mapping[str, Any], key: str, language: str) -> float | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    low, high = LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        _ = translation(language).gettext
        raise BadParameter(
            _("{name} must be a number from {low} to {high}.").format(
                name=_name(key, language),
                low=number(low, language, 2 if low < 1 and low else 0),
                high=number(high, language),
            )
        )
    return float(value)


def _whole(
    body: Mapping[str, Any], key: str, language: str, default: int | None = None
) -> int | None:
    value = body.get(key)
    if value is None or value == "":
        return default
    low, high = LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _ = translation(language).gettext
        raise BadParameter(
            _("{name} must be a whole number from {low} to {high}.").format(
                name=_name(key, language), low=number(low, language), high=number(high, language)
            )
        )
    return value


def _name(key: str, language: str) -> str:
    """A parameter's name as the form shows it."""
    _ = translation(language).gettext
    return {
        "latency": _("The latency (ms)"),
        "bandwidth": _("The bandwidth (Mbit/s)"),
        "loss": _("The loss (%)"),
        "reorder": _("The reordering (%)"),
        "duplicate": _("The duplication (%)"),
        "mtu": _("The MTU (bytes)"),
        "seed": _("The seed"),
    }[key]


def _faults(value: Any, language: str) -> tuple[dict[str, Any], ...]:
    """``[{"action": "drop", "packet": "synack#2"}, {"action": "delay", "packet": "syn",
    "by": 300}, {"action": "dns-silent"}]`` checked against the filter language."""
    _ = translation(language).gettext
    if not isinstance(value, list) or len(value) > MAX_FAULTS:
        raise BadParameter(_("The faults are a list of at most {count}.").format(count=MAX_FAULTS))
    checked = []
    for fault in value:
        action = fault.get("action") if isinstance(fault, dict) else None
        if action == "dns-silent":
            checked.append({"action": action})
            continue
        if action not in ("drop", "delay"):
            raise BadParameter(_("A fault's action is drop, delay or dns-silent."))
        packet = fault.get("packet")
        if not isinstance(packet, str) or not _known_filter(packet):
            raise BadParameter(
                _(
                    "'{text}' is not a packet webtrip can pick out; choose one of: {names}, "
                    "tcp:PORT or udp:PORT, with #N for the Nth."
                ).format(text=str(packet)[:40], names=", ".join(FILTERS))
            )
        entry: dict[str, Any] = {"action": action, "packet": packet.strip().lower()}
        if action == "delay":
            by = fault.get("by")
            if isinstance(by, bool) or not isinstance(by, int | float) or not 0 < by <= 60000:
                raise BadParameter(
                    _("A delay is a number of milliseconds from 1 to {high}.").format(
                        high=number(MAX_DELAY_MS, language)
                    )
                )
            entry["by"] = float(by)
        checked.append(entry)
    return tuple(checked)


def _known_filter(text: str) -> bool:
    name, _hash, count = text.strip().lower().partition("#")
    if _hash and (not count.isdigit() or int(count) < 1 or len(count) > 6):
        return False
    if name in FILTERS:
        return True
    protocol, colon, port = name.partition(":")
    return protocol in ("tcp", "udp") and bool(colon) and port.isdigit() and int(port) < 65536


def _lab_url(value: Any, choice: LabChoice, language: str) -> str | None:
    """The page to load in a simulated lab: the lab's own unless a name its DNS knows."""
    if value is None or value == "":
        return None
    _ = translation(language).gettext
    url = _normalized(value, language)
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()
    if "." in choice.origins or any(host == o or host.endswith("." + o) for o in choice.origins):
        return url
    raise BadParameter(
        _("This lab's DNS knows only the names under {names}, like {url}.").format(
            names=", ".join(choice.origins), url=choice.url
        )
    )


def _normalized(value: Any, language: str) -> str:
    _ = translation(language).gettext
    if not isinstance(value, str) or len(value) > 2000:
        raise BadParameter(_("The address is a text of at most 2000 characters."))
    try:
        return normalize_url(value)
    except BadUrl as exc:
        sentence = exc.sentence(_)
        raise BadParameter(sentence[:1].upper() + sentence[1:] + ".") from None


def _public_url(value: Any, language: str, resolve: Callable[[str], list[str]]) -> str:
    """A URL on the real network whose host is a name or address of the public Internet."""
    _ = translation(language).gettext
    if value is None or value == "":
        raise BadParameter(_("Give the address of a page on the real network."))
    url = _normalized(value, language)
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        addresses = [host] if _is_address(host) else resolve(host)
    except OSError:
        raise BadParameter(
            _("The name {host} has no address in the DNS.").format(host=host)
        ) from None
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise BadParameter(
            _(
                "{host} is this machine or a private network: the app loads only pages of "
                "the public Internet."
            ).format(host=host),
            403,
        )
    return url


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_public_address(text: str) -> bool:
    """True for an address of the public Internet: not loopback, private, link-local,
    multicast, reserved or unspecified (``ipaddress``'s ``is_global``)."""
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_global) and not address.is_multicast
