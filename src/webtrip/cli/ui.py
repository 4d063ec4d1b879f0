"""``webtrip ui``: the replay app as a local web app that makes runs on request.

It serves on 127.0.0.1 (a free port unless ``--listen`` names one), prints the
address and opens the system's browser there. The page's form runs the demo
lab (or a lab file or site folder named here with ``--lab``/``--site``) in
the simulated network, as ``webtrip sim`` does, and shows each run in the
replay app. The server is Starlette on uvicorn (with h11); the runs are made
by a warm worker process (:mod:`webtrip.ui.runs`). Ctrl-C stops it.
"""

from __future__ import annotations

import socket
import threading
import webbrowser
from pathlib import Path
from typing import Any

import click

from webtrip import lab
from webtrip.cli.classroom import check_listen, serve_classroom
from webtrip.cli.common import Command, UserError, _, err_console
from webtrip.cli.options import LANGUAGE_OPTION
from webtrip.i18n import choose_language
from webtrip.net import parse_address
from webtrip.outcomes import EXIT_USAGE
from webtrip.ui.app import Settings, create_app
from webtrip.ui.params import INTERNET, LabChoice
from webtrip.ui.runs import RunManager


@click.command(cls=Command)
@click.option(
    "--listen",
    metavar="ADDR:PORT",
    default="127.0.0.1:0",
    show_default=True,
    help="Where to serve the app (port 0: a free one).",
)
@click.option("--no-open", is_flag=True, help="Do not open the browser; just print the address.")
@click.option(
    "--allow-network",
    is_flag=True,
    help="Also let the page load pages from the real network (http/https, public hosts only).",
)
@click.option(
    "--lab",
    "lab_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A lab file (TOML) the form may run, besides the demo lab (repeatable).",
)
@click.option(
    "--site",
    "site_folders",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A folder of web pages the form may serve in the demo lab (repeatable).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="How many runs are made at the same time.",
)
@click.option(
    "--classroom",
    is_flag=True,
    help="Classroom mode: serve one run to the class on the school network "
    "(needs --listen with this computer's address).",
)
@click.option(
    "--lesson",
    "lesson_name",
    metavar="LESSON|FILE",
    help="With --classroom: the lesson whose run and questions the class follows.",
)
@LANGUAGE_OPTION
@click.pass_context
def ui(
    ctx: click.Context,
    listen: str,
    no_open: bool,
    allow_network: bool,
    lab_files: tuple[str, ...],
    site_folders: tuple[str, ...],
    workers: int,
    classroom: bool,
    lesson_name: str | None,
    lang: str | None,
) -> None:
    """Make runs and watch them in your browser: a local web app.

    The page lets you choose what to load, the network (a profile, or
    latency, bandwidth, loss, reordering, MTU), faults (drop or delay a
    packet, a silent DNS server), the seed and the language; press Run and
    watch it in the replay app. Runs are kept in a list; "run again with one
    change" keeps the seed, so the only differences are the change's. Only
    simulated worlds are run unless --allow-network is given. The app answers
    only at its own address, and only its own page may start runs.

    \b
    Examples:
      webtrip ui                              the demo lab, in your browser
      webtrip ui --no-open --listen 127.0.0.1:8765
      webtrip ui --lab my-lab/lab.toml --site ./public
      webtrip ui --allow-network              real pages too (public hosts only)

    With --classroom the class follows along: it prints the students' address,
    a short join code and the teacher's address (with its secret key); the
    teacher steps through the run and opens the lesson's questions, students
    watch and answer on their phones. Only simulated runs; no internet needed.

    \b
    In class:
      webtrip ui --classroom --listen 192.168.1.20:8000 --lesson walk-from-root
    """
    language = choose_language(lang)
    if lesson_name is not None and not classroom:
        raise UserError(_("--lesson goes with --classroom"), EXIT_USAGE)
    if classroom:
        check_listen(ctx.get_parameter_source("listen") is not click.core.ParameterSource.DEFAULT)
        if allow_network or lab_files or site_folders:
            raise UserError(
                _(
                    "--classroom serves one simulated run: "
                    "leave out --allow-network, --lab and --site"
                ),
                EXIT_USAGE,
            )
    try:
        host, port = parse_address(listen, 0)
    except ValueError as exc:
        raise UserError(f"--listen {listen}: {exc}", EXIT_USAGE) from None
    labs = _labs(lab_files, site_folders)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"--listen {listen}: {exc.strerror or exc}", EXIT_USAGE) from None
    sock.listen(1024 if classroom else 128)
    if classroom:
        serve_classroom(sock, host, lesson_name, language, no_open, _serve)
        return
    settings = Settings(host, sock.getsockname()[1], labs, allow_network, language)
    manager = RunManager(labs, workers=workers)
    stopping = threading.Event()
    manager.start()
    address = settings.origin + "/"
    err_console().print(
        _("webtrip ui: {address} — Ctrl-C stops it.").format(address=address), highlight=False
    )
    if not no_open:
        threading.Thread(target=webbrowser.open, args=(address,), daemon=True).start()
    try:
        _serve(create_app(settings, manager, stopping), sock, stopping)
    except KeyboardInterrupt:
        pass  # uvicorn raises the signal again once it has stopped
    finally:
        stopping.set()
        manager.stop()
        sock.close()
    err_console().print(_("webtrip ui: stopped."), highlight=False)


def _serve(app: Any, sock: socket.socket, stopping: threading.Event) -> None:
    """Serve ``app`` on ``sock`` with uvicorn (h11, quiet) until a signal stops it."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            stopping.set()  # event streams end now, so shutting down does not wait for them
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    Server(config).run(sockets=[sock])


def _labs(lab_files: tuple[str, ...], site_folders: tuple[str, ...]) -> dict[str, LabChoice]:
    """The labs the form offers: the demo, each --lab and --site, and the real network
    (listed always: without --allow-network the app refuses it, and says why)."""
    demo = lab.demo_lab()
    labs = {"demo": LabChoice("demo", "demo", None, demo.url, tuple(demo.zone_origins()))}
    for file in lab_files:
        try:
            loaded = lab.load_lab(file)
        except lab.LabError as exc:
            raise UserError(str(exc), EXIT_USAGE) from None
        name = _unique(Path(file).parent.name or Path(file).stem, labs)
        path = str(Path(file).resolve())
        labs[name] = LabChoice(name, "file", path, loaded.url, tuple(loaded.zone_origins()))
    for folder in site_folders:
        if not Path(folder).is_dir():
            raise UserError(_("--site {folder}: not a folder").format(folder=folder), EXIT_USAGE)
        name = _unique(Path(folder).resolve().name, labs)
        path = str(Path(folder).resolve())
        labs[name] = LabChoice(name, "site", path, demo.url, tuple(demo.zone_origins()))
    labs[INTERNET] = LabChoice(INTERNET, INTERNET)
    return labs


def _unique(name: str, taken: dict[str, LabChoice]) -> str:
    found, n = name, 2
    while found in taken or found == INTERNET:
        found, n = f"{name}-{n}", n + 1
    return found
