"""One training loop for every model of the book, with callbacks, a tqdm bar, atomic checkpoints and
exact resume.

The loop is generic: a chapter supplies ``batch_fn(step) -> batch`` (deterministic in ``step``, so a
resumed run sees the same batches) and ``step_fn(batch, step) -> dict of floats`` that does the
forward pass, the backward pass and the optimizer steps itself (so a GAN with two optimizers fits the
same loop). :func:`fit` steps the schedulers once per step, logs, checkpoints and resumes.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from tqdm.auto import tqdm


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, numpy and torch (CPU and CUDA); optionally ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def select_device(device: str = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cpu' / 'cuda' / 'cuda:N' as given (checked)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if not (str(device) == "cpu" or str(device).startswith("cuda") or str(device) == "mps"):
        raise ValueError(f"unknown device {device!r}; choose 'auto', 'cpu' or 'cuda[:N]'")
    return torch.device(device)


def checkpoint_dir() -> Path:
    """$POSECORE_CHECKPOINTS or ``data/cache/checkpoints`` at the repository root."""
    env = os.environ.get("POSECORE_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data" / "cache" / "checkpoints"


def config_hash(config) -> str:
    """A short stable hash of a JSON-able config (dict or dataclass)."""
    if hasattr(config, "__dataclass_fields__"):
        from dataclasses import asdict
        config = asdict(config)
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class TrainState:
    """What a callback sees: the step just finished, its logged values and the history so far."""
    step: int
    num_steps: int
    logs: dict
    history: list = field(default_factory=list)
    models: dict = field(default_factory=dict)


class Callback:
    """Override what you need. ``on_step_end`` may return True to stop training early."""

    def on_train_start(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState) -> bool | None: ...

    def on_train_end(self, state: TrainState) -> None: ...


class EvalCallback(Callback):
    """Calls ``fn(state) -> dict`` every ``every`` steps and on the last step; merges into the logs."""

    def __init__(self, fn: Callable[[TrainState], dict], every: int):
        self.fn, self.every = fn, max(1, int(every))

    def on_step_end(self, state):
        if state.step % self.every == 0 or state.step == state.num_steps:
            state.logs.update(self.fn(state))


def _rng_state() -> dict:
    st = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict) -> None:
    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def save_checkpoint(path, *, step: int, models: dict, optimizers: dict | None = None,
                    schedulers: dict | None = None, config=None, history=None, finished=False) -> Path:
    """Write a checkpoint atomically (temp file + rename): models, optimizers, schedulers, RNG, step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "step": step, "finished": finished, "config_hash": config_hash(config or {}), "config": config,
        "models": {k: m.state_dict() for k, m in models.items()},
        "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items()},
        "schedulers": {k: s.state_dict() for k, s in (schedulers or {}).items()},
        "rng": _rng_state(), "history": history or [],
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path, *, models: dict, optimizers: dict | None = None, schedulers: dict | None = None,
                    config=None, restore_rng: bool = True) -> dict:
    """Load a checkpoint into the given objects; raise ValueError if it was written for another
    config or lacks one of the models. Returns the raw blob (step, history, finished)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # corrupt / truncated file
        raise ValueError(f"{path}: corrupt or unreadable checkpoint ({e})") from e
    if config is not None and blob.get("config_hash") != config_hash(config):
        raise ValueError(f"{path}: checkpoint is from another configuration "
                         f"(saved {blob.get('config')}, asked {config}); delete it or use another path")
    for k, m in models.items():
        if k not in blob["models"]:
            raise ValueError(f"{path}: checkpoint has no model {k!r} (has {sorted(blob['models'])})")
        try:
            m.load_state_dict(blob["models"][k])
        except RuntimeError as e:
            raise ValueError(f"{path}: model {k!r} does not match the checkpoint ({e})") from e
    for k, o in (optimizers or {}).items():
        if k in blob["optimizers"]:
            o.load_state_dict(blob["optimizers"][k])
    for k, s in (schedulers or {}).items():
        if k in blob["schedulers"]:
            s.load_state_dict(blob["schedulers"][k])
    if restore_rng and "rng" in blob:
        _set_rng_state(blob["rng"])
    return blob


def fit(step_fn: Callable, batch_fn: Callable[[int], object], *, models: dict, optimizers: dict,
        num_steps: int, schedulers: dict | None = None, checkpoint=None, config=None,
        checkpoint_every: int = 500, callbacks: Iterable[Callback] = (), desc: str = "train",
        log_every: int = 10, progress: bool = True) -> list[dict]:
    """Run ``num_steps`` training steps (1-based step numbers) and return the history of logs.

    ``step_fn(batch, step) -> dict[str, float]``; ``batch_fn(step) -> batch``. With ``checkpoint``
    (a path) the run resumes from it when present (exactly: models, optimizers, schedulers, RNG and
    step) and writes it every ``checkpoint_every`` steps and at the end."""
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    schedulers = schedulers or {}
    history, start = [], 0
    if checkpoint is not None and Path(checkpoint).exists():
        blob = load_checkpoint(checkpoint, models=models, optimizers=optimizers, schedulers=schedulers,
                               config=config)
        start, history = int(blob["step"]), list(blob.get("history", []))
    for m in models.values():
        m.train()
    state = TrainState(step=start, num_steps=num_steps, logs={}, history=history, models=models)
    callbacks = list(callbacks)
    for cb in callbacks:
        cb.on_train_start(state)
    bar = tqdm(range(start + 1, num_steps + 1), desc=desc, initial=start, total=num_steps,
               disable=not progress, mininterval=1.0, leave=False)
    t0 = time.perf_counter()
    for step in bar:
        logs = dict(step_fn(batch_fn(step), step))
        for s in schedulers.values():
            s.step()
        state.step, state.logs = step, logs
        stop = False
        for cb in callbacks:
            stop = bool(cb.on_step_end(state)) or stop
        if step % log_every == 0 or step == num_steps or stop:
            logs = {k: float(v) for k, v in logs.items()}
            logs["step"] = step
            logs["time_s"] = time.perf_counter() - t0
            history.append(logs)
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k not in ("step", "time_s")}, refresh=False)
        if checkpoint is not None and (step % checkpoint_every == 0 or step == num_steps or stop):
            save_checkpoint(checkpoint, step=step, models=models, optimizers=optimizers, schedulers=schedulers,
                            config=config, history=history, finished=(step == num_steps or stop))
        if stop:
            break
    bar.close()
    for cb in callbacks:
        cb.on_train_end(state)
    for m in models.values():
        m.eval()
    return history


def load_or_train(checkpoint, models: dict, train_fn: Callable[[], object], config=None) -> list[dict]:
    """If ``checkpoint`` holds a finished run of this ``config``, load it into ``models`` and return
    its history; otherwise call ``train_fn()`` (which should call :func:`fit` with the same
    checkpoint, so an interrupted run resumes) and return what it returns."""
    path = Path(checkpoint)
    if path.exists():
        blob = torch.load(path, map_location="cpu", weights_only=False)
        if blob.get("finished") and blob.get("config_hash") == config_hash(config or {}):
            load_checkpoint(path, models=models, config=config, restore_rng=False)
            for m in models.values():
                m.eval()
            return list(blob.get("history", []))
    return train_fn()
