"""What every command shares: the terminal console, the user-error type and the help.

A command's help is written in English in the code (docstrings, option helps,
epilogs) and translated when it is shown, paragraph by paragraph, through the
same catalog as the narration: :class:`Command` and :class:`Group` are click's
with a formatter that looks each paragraph up. The language is the one the
command line asks for (``--lang`` anywhere in it, or the environment), set for
the whole run by :meth:`Group.main` with :func:`webtrip.i18n.speaking`, so
that click's own words ("Usage:", "Error:") follow it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gettext
import inspect
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

import click
from rich.console import Console
from rich.text import Text

from webtrip.i18n import DOMAIN, LANGUAGES, language_in, number, speaking
from webtrip.net import Address, format_address, parse_address
from webtrip.net.limits import size_connection_cap
from webtrip.outcomes import EXIT_ERROR, EXIT_USAGE, N_

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def _(message: str) -> str:
    """``message`` in the command line's language (see :func:`webtrip.i18n.speaking`)."""
    return gettext.dgettext(DOMAIN, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """``singular`` or ``plural`` for ``count``, in the command line's language."""
    return gettext.dngettext(DOMAIN, singular, plural, count)


KEEP = "\b\n"
"""What starts a paragraph click must not rewrap (examples, lists)."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def help_paragraphs(text: str) -> list[str]:
    """The catalog's messages of a help text, one per paragraph: a paragraph click
    rewraps as one line, a ``\\b`` paragraph (kept as written) with its lines."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return [p.removeprefix(KEEP) if p.startswith(KEEP) else _one_line(p)
            for p in paragraphs if p.strip()]  # fmt: skip


def translate_help(text: str) -> str:
    """A help text with each paragraph the catalog knows in the command line's language."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        KEEP + _(p.removeprefix(KEEP)) if p.startswith(KEEP) else _(_one_line(p))
        for p in paragraphs
        if p.strip()
    )


class HelpFormatter(click.HelpFormatter):
    """click's formatter, translating the help texts and the options' helps it is given."""

    def write_text(self, text: str) -> None:
        super().write_text(translate_help(text))

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        super().write_dl([(term, _translated_definition(d)) for term, d in rows],
                         col_max, col_spacing)  # fmt: skip


def _translated_definition(definition: str) -> str:
    """An option's help, keeping click's ``[default: ...]`` (translated by click) after it."""
    text, gap, extra = definition.partition("  [")
    return _(_one_line(text)) + gap + extra if text else definition


class Context(click.Context):
    formatter_class = HelpFormatter


def _short_help(command: click.Command, limit: int) -> str:
    """The first sentence of a command's translated help, as a group lists its commands."""
    if command.short_help:
        return _(command.short_help)
    first = translate_help(command.help or "").split("\n\n")[0]
    sentence = first.split(". ")[0].rstrip(".") + "."
    if len(sentence) <= limit:
        return sentence
    return sentence[: limit - 3].rsplit(" ", 1)[0] + "..."


# click's words for the usage line's parts, which it does not translate itself.
USAGE_WORDS = (N_("[OPTIONS]"), N_("COMMAND [ARGS]..."))


def _with_language_option(params: list[click.Parameter]) -> None:
    """Give a command ``--lang`` if it has none: the language of its help and messages
    (the command line's language is read before click parses it, see :meth:`Group.main`)."""
    if not any(param.name == "lang" for param in params):
        params.append(click.Option(
            ["--lang"], type=click.Choice(LANGUAGES), expose_value=False,
            help="Language of the help and the messages (default: from LANG).",
        ))  # fmt: skip


class Command(click.Command):
    """A webtrip command: its help is shown in the command line's language."""

    context_class = Context

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        _with_language_option(self.params)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [_(piece) for piece in super().collect_usage_pieces(ctx)]

    def get_short_help_str(self, limit: int = 45) -> str:
        return _short_help(self, limit)


class Group(click.Group):
    """A group of webtrip commands; the root one sets the language of the whole run."""

    context_class = Context
    command_class = Command
    group_class = type

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        _with_language_option(self.params)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [_(piece) for piece in super().collect_usage_pieces(ctx)]

    def get_short_help_str(self, limit: int = 45) -> str:
        return _short_help(self, limit)

    def main(self, args: Sequence[str] | None = None, *rest: Any, **options: Any) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)
        with speaking(language_in(arguments)):  # the output's failure is told in it too
            return run_writing_to_stdout(partial(super().main, arguments, *rest, **options))


