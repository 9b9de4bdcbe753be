"""``make lab`` starts JupyterLab, also as root (GPU workstations often run containers as root, where
JupyterLab refuses to start without ``--allow-root``)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_passes_allow_root_exactly_when_run_as_root():
    if shutil.which("make") is None:
        pytest.skip("no make")
    out = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.replace("\\\n", " ").splitlines() if "jupyter lab" in x)
    assert ("--allow-root" in line) == (os.geteuid() == 0), line


def test_jupyterlab_starts_with_the_make_lab_command(tmp_path):
    """The command `make lab` prints (as this user) starts a server that answers."""
    jupyter = Path(sys.executable).with_name("jupyter")
    if shutil.which("make") is None or not jupyter.is_file():
        pytest.skip("no make or no jupyter in this environment")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --ServerApp.open_browser=False"
    dry = subprocess.run(["make", "-n", "lab", f"LAB_ARGS={args}", f"BIN={jupyter.parent}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False)
    assert dry.returncode == 0, dry.stderr
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.Popen(["make", "lab", f"LAB_ARGS={args}", f"BIN={jupyter.parent}", "STAMP="], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        deadline, seen = time.time() + 60, ""
        while time.time() < deadline:
            line = proc.stdout.readline()
            seen += line
            if "is running at" in line or f":{port}/" in line:
                break
            if proc.poll() is not None:
                break
        assert proc.poll() is None, f"make lab exited with {proc.returncode}:\n{seen[-2000:]}"
        assert "Running as root is not recommended" not in seen, seen[-2000:]
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
