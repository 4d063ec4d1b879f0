"""What every command shares: the terminal console and the user-error type."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

import click
from rich.console import Console
from rich.text import Text

from webtrip.net import Address, format_address, parse_address
from webtrip.outcomes import EXIT_ERROR, EXIT_USAGE

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    """A mistake or a failure the user must hear about in one sentence."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click: a ClassVar; ours vary

    def show(self, file: Any = None) -> None:
        message = Text.assemble(("webtrip:", "bold red"), " ", self.format_message())
        err_console().print(message)


def parse_listen(values: tuple[str, ...], default_port: int) -> list[Address]:
    """``--listen`` values as addresses; a bad one is a usage error."""
    try:
        return [parse_address(value, default_port) for value in values]
    except ValueError as exc:
        raise UserError(f"--listen: {exc}", exit_code=EXIT_USAGE) from None


def out_console() -> Console:
    """Standard output; rich turns colour off for NO_COLOR and non-terminals.

    Strings are printed as they are, never read as rich markup: they carry URLs,
    host names and file names the user typed (``[/]`` in one would be an error).
    Styles come as :class:`rich.text.Text` or a renderable's own styles.
    """
    return Console(highlight=False, soft_wrap=True, markup=False)


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


class Server(Protocol):
    """What serve_until_stopped needs of a server actor."""

    @property
    def addresses(self) -> list[Address]: ...

    async def start(self, addresses: Sequence[Address]) -> None: ...

    async def aclose(self) -> None: ...


def listen_option(default: str, what: str) -> Callable[[F], F]:
    """The ``--listen ADDR[:PORT]`` option every server command has."""
    return click.option(
        "--listen",
        multiple=True,
        default=(default,),
        show_default=True,
        metavar="ADDR[:PORT]",
        help=f"Address to serve on, {what}; [::1] for IPv6. Repeatable.",
    )


def serve_until_stopped(
    server: Server, addresses: Sequence[Address], banner: Callable[[str], str]
) -> None:
    """Start ``server``, print ``banner(where)``, serve until Ctrl-C or SIGTERM, stop."""

    async def main() -> None:
        try:
            await server.start(addresses)
        except OSError as exc:
            raise UserError(str(exc.strerror or exc)) from None
        where = ", ".join(format_address(a) for a in server.addresses)
        err_console().print(banner(where) + " Ctrl-C stops it.")
        try:
            await asyncio.Event().wait()
        finally:
            await server.aclose()

    run_until_signal(main())


def run_until_signal(main: Coroutine[Any, Any, T]) -> T | None:
    """Run ``main`` until it ends or the process gets SIGINT/SIGTERM (then return None)."""

    async def runner() -> T | None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(main)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            return None

    return asyncio.run(runner())
