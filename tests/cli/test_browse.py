"""``webtrip browse`` as a user meets it: a bad address is refused in one sentence.

How a load that fails is told, with its exit code, is specified in
``tests/browser/test_failures.py``.
"""

from __future__ import annotations

import pytest

from support import assert_one_clear_sentence
from support import run_webtrip as webtrip
from webtrip.outcomes import EXIT_INCOMPLETE, FAILURES, exit_codes_help


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "empty"),
        ("ftp://example.test/", "not an http"),
        ("http://[::1", "not a valid URL"),
        ("http://a b/", "not a valid host name"),
        ("http://example.test:99999/", "not a valid URL"),
    ],
)
def test_browse_refuses_a_bad_address_in_one_sentence(url, words):
    done = webtrip("browse", url)
    assert words in assert_one_clear_sentence(done, 2)


def test_browse_help_lists_every_code_of_the_table():
    shown = " ".join(webtrip("browse", "--help").stdout.split())
    for row in FAILURES:
        if row.summary is not None:
            assert f"{row.exit_code} {row.summary}" in shown
    assert f"{EXIT_INCOMPLETE} the page loaded but some of its files did not" in shown
    assert " ".join(exit_codes_help().split()) in shown
