"""Building the HTML book with Jupyter Book and checking its pages and the executed notebooks' outputs."""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .sources import (
    EXECUTED,
    EXECUTED_PREFIX,
    ROOT,
    TOC,
    BookError,
    check_toc,
    notebook_sources,
    toc_files,
    toc_with_chapters,
)

# --- build ----------------------------------------------------------------------------------------
EXTERNAL_ASSET = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["'](?:https?:)?//""",
                            re.IGNORECASE)


def external_assets(html_dir: Path) -> dict[str, list[str]]:
    """Pages whose HTML loads a script, stylesheet, image or frame from another host."""
    found = {}
    for page in sorted(Path(html_dir).rglob("*.html")):
        text = page.read_text(errors="replace")
        hits = []
        for m in EXTERNAL_ASSET.finditer(text):
            tag = text[m.start(): text.find(">", m.end()) + 1]
            if tag.lower().startswith("<link") and not re.search(r"rel=[\"']?(stylesheet|preload|modulepreload)",
                                                                 tag, re.IGNORECASE):
                continue  # plain hyperlinks (<link rel=canonical ...>) load nothing
            hits.append(tag[:200])
        if hits:
            found[str(page.relative_to(html_dir))] = hits
    return found


# pages that Sphinx / Jupyter Book write besides the toc's (index.html redirects to the root page)
EXTRA_PAGES = frozenset({"index.html", "genindex.html", "search.html"})
BOOK_CSS = "posecore.css"
# folders of a built book that hold assets, not pages (_static/ has the theme's template fragments)
ASSET_DIRS = frozenset({"_static", "_sources", "_images", "_downloads", "_sphinx_design_static"})
INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.IGNORECASE | re.DOTALL)


def html_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built book, relative to ``html_dir`` (POSIX), without the theme's
    template fragments in ``_static/``."""
    html_dir = Path(html_dir)
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if p.relative_to(html_dir).parts[0] not in ASSET_DIRS)


def expected_pages(toc_path: Path = TOC) -> set[str]:
    """The HTML pages a build from ``toc_path`` must produce: one per toc entry, plus :data:`EXTRA_PAGES`."""
    return {re.sub(r"\.(md|ipynb)$", "", f) + ".html" for f in toc_files(toc_path)} | set(EXTRA_PAGES)


def search_docnames(html_dir: Path) -> list[str]:
    """The documents indexed for search (``docnames`` of ``searchindex.js``): what Sphinx built."""
    text = (Path(html_dir) / "searchindex.js").read_text()
    start, end = text.index("(") + 1, text.rindex(")")
    return list(json.loads(text[start:end])["docnames"])


def page_set_problems(html_dir: Path, toc_path: Path = TOC) -> list[str]:
    """Differences between the pages of a built book and its toc: documents indexed for search
    that the toc does not list (e.g. a stray ``.pytest_cache/README``), toc pages not built, and
    HTML files that are neither (stale files of an earlier build count: build with ``clean``)."""
    want_docs = {re.sub(r"\.(md|ipynb)$", "", f) for f in toc_files(toc_path)}
    docs = set(search_docnames(html_dir))
    pages = set(html_pages(html_dir))
    want_pages = expected_pages(toc_path)
    problems = []
    if docs - want_docs:
        problems.append(f"documents built and indexed for search but not in {toc_path.name}: "
                        f"{sorted(docs - want_docs)} (exclude them in _config.yml's exclude_patterns)")
    if want_docs - docs:
        problems.append(f"toc entries that were not built: {sorted(want_docs - docs)}")
    if pages - want_pages:
        problems.append(f"HTML pages that are not in the toc: {sorted(pages - want_pages)}")
    if want_pages - pages:
        problems.append(f"HTML pages missing: {sorted(want_pages - pages)}")
    return problems


def duplicate_scripts(html_dir: Path) -> dict[str, list[str]]:
    """Pages that contain the same script twice (one inline body, or one ``src``): a ``const`` or
    ``let`` declared twice throws a SyntaxError in the browser."""
    found = {}
    for rel in html_pages(html_dir):
        text = (Path(html_dir) / rel).read_text(errors="replace")
        seen, dups = set(), []
        for m in INLINE_SCRIPT.finditer(text):
            attrs, body = m.group(1), m.group(2).strip()
            src = re.search(r"""\bsrc\s*=\s*["']([^"']+)""", attrs)
            kind = re.search(r"""\btype\s*=\s*["']?([^"'\s>]+)""", attrs)
            if kind and kind.group(1).lower() not in ("text/javascript", "application/javascript", "module"):
                continue  # data blocks (application/json, text/x-thebe-config, ...) are not run
            key = ("src", src.group(1).split("?")[0]) if src else ("body", body)
            if not src and not body:
                continue
            if key in seen:
                dups.append(key[1][:120])
            seen.add(key)
        if dups:
            found[rel] = dups
    return found


def pages_without_css(html_dir: Path, css: str = BOOK_CSS) -> list[str]:
    """Pages that do not link ``_static/<css>``."""
    pat = re.compile(r"<link\b[^>]*href=[\"'][^\"']*_static/" + re.escape(css), re.IGNORECASE)
    return [rel for rel in html_pages(html_dir)
            if rel != "index.html" and not pat.search((Path(html_dir) / rel).read_text(errors="replace"))]


# absolute paths of the build machine, in what a reader sees
MACHINE_PATHS = tuple(p for p in dict.fromkeys([str(ROOT), str(Path.home()).rstrip("/") + "/", "/root/",
                                                "/home/", "/Users/", "/tmp/"]) if p != "/")
TEXT_MIME = ("text/plain", "text/html", "text/markdown", "text/latex")


def _ends_with_call(source: str) -> bool:
    """Whether a cell's last statement is a bare function call (``check(...)``), whose return value
    IPython then shows; a bare name (``cfg``) is taken as meant to be shown."""
    try:
        body = ast.parse(source).body
    except SyntaxError:  # magics
        return False
    return bool(body) and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Call)


