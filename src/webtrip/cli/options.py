"""The options several commands share, defined once so that they read the same everywhere.

``--lang``, ``--json``, ``--no-render`` and ``--reload`` on the commands that load
a page (``browse``, ``demo``, ``sim``), and the files a run can be saved as:
``--har FILE``, ``--mermaid FILE`` (``--mermaid-style``) and ``--report FILE.html`` — also on
``webtrip report``, which makes them from a saved trace.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from webtrip.cli.common import _
from webtrip.i18n import LANGUAGES, number
from webtrip.report.mermaid import STYLES

__all__ = [
    "DAY",
    "JSON_OPTION",
    "LANGUAGE_OPTION",
    "NO_RENDER_OPTION",
    "RELOAD_OPTION",
    "REPORT_OPTION",
    "Seconds",
    "count",
    "screen_options",
    "view_options",
]

F = TypeVar("F", bound=Callable[..., Any])

LANGUAGE_OPTION = click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Language of the narration (default: from LANG).",
)
JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the whole trace as JSON (loadable later)."
)
NO_RENDER_OPTION = click.option("--no-render", is_flag=True, help="Do not print the page's text.")
RELOAD_OPTION = click.option(
    "--reload",
    "reload",
    is_flag=True,
    help="Then reload the page, as the reload button does, in the same browser (same "
    "HTTP cache, no connection kept open), and tell that load too: the page asked about "
    "again (304 Not Modified), files still fresh used without asking, and what the "
    "resolver's DNS cache and the browser's HTTP cache saved.",
)
HAR_OPTION = click.option(
    "--har",
    "har_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the requests as a HAR 1.2 file (opens in a browser's Network panel).",
)
MERMAID_OPTION = click.option(
    "--mermaid",
    "mermaid_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write a mermaid diagram of the page load (--mermaid-style chooses which).",
)
MERMAID_STYLE_OPTION = click.option(
    "--mermaid-style",
    "mermaid_style",
    type=click.Choice(STYLES),
    default=STYLES[0],
    show_default=True,
    help="Which mermaid diagram --mermaid writes: the sequence of messages, or the "
    "flowchart of the four steps (browser, DNS, Internet, web server) with the run's values.",
)
REPORT_OPTION = click.option(
    "--report",
    "report_file",
    metavar="FILE.html",
    type=click.Path(dir_okay=False),
    help="Write a self-contained HTML page that replays the run, event by event.",
)


def view_options(function: F) -> F:
    """``--har``, ``--mermaid`` and ``--mermaid-style``."""
    return HAR_OPTION(MERMAID_OPTION(MERMAID_STYLE_OPTION(function)))


class Viewport(click.ParamType):  # type: ignore[type-arg]
    """``WIDTHxHEIGHT`` in CSS pixels, like ``1280x800`` (both 100 to 10000)."""

    name = "WxH"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        width, _x, height = str(value).strip().lower().partition("x")
        if width.isdigit() and height.isdigit():
            size = (int(width), int(height))
            if all(100 <= side <= 10_000 for side in size):
                return size
        message = _(
            "{value}: give the viewport as WIDTHxHEIGHT in pixels, each 100 to 10000, like 1280x800"
        )
        self.fail(message.format(value=value), param, ctx)


VIEWPORT_OPTION = click.option(
    "--viewport",
    type=Viewport(),
    default="1280x800",
    show_default=True,
    help="The window the page is laid out in, in CSS pixels: srcset, sizes, <picture> "
    "and @media choose by it (Chromium's headless default).",
)
DPR_OPTION = click.option(
    "--dpr",
    type=click.FloatRange(0.5, 4.0),
    default=1.0,
    show_default=True,
    help="Device pixel ratio: 2 for a 'retina' screen, whose srcset picks 2x images.",
)


def screen_options(function: F) -> F:
    """``--viewport`` and ``--dpr``: the screen the browser pretends to have."""
    return VIEWPORT_OPTION(DPR_OPTION(function))


DAY = 86_400.0
"""The longest duration an option takes, in seconds: a timeout beyond a day is a typo."""


class Seconds(click.ParamType):  # type: ignore[type-arg]
    """A duration in seconds, from ``minimum`` to ``maximum``: every timeout option's type.

    click's FloatRange lets ``nan`` through (no comparison with it is true) and
    ``inf`` when there is no maximum; a timeout of ``nan`` never fires, or fires
    at once, so a value that is not a finite number is refused here.
    """

    name = "seconds"

    def __init__(self, minimum: float, maximum: float = DAY) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float) and math.isfinite(value):
            seconds = value
        else:
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                seconds = math.nan
        if not math.isfinite(seconds) or not self.minimum <= seconds <= self.maximum:
            language = os.environ.get("LANGUAGE", "en")  # the run's, see i18n.speaking
            if language not in LANGUAGES:
                language = "en"
            self.fail(
                _("{value} is not a number of seconds from {low} to {high}.").format(
                    value=value,
                    low=_decimal(self.minimum, language),
                    high=_decimal(self.maximum, language),
                ),
                param,
                ctx,
            )
        return seconds


def _decimal(value: float, language: str) -> str:
    """``value`` as ``language`` writes it, with the decimals it has (0.01, 86,400)."""
    decimals = f"{value:g}".partition(".")[2]
    return number(value, language, len(decimals))


def count(minimum: int, maximum: int) -> click.IntRange:
    """A whole-number option's type, bounded on both sides (an unbounded one can
    overflow what it sets: ``--max-size 99999999999999`` did, with OverflowError)."""
    return click.IntRange(minimum, maximum)
