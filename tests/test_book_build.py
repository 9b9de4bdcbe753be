"""The built book, opened in real headless Chromium with every request outside the book blocked.

The book is served from 127.0.0.1 by a local http.server; Chromium resolves every other host to
nothing (``--host-resolver-rules``), so a page that needs the network shows it here. The server
adds to the head of every page, before any other script, a hook that records every JavaScript
exception, unhandled promise rejection, ``console.error`` and failed resource load into an attribute
of ``<html>`` (read back with ``--dump-dom``; Chromium's own "Uncaught ..." console lines count too),
and after the page has settled a layout check of its text column. Checks:

* the built pages are exactly the toc's pages plus genindex, search and the index redirect (no
  stray page such as ``.pytest_cache/README.html`` built and indexed for search);
* no page references a script, stylesheet, image or frame on another host, or one script twice;
* EVERY page opens with no JavaScript error and no failed (404) request for a book asset, no output
  line wider than the text column (outputs wrap: ``_static/posecore.css``) and no table cut off
  (a wide table scrolls sideways in its own box);
* no executed notebook of the book shows the reader a stderr stream (warnings, logging), an
  absolute path of the build machine or a bare ``True``/``False`` result
  (:func:`posecore.book.output_problems`);
* chapter 00's plotly figure drew (``main-svg``; a 3D scene has a WebGL canvas in ``gl-container``),
  and MathJax typeset its formulas (``mjx-container``);
* a screenshot of the page, cropped to the first figure's rectangle (measured in the rendered page
  by a script the test server adds), shows the skeleton: blue (left) and red (right) pixels in the
  colours of :data:`posecore.viz.SIDE_COLORS`; the crop is kept as _build/test_book/chapter0_figure.png.

Which book: ``$POSECORE_BOOK_HTML`` (``make test`` builds the smoke-profile book into
``_build/test_book`` from the notebooks that nbval executed, and sets it); without it, the smoke
book is executed with papermill and built here. Those tests are marked ``browser``; the Chromium
ones are skipped only when ``/usr/bin/chromium`` is missing (and then failed, not skipped, when
CI=true).

Not marked ``browser`` (they need no built book, ``make unit`` runs them): the intro's table of
chapters agrees with ``_toc.yml`` (it never claims a chapter that does not exist), and the
notebooks that read other chapters' results run after all the others (``execute -j N``, nbval).
"""
from __future__ import annotations

import functools
import html as htmlmod
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from posecore import book, viz

browser = pytest.mark.browser

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
    index = book.build(TEST_BOOK / "executed", out=TEST_BOOK, clean=True)
    return index.parent


def _toc_of(html_dir: Path) -> Path:
    """The toc a book was built from: the derived one that book.build writes next to its output
    (``<out>/_toc.yml``, e.g. the smoke book's), else the repository's."""
    derived = html_dir.parent.parent / "_toc.yml"
    return derived if derived.exists() and derived.resolve() != book.TOC.resolve() else book.TOC


def _executed_notebooks(html_dir: Path) -> list[Path]:
    toc = _toc_of(html_dir)
    nbs = [book.ROOT / f"{f}.ipynb" for f in book.toc_files(toc) if f.startswith("_build/")]
    missing = [str(p) for p in nbs if not p.exists()]
    assert not missing, f"the executed notebooks of {toc} are missing: {missing}"
    return nbs


# added first in every page's <head>: records JavaScript errors into <html data-posecore-js-errors>
ERROR_HOOK = """<script>
(function () {
  var errors = [];
  var root = document.documentElement;
  function record(kind, text) {
    errors.push(kind + ": " + String(text).slice(0, 300));
    root.setAttribute("data-posecore-js-errors", JSON.stringify(errors));
  }
  root.setAttribute("data-posecore-js-errors", "[]");
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) {  // a <script>, <link>, <img> that failed to load
      record("failed to load", t.tagName.toLowerCase() + " " + (t.src || t.href || ""));
    } else {
      record("exception", (e.message || e.error) + " (" + (e.filename || "?") + ":" + (e.lineno || "?") + ")");
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason;
    record("unhandled promise rejection", r && (r.stack || r.message) || r);
  });
  var consoleError = console.error;
  console.error = function () {
    record("console.error", Array.prototype.map.call(arguments, String).join(" "));
    return consoleError.apply(console, arguments);
  };
})();
</script>"""

