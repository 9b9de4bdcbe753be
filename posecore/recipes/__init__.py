"""How each paper trains: its training procedure (stages, losses, schedules) and its per-profile
configuration, written once and used by the chapters, the benchmarks and the user API alike.

The house, arrows pointing down (``tests/test_architecture.py`` enforces them)::

    notebooks/NN_*.py       narration, parameters, plots, tables
    posecore.api / cli      the user calls: load an exported model, lift 2D keypoints
    posecore.recipes.*      one module per paper + shared machinery:
                            ``martinez`` (the supervised lifter, chapters 01-04's reference),
                            ``drover`` (2D-to-3D lifting GAN, 01-02), ``wang`` (stereo label generator,
                            03-04), ``zhou`` (hourglass + depth, weak supervision, 05-06), ``yang``
                            (adversarial multi-source discriminator, 07), ``fbi`` (forward/backward
                            bone information + weighted refiner, 08), ``wang_image`` (a network on
                            generated wild 3D labels and the action probe, 09);
                            ``backbone`` (the shared 2D hourglass every image recipe starts from),
                            ``regression`` (supervised MLP training), ``images`` (cached image pools,
                            mixed lab/wild batches, image inference, the rendered data's identity)
    posecore.evaluate       metrics of any prediction against a PoseSet, paper-vs-ours tables, verdicts
    posecore.train          the one ``fit`` loop (checkpoints, resume), seeds, devices
    posecore.models.*       networks and pure maths, one file per paper (no training, data or API imports)
    posecore.data, skeleton, camera, metrics, losses, geometric_search

Each paper module offers ``Config`` and ``config(profile, **overrides)`` -- the one configuration per
profile ('smoke', 'quick', 'full'; overrides are a chapter's explicit papermill parameters, None =
keep) -- and its ``train...`` functions, which load a finished checkpoint instead of retraining; the
image papers' modules name their table rows ``VARIANTS`` (a ``Variant`` each) and train and score them
with ``train_variant`` / ``run_variants``. Every cached
training stage is declared with ``artefacts.stage(name, version, upstream)`` beside its code: the
version is part of its checkpoints' keys (:mod:`posecore.artefacts`) and is bumped when what the stage
computes changes (``tests/test_fingerprints.py`` enforces it).
"""
from __future__ import annotations

from pathlib import Path

from .. import artefacts, train


def checkpoint_path(name: str, config: dict, stage: artefacts.Stage, precision: str | None = None) -> Path:
    """``checkpoint_dir()/<name>-<key>.pt``: the key of ``stage`` (its version and its upstream
    stages' versions) run with ``config`` (which names the data by its content digest), ``precision``
    and this torch (:func:`posecore.artefacts.key`)."""
    return train.checkpoint_path(name, stage, config, precision=precision)
