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
# # 06 · Zhou et al. (ICCV 2017): ablations
#
# Chapter 05 trained the four variants of the paper's Tables 1-4 from the book's shared 2D backbone
# (stage 1, `posecore/recipes/backbone.py`). This chapter asks three more questions of the same
# networks (their checkpoints are reused when chapter 05 ran first with the same profile; otherwise
# they are trained here; one training seed, so its verdicts carry that caveat):
#
# 1. **End-to-end versus two steps.** The paper argues that training 2D and depth jointly beats a
#    sequential pipeline. We compare the end-to-end network with a two-step one: a Martinez et al.
#    lifter (`posecore/models/martinez.py`, trained on the lab training split's 2D -> 3D pairs) fed
#    with this network's predicted 2D joints -- and, as an upper bound of that pipeline, with the
#    ground-truth 2D.
# 2. **What each stage adds.** The network after stage 2 (no geometric loss yet) against stage 3
#    without and with the geometric loss.
# 3. **The weight of the geometric loss.** $\lambda_{geo} \in \{0, 0.01 \text{ (paper)}, 0.1\}$, stage 3 only.
#
# Data: posecore-synth rendered images (lab ~ Human3.6M, wild ~ MPII / MPI-INF-3DHP); every number is
# measured on it at the stated profile.

# %% tags=["parameters"]
profile = None
dataset = "synth"
data_root = None
images = "rendered"
wild_dataset = None
wild_root = None
wild_test_dataset = None
wild_test_root = None
seed = 0
backbone_steps = None
batch_size = None
stage2_steps = None
stage3_steps = None
train_pool = None
lambda_geo_sweep = None

# %% tags=["hide-input"]
import dataclasses
import time

from posecore import chapter, metrics, results
from posecore.camera import crop_to_image
from posecore.evaluate import check_claim, claim_records, evaluate_images, pckh_gate, table
from posecore.models.lifter import lift_with
from posecore.models.zhou import canonical_bone_sum
from posecore.recipes import backbone as backbone_recipe, martinez as martinez_recipe, zhou as zhou_recipe
from posecore.recipes.images import predict

# images="photos": Human3.6M frames, MPII photos and (optionally) the MPI-INF-3DHP test set, as in
# chapter 05 (book/datasets.md); default: images rendered from the poses
ch = chapter.start(profile, dataset, images=images, data_root=data_root, wild_dataset=wild_dataset,
                   wild_root=wild_root, wild_test_dataset=wild_test_dataset, wild_test_root=wild_test_root)
profile, device, photos = ch.profile, ch.device, ch.photos
DATA_LABEL = ch.label
bcfg = backbone_recipe.config(profile, steps=backbone_steps)
cfg = zhou_recipe.config(profile, seed=seed, batch_size=batch_size, stage2_steps=stage2_steps,
                         stage3_steps=stage3_steps, train_pool=train_pool)
lambda_geo_sweep = list(lambda_geo_sweep) if lambda_geo_sweep is not None else [0.1]
SCALE = (f"{bcfg.resolution} px crops, {bcfg.stacks}x{bcfg.modules} hourglass of width {bcfg.features} "
         f"(shared backbone, {bcfg.steps} steps), batch {cfg.batch_size}, stages 2/3 {cfg.stage2_steps}/{cfg.stage3_steps} steps")
print(f"profile={profile}  device={device}\n{SCALE}")

# %% tags=["hide-input"]
t = time.perf_counter()
img = chapter.image_inputs(bcfg, cfg.data, dataset, data_root, device, progress=False, hidden=False,
                           photos=photos)                                  # chapter 05's, when cached
bb, backbone, d = img["bb"], img["backbone"], img["d"]
SPLITS_3D = [s for s in ("test", "wild_test") if s in d["eval_idx"]]   # no wild_test: photos without a wild 3D test set
WILD_TEST = "wild_test" in SPLITS_3D
runs = zhou_recipe.run_variants(cfg, d, bcfg, backbone, device=device, progress=False)
bone_sum = canonical_bone_sum(d["canonical"])
print(f"four variants ready (trained or loaded) in {time.perf_counter() - t:.1f} s")

