"""Headless-Chromium check of the HTML report's front page: where the final table's header row is drawn and what
is drawn on top of it (DOM bounding boxes and hit tests, read back with --dump-dom)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

# Appended to a copy of the report: waits until the app has drawn the final table and the rule graph, then stores
# the header row's box, the viewport, a hit test at every header cell's centre and the boxes of the graph
# elements in <body data-probe="...">.
PROBE = """
<script>
(function probe(n) {
  const loading = document.getElementById('loading-screen');
  const th = Array.from(document.querySelectorAll('th')).find(t => t.textContent.trim() === '%(column)s');
  const graph = document.querySelector('#rulegraph canvas, #rulegraph svg');
  const ready = th && graph && (!loading || getComputedStyle(loading).display === 'none');
  if (!ready && n < 400) { setTimeout(() => probe(n + 1), 50); return; }
  const out = {viewport: [innerWidth, innerHeight], found: !!th, graph: !!graph};
  if (th) {
    const table = th.closest('table'), row = th.closest('tr');
    const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
    out.row = box(row);
    out.cells = Array.from(row.children).map(c => {
      const b = c.getBoundingClientRect(), x = b.left + b.width / 2, y = b.top + b.height / 2;
      const hit = (x >= 0 && x < innerWidth && y >= 0 && y < innerHeight) ? document.elementFromPoint(x, y) : null;
      return {text: c.textContent.trim(), x: x, y: y, onscreen: hit !== null,
              inTable: hit !== null && table.contains(hit), hit: hit ? hit.tagName + '#' + hit.id : null};
    });
    out.others = Array.from(document.querySelectorAll('#rulegraph, #rulegraph canvas, #rulegraph svg, img, nav'))
      .filter(e => !table.contains(e)).map(e => ({tag: e.tagName, id: e.id, box: box(e)}));
  }
  document.body.setAttribute('data-probe', JSON.stringify(out));
})(0);
</script>
"""


def chromium() -> str | None:
    """Debian's `chromium` (.ci/setup_chromium.sh installs it), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def probe_report(browser: str, report: Path, work: Path, column: str, width: int = 1400, height: int = 900) -> dict:
    """Render a copy of `report` at width x height in headless Chromium and return the probe's findings."""
    page = work / "probe.html"
    text = report.read_text(encoding="utf-8")
    page.write_text(text.replace("</body>", PROBE % {"column": column} + "</body>"), encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={work / 'chromium-profile'}",
        f"--window-size={width},{height}",
        "--virtual-time-budget=30000",
    ]
    proc = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium failed ({proc.returncode}): {proc.stderr[-1500:]}")
    m = re.search(r'data-probe="([^"]*)"', proc.stdout)
    if not m:
        raise AssertionError("the probe did not run (no data-probe attribute in the dumped DOM)")
    return json.loads(html.unescape(m.group(1)))


def overlaps(a: list[float], b: list[float]) -> bool:
    """Whether two [left, top, right, bottom] boxes share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
