"""Plausibility checks on the *values* of 3D skeletons read from a dataset file: is this a person, in
the axes, handedness, joint subset and units the format promises?

Every check looks at posecore 17-joint poses (:data:`posecore.skeleton.H36M_JOINTS` order, (N, 17, 3))
and raises :class:`~posecore.data.safe_io.DataFormatError` whose one-line message starts with ``where``
(the file) and states the evidence (the measured fraction of frames, ratio or size); cues that real
data can also show are only warnings. Thresholds, chosen so that the valid fixtures of
:mod:`posecore.data.fixtures`, the embedded CMU motion and any real capture stay well clear of them:

* :func:`check_up_axis` -- the legs (ankles -> hips) or the torso (pelvis -> thorax) point up, within
  60 deg (:data:`UP_COS`), in more than half of the frames. Standing, walking and sitting people do; a
  Y-up file read as Z-up (or upside down) has them along another axis in at least
  :data:`WRONG_UP_SHARE` of the frames -- an error naming that axis; neither is a warning (lying down).
* :func:`check_facing` -- handedness: in a right-handed Z-up frame the facing of the torso is
  ``left x up`` (left = left minus right hips and shoulders); an independent cue (the face / nose
  joint ahead of the thorax-head line, the toes ahead of the ankles) must agree in most *decisive*
  frames (both cues clear, :data:`MIN_LR_MM`, :data:`MIN_CUE_MM`), hips and shoulders separately.
  More than :data:`MOST` (75 %) disagreeing means mirrored coordinates or left/right labels swapped
  (a noisy cue disagrees in about half; the embedded CMU clips at most 10 %, the fixtures 0 %).
* :func:`check_bones` -- the joint subset: left and right bones of a limb are about equal (median
  length ratio within :data:`MAX_LR_RATIO`) and bones of a mocap skeleton keep their length over a
  sequence (median over bones of the coefficient of variation at most :data:`MAX_BONE_CV`). Another
  subset or order of joints (e.g. raw joints 0-16 of the 32 instead of the H36M-17 subset) pairs a
  thigh with a toe.
* :func:`check_body_units` -- units from proportions as well as size: the standing height implied by
  the bone chain ankle-knee-hip-pelvis-spine-thorax-neck-head (x :data:`ANKLE_FACTOR` for the ankle
  above the floor) must be an adult's :data:`ADULT_HEIGHT_MM` when the legs are an adult's fraction of
  it (:data:`ADULT_LEG_FRACTION`); if another unit makes it one, the error names that unit.
"""
from __future__ import annotations

import warnings

import numpy as np

from .safe_io import UNITS_TO_MM, DataFormatError

UP_COS = 0.5                     # a leg vector "points along" an axis within 60 deg of it
WRONG_UP_SHARE = 2 / 3           # frames along one other axis that make a wrong up axis an error
MOST = 0.75                      # share of decisive frames whose facing cue disagrees: mirrored / swapped
MIN_LR_MM = 50.0                 # left-right width (hips + shoulders) needed to judge the facing
MIN_CUE_MM = 15.0                # horizontal offset of the facing cue (nose, toes) needed to judge it
MAX_LR_RATIO = 1.5               # left/right bone length ratio of a real body: within 1/1.5 .. 1.5
MAX_BONE_CV = 0.25               # median (over bones) std/mean of the bone lengths over a sequence
ADULT_HEIGHT_MM = (1400.0, 2100.0)
ANKLE_FACTOR = 1.04              # stature ~ 1.04 x the ankle-to-head-top chain (ankle ~7 cm above the floor)
ADULT_LEG_FRACTION = (0.38, 0.62)  # (thigh + shank) / chain: ~0.5 for an adult (a toddler ~0.35)
MAX_FRAMES = 600                 # frames sampled (evenly) for the checks

AXES = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0), "+z": (0, 0, 1), "-z": (0, 0, -1)}
# posecore H36M indices
PELVIS, RHIP, RKNEE, RANKLE, LHIP, LKNEE, LANKLE, SPINE, THORAX, NECK, HEAD = range(11)
LSHO, RSHO = 11, 14
# (name, left bone, right bone) as (parent, child) pairs
LR_BONES = (("hip", (0, 4), (0, 1)), ("thigh", (4, 5), (1, 2)), ("shank", (5, 6), (2, 3)),
            ("shoulder", (8, 11), (8, 14)), ("upper arm", (11, 12), (14, 15)), ("forearm", (12, 13), (15, 16)))


