"""The book's Sphinx extension (listed in ``_config.yml`` as ``posecore.book``): one local plotly.js,
each inline script once per page, a warning when sphinx_thebe is loaded."""
from __future__ import annotations

import shutil
from pathlib import Path

from .html import BOOK_CSS
from .sources import BookError


# --- Sphinx extension -----------------------------------------------------------------------------
def plotly_js_path() -> Path:
    """The installed plotly package's bundled plotly.min.js."""
    import plotly
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise BookError(f"{path} not found: the plotly package is incomplete")
    return path


def _copy_plotly_js(app, exc):
    if exc is None and app.builder.format == "html":
        dest = Path(app.outdir) / "_static"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plotly_js_path(), dest / "plotly.min.js")


def _check_js_files(app, config):
    from sphinx.util import logging
    names = [f[0] if isinstance(f, (tuple, list)) else f for f in (config.html_js_files or [])]
    if "plotly.min.js" not in names:
        logging.getLogger(__name__).warning(
            "posecore.book: 'plotly.min.js' is not in html_js_files; plotly figures will not draw")
    css = [f[0] if isinstance(f, (tuple, list)) else f for f in (config.html_css_files or [])]
    if BOOK_CSS not in css:
        logging.getLogger(__name__).warning(
            f"posecore.book: {BOOK_CSS!r} is not in html_css_files; long output lines will be cut off")


def _warn_thebe(app):
    if "sphinx_thebe" in app.extensions:
        from sphinx.util import logging
        logging.getLogger(__name__).warning(
            "posecore.book: sphinx_thebe is loaded but the book runs no kernel; list the extensions in "
            "_config.yml's sphinx.config.extensions without it (a sphinx.extra_extensions list brings "
            "back Jupyter Book's defaults, sphinx_thebe among them)")


def _script_key(js) -> tuple:
    name = getattr(js, "filename", js) or ""
    attrs = getattr(js, "attributes", None) or {}
    return str(name), tuple(sorted((str(k), str(v)) for k, v in attrs.items()))


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    """Write each script once. Sphinx 7.4 puts an inline script (``app.add_js_file(None, body=...)``)
    that an extension adds after the builder is initialised into every page twice (once with the
    file name None, once with ''): sphinx-thebe's ``const THEBE_JS_URL`` then threw "SyntaxError:
    Identifier 'THEBE_JS_URL' has already been declared" on every page, and sphinx-togglebutton's
    selector is declared twice."""
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    seen, keep = set(), []
    for js in files:
        key = _script_key(js)
        if key not in seen:
            seen.add(key)
            keep.append(js)
    files[:] = keep


def setup(app):
    """Sphinx extension: ship the installed plotly.js as ``_static/plotly.min.js``; write each script
    once per page (:func:`_dedupe_scripts`); warn when sphinx_thebe is loaded."""
    app.connect("config-inited", _check_js_files)
    app.connect("builder-inited", _warn_thebe)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("build-finished", _copy_plotly_js)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
