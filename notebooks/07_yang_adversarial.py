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
# # 07 · Yang et al. (CVPR 2018): 3D pose in the wild by adversarial learning
#
# *3D Human Pose Estimation in the Wild by Adversarial Learning* starts from Zhou et al.'s network
# (chapter 05) without its geometric loss: a stacked hourglass predicts 2D heatmaps and a depth
# regressor (three residual + downsampling modules, global average pooling, a linear layer) one depth
# per joint. It is first trained supervised (Eq. 2: heatmap L2 on every image, depth L2 on the lab
# images with 3D labels). Then a **multi-source discriminator** D learns to tell the ground-truth
# 3D poses of lab images (real) from the generator's predictions on lab *and* in-the-wild images
# (fake), and the generator G learns to fool it while keeping its supervised loss:
# $L_G = \lambda L_{adv} + L_{pose}$, $\lambda = 10^{-4}$. D reads three sources, each through its own
# embedding, then three fully connected layers to one logit: the **image**, a **geometric
# descriptor** (Eq. 1: for every ordered joint pair the differences $\Delta x, \Delta y, \Delta z$ and their
# squares, a $6 \times P \times P$ tensor), and the **heatmaps with depth maps**. At test time D is
# discarded. The paper's claims: adversarial learning lowers the lab error, the geometric descriptor
# is the better source and all three together are best, the 2D module must learn too, pre-training
# helps, and in-the-wild 2D and 3D accuracy rise.
#
# No public code exists for this paper; ours is in `posecore/models/yang.py` (the descriptor, depth
# maps, soft-argmax and D) and `posecore/recipes/yang.py` (stages, losses, rows). Every row starts
# from the book's **shared 2D backbone** (chapter 05's stage 1, `posecore/recipes/backbone.py`) and
# uses chapter 05's data, image pools and wild-test protocol. Data: **posecore-synth** rendered images
# (the lab domain stands in for Human3.6M, the 2D-only wild training split for MPII, the wild test for
# MPI-INF-3DHP). Every number below is measured on that data at the stated profile, never on the
# paper's datasets; the paper's numbers are shown beside ours for reference only.

# %% tags=["parameters"]
profile = None
dataset = "synth"
data_root = None
images = "rendered"
wild_dataset = None
wild_root = None
wild_test_dataset = None
wild_test_root = None
seeds = None
seeded_rows = None
backbone_stacks = None
stage2_steps = None
adv_steps = None
lambda_adv = None
batch_size = None
train_pool = None

# %%
import dataclasses
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from posecore import chapter, metrics, profiles, results
from posecore.evaluate import claim_records, fmt_seeds, limb_errors, pckh_groups, table
from posecore.recipes import backbone as backbone_recipe
from posecore.recipes import yang as yang_recipe
from posecore.recipes import image_data

# images="photos": Human3.6M frames, MPII photos and (optionally) the MPI-INF-3DHP test set, as in
# chapter 05 (book/datasets.md); default: images rendered from the poses
ch = chapter.start(profile, dataset, images=images, data_root=data_root, wild_dataset=wild_dataset,
                   wild_root=wild_root, wild_test_dataset=wild_test_dataset, wild_test_root=wild_test_root)
profile, device, photos = ch.profile, ch.device, ch.photos
ROWS = list(yang_recipe.VARIANTS)
seeds = chapter.seed_list(seeds, profile)
seeded_rows = list(seeded_rows) if seeded_rows is not None else profiles.pick(
    profile, smoke=["Baseline", "Full"], quick=["Baseline", "Full", "Baseline + stage-3 steps (no D)"], full=ROWS)
if set(seeded_rows) - set(ROWS):
    raise ValueError(f"seeded_rows: unknown rows {sorted(set(seeded_rows) - set(ROWS))}; rows: {ROWS}")
bcfg = yang_recipe.backbone_config(profile, stacks=backbone_stacks)
cfg = yang_recipe.config(profile, stage2_steps=stage2_steps, adv_steps=adv_steps, lambda_adv=lambda_adv,
                         batch_size=batch_size, train_pool=train_pool)
