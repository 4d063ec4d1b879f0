"""Parsing and printing the ADDR[:PORT] forms the command line accepts."""

from __future__ import annotations

import pytest

from webtrip.net import format_address, parse_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:db8::1]:0", ("2001:db8::1", 0)),
    ],
)
def test_addresses_parse(text, expected):
    assert parse_address(text, 53) == expected


@pytest.mark.parametrize(
    "text", ["localhost", "127.0.0.1:99999", "127.0.0.1:x", "[::1", "[::1]5353", "1.2.3.4.5"]
)
def test_bad_addresses_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_address(text, 53)


def test_ipv6_is_bracketed_when_printed():
    assert format_address(("::1", 53)) == "[::1]:53"
    assert format_address(("127.0.0.1", 53)) == "127.0.0.1:53"
