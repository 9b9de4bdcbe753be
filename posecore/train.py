"""One training loop for every model of the book, with callbacks, a tqdm bar, atomic checkpoints and
exact resume.

The loop is generic: a chapter supplies ``batch_fn(step) -> batch`` (deterministic in ``step``, so a
resumed run sees the same batches) and ``step_fn(batch, step) -> dict of floats`` that does the
forward pass, the backward pass and the optimizer steps itself (so a GAN with two optimizers fits the
same loop). :func:`fit` steps the schedulers once per step, logs, checkpoints and resumes.

Checkpoints go to :func:`checkpoint_dir` (``$POSECORE_CHECKPOINTS``, else ``checkpoints/`` in the user
cache folder of :func:`posecore.cache.cache_root`), named by :func:`checkpoint_path` after what they compute
(:mod:`posecore.artefacts`: configuration, data content, stage versions, precision, torch version);
:func:`load_or_train` holds a lock so that two processes never train the same checkpoint at once.

Several processes (``torchrun``): call :func:`init_distributed` first; :func:`fit` then runs
data-parallel with DistributedDataParallel semantics without any change to ``step_fn`` or
``batch_fn``: it broadcasts the models from rank 0, gives ``step_fn`` this rank's contiguous shard of
the global batch (:func:`shard_batch`), averages the gradients of each optimizer's parameters over the
ranks just before that optimizer steps (like Horovod's DistributedOptimizer), and only rank 0 writes
checkpoints and shows progress. The losses must be means over the batch (then the averaged gradient
is the full-batch gradient); BatchNorm statistics are computed per rank on its shard (convert the model
with ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` on CUDA for batch-wide statistics), and rank 0's
running statistics are copied to every rank at each checkpoint and at the end.
"""
from __future__ import annotations

import contextlib
import functools
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

