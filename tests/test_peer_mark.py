"""The tests' own rule: a test that talks to a third-party program is marked with its name."""

from __future__ import annotations

import pytest

from support import require_peer, require_program


def test_a_program_asked_for_by_a_test_without_its_peer_mark_fails_the_test():
    with pytest.raises(pytest.fail.Exception, match=r"not marked @pytest\.mark\.peer\('dig'\)"):
        require_program("dig")


def test_a_peer_that_is_no_program_is_checked_the_same_way():
    with pytest.raises(pytest.fail.Exception, match=r"talks to linux-tcp but is not marked"):
        require_peer("linux-tcp")