# added at the end of every page's <body>: once the page has settled, what does not fit its text
# column, written into <html data-posecore-layout>
LAYOUT_SCRIPT = """<script>
(function () {
  function box(el) { return el.getBoundingClientRect(); }
  function audit() {
    var out = [];
    var article = document.querySelector(".bd-article") || document.body;
    var right = box(article).right;
    // output text (printed verdicts, logs) wraps instead of running off the column
    article.querySelectorAll("div.cell_output pre").forEach(function (pre) {
      if (pre.scrollWidth > pre.clientWidth + 2) {
        var lines = pre.textContent.split("\\n").sort(function (a, b) { return b.length - a.length; });
        out.push("output line wider than the column (" + pre.scrollWidth + " > " + pre.clientWidth +
                 " px, it scrolls sideways or is cut off): " + (lines[0] || "").slice(0, 100));
      }
    });
    // a table wider than the column sits in a box that scrolls sideways
    article.querySelectorAll("table").forEach(function (table) {
      if (box(table).right <= right + 2) { return; }
      var el = table.parentElement, scrolls = false;
      while (el && el !== article.parentElement) {
        var ox = getComputedStyle(el).overflowX;
        if (ox === "auto" || ox === "scroll") { scrolls = box(el).right <= right + 2; break; }
        if (ox === "hidden" || ox === "clip") { break; }
        el = el.parentElement;
      }
      if (!scrolls) {
        var head = (table.querySelector("tr") || table).textContent.replace(/\\s+/g, " ").trim();
        out.push("table cut off at the right edge of the column (no horizontal scroll): " + head.slice(0, 100));
      }
    });
    if (document.documentElement.scrollWidth > window.innerWidth + 2) {
      out.push("the page is wider than the window (" + document.documentElement.scrollWidth + " > " +
               window.innerWidth + " px)");
    }
    document.documentElement.setAttribute("data-posecore-layout", JSON.stringify(out));
    // where the first result (a table or figure) lies below the end of the introduction: the
    // introduction is what follows the page's <h1> up to its first code cell or first subsection
    var h1 = article.querySelector("h1");
    if (h1) {
      var top = window.scrollY, introEnd = null, first = null, kind = "";
      var stops = article.querySelectorAll("div.cell, section section, h2");
      for (var i = 0; i < stops.length; i++) {
        if (h1.compareDocumentPosition(stops[i]) & Node.DOCUMENT_POSITION_FOLLOWING) {
          introEnd = box(stops[i]).top + top; break;
        }
      }
      var results = article.querySelectorAll("table, .plotly-graph-div, div.cell_output img, figure img");
      for (var j = 0; j < results.length; j++) {
        var r = box(results[j]);
        if (r.height > 0 && (first === null || r.top + top < first)) {
          first = r.top + top; kind = results[j].tagName.toLowerCase() +
            (results[j].classList.contains("plotly-graph-div") ? " (plotly)" : "");
        }
      }
      document.documentElement.setAttribute("data-posecore-first-result", JSON.stringify(
        {intro_end: introEnd, first: first, kind: kind, h1_bottom: box(h1).bottom + top}));
    }
  }
  function later() { setTimeout(audit, 3000); }
  if (document.readyState === "complete") { later(); } else { window.addEventListener("load", later); }
})();
</script>"""


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
    """The book on http://127.0.0.1:PORT/, recording every request, its status and its referring
    page. Every HTML page gets :data:`ERROR_HOOK` first in its head and :data:`LAYOUT_SCRIPT` at the
    end of its body; with ``?posecore-measure`` also :data:`MEASURE_SCRIPT`."""

    def __init__(self, root: Path):
        self.requests: list[tuple[str, int]] = []
        self.referers: list[str] = []
        log, refs = self.requests, self.referers

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                log.append((self.path, int(code) if str(code).isdigit() else 0))
                refs.append(self.headers.get("Referer", "") if self.headers else "")

            def do_GET(self):
                path = self.path.split("?")[0]
                page = Path(self.translate_path(path))
                if not path.endswith(".html") or not page.is_file():
                    return super().do_GET()
                text = page.read_text()
                text = re.sub(r"<head\b[^>]*>", lambda m: m.group(0) + ERROR_HOOK, text, count=1)
                extra = LAYOUT_SCRIPT + (MEASURE_SCRIPT if "posecore-measure" in self.path else "")
                body = text.replace("</body>", extra + "</body>").encode()
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

    def failed(self, page: str | None = None) -> list[tuple[str, int]]:
        """Failed requests (status >= 400): all of them, or those of the page ``page`` (relative
        path): the page itself and what it requested (by the Referer header)."""
        out = []
        for (path, code), referer in zip(self.requests, self.referers):
            if code < 400 or path.startswith("/favicon.ico"):
                continue
            if page is None or path.split("?")[0] == "/" + page or referer.split("?")[0] == self.url(page):
                out.append((path, code))
        return out

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


