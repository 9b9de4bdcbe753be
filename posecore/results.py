"""Chapter results: each chapter writes what it measured to ``results/<chapter>.json`` so that the
book's tables can be assembled and checked across chapters.

A record is ``dict(metric, value, unit, dataset, profile, split, ...)`` plus optional keys such as
``model``, ``variant``, ``action``, ``paper_value`` (the paper's number, for comparison tables).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

REQUIRED = ("metric", "value", "unit", "dataset", "profile", "split")


def results_dir() -> Path:
    """$POSECORE_RESULTS or ``results/`` at the repository root."""
    env = os.environ.get("POSECORE_RESULTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "results"


def record(metric: str, value: float, unit: str, dataset: str, profile: str, split: str, **extra) -> dict:
    """One result record; raises ValueError on a non-finite value or an empty field."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"result {metric!r}: value is not finite ({value})")
    rec = dict(metric=metric, value=value, unit=unit, dataset=dataset, profile=profile, split=split, **extra)
    for k in REQUIRED:
        if rec[k] in (None, ""):
            raise ValueError(f"result {metric!r}: field {k!r} is empty")
    return rec


def write(chapter: str, records: list[dict], directory: str | os.PathLike | None = None) -> Path:
    """Write ``results/<chapter>.json`` atomically (replaces that chapter's previous results)."""
    for r in records:
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise ValueError(f"{chapter}: record {r} lacks {missing}")
    d = Path(directory) if directory else results_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{chapter}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"chapter": chapter, "records": records}, indent=1))
    tmp.replace(path)
    return path


def read(chapter: str, directory: str | os.PathLike | None = None) -> list[dict]:
    """The records a chapter wrote; FileNotFoundError naming the file if it has not run."""
    path = (Path(directory) if directory else results_dir()) / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(f"no results for chapter {chapter!r}: {path} (run the chapter first)")
    return json.loads(path.read_text())["records"]
