"""The peer marker holds: each test is the one ``support.require_peer`` checks while it
runs, and every ``peer`` mark names one peer."""

from __future__ import annotations

from collections.abc import Generator

import pytest

import support


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator:
    # Setup, call and teardown: fixtures of a wider scope start and stop inside them too.
    with support.running_test(item):
        return (yield)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for mark in item.iter_markers("peer"):
            if len(mark.args) != 1 or not isinstance(mark.args[0], str) or mark.kwargs:
                raise pytest.UsageError(
                    f"{item.nodeid}: a peer mark names one peer, as in "
                    f'@pytest.mark.peer("dig"), not {mark.args!r}'
                )
