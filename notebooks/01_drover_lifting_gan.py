# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Can 3D pose be learned from 2D projections alone? (Drover et al., ECCVW 2018)
#
# A **generator** lifts each 2D pose to 3D by predicting one depth per joint,
# $z_i = \max(0, d + o_i) + 1$ with $d = 10$, and back-projects $X_i = (z_i x_i, z_i y_i, z_i)$ through a
# camera of unit focal length. A **random projection layer** rotates the 3D pose about $T = (0, 0, d)$
# (azimuth in $[0°, 360°)$, elevation in $[0°, 20°]$) and projects it again; a **discriminator** must
# tell these fake 2D poses from real ones. If the lifted pose were wrong, some view of it would look
# implausible — so the generator learns 3D structure without any 3D label or 2D-3D correspondence.
#
# We train on the lab training subjects (their 3D skeletons only provide 8 extra virtual camera views of
# real 2D poses, as in the paper), evaluate with P-MPJPE (scale + rigid alignment) on the lab test
# subjects and on the in-the-wild test set, and compare with the flat-skeleton baseline and the
# supervised Martinez lifter trained on the same data. Model code: `posecore/models/drover.py`,
# training: `posecore/recipes/drover.py`.
#
# **One batch through the discriminator.** Real and fake 2D poses go through the discriminator in *one*
# mini-batch (for its own step and for the generator's). An earlier version of this chapter fed them
# as two batches: the discriminator's BatchNorm then tells them apart by their batch statistics alone,
# wins within a few hundred steps and the generator diverges -- the paper does not say how it batches,
# and a shared batch is the only choice under which BatchNorm cannot cheat. With it the paper's equal
# learning rates (2e-4 for both networks, Adam with betas (0.5, 0.999) -- the betas are our choice, the
# paper gives none) train stably, so every profile uses them.
#
# **CPU scale.** `quick` trains a 256-wide GAN (paper: 1,024) with batch 4,096 (paper: 32,768) for 400
# steps (paper: tens of thousands), three seeds, in bf16 autocast where the CPU computes bf16 natively
# (the step takes 0.46x the fp32 time here; the lab error of three seeds stayed within the seed spread
# -- measurements in `posecore/recipes/drover.py`); `full` is the paper's configuration in fp32. The
# supervised Martinez baseline sees the same camera-normalised 2D as the GAN; its raw-pixel variant (the
# input of Martinez et al.) is a one-seed row.

# %% tags=["parameters"]
profile = None
dataset = "synth"
data_root = None
wild_dataset = None
wild_root = None
seed = 0
seeds = None
gan_steps = None
gan_width = None
gan_batch = None
lifter_steps = None

# %% tags=["hide-cell"]
import time

import numpy as np
import torch
from IPython.display import Markdown, display

import posecore.params
from posecore import data, evaluate, metrics, novelty, profiles, results, train, viz
from posecore.api import default_export, export, lift
from posecore.evaluate import (check_claim, claim_records, evaluate_3d, fmt_seeds, markdown_table,
                               seed_comparison)
from posecore.models import drover
from posecore.models.lifter import lift_with
from posecore.parallel import Call, prefetch
from posecore.recipes import drover as drover_recipe, martinez as martinez_recipe

torch.set_num_threads(1)  # the book runs on 2 shared cores: one thread avoids BatchNorm thread stalls

posecore.params.validate()
profile = profiles.resolve(profile)
# the papers' training configurations per profile live in posecore.recipes; the chapter's parameters
# override them explicitly (None keeps the recipe's value)
gan_cfg = drover_recipe.config(profile, num_steps=gan_steps, width=gan_width, batch_size=gan_batch)
lifter_cfg = martinez_recipe.config(profile, num_steps=lifter_steps)
# this chapter's own knobs: seeds (the generators of all seeds also form the ensemble) and data subsets
run = profiles.pick(profile, smoke=dict(seeds=2, train_subset=20, test_subset=20),
                    quick=dict(seeds=3, train_subset=1, test_subset=2),
                    full=dict(seeds=11, train_subset=1, test_subset=1))
run["seeds"] = run["seeds"] if seeds is None else int(seeds)
SEEDS = [seed + k for k in range(run["seeds"])]
train.seed_everything(seed)
print(profile, run, gan_cfg, lifter_cfg, sep="\n")

# %% tags=["hide-cell"]
train_set = data.load(dataset, "train", data_root)[::run["train_subset"]]
lab_test = data.load(dataset, "test", data_root)[::run["test_subset"]]
wild_test = data.load_wild("wild_test", dataset, data_root, wild_dataset, wild_root)
wild_test = None if wild_test is None else wild_test[::run["test_subset"]]
tests = {"lab_test": lab_test} | ({"wild_test": wild_test} if wild_test is not None else {})
for s in (train_set, *tests.values()):
    print(s.summary())
