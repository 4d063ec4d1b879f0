"""axe-core, the accessibility checker, run inside a page a learner sees.

The npm package is installed into ``tests/.npm`` by ``scripts/test.sh`` (as mermaid is);
without npm the tests that use it are skipped with that reason. :func:`serious` injects
``axe.min.js`` with Playwright's ``add_script_tag(path=...)`` and returns the violations
whose impact is serious or critical, each as one line a failing test can show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

__all__ = ["AXE", "axe_bundle", "serious"]

AXE = Path(__file__).resolve().parent.parent / ".npm" / "node_modules" / "axe-core" / "axe.min.js"

RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " — " + n.failureSummary) }));
}"""


def axe_bundle() -> Path:
    """axe-core's script, or skip: it is an npm package scripts/test.sh installs."""
    if not AXE.is_file():
        pytest.skip(
            "axe-core is not installed in tests/.npm (scripts/test.sh installs it with npm)"
        )
    return AXE


def serious(page: Any) -> list[str]:
    """The page's serious and critical accessibility violations, as axe-core finds them."""
    page.add_script_tag(path=str(axe_bundle()))
    found = page.evaluate(RUN)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: " + " | ".join(v["nodes"])
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
