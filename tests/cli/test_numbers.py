"""Numeric options: a number no option can take is refused in one sentence, exit 2.

Before: ``--max-size 99999999999999`` crashed with OverflowError, ``nan`` was taken
as a timeout (``--keepalive-timeout nan`` never closed an idle connection,
``--tcp-idle-timeout nan`` closed every one at once) and ``--listen 127.0.0.1:``
bound port 53 without a word.
"""

from __future__ import annotations

import subprocess

import pytest

from support import DATA, assert_one_clear_sentence, run_webtrip

SITE = str(DATA / "sites" / "www")
ZONE = str(DATA / "zones" / "hierarchy" / "test.zone")


def webtrip(*args: str) -> subprocess.CompletedProcess[str]:
    return run_webtrip(*args, timeout=30)


def refused_option(done: subprocess.CompletedProcess[str], option: str) -> str:
    """click's usage error: exit 2, no traceback, its one "Error:" sentence naming ``option``."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and option in errors[0], done.stderr
    return errors[0]


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "-1", "0", "1e300", "soon"])
def test_a_keepalive_timeout_that_is_no_duration_is_refused(value: str) -> None:
    done = webtrip("web", "serve", SITE, "--keepalive-timeout", value, "--listen", "127.0.0.1:0")
    line = refused_option(done, "--keepalive-timeout")
    assert "is not a number of seconds from 0.1 to 86,400." in line


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["dns", "serve", "--zone", ZONE, "--tcp-idle-timeout", "nan"], id="tcp-idle"),
        pytest.param(["dns", "resolver", "--timeout", "inf"], id="resolver"),
        pytest.param(["dns", "query", "--timeout", "nan", "example.test"], id="query"),
        pytest.param(["browse", "http://127.0.0.1:9/", "--timeout", "nan"], id="browse"),
        pytest.param(["web", "serve", SITE, "--header-timeout", "nan"], id="header"),
        pytest.param(["web", "serve", SITE, "--first-request-timeout", "inf"], id="first"),
    ],
)  # fmt: skip
def test_every_timeout_refuses_nan_and_inf(args: list[str]) -> None:
    refused_option(webtrip(*args), "timeout")


def test_the_refusal_is_in_spanish_with_spain_s_numbers() -> None:
    done = webtrip("web", "serve", SITE, "--keepalive-timeout", "nan", "--lang", "es")
    line = refused_option(done, "--keepalive-timeout")
    assert "nan no es un número de segundos entre 0,1 y 86.400." in line


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["browse", "http://127.0.0.1:9/", "--max-size", "9" * 14], id="max-size"),
        pytest.param(["web", "serve", SITE, "--max-connections", "99999999999999"], id="web-conns"),
        pytest.param(["dns", "serve", "--zone", ZONE, "--max-tcp-connections", "9" * 30], id="tcp"),
        pytest.param(["dns", "resolver", "--cache-size", "9" * 30], id="cache"),
        pytest.param(["sim", "--seed", "9" * 30, "http://www.example.test/"], id="seed"),
    ],
)  # fmt: skip
def test_a_whole_number_too_big_is_refused(args: list[str]) -> None:
    line = refused_option(webtrip(*args), "--")
    assert "is not in the range" in line


@pytest.mark.parametrize("listen", ["127.0.0.1:", "[::1]:"])
@pytest.mark.parametrize(
    "command", [["web", "serve", SITE], ["dns", "serve", "--zone", ZONE]], ids=["web", "dns"]
)
def test_an_empty_port_is_a_usage_error(command: list[str], listen: str) -> None:
    line = assert_one_clear_sentence(webtrip(*command, "--listen", listen), 2)
    assert "gives no port" in line
