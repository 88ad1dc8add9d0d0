"""Headless Chromium for the report tests: load a page as a browser does, then report per section
its box on the page and whether each of its images loaded (an injected probe writes that into the
DOM after the page's load event), and take a screenshot.

The probe goes into a copy of the page beside it (so relative image paths resolve the same); the
report itself has no scripts. CI installs the browser with
``apt-get install -y --no-install-recommends chromium``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
         "--disable-dev-shm-usage", "--no-first-run", "--virtual-time-budget=10000")
WIDTH = 1200

PROBE = """<script>
window.addEventListener("load", function () {
  var out = {height: document.documentElement.scrollHeight, sections: {}};
  document.querySelectorAll("header[id], section[id]").forEach(function (s) {
    var r = s.getBoundingClientRect();
    var imgs = [];
    s.querySelectorAll("img").forEach(function (im) {
      var b = im.getBoundingClientRect();
      imgs.push({src: im.getAttribute("src"), loaded: im.complete && im.naturalWidth > 0,
                 natural: [im.naturalWidth, im.naturalHeight],
                 box: [b.left + window.scrollX, b.top + window.scrollY, b.width, b.height]});
    });
    out.sections[s.id] = {top: r.top + window.scrollY, height: r.height,
                          title: (s.querySelector("h1, h2") || {}).textContent || "",
                          missing: Array.from(s.querySelectorAll("div.missing")).map(function (m) { return m.textContent; }),
                          tables: s.querySelectorAll("table").length, images: imgs};
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def find_chromium() -> str | None:
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(binary: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([binary, *FLAGS, *args], capture_output=True, text=True, timeout=timeout, env=env)


def probe(binary: str, page: Path) -> dict[str, Any]:
    """Load ``page`` in Chromium (``WIDTH`` wide, as :func:`screenshot`); per section id: top, height, title, missing boxes, tables and
    images (src, loaded, natural size, box on the page)."""
    html = page.read_text()
    assert "</body>" in html, f"{page}: no </body>"
    copy = page.with_name(f".probe-{page.name}")
    copy.write_text(html.replace("</body>", PROBE + "</body>", 1))
    try:
        res = _run(binary, "--dump-dom", f"--window-size={WIDTH},2000", copy.resolve().as_uri())
    finally:
        copy.unlink()
    m = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, re.S)
    assert m, f"chromium gave no probe result (rc {res.returncode}): {res.stderr[-2000:]}"
    import html as html_mod

    return json.loads(html_mod.unescape(m.group(1)))


def screenshot(binary: str, page: Path, out: Path, height: int) -> Path:
    """A ``WIDTH`` x ``height`` screenshot of ``page`` (the whole page when ``height`` is its height)."""
    res = _run(binary, f"--screenshot={out}", f"--window-size={WIDTH},{height}", page.resolve().as_uri())
    assert out.is_file(), f"chromium wrote no screenshot (rc {res.returncode}): {res.stderr[-2000:]}"
    return out
