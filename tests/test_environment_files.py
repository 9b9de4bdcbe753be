"""The conda environment files parse and say what the README promises.

The machines that test posecore cannot solve conda environments (no conda, no access to conda-forge),
so environment.yml (GPU) and environment-cpu.yml are only parsed here: conda-forge only (no
``pytorch`` / ``nvidia`` channel, no ``pytorch-cuda``), python 3.12, the book's packages, the same
stack as requirements.txt, and posecore itself installed with ``pip install -e .``.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
FILES = {"gpu": ROOT / "environment.yml", "cpu": ROOT / "environment-cpu.yml"}
DESIGN = ["jupyterlab", "jupytext", "papermill", "numpy", "matplotlib", "plotly", "ipywidgets", "nbval"]


def _name(spec: str) -> str:
    """The package name of a conda match spec or pip requirement ('conda-forge::numpy>=1' -> 'numpy')."""
    spec = spec.split("::")[-1].strip()
    return re.split(r"[\s=<>!~\[;]", spec, maxsplit=1)[0].lower().replace("_", "-")


def _load(kind):
    env = yaml.safe_load(FILES[kind].read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [p for d in env["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])]
    return env, conda, pip


@pytest.mark.parametrize("kind", sorted(FILES))
def test_conda_forge_only(kind):
    env, conda, pip = _load(kind)
    assert env["name"].startswith("posecore")
    assert env["channels"][0] == "conda-forge"
    assert set(env["channels"]) <= {"conda-forge", "nodefaults"}, env["channels"]
    for spec in conda:
        assert "::" not in spec or spec.startswith("conda-forge::"), spec
    names = {_name(s) for s in conda}
    assert not names & {"pytorch-cuda", "cudatoolkit", "cpuonly"}, names
    assert not any(n.startswith("nvidia") for n in names), names


@pytest.mark.parametrize("kind", sorted(FILES))
def test_python_and_design_packages(kind):
    env, conda, pip = _load(kind)
    assert "python=3.12" in [s.replace(" ", "") for s in conda]
    names = {_name(s) for s in conda} | {_name(p) for p in pip}
    missing = [p for p in DESIGN if p not in names]
    assert not missing, f"{FILES[kind].name} lacks {missing}"
    torch_pkgs = {n for n in names if n == "torch" or n.startswith("pytorch")}
    assert torch_pkgs == ({"pytorch-gpu"} if kind == "gpu" else {"pytorch-cpu"}), torch_pkgs
    assert "-e ." in [p.strip() for p in pip]          # posecore itself, editable
    assert "pip" in names


def test_gpu_file_pins_cuda_version():
    _, conda, _ = _load("gpu")
    cuda = [s for s in conda if _name(s) == "cuda-version"]
    assert len(cuda) == 1 and re.fullmatch(r"cuda-version\s*=\s*\d+(\.\d+)?", cuda[0].strip()), cuda
    assert not any(_name(s) == "cuda-version" for s in _load("cpu")[1])


@pytest.mark.parametrize("kind", sorted(FILES))
def test_same_stack_as_requirements(kind):
    _, conda, pip = _load(kind)
    names = {_name(s) for s in conda} | {_name(p) for p in pip}
    reqs = [_name(line) for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    missing = [r for r in reqs if r != "torch" and r not in names]
    assert not missing, f"{FILES[kind].name} lacks {missing} (in requirements.txt)"


@pytest.mark.parametrize("kind", sorted(FILES))
def test_files_say_they_are_only_parsed_here(kind):
    assert "cannot solve conda environments" in FILES[kind].read_text()


def test_jupyter_book_pin_is_explained():
    for f in ("requirements.txt", "pyproject.toml"):
        lines = (ROOT / f).read_text().splitlines()
        i = next(i for i, line in enumerate(lines) if "jupyter-book>=1.0.4,<2" in line)
        comment = " ".join(lines[max(0, i - 3):i]).lower()
        assert "mystmd" in comment and "network" in comment and "beta" in comment, f