DATA_LABEL = ch.label
SCALE = (f"{bcfg.resolution} px crops, {bcfg.stacks}x{bcfg.modules} hourglass of width {bcfg.features} (shared "
         f"backbone), batch {cfg.batch_size}, supervised / adversarial {cfg.stage2_steps} / {cfg.adv_steps} steps, "
         f"lambda_adv {cfg.lambda_adv:g}, D width {cfg.d_width}; seeds {seeds} for {seeded_rows}, seed {seeds[0]} "
         f"for the other rows")
print(f"profile={profile}  device={device}\n{SCALE}")
cfg

# %% [markdown]
# **Choices where the paper is silent, and departures** (all in `posecore/recipes/yang.py`):
#
# - *D's sub-networks* are not specified: each conv source (image; heatmaps + depth maps) is 4 (image)
#   or 2 (maps) stride-2 3x3 convolutions with BatchNorm and LeakyReLU, global average pooling; the
#   descriptor goes through a two-layer MLP; the head is three linear layers (the paper's "three fully
#   connected layers").
# - *G's 2D joints for the descriptor*: a soft-argmax of the last stack's heatmaps (sharpness
#   $\beta$ = 100), so the adversarial gradient reaches the 2D module; the fakes' heatmaps go to the
#   maps source as they are. *Depth maps*: $D_j = z_j S_j$ (the joint's depth spread by its heatmap).
# - *Units*: x, y crop-normalised to [-1, 1], z Zhou's normalised depth, so the descriptor's axes
#   share one unit.
# - *Eq. 2's depth weight* (none in the paper): Zhou's $\lambda_{reg}$ = 0.1. *Sums vs means*: the
#   paper's losses are sums, ours means, so $\lambda$ = 1e-4 is not the same relative weight here; the
#   row "Full (lambda x100)" trains with $10^{-2}$.
# - *D batch*: real = the ground truth of the batch's lab images; fake = G's predictions on all the
#   batch's images (half lab, half wild); one D step per G step; D: Adam 1e-4, betas (0.5, 0.999).
# - *The supervised stage* (the paper: "on Human3.6M") keeps half wild images in each batch (Eq. 2's
#   heatmap term sums over all images), as chapter 05's stage 2.
# - *Fix 2D* rows keep the backbone's 2D module in both stages (its BatchNorm statistics too): "Full
#   (fix 2D)" starts from "Baseline (fix 2D)".
# - *At the quick profile* (CPU): the shared backbone (64 px, 2 x 1 hourglass of width 64, 32 x 32
#   heatmaps) instead of 256 px, 2 x 1 of width 256 with 64 x 64 heatmaps; Adam with a cosine schedule
#   instead of RMSprop; a few hundred steps instead of 200k + 120k; batch 16 instead of 12; D width 64.
#   At `full` the 2D module is the shared backbone's recipe at the paper's size (4 x 1 hourglass of 256
#   features, 256 px, 64 x 64 heatmaps: the final "Full-4s" model; `-p backbone_stacks 2` for the
#   2 x 1 of the paper's Table 2 ablations).
# - *Rows of ours* beside the paper's seven: "Full (no image source)", "Baseline + stage-3 steps (no
#   D)" (the Baseline trained for as many more supervised steps as the adversarial stage has: is a
#   gain adversarial or just more training?) and "Full (lambda x100)".

# %% [markdown]
# ## The shared 2D backbone and the data
#
# The sanity gate of this chapter is the same as chapter 05's: a claim is judged only when every
# compared network reaches lab-test PCKh@0.5 >= 85 %.

# %%
t = time.perf_counter()
bb = backbone_recipe.get(bcfg, dataset, data_root, device=device, progress=False, photos=photos)
print(f"backbone ready in {time.perf_counter() - t:.0f} s (from {bb['source']}): lab PCKh@0.5 "
      f"{bb['eval']['lab']['pckh']:.1f} %, pair ratio {bb['eval']['lab']['pair_ratio']:.2f}"
      + (f"; wild PCKh@0.5 {bb['eval']['wild']['pckh']:.1f} %" if "wild" in bb["eval"] else ""))
t = time.perf_counter()
d = image_data.load(cfg.data, bcfg, dataset, data_root, progress=True, device=device, photos=photos)
WILD_TEST = "wild_test" in d["eval_idx"]          # False: photos without a wild 3D test set
print(f"data ready in {time.perf_counter() - t:.1f} s; wild test: {d['n_in_crop']} of {d['n_wild_candidates']} "
      f"samples have every joint in the crop, {len(d['eval_idx'].get('wild_test', []))} evaluated")