def output_problems(nb_path: Path) -> list[str]:
    """What a reader should not see in an executed notebook's outputs: any stderr stream (warnings,
    logging, progress noise), an absolute path of the build machine (:data:`MACHINE_PATHS`) in a
    text output, a bare ``True``/``False`` result or the plain-text return value of a cell's last
    call (a stray expression: ``check_claim(...)`` showing its dict), an error. One line per
    problem, naming the cell by its first source line."""
    import nbformat
    nb = nbformat.read(nb_path, as_version=4)
    name = Path(nb_path).name
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:70]
        where = f"{name} cell {i} [{first!r}]"
        stderr = "".join("".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "")
                         for o in cell.get("outputs", [])
                         if o.get("output_type") == "stream" and o.get("name") == "stderr")
        if stderr.strip():
            lines = [ln for ln in stderr.splitlines() if ln.strip()]
            warn = " (a Warning)" if re.search(r"warning", stderr, re.IGNORECASE) else ""
            problems.append(f"{where}: stderr output{warn}, {len(lines)} line(s): {lines[0][:160]!r}")
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "stream":
                text = o.get("text", "")
                texts = ["".join(text) if isinstance(text, list) else text]
            elif kind in ("execute_result", "display_data"):
                data = o.get("data", {})
                texts = [("".join(v) if isinstance(v, list) else str(v)) for k, v in data.items() if k in TEXT_MIME]
                plain = data.get("text/plain", "")
                plain = "".join(plain) if isinstance(plain, list) else plain
                if kind == "execute_result" and plain.strip() in ("True", "False"):
                    problems.append(f"{where}: a bare `{plain.strip()}` result (the cell ends with an "
                                    "expression; assign it or end the line with `;`)")
                elif kind == "execute_result" and set(data) == {"text/plain"} and _ends_with_call(cell.source):
                    problems.append(f"{where}: the return value of the cell's last call is shown as text "
                                    f"({plain.strip()[:80]!r}...; assign it or end the line with `;`)")
            elif kind == "error":
                problems.append(f"{where}: error output {o.get('ename')}: {str(o.get('evalue'))[:160]!r}")
                texts = []
            else:
                texts = []
            for text in texts:
                hits = sorted({p for p in MACHINE_PATHS if p in text})
                if hits:
                    line = next(ln for ln in text.splitlines() if any(p in ln for p in hits))
                    problems.append(f"{where}: absolute path of the build machine {hits}: {line.strip()[:160]!r}")
    return problems