class UserError(click.ClickException):
    """A mistake or a failure the user must hear about in one sentence."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click: a ClassVar; ours vary

    def show(self, file: Any = None) -> None:
        message = Text.assemble(("webtrip:", "bold red"), " ", self.format_message())
        err_console().print(message)


def write_whole(path: str, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to the file ``path`` whole or not at all; a failure
    (a full disk, a folder it cannot write to) is a UserError.

    The bytes go to a temporary file beside ``path``, renamed over it once all are
    written (:func:`os.replace`): a full disk leaves no truncated file, and an older file
    of that name as it was. A name that is not a regular file (``/dev/stdout``, a named
    pipe) is written as it is: there is nothing to swap.
    """
    content = data.encode("utf-8") if isinstance(data, str) else data
    temporary: str | None = None
    try:
        if os.path.exists(path) and not os.path.isfile(path):
            with open(path, "wb") as stream:
                stream.write(content)
            return
        target = os.path.realpath(path)  # a symbolic link's file is the one replaced
        mode = _mode_for(target)
        folder, name = os.path.split(target)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())  # some filesystems say they are full only here
            os.fchmod(file.fileno(), mode)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        reason = exc.strerror or exc
        message = _("cannot write {file}: {reason}").format(file=path, reason=reason)
        raise UserError(message) from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _mode_for(target: str) -> int:
    """The permissions of the file replacing ``target``: its own if it exists, else those
    :func:`open` would give a new file (read and write for all, less the umask)."""
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


OUTPUT_FAILURES = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO})
"""The errors of a standard output that cannot take what is written to it (``> /dev/full``)."""


def run_writing_to_stdout(command: Callable[[], T]) -> T:
    """Run ``command`` (the whole command line, see :meth:`Group.main`), whose standard
    output may fail.

    A closed pipe (``| head -1``) ends the run quietly, as other command-line tools
    do; a standard output that cannot be written (a full disk) ends it with one
    sentence on standard error; both with exit code 1, never a traceback.
    """
    try:
        try:
            return command()
        finally:
            sys.stdout.flush()  # what is still buffered fails here, not at the exit
    except BrokenPipeError:
        _discard_stdout()
        sys.exit(EXIT_ERROR)
    except OSError as exc:
        if exc.errno not in OUTPUT_FAILURES:
            raise
        _discard_stdout()
        reason = exc.strerror or exc
        UserError(_("cannot write the output: {reason}").format(reason=reason)).show()
        sys.exit(EXIT_ERROR)


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output all of it, or fail.

    A file that fills up takes only part of a large write, and Python's text layer
    does not try the rest: ``webtrip sim --json > run.json`` on a full disk would end
    with a truncated trace and exit code 0. Written here until all of it is, the next
    write after a short one fails (ENOSPC), as :func:`run_writing_to_stdout` tells.
    """
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(text)
        return
    stream.flush()
    data = memoryview(text.encode(stream.encoding or "utf-8", stream.errors or "strict"))
    while data:
        written = buffer.write(data)
        if written is None:  # a stream that takes everything says nothing
            break
        if written <= 0:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        data = data[written:]
    buffer.flush()


def _discard_stdout() -> None:
    """Point standard output at /dev/null, so that what is left in its buffer does not
    fail again when Python exits."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


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


def _run_language() -> str:
    language = os.environ.get("LANGUAGE", "en")  # the run's, see i18n.speaking
    return language if language in LANGUAGES else "en"


def sized_connection_cap(wanted: int, what: str, *, per_connection: int = 1) -> int:
    """``wanted`` lowered to what the descriptor limit allows, said in one line on stderr.

    ``what``: the kind of connection, for the sentence ("connections", "TCP connections").
    """
    cap = size_connection_cap(wanted, per_connection=per_connection)
    language = _run_language()
    if cap.lowered:
        err_console().print(
            _(
                "Only {limit} file descriptors are allowed (ulimit -n): serving at most "
                "{chosen} {what} at once, not {wanted}."
            ).format(
                limit=number(cap.limit, language),
                chosen=number(cap.chosen, language),
                wanted=number(cap.wanted, language),
                what=_(what),
            )
        )
    return cap.chosen


def told_when_out_of_descriptors(failures: int) -> None:
    """One line, at most every few seconds, when accept() finds no descriptor left."""
    err_console().print(
        ngettext(
            "Out of file descriptors: {count} new connection had to wait (ulimit -n).",
            "Out of file descriptors: {count} new connections had to wait (ulimit -n).",
            failures,
        ).format(count=number(failures, _run_language()))
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
        err_console().print(banner(where) + " " + _("Ctrl-C stops it."))
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