table(["split", "samples", "with 3D", "evaluated"],
      [[s, len(p), int(p.has_3d.sum()), len(d["eval_idx"].get(s, []))] for s, p in d["sets"].items()])

# %% [markdown]
# ## What the discriminator sees
#
# One lab image, its ground truth (real) and the supervised generator's prediction (fake) as the
# descriptor's $\Delta x$ channel and as the first joint's heatmap and depth map. (A fake that looks
# like the real sample in all three is what G is pushed towards.)

# %%
import torch
from posecore.models.yang import depth_maps, geometric_descriptor
from posecore.recipes.images import batch_depth_target

G0 = yang_recipe.train_variant("Baseline", dataclasses.replace(cfg, seed=seeds[0]), bcfg, (bb["state"], bb["id"]),
                               d["images"]["train"], d["images"]["wild_train"], d["data_id"], device=device,
                               progress=False)["G"]
b = d["images"]["train"].get_batch(d["pools"]["train"][:1])
b = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in b.items()}
b["depth_target"] = batch_depth_target(b)
with torch.no_grad():
    out = G0(b["image"])
    real = yang_recipe.discriminator_inputs("real", b)
    fake = yang_recipe.discriminator_inputs("fake", b, out, cfg.soft_argmax_beta)
fig, axes = plt.subplots(1, 5, figsize=(15, 3))
axes[0].imshow(b["image"][0].permute(1, 2, 0).cpu().numpy())
axes[0].set_title("image (lab)")
for ax, (name, x) in zip(axes[1:3], (("real", real), ("fake", fake))):
    ax.imshow(geometric_descriptor(x["pose"])[0, 0].cpu().numpy(), cmap="coolwarm", vmin=-1, vmax=1)
    ax.set_title(f"descriptor dx, {name}")
for ax, (name, x) in zip(axes[3:], (("real", real), ("fake", fake))):
    ax.imshow(depth_maps(x["heatmaps"], x["depth"])[0, 3].cpu().numpy(), cmap="coolwarm")
    ax.set_title(f"depth map (right ankle), {name}")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Training the rows
#
# The supervised stage is trained once per (seed, fix 2D) and every adversarial row starts from it
# (as in the paper); "Full (w/o pretrain)" starts from the backbone with a fresh depth regressor and
# trains as many adversarial steps. Rows in `seeded_rows` run once per seed; the others once, with
# the first seed: their comparisons use the seed-to-seed spread of the seeded rows as the yardstick.

# %%
backbone = (bb["state"], bb["id"])
runs_by_seed = {}
for s in seeds:
    rows = ROWS if s == seeds[0] else [r for r in ROWS if r in seeded_rows]
    runs_by_seed[s] = yang_recipe.run_variants(dataclasses.replace(cfg, seed=s), d, bcfg, backbone, rows,
                                               device=device, progress=False)
runs = runs_by_seed[seeds[0]]
table(["row", "seed", "train s (incl. shared stages)", "eval s"],
      [[v, s, r[v]["train_seconds"], r[v]["eval_seconds"]] for s, r in runs_by_seed.items() for v in r], digits=1)


# %%
def per_seed(v, get):
    """[get(result of row v) for each seed that trained it]."""
    return [get(r[v]) for r in runs_by_seed.values() if v in r]


def tail_mean(hist, key, frac=0.2):
    vals = [h[key] for h in hist if key in h and np.isfinite(h[key])]
    return float(np.mean(vals[-max(1, int(len(vals) * frac)):])) if vals else float("nan")


ADV = [v for v in ROWS if runs[v]["D"] is not None]
fig, axes = plt.subplots(1, 3, figsize=(15, 3.2))
for v in ADV:
    h = runs[v]["history"]["adversarial"]
    axes[0].plot([x["step"] for x in h if "d_loss" in x], [x["d_loss"] for x in h if "d_loss" in x], label=v)
    axes[1].plot([x["step"] for x in h if "d_loss" in x], [x["d_acc_fake_wild"] for x in h if "d_loss" in x], label=v)
    axes[2].plot([x["step"] for x in h if "d_loss" in x], [x["d_acc_fake_lab"] for x in h if "d_loss" in x], label=v)
