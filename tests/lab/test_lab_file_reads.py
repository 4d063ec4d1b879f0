"""Lab files that are not labs, and values a lab must refuse: one sentence each.

Issue 14, items 11–13: a lab nested 5,000 deep was a RecursionError traceback,
a lab at /dev/zero was OOM-killed, a FIFO blocked forever, 2,000 hosts took
14.7 s to check, and ``dns_attempts = true``, ``dns_timeout = "0s"``,
``name = 123`` and hosts at 127.0.0.1/8 or 224.0.0.1/24 were accepted.
"""

from __future__ import annotations

import os
import time

import pytest

from support import assert_one_clear_sentence, run_webtrip
from webtrip import lab

from .test_lab_files import TWO_ROUTERS, write_lab


def refused(path) -> str:
    with pytest.raises(lab.LabError) as caught:
        lab.load_lab(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    return message


def test_a_lab_nested_5000_deep_is_one_sentence_on_the_command_line(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    line = assert_one_clear_sentence(run_webtrip("sim", "--lab", str(path)), 2)
    assert line == f"webtrip: {path}: the lab file nests tables or lists too deeply"


def test_a_lab_at_dev_zero_is_refused_without_reading_it():
    assert refused("/dev/zero") == (
        "/dev/zero: the lab file is a character device, not a regular file"
    )


def test_a_fifo_lab_is_refused_at_once(tmp_path):
    fifo = tmp_path / "lab.fifo"
    os.mkfifo(fifo)
    line = assert_one_clear_sentence(run_webtrip("sim", "--lab", str(fifo), timeout=20), 2)
    assert line == f"webtrip: {fifo}: the lab file is a pipe (FIFO), not a regular file"


def test_a_lab_whose_zone_is_dev_zero_is_refused(tmp_path):
    path = write_lab(tmp_path, TWO_ROUTERS.replace('"zones/school.test.zone"', '"/dev/zero"'))
    message = refused(path)
    assert message.endswith("/dev/zero: the zone file is a character device, not a regular file")


def test_a_lab_over_the_limit_is_refused(tmp_path, monkeypatch):
    path = write_lab(tmp_path, TWO_ROUTERS + "# " + "x" * 1_100_000 + "\n")
    monkeypatch.setenv("WEBTRIP_MAX_FILE_MB", "1")
    assert "the lab file is larger than 1 MB; set WEBTRIP_MAX_FILE_MB" in refused(path)
    monkeypatch.setenv("WEBTRIP_MAX_FILE_MB", "2")
    assert lab.load_lab(path).hosts["pc"] == "192.168.1.10/24"


VALUES = [
    (("[browser]\n", '[browser]\ndns_attempts = true\n'),
     "[browser] dns_attempts must be a whole number from 1 to 100, not True"),
    (("[browser]\n", '[browser]\ndns_attempts = 1000000000\n'),
     "dns_attempts must be a whole number from 1 to 100, not 1000000000"),
    (("[browser]\n", '[browser]\ndns_timeout = "0s"\n'),
     "[browser] dns_timeout must be more than 0 s"),
    (("[browser]\n", 'name = 123\n[browser]\n'), "the lab's 'name' must be a text, not 123"),
    (('"192.168.1.10/24"', '"127.0.0.1/8"'),
     "host 'pc' has '127.0.0.1/8', a loopback address (127.0.0.0/8), which never leaves"),
    (('"192.168.1.10/24"', '"224.0.0.1/24"'),
     "host 'pc' has '224.0.0.1/24', a multicast address (224.0.0.0/4)"),
    (('"192.168.1.10/24"', '"0.1.2.3/8"'), "(0.0.0.0/8), which no host can have"),
    (('"192.168.1.10/24"', '"250.0.0.1/24"'), "a reserved address (240.0.0.0/4)"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "words"), VALUES)
def test_each_value_a_lab_cannot_use_is_one_sentence(tmp_path, change, words):
    old, new = change
    assert old in TWO_ROUTERS
    assert words in refused(write_lab(tmp_path, TWO_ROUTERS.replace(old, new, 1)))


def test_a_lab_at_a_loopback_address_is_a_usage_error_on_the_command_line(tmp_path):
    path = write_lab(tmp_path, TWO_ROUTERS.replace('"192.168.1.10/24"', '"127.0.0.1/8"'))
    line = assert_one_clear_sentence(run_webtrip("sim", "--lab", str(path)), 2)
    assert "a loopback address (127.0.0.0/8)" in line


def test_checking_hosts_grows_linearly_not_quadratically(tmp_path):
    """2,000 hosts took 35 s when every host was checked against every other; now
    doubling the hosts about doubles the time (measured as the best of three, so a busy
    machine does not decide it)."""

    def best_time(count: int) -> float:
        hosts = "".join(
            f'[[hosts]]\nname = "h{n}"\naddress = "10.{n // 250}.{n % 250}.9/24"\n'
            for n in range(count)
        )
        folder = tmp_path / str(count)
        folder.mkdir()
        path = write_lab(folder, TWO_ROUTERS + hosts)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            refused(path)  # the extra hosts have no links: refused after every host is checked
            times.append(time.perf_counter() - started)
        return min(times)

    small, large = best_time(1000), best_time(4000)
    assert large < small * 8, (small, large)  # quadratic would be ×16
