"""The mermaid view rendered by mermaid itself, in headless Chromium.

``test_mermaid.py`` checks the diagrams against a hand-written copy of the
grammar; this test asks the real thing. The ``mermaid`` npm package (major
version 11) is installed into ``tests/.npm`` (``scripts/test.sh`` does it when
npm is available); its self-contained browser bundle ``dist/mermaid.min.js``
is loaded by a page written into the test's temporary folder, which parses and
renders each diagram and writes the outcome as JSON into ``<pre id="result">``.
``--dump-dom`` shows it. Both styles are rendered: the sequence diagrams
(with a lost packet and unanswered DNS questions, in English and Spanish) and
the four steps' flowcharts. The test is skipped, saying why, when Chromium or
the bundle is missing.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path

import pytest

from peers.chromium import CHROMIUM_FLAGS, run_chromium
from support import require_peer, require_program, run_webtrip
from webtrip.report.mermaid import mermaid_flowchart, mermaid_from_trace
from webtrip.trace import Trace

NPM = Path(__file__).resolve().parent.parent / ".npm"
BUNDLE = NPM / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
RUN_TIMEOUT = 60.0  # seconds for one Chromium run

FLAGS = (*CHROMIUM_FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND")  # the page needs no network

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mermaid render</title></head>
<body>
<pre id="result"></pre>
<script type="application/json" id="diagrams">{diagrams}</script>
<script src="{bundle}"></script>
<script>
(async () => {{
  const out = document.getElementById("result");
  const results = [];
  try {{
    const diagrams = JSON.parse(document.getElementById("diagrams").textContent);
    mermaid.initialize({{startOnLoad: false}});
    for (const [i, text] of diagrams.entries()) {{
      try {{
        await mermaid.parse(text);
        const {{svg}} = await mermaid.render("d" + i, text);
        const holder = document.createElement("div");
        holder.innerHTML = svg;
        const root = holder.querySelector("svg");
        const actors = [...holder.querySelectorAll("text.actor")].map(t => t.textContent.trim());
        const nodes = [...holder.querySelectorAll("g.node")].map(n => n.textContent.trim());
        const crosses = holder.querySelectorAll("[marker-end*='cross' i]").length;
        const elements = root ? root.querySelectorAll("*").length : 0;
        results.push({{result: root ? "OK " + elements : "no svg", actors, nodes, crosses}});
      }} catch (error) {{
        results.push({{result: String(error && error.message || error), actors: []}});
      }}
    }}
  }} catch (error) {{
    results.push({{result: "page error: " + String(error && error.message || error), actors: []}});
  }}
  out.textContent = JSON.stringify(results);
}})();
</script>
</body></html>
"""


def mermaid_bundle() -> Path:
    """The mermaid browser bundle (scripts/test.sh installs it with npm), or skip."""
    require_peer("mermaid")
    if not BUNDLE.is_file():
        pytest.skip(f"the mermaid npm package is not in {NPM} (scripts/test.sh installs it)")
    return BUNDLE


def dump_dom(workdir: Path, url: str) -> str:
    """Run headless Chromium once on ``url``; the DOM it dumps."""
    run = run_chromium(
        workdir, url, "--virtual-time-budget=10000", "--dump-dom", flags=FLAGS, timeout=RUN_TIMEOUT
    )
    return run.stdout


def webtrip_json(*args: str) -> Trace:
    done = run_webtrip(*args, "--json")
    assert done.stdout, done.stderr
    return Trace.from_json(done.stdout)


def participant_labels(diagram: str) -> list[str]:
    """The labels of the diagram's participants, as mermaid shows them."""
    labels = []
    for line in diagram.splitlines():
        if match := re.fullmatch(r"\s*participant (\S+)(?: as (.*))?", line):
            label = match.group(2) or match.group(1)
            labels.append(html.unescape(re.sub(r"#(\d+);", r"&#\1;", label)))
    return labels


@pytest.fixture(scope="module")
def diagrams() -> dict[str, str]:
    from webtrip.cli.demo import run_demo

    trace, (load,) = asyncio.run(run_demo("en"))
    assert load.error is None
    sim = webtrip_json("sim")
    synack = webtrip_json("sim", "--drop", "synack")
    failed = webtrip_json("sim", "--dns-silent")
    return {
        "demo": mermaid_from_trace(trace),
        "sim": mermaid_from_trace(sim),
        "failed": mermaid_from_trace(failed),
        "synack es": mermaid_from_trace(synack, language="es"),
        "flowchart demo": mermaid_flowchart(trace),
        "flowchart sim es": mermaid_flowchart(sim, language="es"),
        "flowchart synack": mermaid_flowchart(synack),
        "flowchart failed es": mermaid_flowchart(failed, language="es"),
    }


@pytest.mark.peer("chromium")
@pytest.mark.peer("mermaid")
def test_mermaid_parses_and_renders_every_diagram(diagrams, tmp_path):
    require_program("chromium")
    bundle = mermaid_bundle()
    texts = list(diagrams.values())
    data = json.dumps(texts).replace("</", "<\\/")
    page = tmp_path / "render.html"
    page.write_text(PAGE.format(diagrams=data, bundle=bundle.as_uri()), encoding="utf-8")
    dom = dump_dom(tmp_path, page.as_uri())
    match = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert match and match.group(1), f"the page wrote no result: {dom[-2000:]}"
    results = json.loads(html.unescape(match.group(1)))
    assert len(results) == len(texts), results
    for (name, text), got in zip(diagrams.items(), results, strict=True):
        assert re.fullmatch(r"OK \d+", got["result"]), f"{name}: {got['result']}\n{text}"
        assert int(got["result"].split()[1]) > 10, f"{name}: an almost empty SVG"
        # A crossed arrow in the text is a crossed arrow in the picture, and only there.
        crossed = len(re.findall(r"^ +\w+ ?-{1,2}x", text, re.M))
        assert got["crosses"] == crossed, (
            f"{name}: {got['crosses']} crosses drawn, {crossed} in text"
        )
        if text.startswith("flowchart"):
            # Each box is drawn with its words: the client's, the DNS server's...
            client = "Client – Browser" if "Client – Browser" in text else "Cliente – Navegador"
            assert any(node.startswith(client) for node in got["nodes"]), (name, got["nodes"])
            assert len(got["nodes"]) == len(re.findall(r"^    \w+[\[(]", text, re.M)), name
            continue
        # Each participant is drawn twice (top and bottom), with its label.
        for label in participant_labels(text):
            assert label in got["actors"], f"{name}: {label!r} not drawn in {got['actors']}"
        assert "Browser" in got["actors"] or "Navegador" in got["actors"]
        assert any(a.startswith(("DNS server", "Resolver", "Servidor DNS", "Resolutor"))
                   for a in got["actors"]), name  # fmt: skip