axes[0].set(title="D loss", xlabel="adversarial step")
axes[1].set(title="D accuracy on wild fakes", xlabel="adversarial step", ylim=(-0.05, 1.05))
axes[2].set(title="D accuracy on lab fakes", xlabel="adversarial step", ylim=(-0.05, 1.05))
if axes[0].lines:
    axes[0].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Discriminator accuracy per domain** (mean over the last 20 % of the adversarial steps, seed
# `seeds[0]`). Real samples are always lab images, so a discriminator with the image source can call
# every wild image fake from its background alone; the row without the image source shows whether it
# does.

# %%
table(["row", "D sources", "acc. real (lab GT)", "acc. fake (lab)", "acc. fake (wild)", "G adversarial loss"],
      [[v, "+".join(yang_recipe.VARIANTS[v].sources)] +
       [tail_mean(runs[v]["history"]["adversarial"], k) for k in ("d_acc_real", "d_acc_fake_lab", "d_acc_fake_wild", "g_adv")]
       for v in ADV], digits=2)

# %% [markdown]
# How to read it: an accuracy near 1 on the fakes of both domains means D separates G's predictions
# from the ground truth whatever the source, and G's adversarial loss stays high; then the
# adversarial term is a constant push, not a game near equilibrium. With the maps source, real
# heatmaps are exact Gaussians and G's are not, which D can see without looking at the pose.
#
# ## Fig. 5 -- convergence with and without a pretrained generator
#
# Lab-test MPJPE (on the first images of the evaluated subset) during the adversarial stage of
# "Full" (starting from the supervised Baseline) and "Full (w/o pretrain)" (from the backbone with a
# fresh depth regressor).

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
for v in ("Full", "Full (w/o pretrain)", "Baseline + stage-3 steps (no D)"):
    h = [x for x in runs[v]["history"]["adversarial"] if "curve_mpjpe" in x]
    if h:
        ax.plot([x["step"] for x in h], [x["curve_mpjpe"] for x in h], "o-", label=v)
ax.set(xlabel="adversarial step", ylabel="lab MPJPE (mm)", title=f"seed {seeds[0]}")
if ax.lines:
    ax.legend(fontsize=8)
else:
    print("no curve: cfg.curve_every is 0 at this profile")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Table 2 -- the ablation on the lab test (Protocol #1)
#
# Limb columns: the mean error of each limb's distal joint (elbows, wrists, knees, ankles; left and
# right pooled -- the paper does not define its limb errors). Mean: MPJPE averaged over actions, mean
# (min-max) over the seeds of the row. Paper: Human3.6M, 2-stack hourglass.

# %%
PAPER_T2 = {"Baseline (fix 2D)": (67.6, 89.6, 46.6, 83.3, 65.2), "Baseline": (66.6, 90.0, 47.1, 83.7, 64.8),
            "Map": (62.9, 81.6, 44.6, 80.9, 61.3), "Geo": (61.6, 80.7, 43.9, 78.8, 60.3),
            "Full (fix 2D)": (63.9, 84.4, 45.8, 85.1, 63.1), "Full (w/o pretrain)": (65.2, 84.2, 46.7, 82.5, 63.4),
            "Full": (61.7, 81.1, 43.1, 77.6, 59.7)}
LIMBS = ["upper_arm", "lower_arm", "upper_leg", "lower_leg"]
for v, r in runs.items():
    for s, rs in runs_by_seed.items():
        if v in rs:
            rs[v]["limbs"] = limb_errors(rs[v]["test"]["pred_3d"], rs[v]["test"]["gt_3d"])
print(f"dataset: {DATA_LABEL} lab test | profile: {profile} | {SCALE}")
table(["row"] + [f"{l} (ours)" for l in LIMBS] + ["MPJPE (ours)", "PCKh@0.5 (ours)", "paper U.Arms / L.Arms / U.Legs / L.Legs",
                                                 "paper mean"],
      [[v] + [runs[v]["limbs"][l] for l in LIMBS] +
       [fmt_seeds(per_seed(v, lambda x: x["test"]["per_action"]["Average"])), fmt_seeds(per_seed(v, lambda x: x["test"]["pckh"])),
        " / ".join(f"{x:.1f}" for x in PAPER_T2[v][:4]) if v in PAPER_T2 else "(ours)", PAPER_T2.get(v, (None,) * 5)[4]]
       for v in ROWS])

# %% [markdown]
# The same rows on the **wild test** (MPI-INF-3DHP stand-in, every joint in the crop, true bone-sum
# scale) -- PCK@150 mm, AUC, MPJPE (which the paper could not measure) and the left/right symmetry error of
# the predicted 3D pose (mean |left - right| limb length, mm; the ground truth's own value below).

# %%
if not chapter.skipped(d, "wild_test", "the rows on the wild test"):
    gt_sym = metrics.symmetry_error(runs["Full"]["wild_test"]["gt_3d"])["mean"]
    display(table(["row", "PCK@150 %", "AUC %", "MPJPE mm", "symmetry mm", "pair ratio (2D)"],
                  [[v, fmt_seeds(per_seed(v, lambda x: x["wild_test"]["pck"])),
                    fmt_seeds(per_seed(v, lambda x: x["wild_test"]["auc"])),
                    fmt_seeds(per_seed(v, lambda x: x["wild_test"]["mpjpe"])),
                    fmt_seeds(per_seed(v, lambda x: x["wild_test"]["symmetry_mm"]["mean"])), runs[v]["wild_test"]["pair_ratio"]]
                   for v in ROWS] + [["ground truth", "", "", "", gt_sym, ""]], digits=2))

# %% [markdown]
# ## Table 1 -- Protocols #1 and #2 for the headline rows
#
# MPJPE after root alignment (Protocol #1, average over actions) and after a rigid alignment
# (Protocol #2, P-MPJPE) on the lab test. Paper (Human3.6M): Full-2s 59.7 (#1); Full-4s 58.6 (#1),
# 37.7 (#2); the paper gives no Protocol #2 number for the Baseline.

# %%
for r in (x for rs in runs_by_seed.values() for x in rs.values()):
    r["test"]["p_mpjpe"] = float(np.mean(metrics.p_mpjpe(r["test"]["pred_3d"], r["test"]["gt_3d"], reduction="none")))
table(["row", "Protocol #1 (ours)", "Protocol #2 (ours)", "paper #1 (2 stacks)", "paper #2 (4 stacks)"],
      [[v, fmt_seeds(per_seed(v, lambda x: x["test"]["per_action"]["Average"])),
        fmt_seeds(per_seed(v, lambda x: x["test"]["p_mpjpe"])), PAPER_T2.get(v, (None,) * 5)[4],
        37.7 if v == "Full" else None] for v in ("Baseline", "Full", "Baseline + stage-3 steps (no D)")])

# %% [markdown]
# ## Table 3 -- 2D accuracy on held-out wild images (MPII validation stand-in)
#
# PCKh@0.5 per joint group on 2D-only wild images outside the training pool: the supervised
# generator ("Pretrain" in the paper) against the adversarial one.

# %%
PAPER_T3 = {"Baseline": (96.3, 95.0, 89.0, 84.5, 87.1, 82.5, 78.3, 87.6), "Full": (96.1, 95.6, 89.9, 84.6, 87.9, 84.3, 81.2, 88.6)}
for r in (x for rs in runs_by_seed.values() for x in rs.values()):
    p = r["pred"]["wild_train"]
    r["wild_train"]["pckh_groups"] = pckh_groups(p["joints_2d"], p["gt_2d"], p["visible"])
GROUPS = ["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle"]
print(f"dataset: {DATA_LABEL} held-out wild 2D images ({len(d['eval_idx']['wild_train'])}) | profile: {profile}")
table(["row"] + GROUPS + ["mean (ours)", "paper mean"],
      [[v] + [runs[v]["wild_train"]["pckh_groups"][g] for g in GROUPS] +
       [fmt_seeds(per_seed(v, lambda x: x["wild_train"]["pckh_groups"]["mean"])),
                                                           PAPER_T3[v][-1] if v in PAPER_T3 else None]
       for v in ("Baseline", "Full", "Baseline + stage-3 steps (no D)")])

# %% [markdown]
# ## Table 4 -- the wild test (MPI-INF-3DHP stand-in), Baseline vs Full
#
# Paper (no 3DHP training): Baseline 50.1 PCK / 21.6 AUC, Ours 69.0 / 32.0.

# %%
PAPER_T4 = {"Baseline": (50.1, 21.6), "Full": (69.0, 32.0)}
if not chapter.skipped(d, "wild_test", "Table 4"):
    display(table(["row", "PCK@150 % (ours)", "AUC % (ours)", "paper PCK", "paper AUC"],
                  [[v, fmt_seeds(per_seed(v, lambda x: x["wild_test"]["pck"])),
                    fmt_seeds(per_seed(v, lambda x: x["wild_test"]["auc"])), *PAPER_T4[v]] for v in PAPER_T4]))

# %% [markdown]
# ## The claims, tested
#
# Gate: every compared network reaches lab PCKh@0.5 >= 85 % (every seed); below it the verdict is
# "cannot judge". A difference counts only when it exceeds the seed-to-seed spread
# (:func:`posecore.evaluate.seed_comparison`); for a row trained with one seed the yardstick is the
# largest spread of the same metric among the seeded rows.

# %%
GATE_PCKH = 85.0


def get(v, split, key, sub=None):
    return per_seed(v, lambda x: x[split][key] if sub is None else x[split][key][sub])


def yardstick(split, key, sub=None):
    return max(float(np.ptp(get(v, split, key, sub))) for v in seeded_rows if len(get(v, split, key, sub)) > 1) \
        if len(seeds) > 1 else 0.0


def claim(text, a, b, split, key, sub=None, higher=False, extra=""):
    va, vb = get(a, split, key, sub), get(b, split, key, sub)
    pck = {v: min(get(v, "test", "pckh")) for v in (a, b)}
    gate = all(p >= GATE_PCKH for p in pck.values())
    gate_text = "gate: lab PCKh@0.5 >= 85 % (ours, min over seeds: " + ", ".join(f"{v} {p:.1f}" for v, p in pck.items()) + ")"
    chapter.claim(claims, text, va, vb, higher=higher, extra=extra, gate=gate, gate_detail=gate_text, profile=profile,
                  min_spread=yardstick(split, key, sub) if min(len(va), len(vb)) < 2 else 0.0)


claims = []
claim("adversarial learning lowers the lab MPJPE (Full vs Baseline; paper 64.8 -> 59.7)",
      "Full", "Baseline", "test", "per_action", "Average")
claim("... and more than the same number of extra supervised steps (Full vs Baseline + stage-3 steps; ours)",
      "Full", "Baseline + stage-3 steps (no D)", "test", "per_action", "Average")
claim("the geometric descriptor is the better source (Geo vs Map; paper 60.3 vs 61.3)", "Geo", "Map", "test",
      "per_action", "Average")
claim("all three sources are best (Full vs Geo; paper 59.7 vs 60.3)", "Full", "Geo", "test", "per_action", "Average")
claim("the 2D module must learn in adversarial training (Full vs Full (fix 2D); paper 59.7 vs 63.1)",
      "Full", "Full (fix 2D)", "test", "per_action", "Average")
claim("pretraining the generator helps (Full vs Full (w/o pretrain); paper 59.7 vs 63.4)",
      "Full", "Full (w/o pretrain)", "test", "per_action", "Average")
claim("adversarial learning improves 2D accuracy on held-out wild images (PCKh, Table 3's joints; paper 87.6 -> 88.6)",
      "Full", "Baseline", "wild_train", "pckh_groups", "mean", higher=True)
if not chapter.skipped(d, "wild_test", "the three wild-test claims"):
    claim("adversarial learning raises the wild PCK@150 (paper 50.1 -> 69.0)", "Full", "Baseline", "wild_test", "pck",
          higher=True)
    claim("adversarial learning raises the wild AUC (paper 21.6 -> 32.0)", "Full", "Baseline", "wild_test", "auc",
          higher=True)
    claim("adversarial learning makes wild-test poses more symmetric (mm; the paper shows it qualitatively)",
          "Full", "Baseline", "wild_test", "symmetry_mm", "mean")
claim("ours: adversarial training moves the two joints of a left/right pair apart (lab pair ratio, Full vs the "
      "supervised control)", "Full", "Baseline + stage-3 steps (no D)", "test", "pair_ratio", higher=True)
n_ok = sum(c["reproduced"] for c in claims)
print(f"\n{n_ok} of {len(claims)} claims reproduced at profile '{profile}' with seeds {seeds}")

# %% [markdown]
# ## Wild test images: best and worst predictions of "Full"

# %%
r = runs["Full"]
SHOW = "wild_test" if not chapter.skipped(d, "wild_test", "the wild test images", "no wild 3D test set: lab test "
                                                                                    "images instead") else "test"
pred = r["pred"][SHOW]
best = dict(chapter.show_predictions(d["images"][SHOW], pred["index"], pred["joints_2d"], r[SHOW],
                                     scenes=pred["scene"]))["best"]

# %% [markdown]
# ## Results file and the exported generator

# %%
recs = []
common = ch.common


def seeded(metric, values, unit, **kw):
    return chapter.seeded(metric, values, unit, common, **kw)


for v in ROWS:
    pv = PAPER_T2.get(v)
    recs.append(seeded("mpjpe", get(v, "test", "per_action", "Average"), "mm", split="test", variant=v, action="Average",
                       paper_value=pv[4] if pv else None))
    for i, l in enumerate(LIMBS):
        recs.append(results.record(f"limb_error_{l}", runs[v]["limbs"][l], "mm", split="test", variant=v,
                                   paper_value=pv[i] if pv else None, seed=seeds[0], **common))
    recs.append(seeded("pckh@0.5", get(v, "test", "pckh"), "%", split="test", variant=v))
    if WILD_TEST:
        recs.append(seeded("pck@150", get(v, "wild_test", "pck"), "%", split="wild_test", variant=v, scene="ALL",
                           paper_value=PAPER_T4.get(v, (None, None))[0]))
        recs.append(seeded("auc", get(v, "wild_test", "auc"), "%", split="wild_test", variant=v, scene="ALL",
                           paper_value=PAPER_T4.get(v, (None, None))[1]))
        recs.append(seeded("mpjpe", get(v, "wild_test", "mpjpe"), "mm", split="wild_test", variant=v))
        recs.append(seeded("symmetry_mean", get(v, "wild_test", "symmetry_mm", "mean"), "mm", split="wild_test", variant=v))
    recs.append(seeded("pair_ratio", get(v, "test", "pair_ratio"), "ratio", split="test", variant=v))
    recs.append(seeded("pckh@0.5", get(v, "wild_train", "pckh_groups", "mean"), "%", split="wild_train_heldout",
                       variant=v, paper_value=PAPER_T3[v][-1] if v in PAPER_T3 else None))
    if v in ADV:
        for k in ("d_acc_real", "d_acc_fake_lab", "d_acc_fake_wild"):
            recs.append(results.record(k, tail_mean(runs[v]["history"]["adversarial"], k), "ratio", split="lab_train+wild_train",
                                       variant=v, seed=seeds[0], **common))
recs.append(seeded("p_mpjpe", get("Full", "test", "p_mpjpe"), "mm", split="test", variant="Full"))
recs += claim_records(claims, common["dataset"], profile)
path = results.write("07_yang_adversarial", recs)
from posecore import api
own_s = sum(h[-1].get("time_s", 0.0) for h in runs["Full"]["history"].values() if h)   # its stages' own logs
exported = api.export_image_model(api.default_image_export("yang"), "yang", runs["Full"]["G"], d["canonical"],
                                  backbone=bb["id"], profile=profile, data=common["dataset"], train_seconds=own_s)
estimate = api.load_image_model("yang")          # what a reader calls on a rendered crop
k = pred["index"][best]
again = estimate(d["images"][SHOW].get_batch([k])["image"])
where = "wild" if SHOW == "wild_test" else "lab test"
print(f"reloaded: 2D of the best {where} image within {np.abs(again['joints_2d'][0] - pred['joints_2d'][best]).max():.2g} px "
      f"of the chapter's prediction")
print(f"{len(recs)} records -> {path.name}; generator 'Full' exported to {exported.name}; chapter wall time "
      f"{ch.seconds():.0f} s (target at the quick profile: <= 25 min)")
