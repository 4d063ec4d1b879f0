"""The layers hold: every import in src/webtrip points down, and no module imports itself back.

The rule (docs/architecture.md, "The layers"): actors (dns, web, browser) know the
network interface (net) and the trace; the simulated world (netsim) knows net, the
trace and the packet codecs (packets); views (report) know the trace and packets,
and an actor only by its package's public names (the result they show: a parsed
page, a DNS walk); the lab wires actors to worlds; only the command line (cli) knows
everything. Imports inside functions and under TYPE_CHECKING count too: a type is an
arrow as well.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import webtrip

SOURCE = Path(webtrip.__file__).parent

BASE = {"webtrip", "outcomes", "files"}
"""What every layer may use: the version (the package itself) and the table of outcomes."""

MAY_IMPORT: dict[str, set[str]] = {
    "webtrip": set(),
    "outcomes": set(),
    "files": set(),
    "i18n": set(),
    "labs": set(),
    "trace": BASE,
    "packets": BASE,
    "net": BASE,
    "dns": BASE | {"net", "trace"},
    "web": BASE | {"net", "trace"},
    "browser": BASE | {"net", "trace", "dns"},
    "netsim": BASE | {"net", "trace", "packets"},
    "report": BASE | {"i18n", "net", "trace", "packets", "browser", "dns"},
    "lab": BASE | {"labs", "net", "trace", "packets", "dns", "web", "browser", "netsim"},
    "ui": BASE | {"i18n", "net", "trace", "packets", "dns", "web", "browser", "report", "lab"},
    "lessons": BASE | {"i18n", "net", "trace", "packets", "report", "lab"},
    "branching": BASE | {"i18n", "trace", "report", "lab"},
    "cli": BASE
    | {"i18n", "labs", "net", "trace", "packets", "dns", "web", "browser", "netsim"}
    | {"report", "lab", "ui", "lessons", "branching"},
    "__main__": {"cli"},
}
"""For each layer (a subpackage, or a top-level module), the layers it may import."""

PUBLIC_ONLY = {("report", "browser"), ("report", "dns")}
"""(importer, imported): through the imported package's own names, not its modules."""

WORLD_NEUTRAL = {"webtrip.lab.spec", "webtrip.lab.faults", "webtrip.lab.actors"}
"""The lab's modules that must not know the simulated world (they serve every world)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SOURCE.rglob("*.py")}


def resolve(name: str) -> str:
    """The module of ``webtrip.x.y.Name``: the longest prefix that is a module."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports() -> dict[str, set[str]]:
    """Every module's imports of webtrip modules (also in functions, also type-only)."""
    found: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            found[name] |= {resolve(t) for t in targets if t.split(".")[0] == "webtrip"}
        found[name].discard(name)
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "webtrip"


def test_every_layer_is_in_the_rule():
    assert {layer(module) for module in MODULES} <= set(MAY_IMPORT)


def test_every_import_points_down_the_layers():
    wrong = []
    for importer, targets in sorted(imports().items()):
        for target in sorted(targets):
            here, there = layer(importer), layer(target)
            if here == there:
                continue
            if there not in MAY_IMPORT[here]:
                wrong.append(f"{importer} imports {target}: {here} may not import {there}")
            elif (here, there) in PUBLIC_ONLY and target != f"webtrip.{there}":
                why = f"{here} takes {there}'s public names (from webtrip.{there} import ...)"
                wrong.append(f"{importer} imports {target}: {why}, not its modules")
    assert wrong == []


def test_the_world_neutral_lab_does_not_know_the_simulator():
    found = imports()
    wrong = [f"{module} imports {target}" for module in sorted(WORLD_NEUTRAL)
             for target in sorted(found[module]) if layer(target) == "netsim"]  # fmt: skip
    assert wrong == []


def test_no_module_imports_itself_back():
    """No cycle among webtrip's modules, not even through a type-only import."""
    graph = imports()
    cycles = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(" → ".join([*path[path.index(module) :], module]))
            return
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(MODULES):
        visit(module, [])
    assert cycles == []