# Chromium's log of the page's console (--enable-logging=stderr): every level looks alike, but an
# uncaught exception starts with "Uncaught"
CONSOLE_LINE = re.compile(r':CONSOLE[^\]]*\] "(.*)", source: (\S*)')


def _html_attr(dom: str, name: str):
    m = re.search(r"<html\b[^>]*\b" + name + r'="([^"]*)"', dom)
    return json.loads(htmlmod.unescape(m.group(1))) if m else None


def _open_page(server, rel: str) -> dict:
    """Open one page in Chromium; its JavaScript errors, failed requests and layout problems."""
    res = _chromium(["--dump-dom", "--window-size=1280,1600", "--enable-logging=stderr", "--v=0"],
                    server.url(rel))
    dom = res.stdout
    errors, layout, first_result = [], [], None
    if res.returncode != 0 or "<html" not in dom:
        errors.append(f"chromium failed (exit {res.returncode}): {res.stderr[-1500:]}")
    else:
        js = _html_attr(dom, "data-posecore-js-errors")
        if js is None:
            errors.append("the error hook did not run (no data-posecore-js-errors on <html>)")
        else:
            errors += js
        first_result = _html_attr(dom, "data-posecore-first-result")
        found = _html_attr(dom, "data-posecore-layout")
        layout = ["the layout check did not run (the page never finished loading?)"] if found is None else found
    for msg, source in CONSOLE_LINE.findall(res.stderr):
        if msg.startswith("Uncaught") and not any(msg.split(":", 1)[-1].strip()[:60] in e for e in errors):
            errors.append(f"console: {msg} ({source})")
    return {"errors": errors, "layout": layout, "first_result": first_result}


@pytest.fixture(scope="module")
def page_reports(html_dir, server) -> dict[str, dict]:
    """Every HTML page of the book, opened in Chromium (two at a time)."""
    _chromium_or_skip()
    pages = book.html_pages(html_dir)
    assert len(pages) > 3, f"{html_dir}: too few pages: {pages}"
    with ThreadPoolExecutor(2) as pool:
        reports = dict(zip(pages, pool.map(lambda rel: _open_page(server, rel), pages)))
    for rel in pages:
        reports[rel]["failed"] = server.failed(rel)
    return reports


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


# --- no browser, no built book -------------------------------------------------------------------
INTRO = book.ROOT / "book" / "intro.md"
NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}