from . import artefacts


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


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=4)
def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when this CPU does bf16 arithmetic natively (``cpuinfo`` lists avx512_bf16 or amx_bf16);
    elsewhere bf16 autocast is emulated and several times slower than fp32. False if unreadable."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = next((set(line.split(":", 1)[1].split()) for line in text.splitlines() if line.startswith("flags")), set())
    return bool(flags & set(BF16_CPU_FLAGS))


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """'fp32' or 'bf16' as given; 'auto' -> 'bf16' where the device computes it natively (a CUDA GPU
    that supports bf16, or a CPU with :func:`cpu_has_bf16`), else 'fp32'. Record the resolved value in a
    checkpoint's config: the two precisions train different weights."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


def autocast(precision: str, device: str | torch.device = "cpu"):
    """The forward-pass context of a resolved precision: bf16 autocast (matmuls and convolutions in
    bf16, reductions and losses in fp32, weights and optimizer state fp32) or a no-op for 'fp32'."""
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise ValueError(f"autocast: resolve the precision first (got {precision!r})")
    return contextlib.nullcontext()


def checkpoint_dir() -> Path:
    """``$POSECORE_CHECKPOINTS``, else ``<cache root>/checkpoints`` (:func:`posecore.cache.cache_root`:
    ``$POSECORE_CACHE`` or the user cache folder, ``~/.cache/posecore`` on Linux). Not created."""
    env = os.environ.get("POSECORE_CHECKPOINTS")
    if env:
        return Path(env).expanduser()
    from .cache import cache_root
    return cache_root() / "checkpoints"


def _plain(config):
    """Dataclasses (also nested in dicts/lists) as dicts, for hashing."""
    return artefacts.plain(config)


def config_hash(config) -> str:
    """A short stable hash of a JSON-able config (dict or dataclass)."""
    return hashlib.sha1(json.dumps(_plain(config), sort_keys=True, default=str).encode()).hexdigest()[:12]


def checkpoint_path(name: str, stage: "artefacts.Stage", config, precision: str | None = None) -> Path:
    """``checkpoint_dir()/<name>-<key>.pt``, the key of what the checkpoint computes
    (:func:`posecore.artefacts.key`: the configuration -- with the data's content digest in it --, the
    behaviour versions of ``stage`` and of the stages upstream of it, the resolved ``precision`` and
    torch's major.minor). The source text is not part of it: a docstring or a refactor keeps the file,
    a bumped stage version trains a new one."""
    return checkpoint_dir() / f"{name}-{artefacts.key(stage, config, precision=precision)}.pt"


# --- several processes (torchrun) ---------------------------------------------------------------

def _dist():
    """torch.distributed when a process group with more than one process is initialised, else None."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


def init_distributed(backend: str | None = None, timeout_s: float | None = None) -> bool:
    """Join the process group that ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``): backend ``nccl`` on CUDA (and ``torch.cuda.set_device(LOCAL_RANK)``,
    so ``select_device('auto')`` gives this process's GPU), ``gloo`` on CPU. A no-op returning False
    for a single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``); True when the group is (or was
    already) initialised. Destroy it at the end with ``torch.distributed.destroy_process_group()``."""
    import torch.distributed as dist
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    kwargs = {}
    if timeout_s is not None:
        from datetime import timedelta
        kwargs["timeout"] = timedelta(seconds=timeout_s)
    dist.init_process_group(backend=backend, init_method="env://", **kwargs)
    return True


def _rank() -> int:
    import torch.distributed as dist
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _world_size() -> int:
    import torch.distributed as dist
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank in the initialised process group; 0 without one."""
    return _rank()


def world_size() -> int:
    """The number of processes in the initialised process group; 1 without one."""
    return _world_size()


def is_main() -> bool:
    """True on rank 0 (and in a single process): the process that writes checkpoints and logs."""
    return _rank() == 0


def shard_batch(batch, rank: int | None = None, world_size: int | None = None):
    """This rank's part of a global batch: every tensor / ndarray with at least one dimension is
    split along dim 0 into ``world_size`` equal contiguous chunks (ValueError if its length is not
    divisible); tuples, lists and dicts are split elementwise (recursively); anything else (a
    torch.Generator, a number, a 0-d tensor, a string) is passed through unchanged."""
    r = _rank() if rank is None else int(rank)
    w = _world_size() if world_size is None else int(world_size)
    if w == 1:
        return batch

    def split(x, where):
        if isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim >= 1:
            n = x.shape[0]
            if n % w:
                raise ValueError(f"batch item {where or 'batch'} has {n} rows, not divisible by the "
                                 f"{w} processes; use a batch size that is a multiple of the world size")
            k = n // w
            return x[r * k:(r + 1) * k]
        if isinstance(x, dict):
            return type(x)((key, split(v, f"{where}[{key!r}]")) for key, v in x.items())
        if isinstance(x, tuple) and hasattr(x, "_fields"):                  # namedtuple
            return type(x)(*(split(v, f"{where}.{f}") for f, v in zip(x._fields, x)))
        if isinstance(x, (tuple, list)):
            return type(x)(split(v, f"{where}[{i}]") for i, v in enumerate(x))
        return x
    return split(batch, "")


def _comm_device(dist) -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def _broadcast_tensors(dist, tensors, src: int = 0) -> None:
    dev = _comm_device(dist)
    for t in tensors:
        buf = t.data if t.device == dev else t.data.to(dev)
        dist.broadcast(buf, src=src)
        if buf is not t.data:
            t.data.copy_(buf)


def _broadcast_models(dist, models: dict, buffers_only: bool = False) -> None:
    for m in models.values():
        ts = list(m.buffers()) if buffers_only else list(m.parameters()) + list(m.buffers())
        _broadcast_tensors(dist, [t for t in ts if t.numel()])


def _average_grads(dist, params) -> None:
    """All-reduce (mean) the gradients of ``params`` over the ranks, in one flat buffer per
    (device, dtype). A parameter without a gradient on some ranks gets zeros there; one without a
    gradient on every rank keeps ``grad = None``."""
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    dev = _comm_device(dist)
    w = dist.get_world_size()
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=dev)
    dist.all_reduce(has)
    groups: dict = {}
    for p, h in zip(params, has.tolist()):
        if not h:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        if p.grad.is_sparse:
            raise ValueError("distributed fit does not support sparse gradients")
        groups.setdefault((p.grad.device, p.grad.dtype), []).append(p)
    for ps in groups.values():
        flat = torch.cat([p.grad.reshape(-1) for p in ps]).to(dev)
        dist.all_reduce(flat)
        flat /= w
        i = 0
        for p in ps:
            n = p.grad.numel()
            p.grad.copy_(flat[i:i + n].view_as(p.grad))
            i += n


def _wrap_optimizer_steps(dist, optimizers: dict) -> Callable[[], None]:
    """Make each optimizer average its parameters' gradients over the ranks before stepping; return
    the function that restores the original ``step``."""
    restore = []
    for opt in optimizers.values():
        had = "step" in vars(opt)
        prev = vars(opt).get("step")
        inner = opt.step

        @functools.wraps(inner)        # keeps the LR schedulers' marker on a step they wrapped
        def step(*args, _inner=inner, _opt=opt, **kwargs):
            _average_grads(dist, [p for g in _opt.param_groups for p in g["params"]])
            return _inner(*args, **kwargs)
        opt.step = step
        restore.append((opt, had, prev))

    def undo():
        for opt, had, prev in restore:
            if had:
                opt.step = prev
            else:
                vars(opt).pop("step", None)
    return undo


def _mean_logs(dist, logs: dict) -> dict:
    """The logged values averaged over the ranks (each key over the ranks that logged it)."""
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, logs)
    keys = list(logs) + [k for g in gathered for k in g if k not in logs]
    out = {}
    for k in dict.fromkeys(keys):
        vals = [g[k] for g in gathered if k in g]
        out[k] = float(sum(vals) / len(vals))
    return out


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
    """Write a checkpoint atomically (a uniquely named temporary file + rename,
    :func:`posecore.artefacts.atomic_save`): models, optimizers, schedulers, RNG, step."""
    path = Path(path)
    blob = {
        "step": step, "finished": finished, "config_hash": config_hash(config or {}), "config": config,
        "models": {k: m.state_dict() for k, m in models.items()},
        "optimizers": {k: o.state_dict() for k, o in (optimizers or {}).items()},
        "schedulers": {k: s.state_dict() for k, s in (schedulers or {}).items()},
        "rng": _rng_state(), "history": history or [],
    }
    return artefacts.atomic_save(blob, path)


def _read_blob(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # corrupt / truncated file
        raise ValueError(f"{path}: corrupt or unreadable checkpoint ({e})") from e


def _read_blob_everywhere(path: Path):
    """The checkpoint blob (None when there is no file), as rank 0 reads it: with several processes
    rank 0 reads the file and sends it to the others, so every rank resumes from the same state even
    when the checkpoint folder is not shared between nodes. A read error is raised on every rank."""
    dist = _dist()
    if dist is None:
        return _read_blob(path) if path.exists() else None
    msg = [None]
    if dist.get_rank() == 0:
        try:
            msg = [("ok", _read_blob(path) if path.exists() else None)]
        except ValueError as e:
            msg = [("error", str(e))]
    dist.broadcast_object_list(msg, src=0)
    status, payload = msg[0]
    if status == "error":
        raise ValueError(payload)
    return payload


def _apply_blob(path: Path, blob: dict, *, models: dict, optimizers: dict | None = None,
                schedulers: dict | None = None, config=None, restore_rng: bool = True) -> dict:
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


def load_checkpoint(path, *, models: dict, optimizers: dict | None = None, schedulers: dict | None = None,
                    config=None, restore_rng: bool = True) -> dict:
    """Load a checkpoint into the given objects; raise ValueError if it was written for another
    config or lacks one of the models. Returns the raw blob (step, history, finished)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    blob = _read_blob(path)
    return _apply_blob(path, blob, models=models, optimizers=optimizers, schedulers=schedulers,
                       config=config, restore_rng=restore_rng)


def fit(step_fn: Callable, batch_fn: Callable[[int], object], *, models: dict, optimizers: dict,
        num_steps: int, schedulers: dict | None = None, checkpoint=None, config=None,
        checkpoint_every: int = 500, callbacks: Iterable[Callback] = (), desc: str = "train",
        log_every: int = 10, progress: bool = True,
        shard_fn: Callable | None = None) -> list[dict]:
    """Run ``num_steps`` training steps (1-based step numbers) and return the history of logs.

    ``step_fn(batch, step) -> dict[str, float]``; ``batch_fn(step) -> batch``. With ``checkpoint``
    (a path) the run resumes from it when present (exactly: models, optimizers, schedulers, RNG and
    step) and writes it every ``checkpoint_every`` steps and at the end (name the path with
    :func:`checkpoint_path`, which keys it by what it computes).

    Under ``torchrun`` (after :func:`init_distributed`) the models are broadcast from rank 0, each
    rank's ``step_fn`` gets ``shard_fn(batch)`` (default :func:`shard_batch`: its contiguous
    1/world_size of every batch tensor), each optimizer averages its gradients over the ranks before
    stepping, the logged values are averaged over the ranks, only rank 0 writes the checkpoint and
    shows the progress bar, and every rank resumes from rank 0's checkpoint. Callbacks run on every
    rank (use :func:`is_main` for side effects); a stop is applied on every rank."""
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    schedulers = schedulers or {}
    dist = _dist()
    main = dist is None or dist.get_rank() == 0
    shard = shard_fn or shard_batch
    history, start = [], 0
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        blob = _read_blob_everywhere(checkpoint)
        if blob is not None:
            _apply_blob(checkpoint, blob, models=models, optimizers=optimizers, schedulers=schedulers,
                        config=config)
            start, history = int(blob["step"]), list(blob.get("history", []))
    undo = None
    if dist is not None:
        _broadcast_models(dist, models)
        undo = _wrap_optimizer_steps(dist, optimizers)
    try:
        for m in models.values():
            m.train()
        state = TrainState(step=start, num_steps=num_steps, logs={}, history=history, models=models)
        callbacks = list(callbacks)
        for cb in callbacks:
            cb.on_train_start(state)
        bar = tqdm(range(start + 1, num_steps + 1), desc=desc, initial=start, total=num_steps,
                   disable=not (progress and main), mininterval=1.0, leave=False)
        t0 = time.perf_counter()
        for step in bar:
            batch = batch_fn(step)
            logs = dict(step_fn(shard(batch) if dist is not None else batch, step))
            for s in schedulers.values():
                s.step()
            state.step, state.logs = step, logs
            stop = False
            for cb in callbacks:
                stop = bool(cb.on_step_end(state)) or stop
            if dist is not None and callbacks:          # every rank stops at the same step
                flag = torch.tensor([float(stop)], device=_comm_device(dist))
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                stop = bool(flag.item())
            if step % log_every == 0 or step == num_steps or stop:
                logs = {k: float(v) for k, v in state.logs.items()}
                if dist is not None:
                    logs = _mean_logs(dist, logs)
                logs["step"] = step
                logs["time_s"] = time.perf_counter() - t0
                history.append(logs)
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k not in ("step", "time_s")},
                                refresh=False)
            if checkpoint is not None and (step % checkpoint_every == 0 or step == num_steps or stop):
                if dist is not None:
                    _broadcast_models(dist, models, buffers_only=True)   # e.g. BatchNorm statistics
                if main:
                    save_checkpoint(checkpoint, step=step, models=models, optimizers=optimizers,
                                    schedulers=schedulers, config=config, history=history,
                                    finished=(step == num_steps or stop))
                if dist is not None:
                    dist.barrier()
            if stop:
                break
        bar.close()
        if dist is not None:
            _broadcast_models(dist, models, buffers_only=True)
        for cb in callbacks:
            cb.on_train_end(state)
    finally:
        if undo is not None:
            undo()
    for m in models.values():
        m.eval()
    return history


def load_or_train(checkpoint, models: dict, train_fn: Callable[[], object], config=None) -> list[dict]:
    """If ``checkpoint`` holds a finished run of this ``config``, load it into ``models`` and return its
    history; otherwise call ``train_fn()`` (which should call :func:`fit` with the same checkpoint, so
    an interrupted run resumes) and return what it returns. The whole call holds the checkpoint's
    inter-process lock (:func:`posecore.artefacts.locked`): a second process that asks for the same
    checkpoint while it is being trained waits and then loads it. With several processes, rank 0's
    checkpoint decides for every rank (and only rank 0 takes the lock)."""
    path = Path(checkpoint)
    lock = artefacts.locked(path) if _rank() == 0 else contextlib.nullcontext()
    with lock:
        try:
            blob = _read_blob_everywhere(path)
        except ValueError:
            blob = None                                   # unreadable: let fit() report it
        if blob is not None and blob.get("finished") and blob.get("config_hash") == config_hash(config or {}):
            _apply_blob(path, blob, models=models, config=config, restore_rng=False)
            for m in models.values():
                m.eval()
            return list(blob.get("history", []))
        return train_fn()
