"""Zone files that are not zones: empty ones, devices, pipes, huge files — one sentence each.

Issue 14, items 11 and 12: an empty zone file was an AssertionError traceback,
``--zone /dev/zero`` grew by 300 MB/s and a FIFO blocked forever.
"""

from __future__ import annotations

import os

import pytest

from support import assert_one_clear_sentence, run_webtrip
from webtrip.dns.zones import ZoneError, load_zone
from webtrip.files import LIMIT_VARIABLE

SOA_ONLY = (
    "$ORIGIN small.test.\n$TTL 60\n@ IN SOA ns admin 1 2 3 4 5\n  IN NS ns\nns IN A 192.0.2.1\n"
)


@pytest.mark.parametrize("text", ["", "; only a comment\n\n   \n", "$TTL 60\n"])
@pytest.mark.parametrize("origin", [None, "empty.test"])
def test_a_zone_file_with_no_records_is_one_sentence(tmp_path, text, origin):
    path = tmp_path / "empty.zone"
    path.write_text(text)
    with pytest.raises(ZoneError) as caught:
        load_zone(path, origin)
    assert str(caught.value) == f"{path} has no records: a zone needs at least its SOA"


def test_dns_serve_with_an_empty_zone_is_a_usage_error_in_one_line(tmp_path):
    path = tmp_path / "empty.zone"
    path.write_text("; nothing yet\n")
    line = assert_one_clear_sentence(run_webtrip("dns", "serve", "--zone", str(path)), 2)
    assert line == f"webtrip: {path} has no records: a zone needs at least its SOA"


def test_a_character_device_is_refused_without_reading_it():
    with pytest.raises(ZoneError) as caught:
        load_zone("/dev/zero")
    assert str(caught.value) == "/dev/zero: the zone file is a character device, not a regular file"


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "zone.fifo"
    os.mkfifo(fifo)
    done = run_webtrip("dns", "serve", "--zone", f"small.test={fifo}", timeout=20)
    line = assert_one_clear_sentence(done, 2)
    assert line == f"webtrip: {fifo}: the zone file is a pipe (FIFO), not a regular file"


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(ZoneError, match="the zone file is a folder, not a regular file"):
        load_zone(tmp_path)


def test_a_zone_over_the_limit_is_refused_and_the_limit_can_be_raised(tmp_path, monkeypatch):
    path = tmp_path / "big.zone"
    path.write_text(SOA_ONLY + "; " + "x" * 1_500_000 + "\n")
    assert 1024 * 1024 < path.stat().st_size < 2 * 1024 * 1024
    monkeypatch.setenv(LIMIT_VARIABLE, "1")
    with pytest.raises(ZoneError) as caught:
        load_zone(path)
    assert str(caught.value) == (
        f"{path}: the zone file is larger than 1 MB; "
        f"set {LIMIT_VARIABLE} to a bigger number of megabytes to read it"
    )
    monkeypatch.setenv(LIMIT_VARIABLE, "2")
    assert len(load_zone(path).names) == 2


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_a_bad_limit_is_one_sentence(tmp_path, monkeypatch, value):
    path = tmp_path / "small.zone"
    path.write_text(SOA_ONLY)
    monkeypatch.setenv(LIMIT_VARIABLE, value)
    with pytest.raises(ZoneError, match=f"{LIMIT_VARIABLE}='{value}' is not a whole number"):
        load_zone(path)


def test_the_limit_is_documented_in_help():
    done = run_webtrip("dns", "serve", "--help")
    assert LIMIT_VARIABLE in done.stdout.replace("\n", " ")
