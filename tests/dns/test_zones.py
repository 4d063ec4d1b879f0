"""Loading zone files: good ones load, bad ones are named with file and line."""

from __future__ import annotations

import dns.name
import pytest

from support import ZONES
from webtrip.dns.zones import ZoneError, ZoneSet, load_zone

GOOD_HEAD = (
    "$ORIGIN bad.test.\n$TTL 60\n@ IN SOA ns admin 1 2 3 4 5\n  IN NS ns\nns IN A 192.0.2.1\n"
)


def write(tmp_path, text: str):
    path = tmp_path / "zone.db"
    path.write_text(text)
    return path


def test_zone_loads_with_its_origin_and_cuts():
    zone = load_zone(ZONES / "example.test.zone")
    assert zone.origin == dns.name.from_text("example.test.")
    assert {cut.to_text() for cut in zone.cuts} == {"child.example.test.", "sibling.example.test."}


def test_empty_non_terminals_exist():
    zone = load_zone(ZONES / "example.test.zone")
    assert dns.name.from_text("ent.empty.example.test.") in zone.names


@pytest.mark.parametrize(
    ("bad_line", "words"),
    [
        ("www IN A 300.1.2.3", "malformed"),
        ("www IN BOGUS 1.2.3.4", "unknown rdatatype"),
        ("www IN MX mail", ""),
        ("a" * 64 + " IN A 192.0.2.1", "label"),
    ],
)
def test_a_bad_record_is_reported_with_file_and_line(tmp_path, bad_line, words):
    path = write(tmp_path, GOOD_HEAD + bad_line + "\nok IN A 192.0.2.2\n")
    with pytest.raises(ZoneError) as caught:
        load_zone(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:6: ")
    assert words in message
    assert "\n" not in message


def test_a_bad_record_in_parentheses_names_its_line(tmp_path):
    path = write(tmp_path, GOOD_HEAD + 'txt IN TXT (\n "a"\n 1.2.3.4 )\nmx IN MX ( 10\n )\n')
    # The TXT spans lines 6-8 and is valid; the MX on lines 9-10 lacks its exchange.
    with pytest.raises(ZoneError, match=r"zone\.db:(9|10): "):
        load_zone(path)


def test_cname_and_other_data_is_refused(tmp_path):
    path = write(tmp_path, GOOD_HEAD + "www IN A 192.0.2.1\nwww IN CNAME ns\n")
    with pytest.raises(ZoneError, match=r"zone\.db:7: a name cannot have a CNAME and other"):
        load_zone(path)


def test_a_zone_without_soa_is_refused(tmp_path):
    path = write(tmp_path, "$ORIGIN bad.test.\n$TTL 60\n@ IN NS ns\nns IN A 192.0.2.1\n")
    with pytest.raises(ZoneError, match="no SOA record"):
        load_zone(path)


def test_a_zone_without_origin_says_how_to_name_it(tmp_path):
    path = write(tmp_path, "$TTL 60\n@ IN SOA ns admin 1 2 3 4 5\n")
    with pytest.raises(ZoneError, match=r"\$ORIGIN"):
        load_zone(path)


def test_origin_can_be_given_instead_of_in_the_file(tmp_path):
    path = write(tmp_path, "$TTL 60\n@ IN SOA ns admin 1 2 3 4 5\n  IN NS ns\nns IN A 192.0.2.1\n")
    assert load_zone(path, "given.test").origin == dns.name.from_text("given.test.")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ZoneError, match="no such zone file"):
        load_zone(tmp_path / "missing.zone")


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "binary.zone"
    path.write_bytes(b"\xff\xfe\x00\x01" * 10)
    with pytest.raises(ZoneError, match="not a text file"):
        load_zone(path)


def test_the_same_zone_twice_is_refused():
    zones = ZoneSet([load_zone(ZONES / "example.test.zone")])
    with pytest.raises(ZoneError, match="already loaded"):
        zones.add(load_zone(ZONES / "example.test.zone"))


def test_longest_match_finds_the_most_specific_zone(tmp_path):
    parent = load_zone(ZONES / "example.test.zone")
    child_path = write(
        tmp_path,
        "$ORIGIN child.example.test.\n$TTL 60\n@ IN SOA ns admin 1 2 3 4 5\n  IN NS ns\n"
        "ns IN A 192.0.2.1\n",
    )
    zones = ZoneSet([parent, load_zone(child_path)])
    assert zones.find(dns.name.from_text("a.child.example.test.")).origin.to_text() == (
        "child.example.test."
    )
    assert zones.find(dns.name.from_text("www.example.test.")) is parent
    assert zones.find(dns.name.from_text("example.com.")) is None


def test_records_outside_the_zone_are_refused_not_dropped(tmp_path):
    path = write(tmp_path, GOOD_HEAD + "www IN A 192.0.2.7\nwww.elsewhere.test. IN A 192.0.2.8\n")
    with pytest.raises(
        ZoneError, match=r"zone\.db:7: .*outside the zone bad\.test.*www\.elsewhere"
    ):
        load_zone(path)


def test_records_outside_a_zone_named_on_the_command_line_are_refused(tmp_path):
    text = "$TTL 60\n@ IN SOA ns admin 1 2 3 4 5\n  IN NS ns\nx.other. IN A 1.2.3.4\n"
    path = write(tmp_path, text)
    with pytest.raises(ZoneError, match=r"zone\.db:4: .*outside the zone given\.test"):
        load_zone(path, "given.test")
