"""How each paper trains: its training procedure (stages, losses, schedules) and its per-profile
configuration, written once and used by the chapters, the benchmarks and the user API alike.

The house, arrows pointing down (``tests/test_architecture.py`` enforces them)::

    notebooks/NN_*.py       narration, parameters, plots, tables
    posecore.api / cli      the user calls: load an exported model, lift 2D keypoints
    posecore.recipes.*      one module per paper (martinez, drover, wang, zhou, yang) + shared machinery:
                            ``backbone`` (the shared 2D hourglass every image recipe starts from),
                            ``regression`` (supervised MLP training), ``images`` (cached image pools,
                            mixed lab/wild batches, image inference)
    posecore.evaluate       metrics of any prediction against a PoseSet, paper-vs-ours tables, verdicts
    posecore.train          the one ``fit`` loop (checkpoints, resume), seeds, devices
    posecore.models.*       networks and pure maths, one file per paper (no training, data or API imports)
    posecore.data, skeleton, camera, metrics, losses, geometric_search

Each paper module offers ``config(profile, **overrides)`` -- the one configuration per profile
('smoke', 'quick', 'full'; overrides are a chapter's explicit papermill parameters, None = keep) -- and
its ``train...`` functions, which load a finished checkpoint instead of retraining.
"""
from __future__ import annotations

from pathlib import Path

from .. import train


def checkpoint_path(name: str, config: dict, code: str) -> Path:
    """``checkpoint_dir()/<name>-<hash>.pt``, the hash of the config and of the source of the recipe
    module ``code`` and everything it imports (:func:`posecore.train.code_digest`): a changed config or
    a changed model / recipe / loop trains into a new file instead of reloading a stale one."""
    return train.checkpoint_path(name, config, code=(code,))