# %% [markdown]
# ## 1. End-to-end versus the two-step pipeline
#
# The lifter sees 2D joints in the original image's pixels (as in chapter 02), so the network's
# crop-pixel predictions are mapped back through the crop's intrinsics. It is trained on the lab
# training split only: a lifter cannot use images that have 2D labels only, which is the point of
# the end-to-end design. Both pipelines are evaluated root-aligned (Protocol #1) on the same images.

# %% tags=["hide-input"]
t = time.perf_counter()
lcfg = martinez_recipe.config(profile)
lifter, _ = martinez_recipe.train_lifter(d["sets"]["train"], lcfg, seed=cfg.seed, name="zhou06-martinez", progress=False)
print(f"Martinez lifter (width {lcfg.width}, {lcfg.num_steps} steps) ready in {time.perf_counter() - t:.1f} s")

rows, two_step = [], {}
chapter.skipped(d, "wild_test", "the wild-test rows")
for split in SPLITS_3D:
    ps = d["sets"][split]
    for v in ("3D/wo geo", "3D+2D/w geo"):
        pred = runs[v]["pred"][split]
        idx = pred["index"]
        gt3 = ps.poses_3d[idx] - ps.poses_3d[idx][:, :1]
        p2_img = crop_to_image(pred["joints_2d"], pred["intrinsics_crop"], ps.intrinsics[idx])
        e_two = float(metrics.mpjpe(lift_with(lifter, p2_img), gt3))
        two_step[(split, v)] = e_two
        rows.append([split, v, runs[v][split]["mpjpe"], e_two])
    idx = runs["3D+2D/w geo"]["pred"][split]["index"]
    gt3 = ps.poses_3d[idx] - ps.poses_3d[idx][:, :1]
    two_step[(split, "gt2d")] = float(metrics.mpjpe(lift_with(lifter, ps.poses_2d[idx]), gt3))
    rows.append([split, "ground-truth 2D (lifter upper bound)", None, two_step[(split, "gt2d")]])
print(f"dataset: {DATA_LABEL} | profile: {profile} | MPJPE mm, root aligned")
table(["split", "2D from", "end-to-end (Zhou) MPJPE", "two-step (2D -> Martinez) MPJPE"], rows)

# %% tags=["hide-input"]
claims = []
# the sanity gate (How to read this book: verdicts): a claim is judged only when the networks it compares reach
# lab PCKh@0.5 >= 85 % (2D from the flip test, as chapter 05)


def claim(text, ok, detail, nets):
    """``nets``: {name: lab PCKh@0.5} of the networks the claim compares (its gate)."""
    gate, gate_text = pckh_gate(nets, "ours, flip test")
    check_claim(claims, text, ok, detail + " (one seed)", profile=profile, gate=gate, gate_detail=gate_text)


for split in SPLITS_3D:
    e2e = runs["3D+2D/w geo"][split]["mpjpe"]
    two = two_step[(split, "3D+2D/w geo")]
    claim(f"end-to-end beats the sequential two-step pipeline on the same 2D predictions ({split})",
          e2e < two, f"end-to-end {e2e:.1f} mm vs two-step {two:.1f} mm "
                     f"(two-step with ground-truth 2D: {two_step[(split, 'gt2d')]:.1f} mm)",
          {"3D+2D/w geo": runs["3D+2D/w geo"]["test"]["pckh"]})

# %% [markdown]
# ## 2. What each stage adds

# %% tags=["hide-input"]
tc = cfg.train_config(bcfg)
stage2, _ = zhou_recipe.train_variant("3D+2D/w geo", tc, d["images"]["train"], d["images"]["wild_train"],
                                      d["canonical"], data_id=d["data_id"], device=device, progress=False, stages=(1, 2),
                                      backbone=backbone)
ev2 = {s: evaluate_images(predict(stage2, d["images"][s], d["eval_idx"][s], cfg.eval_batch, device=device, flip_test=True), bone_sum,
                          actions=d["sets"][s].action[d["eval_idx"][s]], scale="true" if s == "wild_test" else "canonical")
       for s in ("test", "wild_test", "wild_train") if s in d["eval_idx"]}