def _intro_table(text: str, intro: Path = INTRO) -> list[dict]:
    """The intro's table of chapters: one dict per row with 'chapters' (['01', '02'], or [] for a
    paper still to be written), 'topic' and 'paper'."""
    rows = [ln for ln in text.splitlines() if ln.startswith("|")]
    assert rows and [c.strip() for c in rows[0].strip("|").split("|")][:3] == ["chapters", "topic", "paper"], \
        f"{intro}: the first table must have the columns | chapters | topic | paper |"
    out = []
    for ln in rows[2:]:
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        chapters = re.findall(r"\b\d\d\b", cells[0])
        assert chapters or "to be written" in cells[0], \
            f"{intro}: the chapters cell must list chapter numbers or say 'still to be written': {ln!r}"
        out.append({"chapters": chapters, "topic": cells[1], "paper": cells[2] if len(cells) > 2 else ""})
    return out


def check_intro(intro: Path = INTRO):
    """The intro's table names, for every paper, the chapters that reproduce it; every chapter it
    names is in _toc.yml (and has a notebook), every chapter of the toc is in the table, each paper
    row's chapters mention the paper's first author, and the intro's count of papers with chapters
    is the table's."""
    text = intro.read_text()
    table = _intro_table(text, intro)
    toc = {s[:2]: s for s in book.check_toc()}
    sources = {p.stem: p for p in book.notebook_sources()}
    claimed = [c for row in table for c in row["chapters"]]
    not_in_toc = sorted(set(claimed) - set(toc))
    assert not not_in_toc, (f"{intro} claims chapters that are not in _toc.yml: {not_in_toc}; write them "
                            "or say 'still to be written'")
    assert sorted(claimed) == sorted(set(claimed)), f"{intro}: a chapter is listed twice: {claimed}"
    missing = sorted(set(toc) - set(claimed))
    assert not missing, f"{intro}: chapters of _toc.yml missing from the intro's table: {[toc[c] for c in missing]}"
    for row in table:
        if not (row["paper"] and row["chapters"]):
            continue
        author = row["paper"].split()[0].rstrip(",")
        for c in row["chapters"]:
            title = sources[toc[c]].read_text()
            assert author in title, (f"{intro}: chapter {toc[c]} is listed for {row['paper']!r} but its "
                                     f"notebook never names {author!r}")
    papers = [row for row in table if row["paper"]]
    with_chapters = [row for row in papers if row["chapters"]]
    m = re.search(r"\b(\w+)\s+of\s+the\s+(\w+)\s+papers\s+have\s+chapters", text, re.IGNORECASE)
    assert m, f"{intro} must say how many of the papers have chapters ('Three of the five papers have chapters')"
    said = [NUMBER_WORDS.get(w.lower(), int(w) if w.isdigit() else -1) for w in m.groups()]
    assert said == [len(with_chapters), len(papers)], (
        f"{intro} says {m.group(0)!r} but its table has {len(with_chapters)} of {len(papers)} papers "
        f"with chapters: {[r['paper'] for r in with_chapters]}")


def test_intro_claims_only_chapters_of_the_toc():
    check_intro(INTRO)


def test_intro_check_fails_on_a_chapter_not_in_the_toc(tmp_path):
    text = INTRO.read_text()
    fake = tmp_path / "intro.md"
    fake.write_text(text.replace("| 08 | multimodal", "| 99 | multimodal", 1))
    assert fake.read_text() != text, "the intro's FBI row changed: update this test"
    with pytest.raises(AssertionError, match="not in _toc.yml"):
        check_intro(fake)
    fake.write_text(text.replace("Five of the five papers", "Four of the five papers", 1))
    assert fake.read_text() != text, "the intro's count of papers with chapters changed: update this test"
    with pytest.raises(AssertionError, match="papers with chapters"):
        check_intro(fake)


def test_summary_chapters_run_last():
    phases = book.execution_phases(book.notebook_sources())
    readers = [p.stem for p in book.notebook_sources() if book.reads_results(p)]
    assert readers, "no notebook reads results (posecore.results.read): is the summary chapter gone?"
    assert [p.stem for p in phases[-1]] == readers
    assert not any(book.reads_results(p) for ph in phases[:-1] for p in ph)


