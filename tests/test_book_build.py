"""The built book, opened in real headless Chromium with every request outside the book blocked.

The book is served from 127.0.0.1 by a local http.server; Chromium resolves every other host to
nothing (``--host-resolver-rules``), so a page that needs the network shows it here. Checks:

* no page references a script, stylesheet, image or frame on another host;
* the intro and chapter 00 load with no failed (404) request for a book asset;
* chapter 00's plotly figure drew (``main-svg``; a 3D scene has a WebGL canvas in ``gl-container``),
  and MathJax typeset its formulas (``mjx-container``);
* a screenshot of the page, cropped to the first figure's rectangle (measured in the rendered page
  by a script the test server adds), shows the skeleton: blue (left) and red (right) pixels in the
  colours of :data:`posecore.viz.SIDE_COLORS`; the crop is kept as _build/test_book/chapter0_figure.png.

Which book: ``$POSECORE_BOOK_HTML`` (``make test`` builds the smoke-profile book into
``_build/test_book`` from the notebooks that nbval executed, and sets it); without it, the smoke
book is executed with papermill and built here.
Skipped only when ``/usr/bin/chromium`` is missing (and then failed, not skipped, when CI=true).
"""
from __future__ import annotations

import functools
import html as htmlmod
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from posecore import book, viz

pytestmark = pytest.mark.browser

MAX_HEIGHT = 16000  # px: the tallest window used for the screenshot
CHROMIUM = os.environ.get("POSECORE_CHROMIUM", "/usr/bin/chromium")
TEST_BOOK = book.ROOT / "_build" / "test_book"
CHAPTER0 = sorted(book.notebook_sources())[0].stem if book.notebook_sources() else "00_foundations"


def _chromium_or_skip():
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    msg = (f"{CHROMIUM} is not installed (Debian: apt-get install chromium; `make test` installs it "
           "when it runs as root): the offline browser check of the built book did not run")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def html_dir() -> Path:
    env = os.environ.get("POSECORE_BOOK_HTML")
    if env:
        path = Path(env)
        assert (path / "index.html").exists(), f"$POSECORE_BOOK_HTML={env} has no index.html"
        return path
    _chromium_or_skip()  # do not build a book that no browser will open
    old = os.environ.get("POSECORE_RESULTS")
    os.environ["POSECORE_RESULTS"] = str(book.ROOT / "_build" / "test_results")
    try:
        book.execute("smoke", out_dir=TEST_BOOK / "executed", jobs=2)
    finally:
        if old is None:
            os.environ.pop("POSECORE_RESULTS", None)
        else:
            os.environ["POSECORE_RESULTS"] = old
    index = book.build(TEST_BOOK / "executed", out=TEST_BOOK)
    return index.parent


# added to a page only for measuring (after it has rendered): the page height and each plotly
# figure's rectangle in page coordinates, written into the DOM as JSON
MEASURE_SCRIPT = """<script>
(function () {
  function measure() {
    var divs = document.querySelectorAll(".plotly-graph-div");
    var drawn = document.querySelectorAll(".plotly-graph-div .main-svg").length > 0;
    var images = Array.prototype.every.call(document.images, function (i) { return i.complete; });
    if (document.readyState !== "complete" || !images || (divs.length && !drawn)) {
      return false;  // the layout is not final yet
    }
    var figs = [];
    divs.forEach(function (d) {
      var b = d.getBoundingClientRect();
      figs.push({id: d.id, x: b.left + window.scrollX, y: b.top + window.scrollY, w: b.width, h: b.height});
    });
    var out = document.createElement("div");  // not a <pre>: the theme adds attributes to those
    out.id = "posecore-measure";
    out.hidden = true;
    out.textContent = JSON.stringify({height: document.documentElement.scrollHeight, figures: figs});
    document.body.appendChild(out);
    return true;
  }
  var timer = setInterval(function () { if (measure()) { clearInterval(timer); } }, 500);
})();
</script>"""


