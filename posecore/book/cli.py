"""``python -m posecore.book COMMAND`` (see :mod:`posecore.book`)."""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from .execution import execute, write_nbval_copies
from .html import build
from .sources import (
    EXECUTED,
    EXECUTED_PREFIX,
    NBVAL,
    PROFILES,
    TOC,
    BookError,
    check_all,
    check_toc,
    notebook_sources,
    toc_files,
    toc_with_chapters,
)


# --- CLI ------------------------------------------------------------------------------------------
def _parse_param(items):
    out = {}
    for k, v in items or []:
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m posecore.book",
                                 description="Build tooling for the posecore book (see posecore/book/__init__.py).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the chapters")
    sub.add_parser("check", help="check _toc.yml and the parameters cells")
    ex = sub.add_parser("execute", help="execute the notebooks with papermill")
    ex.add_argument("--profile", default="quick", choices=PROFILES)
    ex.add_argument("--only", nargs="+", metavar="NN", help="chapter numbers or stems (default: all)")
    ex.add_argument("--out", type=Path, default=EXECUTED, help="output directory (default: %(default)s)")
    ex.add_argument("--force", action="store_true", help="re-execute up-to-date notebooks too")
    ex.add_argument("-j", "--jobs", type=int, default=1, help="notebooks executed in parallel")
    ex.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    ex.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                    help="extra papermill parameter (value parsed as a Python literal)")
    ex.add_argument("--keep-going", action="store_true", help="run the others after a failure")
    ex.add_argument("--log-output", action="store_true", help="stream the notebooks' outputs")
    bd = sub.add_parser("build", help="jupyter-book build of the executed notebooks")
    bd.add_argument("--executed", type=Path, default=EXECUTED, help="executed notebooks (default: %(default)s)")
    bd.add_argument("--out", type=Path, default=None, help="jupyter-book --path-output (default: repo root)")
    bd.add_argument("--strict", action="store_true", help="turn Sphinx warnings into errors")
    bd.add_argument("--only", nargs="+", metavar="NN", help="a preview with just these chapters")
    bd.add_argument("--clean", action="store_true", help="remove the previous HTML and doctrees first")
    tc = sub.add_parser("toc", help="print _toc.yml with every notebook under 'Chapters'")
    tc.add_argument("--write", action="store_true", help="write it to _toc.yml")
    nv = sub.add_parser("nbval", help="write ipynb copies for pytest --nbval-lax, one folder per phase")
    nv.add_argument("--out", type=Path, default=NBVAL)
    nv.add_argument("--only", nargs="+", metavar="NN")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "list":
            listed = set()
            try:
                listed = set(check_toc())
            except BookError as e:
                print(e, file=sys.stderr)
                listed = {f[len(EXECUTED_PREFIX):] for f in toc_files() if f.startswith(EXECUTED_PREFIX)}
            for p in notebook_sources():
                print(f"{p.stem:40s} {'in _toc.yml' if p.stem in listed else 'NOT IN _toc.yml'}")
        elif args.cmd == "check":
            problems = check_all()
            for pr in problems:
                print(pr, file=sys.stderr)
            if problems:
                return 1
            print(f"ok: {len(notebook_sources())} notebook(s), _toc.yml and parameters cells consistent")
        elif args.cmd == "execute":
            execute(args.profile, args.only, args.out, args.force, args.jobs, args.timeout,
                    _parse_param(args.parameter), args.keep_going, args.log_output)
        elif args.cmd == "build":
            print(build(args.executed, args.out, args.strict, args.only, args.clean))
        elif args.cmd == "toc":
            text = toc_with_chapters(TOC.read_text(), [p.stem for p in notebook_sources()])
            if args.write:
                TOC.write_text(text)
                print(f"wrote {TOC}")
            else:
                print(text, end="")
        elif args.cmd == "nbval":
            write_nbval_copies(args.out, args.only)
    except BookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


