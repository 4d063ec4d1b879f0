"""``webtrip`` itself: every command has help, with examples."""

from __future__ import annotations

import pytest

from support import run_webtrip as webtrip


@pytest.mark.parametrize("command", [(), ("demo",), ("dns",), ("dns", "serve"), ("dns", "query")])
def test_every_command_has_help_with_examples(command):
    done = webtrip(*command, "--help")
    assert done.returncode == 0
    assert "Example" in done.stdout or command == ("dns",)
