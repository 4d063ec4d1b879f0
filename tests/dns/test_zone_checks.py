"""Zone files NSD refuses are refused here too, with the file and line (issue 14)."""

from __future__ import annotations

import subprocess
import sys
import time

import dns.name
import dns.rdatatype
import dns.zone
import pytest

from webtrip.dns.zones import ZoneError, load_zone

HEAD = "$ORIGIN bad.test.\n$TTL 60\n@ IN SOA ns admin 1 2 3 4 5\n  IN NS ns\nns IN A 192.0.2.1\n"


def write(tmp_path, text: str):
    path = tmp_path / "zone.db"
    path.write_text(text)
    return path


def test_a_second_soa_at_the_apex_is_refused_at_its_line(tmp_path):
    path = write(tmp_path, HEAD + "www IN A 192.0.2.7\n@ IN SOA ns2 admin 9 2 3 4 5\n")
    with pytest.raises(ZoneError) as error:
        load_zone(path)
    assert str(error.value) == (
        f"{path}:7: a second SOA record for bad.test.: a zone has exactly one "
        "(in '@ IN SOA ns2 admin 9 2 3 4 5')"
    )


def test_the_same_soa_written_twice_is_one_soa(tmp_path):
    zone = load_zone(write(tmp_path, HEAD + "@ IN SOA ns admin 1 2 3 4 5\n"))
    assert len(zone.soa) == 1


@pytest.mark.parametrize("ttl", ["99999999999", "2147483648", "4294967295"])
def test_a_ttl_out_of_range_is_named_with_its_line(tmp_path, ttl):
    path = write(tmp_path, HEAD + f"www {ttl} IN A 192.0.2.7\n")
    with pytest.raises(ZoneError) as error:
        load_zone(path)
    assert str(error.value) == (
        f"{path}:6: TTL {ttl} is out of range (0 to 2147483647) (in 'www {ttl} IN A 192.0.2.7')"
    )


def test_a_ttl_directive_out_of_range_is_named_with_its_line(tmp_path):
    path = write(tmp_path, "$ORIGIN bad.test.\n$TTL 99999999999\n@ IN SOA ns admin 1 2 3 4 5\n")
    with pytest.raises(
        ZoneError, match=r"zone\.db:2: TTL 99999999999 is out of range \(0 to 2147483647\)"
    ):
        load_zone(path)


def test_the_largest_ttl_loads(tmp_path):
    zone = load_zone(write(tmp_path, HEAD + "www 2147483647 IN A 192.0.2.7\n"))
    www = zone.rdataset(dns.name.from_text("www.bad.test."), dns.rdatatype.A)
    assert www is not None and www.ttl == 2147483647


def test_the_cli_says_the_ttl_sentence_and_exits_non_zero(tmp_path):
    path = write(tmp_path, HEAD + "www 99999999999 IN A 192.0.2.7\n")
    done = subprocess.run(
        [sys.executable, "-m", "webtrip", "dns", "serve", "--zone", str(path),
         "--listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "TTL 99999999999 is out of range (0 to 2147483647)" in done.stderr
    assert "Traceback" not in done.stderr
    assert "rdatatype" not in done.stderr


def test_a_30k_record_zone_loads_in_one_pass(tmp_path):
    """The file is read once: it was read twice (the second time to find records
    outside the zone), so loading took over twice the time of dnspython's own
    parse. The CPU time is compared with that parse, on the same machine."""
    lines = [HEAD] + [f"h{i} IN A 10.0.{i >> 8 & 255}.{i & 255}\n" for i in range(30_000)]
    path = write(tmp_path, "".join(lines))
    started = time.process_time()
    dns.zone.from_text(path.read_text(), relativize=False, check_origin=False)
    one_parse = time.process_time() - started
    started = time.process_time()
    zone = load_zone(path)
    loading = time.process_time() - started
    assert len(zone.data.nodes) == 30_002
    assert loading < 1.5 * one_parse, (loading, one_parse)