class _Server:
    """The book on http://127.0.0.1:PORT/, recording every request and its status."""

    def __init__(self, root: Path):
        self.requests: list[tuple[str, int]] = []
        log = self.requests

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                log.append((self.path, int(code) if str(code).isdigit() else 0))

            def do_GET(self):
                # ?posecore-measure: the page plus a script that reports where its figures are
                if "posecore-measure" not in self.path or not self.path.split("?")[0].endswith(".html"):
                    return super().do_GET()
                page = Path(self.translate_path(self.path.split("?")[0]))
                body = page.read_text().replace("</body>", MEASURE_SCRIPT + "</body>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, rel: str) -> str:
        return f"http://127.0.0.1:{self.port}/{rel}"

    def failed(self) -> list[tuple[str, int]]:
        return [(p, c) for p, c in self.requests if c >= 400 and not p.startswith("/favicon.ico")]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(html_dir):
    s = _Server(html_dir)
    yield s
    s.close()


def _chromium(args: list[str], url: str, timeout: int = 120) -> subprocess.CompletedProcess:
    exe = _chromium_or_skip()
    with tempfile.TemporaryDirectory(prefix="posecore-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
               f"--user-data-dir={profile}",
               # every host but the local server resolves to nothing: the book must work offline
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
               # software WebGL for plotly's 3D scenes on a machine without a GPU
               "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
               "--virtual-time-budget=15000", *args, url]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return res


def _dump_dom(server, rel: str, height: int = 1600) -> str:
    res = _chromium(["--dump-dom", f"--window-size=1280,{height}"], server.url(rel))
    assert res.returncode == 0, f"chromium failed on {rel}:\n{res.stderr[-3000:]}"
    assert "<html" in res.stdout, f"chromium returned no DOM for {rel}:\n{res.stderr[-3000:]}"
    return res.stdout


def _chapter_rel(html_dir: Path, stem: str) -> str:
    hits = sorted(html_dir.rglob(f"{stem}.html"))
    assert hits, f"no {stem}.html in {html_dir}"
    return hits[0].relative_to(html_dir).as_posix()


def _first_figure(page: Path) -> tuple[str, bool]:
    """(div id, is 3D) of the first plotly figure in a built page."""
    text = page.read_text()
    m = re.search(r'<div id="([^"]+)" class="plotly-graph-div"', text)
    assert m, f"{page.name}: no plotly figure in the page (chapter 00 must show one with posecore.viz.show)"
    fid = m.group(1)
    script = text[m.end(): text.find("</script>", m.end())]  # the figure's inline Plotly.newPlot call
    return fid, '"type":"scatter3d"' in htmlmod.unescape(script)


def test_no_external_assets(html_dir):
    assert (html_dir / "_static" / "plotly.min.js").exists(), "the book ships no _static/plotly.min.js"
    ext = book.external_assets(html_dir)
    assert not ext, f"pages load assets from other hosts: {ext}"
    pages = [p for p in html_dir.rglob("*.html") if "_static" not in p.parts]
    inlined = [p.name for p in pages if p.read_text().count("plotly.js v") > 0 and p.stat().st_size > 3_000_000]
    assert not inlined, f"pages inline their own copy of plotly.js: {inlined}"


def test_intro_page(html_dir, server):
    dom = _dump_dom(server, "index.html")
    if "http-equiv" in dom and "refresh" in dom and "<h1" not in dom:  # index.html redirects to the root page
        m = re.search(r'url=([^"\']+)', dom)
        dom = _dump_dom(server, m.group(1).lstrip("./") if m else "book/intro.html")
    assert "<h1" in dom and "posecore" in dom
    assert not server.failed(), f"requests that failed: {server.failed()}"


def test_chapter0_renders_offline(html_dir, server):
    rel = _chapter_rel(html_dir, CHAPTER0)
    dom = _dump_dom(server, rel)
    assert not server.failed(), f"requests that failed: {server.failed()}"
    assert "/_static/plotly.min.js" in " ".join(p for p, _ in server.requests), "plotly.min.js not requested"
    assert 'class="main-svg"' in dom, "no plotly figure drew (is plotly.js loaded before the figures?)"
    fid, is3d = _first_figure(html_dir / rel)
    if is3d:
        assert "gl-container" in dom and "<canvas" in dom, "the 3D scene has no WebGL canvas"
        assert "WebGL is not supported" not in dom
    assert "mjx-container" in dom, "MathJax did not typeset the formulas (is it served locally?)"
    assert "<mjx-merror" not in dom and "data-mjx-error" not in dom, "MathJax reported a TeX error"


def test_chapter0_screenshot_shows_skeleton(html_dir, server, tmp_path):
    rel = _chapter_rel(html_dir, CHAPTER0)
    fid, is3d = _first_figure(html_dir / rel)
    # where the figure lies on the rendered page (same width as the screenshot below)
    # (a window as tall as the screenshot's, so that lazy images above the figure load in both)
    dom = _dump_dom(server, rel + "?posecore-measure=1", height=MAX_HEIGHT)
    m = re.search(r'<div id="posecore-measure"[^>]*>(.*?)</div>', dom, re.S)
    assert m, "the page never settled: images not loaded or plotly figures not drawn (see the DOM test)"
    info = json.loads(htmlmod.unescape(m.group(1)))
    fig = next(f for f in info["figures"] if f["id"] == fid)
    assert fig["w"] > 200 and fig["h"] > 200, f"the figure has no size: {fig}"
    # a window as tall as the page instead of scrolling (headless screenshots of scrolled pages are
    # unreliable); the page is cut at MAX_HEIGHT px
    height = int(min(max(info["height"], fig["y"] + fig["h"] + 50), MAX_HEIGHT))
    assert fig["y"] + fig["h"] <= height, f"the first figure is below {height} px: {fig}"
    png = tmp_path / "chapter0.png"
    res = _chromium([f"--screenshot={png}", f"--window-size=1280,{height}"], server.url(rel), timeout=180)
    assert png.exists(), f"chromium wrote no screenshot:\n{res.stderr[-3000:]}"
    from PIL import Image
    full = Image.open(png).convert("RGB")
    box = tuple(int(round(v)) for v in (fig["x"], fig["y"], fig["x"] + fig["w"], fig["y"] + fig["h"]))
    crop = full.crop(box)
    keep = TEST_BOOK / "chapter0_figure.png"
    keep.parent.mkdir(parents=True, exist_ok=True)
    crop.save(keep)  # for a person to look at
    area = np.asarray(crop).astype(int)
    nonwhite = float((np.abs(area - 255).sum(-1) > 30).mean())
    assert nonwhite > 0.01, f"the figure area {box} is blank (see {keep})"

    def count(hex_color, tol=60):
        rgb = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(area - rgb).sum(-1) < tol).sum())
    if is3d:
        blue, red = count(viz.SIDE_COLORS["left"]), count(viz.SIDE_COLORS["right"])
        assert blue > 40 and red > 40, (f"the skeleton did not draw: {blue} blue (left) and {red} red "
                                        f"(right) pixels in the figure area (see {keep})")
