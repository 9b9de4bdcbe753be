"""The three run profiles of every chapter.

=========  =====================================================================================
profile    meaning
=========  =====================================================================================
smoke      CI: seconds per notebook, tiny data and models; proves that the code path runs
quick      the default book build on a CPU: minutes per chapter; numbers that show the trends
full       paper scale (the papers' sizes and iteration counts), meant for a GPU
=========  =====================================================================================

A notebook's ``parameters`` cell sets ``profile = None``; :func:`resolve` then takes the environment
variable ``POSECORE_PROFILE`` when set (so ``pytest --nbval-lax`` runs the notebooks as ``smoke``),
else ``quick``. Papermill overrides any parameter (``-p profile full``).
"""
from __future__ import annotations

import dataclasses
import os

PROFILES = ("smoke", "quick", "full")
DEFAULT_PROFILE = "quick"
DATASETS = ("synth", "h36m", "3dhp", "mpii", "bvh")  # the same names as posecore.data.DATASETS


def resolve(profile: str | None = None) -> str:
    """The profile to run: ``profile`` if given, else $POSECORE_PROFILE, else 'quick'."""
    p = profile if profile is not None else os.environ.get("POSECORE_PROFILE", DEFAULT_PROFILE)
    if p not in PROFILES:
        raise ValueError(f"unknown profile {p!r}; choose one of {PROFILES}")
    return p


def check_choice(name: str, value, choices) -> None:
    """Raise ValueError naming the parameter when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {tuple(choices)}")


def pick(profile: str, **by_profile):
    """``pick(p, smoke=a, quick=b, full=c)`` -> the value for profile ``p``."""
    profile = resolve(profile)
    if profile not in by_profile:
        raise ValueError(f"no value given for profile {profile!r}")
    return by_profile[profile]


def configure(config_cls, profile: str | None, **overrides):
    """Build ``config_cls.for_profile(profile)`` (a dataclass) and apply the non-None ``overrides``
    (notebook parameters set by papermill). Unknown names raise ValueError."""
    return override(config_cls.for_profile(resolve(profile)), **overrides)


def override(cfg, **overrides):
    """``cfg`` (a dataclass) with the non-None ``overrides`` applied -- a chapter's explicit parameters
    on top of a recipe's per-profile configuration. Unknown names raise ValueError naming them."""
    names = {f.name for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"{type(cfg).__name__}: unknown parameters {unknown}; known: {sorted(names)}")
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