names = {k: t.meta.get("dataset", dataset) for k, t in tests.items()}
ds = names["lab_test"]

# %% [markdown]
# ## The paper's table and ours
#
# Paper: Drover et al. Table 6 (Human3.6M, ground-truth 2D, P-MPJPE mm). Ours: the same protocol on
# the lab test and the in-the-wild test of our data, P-MPJPE on the 14 joints (mm). One generator is
# trained per seed (together they are the ensemble, which averages the root-centred outputs of all
# generators, in mm); the supervised Martinez lifter is trained on the same data with the same
# camera-normalised 2D input as the GAN (one run per seed), and once with the raw pixels that Martinez
# et al. used. The flat baseline puts every joint at the same depth (the 2D pose itself as a 3D pose).
# Each number is the mean over actions (the Human3.6M convention) of the per-action mean errors; a
# method trained with several seeds shows the mean over seeds and their range. (The training, and the
# evaluation with its scores as printed lines, are in the folded cells.)

# %% tags=["hide-cell"]
# the networks train first, side by side in single-thread worker processes (posecore.parallel: one per
# core, or $POSECORE_WORKERS), with the weights that training them here one after another gives; the
# calls below then load them
t0 = time.perf_counter()
gan_calls = [Call(drover_recipe.train_drover, (train_set, gan_cfg), dict(seed=s, name=f"drover-{profile}", progress=False),
                  f"Drover seed {s}") for s in SEEDS]
lifter_calls = [Call(martinez_recipe.train_lifter, (train_set, lifter_cfg),
                     dict(seed=s, name=f"martinez-{profile}", norm=norm, progress=False), f"Martinez seed {s}, {norm} input")
                for s, norm in [(s, "camera") for s in SEEDS] + [(seed, "pixel")]]
prefetch(gan_calls + lifter_calls)
members = [c() for c in gan_calls]
generator, _, history, info = members[0]
*lifters, lifter_px = [c()[0] for c in lifter_calls]
gan_seconds = float(np.mean([h[-1]["time_s"] for _, _, h, _ in members if h] or [np.nan]))
print(f"training wall time {time.perf_counter() - t0:.0f} s; GAN: {gan_seconds:.0f} s per generator (one thread); "
      f"last logs {history[-1] if history else None}")

# %% tags=["hide-cell"]
J14 = list(drover.JOINTS_14)
ENS = f"Drover ensemble ({len(SEEDS)})"


def evaluate_all(test):
    """{method: [per-seed evaluate_3d results]} on one test split."""
    gan = [drover.lift_with(g, test.poses_2d, test.intrinsics, **inf) for g, _, _, inf in members]
    preds = {"flat baseline": [drover.flat_baseline(test.poses_2d, test.intrinsics)],
             "Drover (single)": gan,
             ENS: [np.mean(gan, 0)],
             "Martinez (supervised)": [lift_with(m, test.poses_2d, test.intrinsics, "camera")[:, J14] for m in lifters],
             "Martinez (pixel input)": [lift_with(lifter_px, test.poses_2d)[:, J14]]}
    return {k: [evaluate_3d(p, test, joints=J14) | {"pred": p} for p in v] for k, v in preds.items()}


ev = {split: evaluate_all(t) for split, t in tests.items()}
headline = lambda r: r["per_action_p_mpjpe"]["Average"]                # mean over actions
score = {split: {k: [headline(r) for r in v] for k, v in e.items()} for split, e in ev.items()}
for k in score["lab_test"]:
    print(f"{k:28s}" + "".join(f"  {split} {fmt_seeds(score[split][k])}" for split in score))

# %% tags=["hide-input"]
PAPER = {"flat baseline": 127.3, "Drover (single)": 38.2, ENS: 36.3, "Martinez (supervised)": 37.1,
         "Martinez (pixel input)": 37.1}
header = ["method", "paper (H36M)"] + [f"ours {split.replace('_', ' ')} ({names[split]}, profile {profile})"
                                        for split in score]
display(Markdown(markdown_table(header, [[k, PAPER.get(k)] + [fmt_seeds(score[split][k]) for split in score]
                                         for k in score["lab_test"]])))
actions = [a for a in ev["lab_test"]["Drover (single)"][0]["per_action_p_mpjpe"] if a != "Average"]
per_action = lambda k, a: float(np.mean([r["per_action_p_mpjpe"][a] for r in ev["lab_test"][k]]))
display(Markdown("**Per action, lab test (P-MPJPE mm, mean over seeds)**\n\n" + markdown_table(
    ["method"] + actions + ["Average"], [[k] + [per_action(k, a) for a in actions + ["Average"]] for k in score["lab_test"]])))