def test_nbval_copies_in_phase_folders(tmp_path):
    book.write_nbval_copies(tmp_path / "nbval")
    dirs = book.nbval_phase_dirs(tmp_path / "nbval")
    got = [sorted(p.stem for p in d.glob("*.ipynb")) for d in dirs]
    want = [sorted(p.stem for p in ph) for ph in book.execution_phases(book.notebook_sources())]
    assert got == want and [d.name for d in dirs] == [f"phase{i + 1}" for i in range(len(want))]
    assert all((d / "conftest.py").exists() for d in dirs)


def _fake_run_one(args):
    """Stands in for posecore.book.execution._run_one (in a worker process): records when it ran."""
    src, out, *_ = args
    log = Path(os.environ["POSECORE_TEST_RUNLOG"])
    t0 = time.time()
    time.sleep(0.05 if book.reads_results(src) else 0.4)
    with open(log, "a") as f:
        f.write(json.dumps({"stem": src.stem, "start": t0, "end": time.time()}) + "\n")
    return src.stem, "ok", time.time() - t0, ""


def test_execute_runs_readers_after_the_others_finish(tmp_path, monkeypatch):
    """``execute -j 2``: the notebooks that read results start after every other one has ended."""
    log = tmp_path / "runs.jsonl"
    monkeypatch.setenv("POSECORE_TEST_RUNLOG", str(log))
    monkeypatch.setenv("POSECORE_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(book.execution, "_run_one", _fake_run_one)
    book.execute("smoke", out_dir=tmp_path / "executed", jobs=2, force=True)
    runs = [json.loads(ln) for ln in log.read_text().splitlines()]
    readers = [r for r in runs if book.reads_results(book.NOTEBOOKS / f"{r['stem']}.py")]
    writers = [r for r in runs if r not in readers]
    assert readers and writers and len(runs) == len(book.notebook_sources())
    assert min(r["start"] for r in readers) >= max(w["end"] for w in writers), runs


def test_output_problems_finds_each_kind(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    cells = [
        new_code_cell("import warnings", outputs=[new_output("stream", name="stderr",
                      text="/x/y.py:3: UserWarning: careful\n  warnings.warn(msg)\n")]),
        new_code_cell("plt.show()", outputs=[new_output("stream", name="stderr",
                      text="Ignoring fixed x limits to fulfill fixed data aspect\n")]),
        new_code_cell("print(path)", outputs=[new_output("stream", name="stdout", text=f"{book.ROOT}/results/x.json\n")]),
        new_code_cell("print(p)", outputs=[new_output("stream", name="stdout", text="/home/someone/x\n")]),
        new_code_cell("x.all()", outputs=[new_output("execute_result", data={"text/plain": "True"}, execution_count=1)]),
        new_code_cell("check_claim(claims, 'a', True)",
                      outputs=[new_output("execute_result", data={"text/plain": "{'claim': 'a'}"}, execution_count=2)]),
        # fine: a value shown on purpose, a rich display, plain prints
        new_code_cell("cfg", outputs=[new_output("execute_result", data={"text/plain": "Config(a=1)"}, execution_count=3)]),
        new_code_cell("markdown_table(rows)", outputs=[new_output("execute_result", execution_count=4,
                      data={"text/plain": "<Markdown>", "text/markdown": "| a |\n|---|\n| 1 |"})]),
        new_code_cell("print('ok')", outputs=[new_output("stream", name="stdout", text="12 records -> x.json\n")]),
    ]
    path = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    found = book.output_problems(path)
    assert len(found) == 6, "\n".join(found)
    assert "stderr output (a Warning)" in found[0] and "cell 0" in found[0]
    assert "stderr output, 1 line(s)" in found[1] and "Ignoring fixed x limits" in found[1]
    assert "absolute path" in found[2] and "cell 2" in found[2]
    assert "absolute path" in found[3] and "/home/" in found[3]
    assert "bare `True`" in found[4]
    assert "return value" in found[5] and "cell 5" in found[5]


def test_duplicate_scripts_and_missing_css(tmp_path):
    (tmp_path / "a.html").write_text(
        '<html><head><link rel="stylesheet" href="_static/posecore.css?v=1">'
        '<script>const A = 1;</script><script>const A = 1;</script>'
        '<script src="_static/x.js?v=1"></script><script src="_static/x.js?v=2"></script>'
        '<script type="application/json">{}</script><script type="application/json">{}</script></head></html>')
    (tmp_path / "b.html").write_text('<html><head><script>const B = 1;</script></head></html>')
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "webpack-macros.html").write_text("<script>x</script><script>x</script>")
    assert book.duplicate_scripts(tmp_path) == {"a.html": ["const A = 1;", "_static/x.js"]}
    assert book.pages_without_css(tmp_path) == ["b.html"]
    assert book.html_pages(tmp_path) == ["a.html", "b.html"]


# --- the built book (no browser) --------------------------------------------------------------------
@browser
def test_pages_are_the_toc_pages(html_dir):
    """Exactly the toc's pages plus genindex, search and the index redirect are built and indexed
    for search: no stray page (a .pytest_cache/README.md was)."""
    toc = _toc_of(html_dir)
    problems = book.page_set_problems(html_dir, toc)
    assert not problems, "\n".join(problems)
    assert set(book.html_pages(html_dir)) == book.expected_pages(toc)


@browser
def test_no_script_twice(html_dir):
    dups = book.duplicate_scripts(html_dir)
    assert not dups, f"pages with the same script twice (a `const` declared twice throws): {dups}"


@browser
def test_book_css_on_every_page(html_dir):
    assert (html_dir / "_static" / book.BOOK_CSS).exists(), f"_static/{book.BOOK_CSS} is not shipped"
    assert not book.pages_without_css(html_dir), f"pages without {book.BOOK_CSS}: {book.pages_without_css(html_dir)}"


@browser
def test_executed_outputs_are_clean(html_dir):
    """No executed notebook of the book shows a stderr stream (warnings, logging), an absolute path
    of the build machine or a bare True/False result."""
    problems = [p for nb in _executed_notebooks(html_dir) for p in book.output_problems(nb)]
    assert not problems, f"{len(problems)} output(s) a reader should not see:\n" + "\n".join(problems)


@browser
def test_no_external_assets(html_dir):
    assert (html_dir / "_static" / "plotly.min.js").exists(), "the book ships no _static/plotly.min.js"
    ext = book.external_assets(html_dir)
    assert not ext, f"pages load assets from other hosts: {ext}"
    pages = [p for p in html_dir.rglob("*.html") if "_static" not in p.parts]
    inlined = [p.name for p in pages if p.read_text().count("plotly.js v") > 0 and p.stat().st_size > 3_000_000]
    assert not inlined, f"pages inline their own copy of plotly.js: {inlined}"


@browser
def test_scoreboard_links_reach_the_verdicts_they_name(html_dir):
    """Chapter 10's scoreboard links every claim to the element of its chapter's page that holds the
    verdict (posecore.evaluate.check_claim's anchor): every link's page exists and has that id."""
    page = html_dir / _chapter_rel(html_dir, "10_every_method")
    links = re.findall(r'<a href="(\d\d_[a-z0-9_]+\.html)#(claim-[a-z0-9-]+)"', page.read_text())
    assert links, "chapter 10 shows no scoreboard link (did the chapters record their claims?)"
    missing = [f"{target}#{anchor}" for target, anchor in links
               if f'id="{anchor}"' not in (page.parent / target).read_text()]
    assert not missing, f"{len(missing)} of {len(links)} scoreboard links lead nowhere: {missing[:5]}"


# --- in Chromium ---------------------------------------------------------------------------------------
@browser
def test_no_javascript_error_on_any_page(page_reports):
    bad = {rel: r["errors"] for rel, r in page_reports.items() if r["errors"]}
    assert not bad, f"JavaScript errors on {len(bad)} of {len(page_reports)} pages:\n" + "\n".join(
        f"  {rel}: {errs}" for rel, errs in bad.items())


@browser
def test_no_failed_request_on_any_page(page_reports):
    bad = {rel: r["failed"] for rel, r in page_reports.items() if r["failed"]}
    assert not bad, f"failed requests: {bad}"


@browser
def test_outputs_and_tables_fit_the_column_on_every_page(page_reports):
    bad = {rel: r["layout"] for rel, r in page_reports.items() if r["layout"]}
    assert not bad, "\n".join(f"  {rel}: {problems}" for rel, problems in bad.items())


# px: one screen of a laptop (the browser window is 1,280 px wide)
SCREEN = 1000


def first_screen_problems(reports: dict[str, dict], screen: int = SCREEN) -> list[str]:
    """Chapter pages (``NN_*.html``) whose first table or figure lies more than ``screen`` px below
    the end of their introduction (or that show none)."""
    out = []
    for rel, r in sorted(reports.items()):
        if not re.match(r"\d\d_", Path(rel).name):
            continue
        f = r.get("first_result")
        if f is None:
            out.append(f"{rel}: the first-result check did not run (no <h1>?)")
        elif f["first"] is None:
            out.append(f"{rel}: no table or figure on the page")
        else:
            start = f["intro_end"] if f["intro_end"] is not None else f["h1_bottom"]
            gap = f["first"] - start
            if gap > screen:
                out.append(f"{rel}: the first result ({f['kind']}) is {gap:.0f} px below the end of the "
                           f"introduction (more than one screen, {screen} px)")
    return out


def test_first_screen_problems_on_hand_made_reports():
    ok = {"intro_end": 500, "first": 1200, "kind": "table", "h1_bottom": 100}
    late = {"intro_end": 500, "first": 2000, "kind": "img", "h1_bottom": 100}
    reports = {"book/05_a.html": {"first_result": ok}, "book/06_b.html": {"first_result": late},
               "book/07_c.html": {"first_result": {**ok, "first": None}}, "book/intro.html": {"first_result": late},
               "book/08_d.html": {"first_result": None}}
    problems = first_screen_problems(reports)
    assert [p.split(":")[0] for p in problems] == ["book/06_b.html", "book/07_c.html", "book/08_d.html"]
    assert "1500 px below" in problems[0]


@browser
def test_each_chapter_shows_a_result_within_the_first_screen(page_reports):
    """Results before machinery: each chapter's first table or figure appears within one screen of
    the end of its introduction."""
    bad = first_screen_problems(page_reports)
    assert not bad, "\n".join(bad)


@browser
def test_intro_page(html_dir, server):
    dom = _dump_dom(server, "index.html")
    if "http-equiv" in dom and "refresh" in dom and "<h1" not in dom:  # index.html redirects to the root page
        m = re.search(r'url=([^"\']+)', dom)
        dom = _dump_dom(server, m.group(1).lstrip("./") if m else "book/intro.html")
    assert "<h1" in dom and "posecore" in dom
    assert not server.failed(), f"requests that failed: {server.failed()}"


@browser
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


@browser
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


def test_fold_parameters_folds_only_the_parameters_cells():
    import nbformat
    from posecore.book.execution import fold_parameters
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell("profile = None"),
                nbformat.v4.new_code_cell("profile = 'quick'"), nbformat.v4.new_code_cell("print(1)")]
    nb.cells[0].metadata["tags"] = ["parameters"]   # a markdown cell is never folded
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.cells[2].metadata["tags"] = ["injected-parameters", "hide-input"]
    fold_parameters(nb)
    fold_parameters(nb)   # idempotent
    assert [c.metadata.get("tags", []) for c in nb.cells] == [
        ["parameters"], ["parameters", "hide-input"], ["injected-parameters", "hide-input"], []]
