"""One exit-code table: the browser's errors, --help and the narration all read it."""

from __future__ import annotations

import pytest

from webtrip.browser import errors
from webtrip.outcomes import FAILURES, failure


def error_types() -> list[type[errors.LoadError]]:
    found, pending = [], [errors.LoadError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.append(sub)
            pending.append(sub)
    return found


def test_every_error_of_the_browser_takes_its_kind_and_code_from_the_table():
    kinds = {row.kind for row in FAILURES}
    for error in error_types():
        assert error.kind in kinds, error
        row = failure(error.kind)
        assert row is not None and error.exit_code == row.exit_code, error
    assert {error.kind for error in error_types()} == kinds


@pytest.mark.parametrize(("status", "code"), [(404, 17), (503, 18)])
def test_a_4xx_and_a_5xx_page_have_codes_of_their_own(status, code):
    assert errors.HttpStatusError("no", status=status).exit_code == code
    assert any(row.exit_code == code and row.kind == "http-error" for row in FAILURES)


def test_a_kind_outside_the_table_cannot_be_declared():
    with pytest.raises(TypeError, match=r"not in outcomes\.FAILURES"):
        type("Strange", (errors.LoadError,), {"kind": "strange"})
