"""posecore.train.fit under torchrun (2 CPU processes, gloo on 127.0.0.1).

* 2 processes with half of each batch end with the same parameters as 1 process with the full batch
  (the models start different on each rank: fit broadcasts rank 0's);
* a 2-process run killed after a checkpoint and restarted ends exactly where an uninterrupted
  2-process run ends;
* shard_batch splits batches (tensors, arrays, tuples, dicts) and passes other items through.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from posecore import train

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent('''
    import os, sys
    from pathlib import Path
    import torch
    from posecore import train

    class Crash(train.Callback):
        """Kills the process, as a crash or a lost machine would, at the end of step ``at``."""
        def __init__(self, at):
            self.at = at
        def on_step_end(self, state):
            if state.step == self.at:
                sys.stdout.flush()
                os._exit(3)

    def build():
        torch.manual_seed(100 + train.rank())      # different on each rank: fit broadcasts rank 0's
        model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.97)
        X = torch.randn(128, 6, generator=torch.Generator().manual_seed(1))
        Y = torch.stack([X[:, :3].sum(1), X[:, 3:].prod(1)], 1)

        def batch_fn(step):                          # the global batch, deterministic in step
            g = torch.Generator().manual_seed(step)
            idx = torch.randint(0, 128, (16,), generator=g)
            return {"x": X[idx], "y": Y[idx], "g": g}

        def step_fn(batch, step):
            opt.zero_grad()
            loss = ((model(batch["x"]) - batch["y"]) ** 2).mean()
            loss.backward()
            opt.step()
            return {"loss": loss.item(), "rows": float(len(batch["x"]))}
        return model, opt, sched, batch_fn, step_fn

    def run(out, num_steps=20, checkpoint=None, crash_at=None):
        train.init_distributed()
        model, opt, sched, batch_fn, step_fn = build()
        before = vars(opt).get("step")
        history = train.fit(step_fn, batch_fn, models={"m": model}, optimizers={"o": opt},
                            schedulers={"s": sched}, num_steps=num_steps, checkpoint=checkpoint,
                            config={"test": 1}, checkpoint_every=8, log_every=1, progress=False,
                            callbacks=[Crash(crash_at)] if crash_at else [])
        Path(out).mkdir(parents=True, exist_ok=True)
        torch.save({"state": model.state_dict(), "history": history, "world": train.world_size(),
                    "step_restored": vars(opt).get("step") is before},
                   Path(out) / f"rank{train.rank()}.pt")

    if __name__ == "__main__":
        out, ck, crash = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
        if crash:       # one launch: an uninterrupted run, then a run that is killed at step `crash`
            run(out / "two")
            run(out / "killed", checkpoint=ck, crash_at=crash)
        else:
            run(out / "resumed", checkpoint=ck)
        if train.world_size() > 1:
            torch.distributed.destroy_process_group()
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(script: Path, out: Path, checkpoint: Path, crash_at=0, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           str(script), str(out), str(checkpoint), str(crash_at)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _load(out: Path):
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The single-process reference (in this process), then one torchrun launch of 2 processes: an
    uninterrupted run, and a run with a checkpoint every 8 steps that is killed in step 11."""
    tmp = tmp_path_factory.mktemp("dist")
    script = tmp / "worker.py"
    script.write_text(WORKER)
    spec = importlib.util.spec_from_file_location("posecore_dist_worker", script)
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    worker.run(tmp / "single")
    single = torch.load(tmp / "single" / "rank0.pt", weights_only=False)
    ck = tmp / "ck" / "run.pt"
    killed = _torchrun(script, tmp, ck, crash_at=11)
    assert (tmp / "two" / "rank1.pt").exists(), killed.stdout[-3000:] + killed.stderr[-3000:]
    return tmp, script, ck, killed, single, _load(tmp / "two")


def _assert_state_close(a, b, **tol):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], **tol)


def test_two_processes_match_one(runs):
    *_, single, two = runs
    assert single["world"] == 1 and [t["world"] for t in two] == [2, 2]
    for t in two:
        for k in t["state"]:                       # every rank holds the same model
            assert torch.equal(t["state"][k], two[0]["state"][k])
        assert t["step_restored"]                  # the optimizer's own step is back after fit
    _assert_state_close(two[0]["state"], single["state"], rtol=1e-5, atol=1e-6)
    # the logs are averaged over the ranks: the mean of the half-batch losses is the full-batch loss
    assert [h["rows"] for h in two[0]["history"]] == [8.0] * 20
    assert [h["loss"] for h in two[0]["history"]] == pytest.approx([h["loss"] for h in single["history"]],
                                                                    rel=1e-5, abs=1e-6)
    assert single["history"][-1]["loss"] < single["history"][0]["loss"]


def test_resume_after_kill_matches_uninterrupted(runs):
    tmp, script, ck, killed, single, two = runs
    assert killed.returncode != 0                                 # the second run died in step 11
    assert not (tmp / "killed").exists()
    blob = torch.load(ck, weights_only=False)
    assert blob["step"] == 8 and not blob["finished"]
    assert sorted(p.name for p in ck.parent.iterdir()) == ["run.pt"]   # one writer, no temp files left
    r = _torchrun(script, tmp, ck)                                # restart: resumes from step 8
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    resumed = _load(tmp / "resumed")
    for t in resumed:
        _assert_state_close(t["state"], two[0]["state"], rtol=0, atol=0)
    assert [h["loss"] for h in resumed[0]["history"]] == pytest.approx([h["loss"] for h in two[0]["history"]])
    assert torch.load(ck, weights_only=False)["finished"]


def test_shard_batch():
    g = torch.Generator()
    batch = {"x": torch.arange(12).reshape(6, 2), "y": np.arange(6), "g": g, "n": 3,
             "pair": (torch.zeros(4, 1), torch.tensor(2.0))}
    parts = [train.shard_batch(batch, rank=r, world_size=2) for r in range(2)]
    assert torch.equal(parts[0]["x"], batch["x"][:3]) and torch.equal(parts[1]["x"], batch["x"][3:])
    assert parts[1]["y"].tolist() == [3, 4, 5]
    assert parts[0]["g"] is g and parts[1]["n"] == 3
    assert parts[1]["pair"][0].shape == (2, 1) and float(parts[1]["pair"][1]) == 2.0
    assert train.shard_batch(batch, rank=0, world_size=1) is batch
    assert isinstance(train.shard_batch([torch.ones(4)], rank=1, world_size=2), list)
    with pytest.raises(ValueError, match="not divisible"):
        train.shard_batch((torch.zeros(5, 2),), rank=0, world_size=2)


def test_single_process_helpers(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert train.init_distributed() is False          # a plain process: nothing to join
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert train.init_distributed() is False
    assert (train.rank(), train.world_size(), train.is_main()) == (0, 1, True)