# %% [markdown]
# ## Where the GAN's error comes from
#
# P-MPJPE aligns scale and rotation, so what is left is depth structure. For each method on the lab
# test: the share of joints (at least 100 mm in front of or behind the root) whose predicted depth
# has the right sign; how often mirroring the whole pose in depth would help (the "inside-out" pose that
# projects to the same 2D, the failure the paper names); the error if that flip were resolved by an
# oracle; and the predicted depth extent over the true one (1 = right range, 0 = flat).
# (`posecore.evaluate.depth_diagnostic`.)

# %% tags=["hide-input"]
gt14 = drover.centre(lab_test.poses_3d[:, J14])
depth_rows = []
for k, rs in ev["lab_test"].items():
    if k == "flat baseline":
        continue
    dd = [evaluate.depth_diagnostic(drover.centre(r["pred"]), gt14) for r in rs]
    depth_rows.append([k] + [fmt_seeds([d[m] for d in dd], digits=2 if m == "depth_extent" else 1) for m in
                             ("sign_correct", "mirror_better", "p_mpjpe", "p_mpjpe_mirror_oracle", "depth_extent")])
print(f"dataset: {ds} lab test | profile: {profile} | 14 joints; mean over samples (not over actions)")
display(Markdown(markdown_table(["method", "depth sign right %", "mirror better %", "P-MPJPE mm",
                                 "P-MPJPE, flip oracle", "depth extent"], depth_rows, digits=2)))

# %% [markdown]
# Read it this way: a whole-pose flip is not the GAN's problem when the oracle column is close to the
# P-MPJPE column; its error is then joint by joint, in depths whose sign is wrong (compare the share of
# right signs with the supervised lifter's row) -- the discriminator has not constrained each limb's
# depth. A depth extent near 1 says the GAN is not simply predicting a flatter pose.

# %% [markdown]
# ## Which claims reproduce
#
# The sanity gate (How to read this book: verdicts): the GAN must beat the flat baseline by 10% in every seed before the
# claims that compare it with other methods are judged; a difference counts only when it exceeds the
# seed-to-seed range.

# %% tags=["hide-input"]
L = score["lab_test"]
flat, gan, sup = L["flat baseline"][0], L["Drover (single)"], L["Martinez (supervised)"]
gan_ok = max(gan) < 0.9 * flat
gate_text = f"gate: every GAN seed below 0.9 x flat ({fmt_seeds(gan)} vs {flat:.1f})"
claims = []
check_claim(claims, "the GAN is far better than the flat baseline (paper: 38.2 vs 127.3, ratio 0.30; "
                    "our target <= 0.6 in every seed)",
            max(gan) <= 0.6 * flat, f"ours {fmt_seeds(gan)} vs {flat:.1f} (worst ratio {max(gan) / flat:.2f})",
            profile=profile)
check_claim(claims, "unsupervised is close to supervised Martinez (paper: 38.2 vs 37.1, +3%)",
            np.mean(gan) <= 1.10 * np.mean(sup), f"ours {fmt_seeds(gan)} vs {fmt_seeds(sup)} "
            f"({100 * (np.mean(gan) / np.mean(sup) - 1):+.0f}%)", profile=profile, gate=gan_ok, gate_detail=gate_text)
c = seed_comparison(L[ENS], gan)
check_claim(claims, "a naive ensemble improves on one generator (paper: 36.3 vs 38.2)",
            c["better"], f"ensemble {L[ENS][0]:.1f} vs single {fmt_seeds(gan)}: the gain must exceed the seed range",
            profile=profile, gate=gan_ok, gate_detail=gate_text)
if "wild_test" in score:
    W = score["wild_test"]
    c = seed_comparison(W["Drover (single)"], W["Martinez (supervised)"])
    check_claim(claims, "(our data) the GAN generalises to the wild better than supervised Martinez",
                c["better"], f"wild {c['text']}", profile=profile, gate=gan_ok, gate_detail=gate_text)