def sample(P, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """At most ``max_frames`` evenly spaced frames of (N, 17, 3) as float64."""
    P = np.asarray(P, float)
    if len(P) > max_frames:
        P = P[np.linspace(0, len(P) - 1, max_frames).round().astype(int)]
    return P


def _axis_name(v) -> str:
    i = int(np.argmax(np.abs(v)))
    return ("+" if v[i] > 0 else "-") + "xyz"[i]


def _pct(x) -> str:
    return f"{100 * x:.0f} %"


def leg_axis_votes(P) -> dict:
    """{signed axis: fraction of frames whose legs (ankle midpoint -> hip midpoint) or torso (pelvis ->
    thorax) lie within 60 deg of it}: a person standing, walking, sitting on a chair (legs) or on the
    floor (torso) votes for the up axis."""
    P = sample(P)
    if not len(P):
        return {a: 0.0 for a in AXES}
    legs = 0.5 * (P[:, LHIP] + P[:, RHIP]) - 0.5 * (P[:, LANKLE] + P[:, RANKLE])
    torso = P[:, THORAX] - P[:, PELVIS]
    with np.errstate(invalid="ignore", divide="ignore"):
        u = [v / np.linalg.norm(v, axis=-1, keepdims=True) for v in (legs, torso)]
    return {a: float(((u[0] @ np.asarray(d, float) > UP_COS) | (u[1] @ np.asarray(d, float) > UP_COS)).mean())
            for a, d in AXES.items()}


def check_up_axis(P, where: str, fmt: str, up: str = "+z", to_file=None) -> dict:
    """DataFormatError when the legs and torso of (N, 17, 3) poses point along another axis than ``up`` in
    at least :data:`WRONG_UP_SHARE` of the frames (and along ``up`` in at most half); a warning when they
    point up in at most half of the frames and along no axis in that many (lying down, or wrong axes).
    ``to_file`` (3, 3) maps the poses' axes to the file's, to name the file axis that fits; ``fmt`` says
    what the format promises (e.g. 'H36M 3D world coordinates are Z-up')."""
    votes = leg_axis_votes(P)
    if votes[up] > 0.5:
        return votes
    best = max(votes, key=votes.get)
    if votes[best] >= WRONG_UP_SHARE:
        file_axis = best
        if to_file is not None:
            file_axis = _axis_name(np.asarray(to_file, float) @ np.asarray(AXES[best], float))
        raise DataFormatError(
            f"{where}: the legs point along {file_axis}, not {_file_up(up, to_file)} (ankles to hips or pelvis to "
            f"thorax, {_pct(votes[best])} of frames): the file looks {file_axis[1].upper()}-up ({fmt})")
    warnings.warn(f"{where}: the legs point up in only {_pct(votes[up])} of frames and along no single "
                  f"axis in most (lying down, or wrong axes?) ({fmt})", stacklevel=3)
    return votes


def _file_up(up, to_file):
    return up if to_file is None else _axis_name(np.asarray(to_file, float) @ np.asarray(AXES[up], float))


def facing_agreement(P, cue, part: str = "both") -> tuple[int, int]:
    """(decisive frames, frames where the cue disagrees with ``left x up``): P (N, 17, 3) Z-up, ``cue``
    (N, 3) a direction the person faces (the face or toes ahead of the body), in the same frames; ``left``
    from the hips, the shoulders or ``both``."""
    P = np.asarray(P, float)
    cue = np.asarray(cue, float).copy()
    hips, shoulders = P[:, LHIP] - P[:, RHIP], P[:, LSHO] - P[:, RSHO]
    left = {"hips": hips, "shoulders": shoulders, "both": hips + shoulders}[part].copy()
    left[:, 2] = 0.0
    cue[:, 2] = 0.0
    fwd = np.cross(left, np.array([0.0, 0.0, 1.0]))
    with np.errstate(invalid="ignore"):
        decisive = (np.linalg.norm(left, axis=-1) > MIN_LR_MM) & (np.linalg.norm(cue, axis=-1) > MIN_CUE_MM)
    dot = (fwd * cue).sum(-1)
    return int(decisive.sum()), int((decisive & (dot < 0)).sum())


def check_facing(P, cue, where: str, cue_name: str, fix: str) -> None:
    """DataFormatError when the facing ``cue`` (N, 3) disagrees with the facing of the hips or of the
    shoulders (``left x up`` in a right-handed Z-up frame, mm) in more than :data:`MOST` of at least 3
    decisive frames (the hips and shoulders separately: a mapping swapping only the legs is caught too;
    a cue that is only noise disagrees in about half of the frames, a mirror in all)."""
    idx = np.linspace(0, len(P) - 1, min(len(P), MAX_FRAMES)).round().astype(int) if len(P) else []
    P, cue = np.asarray(P, float)[idx], np.asarray(cue, float)[idx]
    for part in ("hips", "shoulders"):
        nd, nbad = facing_agreement(P, cue, part)
        if nd >= 3 and nbad > MOST * nd:
            raise DataFormatError(
                f"{where}: left and right look swapped: the facing of the {part} (left x up, right-handed) is "
                f"opposite to the direction of {cue_name} in {nbad} of {nd} frames ({_pct(nbad / nd)}): {fix}")


def bone_stats(P) -> tuple[np.ndarray, np.ndarray]:
    """(median length (16,), coefficient of variation (16,)) of the posecore bones over the frames."""
    from ..skeleton import BONES, bone_lengths
    L = bone_lengths(sample(P), BONES)
    med = np.median(L, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = L.std(0) / L.mean(0)
    return med, cv


def check_bones(P, where: str, fix: str, unit: str = "") -> None:
    """DataFormatError when left and right bones differ by more than :data:`MAX_LR_RATIO` or the bones
    change length over the sequence (median CV above :data:`MAX_BONE_CV`)."""
    from ..skeleton import BONES
    P = sample(P)
    if len(P) == 0:
        return
    L = {b: i for i, b in enumerate(BONES)}
    med, cv = bone_stats(P)
    for name, lb, rb in LR_BONES:
        left, right = med[L[lb]], med[L[rb]]
        lo, hi = min(left, right), max(left, right)
        if not (lo > 0 and hi / lo <= MAX_LR_RATIO):
            ratio = "inf" if lo <= 0 else f"{hi / lo:.2g}"
            raise DataFormatError(
                f"{where}: the left and right {name} differ in length ({left:.4g} vs {right:.4g}{unit}, ratio {ratio}; "
                f"a body's are within {MAX_LR_RATIO:g}x): {fix}")
    if len(P) >= 3:
        c = float(np.nanmedian(cv))
        if not c <= MAX_BONE_CV:
            raise DataFormatError(
                f"{where}: the bones change length over the sequence (median coefficient of variation {c:.2g}, "
                f"at most {MAX_BONE_CV:g} for a skeleton): {fix}")


def standing_height(P) -> tuple[float, float]:
    """(stature estimate, legs / chain fraction) of (N, 17, 3) poses in their unit, from median bone lengths:
    mean leg (thigh + shank) + pelvis-spine-thorax-neck-head, times :data:`ANKLE_FACTOR`."""
    from ..skeleton import BONES
    L = {b: i for i, b in enumerate(BONES)}
    med, _ = bone_stats(P)
    leg = 0.5 * (med[L[(4, 5)]] + med[L[(5, 6)]] + med[L[(1, 2)]] + med[L[(2, 3)]])
    trunk = sum(med[L[b]] for b in ((0, 7), (7, 8), (8, 9), (9, 10)))
    chain = leg + trunk
    return float(chain * ANKLE_FACTOR), float(leg / chain) if chain > 0 else float("nan")


def check_body_units(P_mm, where: str, unit: str, advice: str = "") -> None:
    """DataFormatError when the body, read in ``unit`` (``P_mm`` already converted to mm with it), is not
    an adult's height but would be in another unit, and its proportions are an adult's (legs about half
    of the height); a warning when its height is no adult's in any unit. ``advice`` (with ``{u}`` for the
    unit that fits) ends the error message."""
    P = sample(P_mm)
    if len(P) == 0:
        return
    h, leg = standing_height(P)
    lo, hi = ADULT_HEIGHT_MM
    if not np.isfinite(h) or lo <= h <= hi:
        return
    raw = h / UNITS_TO_MM[unit]
    fits = [u for u in ("mm", "cm", "m", "in", "ft") if u != unit and lo <= raw * UNITS_TO_MM[u] <= hi]
    adult = ADULT_LEG_FRACTION[0] <= leg <= ADULT_LEG_FRACTION[1]
    what = (f"the body is {h:.0f} mm tall read as {unit} (bone chain ankle to head top; an adult: {lo:g}-{hi:g} mm) "
            f"with the legs {_pct(leg)} of it")
    if fits and adult:
        u = fits[0]
        raise DataFormatError(f"{where}: wrong units? {what}, an adult's proportions; read as {u} it is "
                              f"{raw * UNITS_TO_MM[u]:.0f} mm tall: the file looks like {u}{advice.format(u=u)}")
    warnings.warn(f"{where}: {what}: not an adult's size{f' (as {fits[0]}: {raw * UNITS_TO_MM[fits[0]]:.0f} mm)' if fits else ''}; "
                  "check the units", stacklevel=3)
