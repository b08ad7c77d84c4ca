"""Headless-Chromium check of the HTML report's front page over the DevTools protocol (`--remote-debugging-pipe`,
no extra package): where the final table's header row is drawn, and what is drawn on top of it (bounding boxes and
hit tests at each header cell's centre, taken once the app has rendered the table and the rule graph)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

# Evaluated in the page: resolves when the final table (a <th> named `column`) and the rule graph are drawn (or
# after `wait_ms`), with the viewport, the header row's box, a hit test per header cell and the graph's boxes.
PROBE = """
new Promise(resolve => {
  const t0 = performance.now();
  (function poll() {
    const loading = document.getElementById('loading-screen');
    const text = e => e.textContent.replace(/\u200b/g, '').trim();  // header cells may hold zero-width spaces
    const th = Array.from(document.querySelectorAll('th')).find(t => text(t) === %(column)s);
    const graph = document.querySelector('#rulegraph canvas, #rulegraph svg');
    const ready = th && graph && (!loading || getComputedStyle(loading).display === 'none');
    if (!ready && performance.now() - t0 < %(wait_ms)d) { setTimeout(poll, 100); return; }
    const out = {viewport: [innerWidth, innerHeight], found: !!th, graph: !!graph};
    if (th) {
      const table = th.closest('table'), row = th.closest('tr');
      const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
      out.row = box(row);
      out.cells = Array.from(row.children).map(c => {
        const b = c.getBoundingClientRect(), x = b.left + b.width / 2, y = b.top + b.height / 2;
        const hit = (x >= 0 && x < innerWidth && y >= 0 && y < innerHeight) ? document.elementFromPoint(x, y) : null;
        return {text: text(c), onscreen: hit !== null, inTable: hit !== null && table.contains(hit),
                hit: hit ? hit.tagName + '#' + hit.id : null};
      });
      out.others = Array.from(document.querySelectorAll('#rulegraph, #rulegraph canvas, #rulegraph svg, nav'))
        .filter(e => !table.contains(e)).map(e => ({tag: e.tagName, id: e.id, box: box(e)}));
    }
    resolve(JSON.stringify(out));
  })();
})
"""


class BrowserStartError(RuntimeError):
    """Chromium could not be started here (missing libraries, no DevTools pipe): the test skips with this."""


def chromium() -> str | None:
    """Debian's `chromium` (.ci/setup_chromium.sh installs it), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Pipe:
    """The DevTools protocol over Chromium's fds 3 (commands in) and 4 (replies and events out), NUL-separated."""

    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int):
        self.proc, self.out, self.inp, self.buf, self.next_id = proc, to_browser, from_browser, b"", 0

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 120) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.out, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            chunk = os.read(self.inp, 1 << 16)
            if not chunk:
                raise RuntimeError(f"chromium closed the DevTools pipe during {method}")
            self.buf += chunk
        raise TimeoutError(method)


def probe_report(
    browser: str, report: Path, work: Path, column: str, width: int = 1400, height: int = 900, shot: Path | None = None
) -> dict:
    """Open `report` at width x height in headless Chromium and return the probe's findings (and a screenshot)."""
    import fcntl

    def high(fd: int) -> int:  # away from 3 and 4, which the shell below maps the browser's ends to
        new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return new

    to_r, to_w = (high(fd) for fd in os.pipe())  # browser reads commands on fd 3
    from_r, from_w = (high(fd) for fd in os.pipe())  # browser writes replies on fd 4
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
        "--remote-debugging-pipe",
        "about:blank",
    ]

    # the browser reads commands on fd 3 and writes replies on fd 4: map our pipe ends there through the shell
    cmd = ["bash", "-c", f'exec "$0" "$@" 3<&{to_r} 4>&{from_w} {to_r}<&- {from_w}>&-', browser, *flags]
    proc = subprocess.Popen(cmd, pass_fds=(to_r, from_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_r)
    os.close(from_w)
    pipe = _Pipe(proc, to_w, from_r)
    try:
        try:
            targets = pipe.call("Target.getTargets", timeout=60)["targetInfos"]
        except (OSError, RuntimeError, TimeoutError) as exc:
            raise BrowserStartError(f"{browser} did not start: {exc}") from exc
        page = next(t["targetId"] for t in targets if t["type"] == "page")
        session = pipe.call("Target.attachToTarget", {"targetId": page, "flatten": True})["sessionId"]
        pipe.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        pipe.call("Page.enable", {}, session)
        pipe.call("Page.navigate", {"url": report.resolve().as_uri()}, session)
        expr = PROBE % {"column": json.dumps(column), "wait_ms": 60000}
        res = pipe.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True, "returnByValue": True},
                        session, timeout=180)
        if "exceptionDetails" in res:
            raise RuntimeError(f"probe failed: {res['exceptionDetails']}")
        found = json.loads(res["result"]["value"])
        if shot is not None:
            import base64

            png = pipe.call("Page.captureScreenshot", {"format": "png"}, session)["data"]
            shot.write_bytes(base64.b64decode(png))
        pipe.call("Browser.close")
        return found
    finally:
        os.close(to_w)
        os.close(from_r)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def overlaps(a: list[float], b: list[float]) -> bool:
    """Whether two [left, top, right, bottom] boxes share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