# %% [markdown]
# ### Would more training reach the target? (development runs, not re-run here)
#
# The quick GAN passes the gate but not the target of 0.6 x flat (62 mm here). To see whether the quick
# budget is what stops it, the quick configuration (width 256, batch 4,096, lr 2e-4 constant, bf16) was
# trained four times longer, 1,600 steps, and scored on this chapter's lab test (P-MPJPE, mean over
# actions, flat 103.1 mm) every 50 steps from step 200 -- one thread per run, two runs side by side,
# ~13 min per generator (the budget is 5). Selected steps:
#
# | seed | 400 (quick) | 600 | 800 | 1,000 | 1,100 | 1,200 | 1,300 | 1,400 | 1,500 | 1,600 | best seen |
# |---|---|---|---|---|---|---|---|---|---|---|---|
# | 0 | 82.3 | 79.8 | 71.3 | 69.3 | 64.4 | 71.3 | 69.6 | 65.9 | 65.9 | **133.8** | 63.7 (step 1,150) |
# | 1 | 84.7 | 75.1 | 88.1 | 67.6 | 67.0 | 65.7 | **105.4** | 69.1 | 65.9 | 66.7 | 64.5 (step 1,550) |
#
# **Finding.** Training longer helps up to ~1,000 steps (0.80-0.82 x flat at 400, 0.66-0.67 x at
# 1,000), then the error stops falling and hovers at 64-72 mm (0.62-0.70 x) with spikes where the
# adversarial game swings (seed 0 jumps from 71.9 to 133.8 mm in its last 50 steps). No step of either
# run reached 0.6 x, so the target is not a matter of the quick step count alone; the paper's network
# (width 1,024) and batch (32,768), `profile="full"` on a GPU, is the lever we could not test on two CPU
# cores. Two variants of the quick run (seed 0, 400 steps) moved it by less than the seed range (7.7 mm):
# a linear learning-rate decay over the second half, 81.3 mm (constant: 82.3), and lr 4e-4 with that
# decay, 79.2; an exponential moving average of the generator's weights (decay 0.98, BatchNorm statistics
# from the current generator) scored worse than the generator itself at every evaluated step of that
# run (84.8 vs 82.3 at step 400), and in the long runs it was sometimes better, sometimes far worse. The quick recipe is kept as the paper
# specifies it (constant lr 2e-4 for both networks).

# %% tags=["hide-input"]
records = []
for split, e in ev.items():
    for k, runs in e.items():
        extra = {"paper_value": PAPER[k]} if split == "lab_test" and k in PAPER else {}
        records.append(results.record("p_mpjpe", float(np.mean(score[split][k])), "mm", names[split], profile, split,
                                      model=k, joints=14, seeds=len(runs), seed_range=float(np.ptp(score[split][k])),
                                      **extra))
        for i, r in enumerate(runs):
            records.append(results.record("p_mpjpe_seed", headline(r), "mm", names[split], profile, split, model=k,
                                          joints=14, seed=SEEDS[i] if len(runs) == len(SEEDS) else seed))
        for a in (x for x in runs[0]["per_action_p_mpjpe"] if x != "Average"):
            records.append(results.record("p_mpjpe", float(np.mean([r["per_action_p_mpjpe"][a] for r in runs])), "mm",
                                          names[split], profile, split, model=k, action=a, joints=14))
records.append(results.record("train_seconds_per_generator", gan_seconds, "s", ds, profile, "lab_train"))
records += claim_records(claims, ds, profile, "lab_test")
path = results.write("01_drover_lifting_gan", records)
print(f"{len(records)} records -> {path.name} in the results folder")

# %% [markdown]
# ## Good and failed cases (root-centred, 17 joints for display: pelvis, spine and nose interpolated)

# %% tags=["hide-input"]
r = ev["lab_test"]["Drover (single)"][0]
gt17 = lab_test.root_relative_3d
gt14 = (lab_test.poses_3d[:, J14] - lab_test.poses_3d[:, J14].mean(1, keepdims=True)).astype(np.float64)
pred17 = drover.to_h36m17(metrics.procrustes_align(torch.as_tensor(r["pred"], dtype=torch.float64),
                                                   torch.as_tensor(gt14)).numpy())
viz.show_cases(pred17, gt17 - gt17[:, J14].mean(1, keepdims=True), r["errors"], "Drover, lab test (aligned)")

# %% [markdown]
# ## The plain call
# The first generator is exported; `posecore.api.lift(poses_2d, intrinsics, model="drover")` then returns
# root-relative 3D poses in mm (scale from the mean head-root length of the training skeletons). The
# file carries a novelty index of its training poses (`posecore.novelty`, chapter 11), so
# `posecore lift --checkpoint` on it scores each pose's distance to them.

# %%
index = novelty.build_index(train_set.poses_2d, heldout_2d=lab_test.poses_2d, seed=seed)
path = export(default_export("drover"), "drover", {"generator": generator}, gan_cfg, profile=profile,
              train_seconds=history[-1].get("time_s") if history else None, novelty=index, **info)
probe = tests.get("wild_test", lab_test)
poses_3d = lift(probe.poses_2d[:3], probe.intrinsics[:3], model="drover", checkpoint=path)
print(path.name, poses_3d.shape, np.round(poses_3d[0, :3], 1))