def wt(r, key, sub=None):
    """A wild-test metric of the evaluation ``r`` (None without a wild 3D test set)."""
    return None if "wild_test" not in r else r["wild_test"][key] if sub is None else r["wild_test"][key][sub]


chapter.skipped(d, "wild_test", "the wild-test columns (empty)")
stage_rows = [("after stage 2 (3D+2D, no geo)", ev2), ("stage 3 without geo", runs["3D+2D/wo geo"]),
              ("stage 3 with geo (paper)", runs["3D+2D/w geo"])]
table(["network", "lab MPJPE", "lab PCKh", "wild MPJPE", "wild PCK@150", "wild sym. mm", "wild 2D-only sym. px"],
      [[n, r["test"]["mpjpe"], r["test"]["pckh"], wt(r, "mpjpe"), wt(r, "pck"),
        wt(r, "symmetry_mm", "mean"), r["wild_train"]["symmetry_px"]["mean"]] for n, r in stage_rows])

# %% [markdown]
# ## 3. The weight of the geometric loss
#
# Stage 1 (the shared backbone) and stage 2 are shared; only stage 3 is retrained for each $\lambda_{geo}$.

# %% tags=["hide-input"]
sweep = {0.0: runs["3D+2D/wo geo"], cfg.lambda_geo: runs["3D+2D/w geo"]}
for lam in lambda_geo_sweep:
    if lam not in sweep:
        sweep[lam] = zhou_recipe.run_variants(dataclasses.replace(cfg, lambda_geo=float(lam)), d, bcfg, backbone,
                                              variants=("3D+2D/w geo",), device=device, progress=False)["3D+2D/w geo"]
table(["lambda_geo", "lab MPJPE", "wild MPJPE", "wild PCK@150", "wild AUC", "wild sym. mm", "2D-only sym. px"],
      [[lam, r["test"]["mpjpe"], wt(r, "mpjpe"), wt(r, "pck"), wt(r, "auc"),
        wt(r, "symmetry_mm", "mean"), r["wild_train"]["symmetry_px"]["mean"]]
       for lam, r in sorted(sweep.items())], digits=2)

# %% tags=["hide-input"]
lams = sorted(sweep)
if not chapter.skipped(d, "wild_test", "the symmetry claim (wild test)"):
    sym = [sweep[l]["wild_test"]["symmetry_mm"]["mean"] for l in lams]
    claim("a larger geometric-loss weight gives more symmetric wild predictions (monotone in lambda_geo)",
          all(a >= b for a, b in zip(sym, sym[1:])),
          "symmetry mm: " + ", ".join(f"{l:g}: {s:.1f}" for l, s in zip(lams, sym)),
          {f"lambda_geo {l:g}": sweep[l]["test"]["pckh"] for l in lams})

# %% tags=["hide-input"]
recs = []
common = ch.common                  # dataset (never a bare "synth"; the photos' name) and profile
for (split, v), e in two_step.items():
    recs.append(results.record("mpjpe", e, "mm", split=split, variant=f"two-step Martinez on {v}", **common))
for n, r in stage_rows:
    for s in SPLITS_3D:
        recs.append(results.record("mpjpe", r[s]["mpjpe"], "mm", split=s, variant=n, **common))
    if WILD_TEST:
        recs.append(results.record("pck@150", r["wild_test"]["pck"], "%", split="wild_test", variant=n, **common))
for lam, r in sweep.items() if WILD_TEST else ():
    recs.append(results.record("mpjpe", r["wild_test"]["mpjpe"], "mm", split="wild_test", variant=f"lambda_geo={lam:g}", **common))
    recs.append(results.record("symmetry_mean", r["wild_test"]["symmetry_mm"]["mean"], "mm", split="wild_test",
                               variant=f"lambda_geo={lam:g}", **common))
recs += claim_records(claims, common["dataset"], profile)
path = results.write("06_zhou_ablation", recs)
print(f"{len(recs)} records -> {path.name}; chapter wall time {ch.seconds():.0f} s")
