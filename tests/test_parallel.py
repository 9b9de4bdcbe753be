"""posecore.parallel: training calls run in worker processes leave the checkpoints that the chapter's own
calls then load (same weights as training in-process with the same thread count)."""
import numpy as np
import pytest
import torch

from posecore import parallel
from posecore.data.toy import toy_poseset
from posecore.recipes import martinez as martinez_recipe


def _calls(train_set, cfg, seeds):
    return [parallel.Call(martinez_recipe.train_lifter, (train_set, cfg),
                          dict(seed=s, name="par-test", norm="camera", progress=False), f"seed {s}") for s in seeds]


def test_prefetched_checkpoints_are_loaded_not_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path / "a"))
    ts = toy_poseset(400, seed=1)
    cfg = martinez_recipe.config("smoke", num_steps=30)
    secs = parallel.prefetch(_calls(ts, cfg, [0, 1]), workers=2, threads=1, progress=False)
    assert len(secs) == 2 and all(s > 0 for s in secs)
    files = sorted((tmp_path / "a").glob("par-test*.pt"))
    assert len(files) == 2
    stamps = [f.stat().st_mtime_ns for f in files]
    models = [c() for c in _calls(ts, cfg, [0, 1])]                    # the chapter's own calls: loads
    assert [f.stat().st_mtime_ns for f in files] == stamps            # loaded, not trained again
    # the same calls trained in this process with one thread give the same weights
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path / "b"))
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        direct = martinez_recipe.train_lifter(ts, cfg, seed=1, name="par-test", norm="camera", progress=False)
    finally:
        torch.set_num_threads(n)
    for a, b in zip(models[1][0].state_dict().values(), direct[0].state_dict().values()):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(models[0][0].state_dict().values(),
                                                         direct[0].state_dict().values()))
    assert np.isclose(models[1][1][-1]["loss"], direct[1][-1]["loss"])


def test_one_worker_runs_nothing_and_bad_calls_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    ts = toy_poseset(50, seed=2)
    cfg = martinez_recipe.config("smoke", num_steps=2)
    assert parallel.prefetch(_calls(ts, cfg, [0, 1]), workers=1) == []
    assert not list(tmp_path.glob("*.pt"))
    with pytest.raises(ValueError, match="module-level"):
        parallel.prefetch([parallel.Call(lambda: None)], workers=2)
    with pytest.raises(ValueError, match=">= 1"):
        parallel.prefetch(_calls(ts, cfg, [0]), workers=0)
    monkeypatch.setenv("POSECORE_WORKERS", "0")
    with pytest.raises(ValueError, match="POSECORE_WORKERS"):
        parallel.default_workers()
    monkeypatch.setenv("POSECORE_WORKERS", "3")
    assert parallel.default_workers() == 3


def test_a_failing_call_names_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    ts = toy_poseset(50, seed=3)
    bad = martinez_recipe.config("smoke", num_steps=2)
    calls = _calls(ts, bad, [0]) + [parallel.Call(martinez_recipe.train_lifter, (ts, bad),
                                                  dict(seed=1, name="par-test", norm="nonsense", progress=False),
                                                  "the bad one")]
    with pytest.raises(RuntimeError, match="the bad one"):
        parallel.prefetch(calls, workers=2, progress=False)


@pytest.mark.parametrize("kind", ["martinez", "wang", "drover"])
def test_recipes_start_from_their_seed_only(kind, tmp_path, monkeypatch):
    # a worker process starts with another global RNG state than the chapter's kernel: the trained
    # weights must not depend on it (they did when the nets were built before seeding)
    from posecore.recipes import drover as drover_recipe
    from posecore.recipes import wang as wang_recipe
    ts = toy_poseset(300, seed=4)
    fn = {"martinez": lambda: martinez_recipe.train_lifter(ts, martinez_recipe.config("smoke", num_steps=5),
                                                          seed=3, progress=False, norm="camera")[0],
          "wang": lambda: wang_recipe.train_wang(ts, wang_recipe.config("smoke"), seed=3, progress=False)[0],
          "drover": lambda: drover_recipe.train_drover(ts, drover_recipe.config("smoke", num_steps=3), seed=3,
                                                       progress=False)[0]}[kind]
    states = []
    for k, g in enumerate((11, 12)):
        monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path / str(k)))
        torch.manual_seed(g)
        m = fn()
        states.append(m.state_dict() if hasattr(m, "state_dict") else
                      {f"{k}.{n}": v for k in ("synth", "recon") for n, v in getattr(m, k).state_dict().items()})
    assert states[0].keys() == states[1].keys()
    for name in states[0]:
        assert torch.equal(states[0][name], states[1][name]), name