def build(executed: Path = EXECUTED, out: Path | None = None, strict: bool = False, only=None,
          clean: bool = False) -> Path:
    """``jupyter-book build`` of the book over the notebooks executed into ``executed``; ``out`` is
    jupyter-book's ``--path-output`` (default: the repository, i.e. ``_build/html``); ``only``
    (chapter numbers or stems) builds a preview with just those chapters; ``clean`` removes the
    previous HTML and doctrees first (so that no stale page survives). Returns the path of
    index.html. Fails (BookError) when the built pages are not exactly the toc's (plus
    :data:`EXTRA_PAGES`; stale pages of an earlier build are ignored unless ``clean``), when a page
    contains a script twice or lacks ``_static/posecore.css``; prints the executed notebooks'
    :func:`output_problems`."""
    chapters = check_toc()
    if only:
        keep = {p.stem for p in notebook_sources(only)}
        chapters = [c for c in chapters if c in keep]
    executed = Path(executed).resolve()
    missing = [s for s in chapters if not (executed / f"{s}.ipynb").exists()]
    if missing:
        raise BookError(f"not executed yet: {missing} (run `python -m posecore.book execute` first; "
                        f"looked in {executed})")
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
           "build", str(ROOT)]
    toc_used = TOC
    if executed != EXECUTED.resolve() or only:
        # a derived toc pointing at the other executed directory (e.g. the smoke build of `make test`)
        try:
            rel = executed.relative_to(ROOT).as_posix() + "/"
        except ValueError as e:
            raise BookError(f"the executed notebooks must lie inside {ROOT}, got {executed}") from e
        text = TOC.read_text()
        if only:
            text = toc_with_chapters(text, chapters)
        toc_dir = Path(out).resolve() if out else executed
        toc_dir.mkdir(parents=True, exist_ok=True)
        derived = toc_dir / "_toc.yml"
        derived.write_text(text.replace(EXECUTED_PREFIX, rel))
        cmd += ["--toc", str(derived)]
        toc_used = derived
    if out:
        cmd += ["--path-output", str(Path(out).resolve())]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    build_dir = (Path(out).resolve() if out else ROOT) / "_build"
    if clean:
        for sub in ("html", ".doctrees", "jupyter_execute"):
            shutil.rmtree(build_dir / sub, ignore_errors=True)
    print("+ jupyter-book", " ".join(cmd[3:]), flush=True)
    t0 = time.time()
    res = subprocess.run(cmd, cwd=ROOT)
    if res.returncode != 0:
        raise BookError(f"jupyter-book build failed (exit {res.returncode})")
    html = (Path(out).resolve() if out else ROOT) / "_build" / "html"
    index = html / "index.html"
    if not index.exists():
        raise BookError(f"jupyter-book finished but {index} does not exist")
    if not (html / "_static" / "plotly.min.js").exists():
        raise BookError(f"{html}/_static/plotly.min.js is missing: is `posecore.book` in "
                        "_config.yml's sphinx.extra_extensions?")
    ext = external_assets(html)
    if ext:
        lines = "\n".join(f"  {p}: {h}" for p, hs in ext.items() for h in hs[:3])
        raise BookError(f"the book loads assets from the network (it must work offline):\n{lines}")
    problems = page_set_problems(html, toc_used)
    if not clean:  # stale HTML files of an earlier build are not this build's fault
        problems = [p for p in problems if not p.startswith("HTML pages that are not in the toc")]
    dups = duplicate_scripts(html)
    if dups:
        problems.append("pages with the same script twice (a SyntaxError in the browser): "
                        + "; ".join(f"{p}: {d[:2]}" for p, d in list(dups.items())[:3]))
    if not (html / "_static" / BOOK_CSS).exists() or pages_without_css(html):
        problems.append(f"_static/{BOOK_CSS} is not shipped or not linked from every page: is it in "
                        "_config.yml's sphinx.config.html_css_files?")
    if problems:
        raise BookError("the built book is not as expected:\n  " + "\n  ".join(problems))
    notes = [p for s in chapters for p in output_problems(executed / f"{s}.ipynb")]
    if notes:
        print(f"note: {len(notes)} output(s) a reader should not see (tests/test_book_build.py fails on them):",
              *[f"  {n}" for n in notes], sep="\n", flush=True)
    print(f"built in {time.time() - t0:.1f} s; open file://{index}", flush=True)
    return index
