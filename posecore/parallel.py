"""Train independent networks side by side on the cores of one machine.

A chapter that trains several small networks (one per seed, one per ablation row) makes its training
calls one after another, and each call leaves a checkpoint in the cache (:func:`posecore.train.fit`)
that a repeated call loads instead of training. :func:`prefetch` runs those same calls first in
``workers`` worker processes with ``threads`` torch threads each, so that the chapter's own calls then
only load. Small MLPs do not use two cores well from one process (per-step overheads, small matrix
products), so two single-thread workers finish two networks sooner than two-thread training one after
the other: ``make bench`` prints the ratio (``benchmarks/bench_parallel.py``).

The calls must be importable functions (module-level, e.g. ``posecore.recipes.martinez.train_lifter``)
with picklable arguments; what they return is discarded in the worker. A call whose checkpoint is
already complete costs the worker a load. The results do not depend on ``workers`` except through
the thread count of the run that trained a checkpoint (floating-point sums in another order): the
book's quick profile runs with ``workers=2, threads=1``.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field


@dataclass
class Call:
    """One training call: ``fn(*args, **kwargs)`` (``call()`` makes it here); ``label`` names it in
    progress lines."""
    fn: object
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    def __call__(self):
        return self.fn(*self.args, **self.kwargs)


def _init_worker(threads: int):
    import torch
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


def _run(call: Call) -> float:
    t = time.perf_counter()
    call()
    return time.perf_counter() - t


def default_workers() -> int:
    """Worker processes for :func:`prefetch`: ``$POSECORE_WORKERS`` if set, else 1 when a CUDA device is
    present (one GPU serves the calls in turn), else the number of CPU cores this process may use."""
    env = os.environ.get("POSECORE_WORKERS")
    if env:
        n = int(env)
        if n < 1:
            raise ValueError(f"POSECORE_WORKERS must be >= 1, got {env!r}")
        return n
    import torch
    if torch.cuda.is_available():
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                                         # not on Linux
        return max(1, os.cpu_count() or 1)


def prefetch(calls, workers: int | None = None, threads: int = 1, progress: bool = True) -> list[float]:
    """Run ``calls`` (:class:`Call` objects or ``(fn, args, kwargs)`` tuples) in ``workers`` processes of
    ``threads`` torch threads each (``workers`` default :func:`default_workers`; 1 worker or 1 call:
    nothing is started and ``[]`` is returned -- the chapter's own calls then train in-process). Returns
    the wall seconds of each call (in the order given). An exception in a call is raised here, naming
    the call."""
    calls = [c if isinstance(c, Call) else Call(*c) for c in calls]
    for c in calls:
        if not callable(c.fn) or "<locals>" in getattr(c.fn, "__qualname__", "<locals>"):
            raise ValueError(f"prefetch: {c.label or c.fn!r} is not a module-level function (workers import it)")
    workers = default_workers() if workers is None else int(workers)
    if workers < 1 or threads < 1:
        raise ValueError(f"prefetch: workers and threads must be >= 1, got {workers}, {threads}")
    if workers == 1 or len(calls) <= 1:
        return []
    import multiprocessing as mp
    seconds = [0.0] * len(calls)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=min(workers, len(calls)), mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(_run, c): i for i, c in enumerate(calls)}
        for done, fut in enumerate(as_completed(futures), 1):
            i = futures[fut]
            try:
                seconds[i] = fut.result()
            except Exception as e:
                raise RuntimeError(f"prefetch: call {calls[i].label or i} failed: {e}") from e
            if progress:
                print(f"[{done}/{len(calls)}] {calls[i].label or i}: {seconds[i]:.0f} s "
                      f"(wall {time.perf_counter() - t0:.0f} s, {min(workers, len(calls))} workers x {threads} thread)")
    return seconds

