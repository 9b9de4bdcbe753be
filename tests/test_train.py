"""The training loop: resume is exact, checkpoints reject other configs, load_or_train skips work."""
import numpy as np
import pytest
import torch

from posecore import train


def _setup(seed=0):
    train.seed_everything(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.99)
    X = torch.randn(256, 4, generator=torch.Generator().manual_seed(1))
    y = X.sum(1, keepdim=True)

    def batch_fn(step):
        g = torch.Generator().manual_seed(step)
        idx = torch.randint(0, 256, (32,), generator=g)
        return X[idx], y[idx]

    def step_fn(batch, step):
        opt.zero_grad()
        loss = ((model(batch[0]) - batch[1]) ** 2).mean()   # dropout draws from the global RNG
        loss.backward()
        opt.step()
        return {"loss": loss.item()}
    return model, opt, sched, batch_fn, step_fn


def test_resume_is_exact(tmp_path):
    m1, o1, s1, b1, f1 = _setup()
    h_full = train.fit(f1, b1, models={"m": m1}, optimizers={"o": o1}, schedulers={"s": s1}, num_steps=40,
                       progress=False, log_every=1)
    m2, o2, s2, b2, f2 = _setup()
    ck = tmp_path / "ck.pt"
    train.fit(f2, b2, models={"m": m2}, optimizers={"o": o2}, schedulers={"s": s2}, num_steps=20,
              checkpoint=ck, config={"a": 1}, progress=False, log_every=1)
    m3, o3, s3, b3, f3 = _setup(seed=123)          # a fresh process with other RNG state
    h = train.fit(f3, b3, models={"m": m3}, optimizers={"o": o3}, schedulers={"s": s3}, num_steps=40,
                  checkpoint=ck, config={"a": 1}, progress=False, log_every=1)
    for a, b in zip(m1.state_dict().values(), m3.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["loss"] for r in h] == pytest.approx([r["loss"] for r in h_full])
    assert h_full[-1]["loss"] < h_full[0]["loss"]


def test_checkpoint_from_other_config_is_rejected(tmp_path):
    m, o, s, b, f = _setup()
    ck = tmp_path / "ck.pt"
    train.fit(f, b, models={"m": m}, optimizers={"o": o}, num_steps=3, checkpoint=ck, config={"w": 8}, progress=False)
    with pytest.raises(ValueError, match="another configuration"):
        train.fit(f, b, models={"m": m}, optimizers={"o": o}, num_steps=5, checkpoint=ck, config={"w": 16}, progress=False)
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        train.load_checkpoint(ck, models={"m": m})


def test_load_or_train_skips_finished(tmp_path):
    m, o, s, b, f = _setup()
    ck = tmp_path / "ck.pt"
    calls = []

    def run():
        calls.append(1)
        return train.fit(f, b, models={"m": m}, optimizers={"o": o}, num_steps=5, checkpoint=ck, config={}, progress=False)
    train.load_or_train(ck, {"m": m}, run, config={})
    m2 = _setup()[0]
    train.load_or_train(ck, {"m": m2}, run, config={})
    assert len(calls) == 1
    for a, c in zip(m.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, c)


def test_select_device():
    assert train.select_device("cpu").type == "cpu"
    assert train.select_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError):
        train.select_device("tpu")


def test_seed_everything_repeatable():
    train.seed_everything(5); a = (np.random.rand(), torch.rand(1).item())
    train.seed_everything(5); b = (np.random.rand(), torch.rand(1).item())
    assert a == b


def test_precision_resolution_and_autocast(monkeypatch):
    assert train.resolve_precision("fp32") == "fp32" and train.resolve_precision("bf16") == "bf16"
    monkeypatch.setattr(train, "cpu_has_bf16", lambda: True)
    assert train.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(train, "cpu_has_bf16", lambda: False)
    assert train.resolve_precision("auto", "cpu") == "fp32"
    with pytest.raises(ValueError, match="precision"):
        train.resolve_precision("fp16")
    with pytest.raises(ValueError, match="resolve"):
        train.autocast("auto")
    lin = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with train.autocast("bf16"):
        assert lin(x).dtype == torch.bfloat16                 # matmuls in bf16, the weights stay fp32
    with train.autocast("fp32"):
        assert lin(x).dtype == torch.float32
    assert lin.weight.dtype == torch.float32


def test_cpu_has_bf16_reads_the_flags(tmp_path):
    for k, (flags, expect) in enumerate((("fpu sse avx2 avx512f", False), ("fpu avx2 avx512_bf16", True),
                                         ("fpu amx_bf16 amx_tile", True))):
        info = tmp_path / f"cpuinfo{k}"
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
        assert train.cpu_has_bf16(str(info)) is expect
    assert train.cpu_has_bf16(str(tmp_path / "missing")) is False
