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
# # 00 · Foundations: skeleton, cameras, the benchmark and the metrics
#
# Every later chapter stands on four things introduced here: the 17-joint skeleton, the pinhole
# camera, the embedded benchmark **posecore-synth** that every chapter runs on by default, and the
# metrics of the literature. Each number on this page is printed by the cell above it.
#
# The benchmark is built from **real human motion** (61 clips of the CMU Graphics Lab Motion Capture
# Database, mocap.cs.cmu.edu, created with funding from NSF EIA-0196217) placed on virtual bodies and
# seen by virtual cameras. It is *not* Human3.6M, MPI-INF-3DHP or MPII, and no number measured on it
# is presented as one of theirs: every table in this book names the data it was measured on.

# %% tags=["parameters"]
profile = None
dataset = "synth"
data_root = None
seed = 0

# %% tags=["hide-input"]
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch

import posecore.params
from posecore import camera, metrics, profiles, results, skeleton, viz
from posecore.data import embedded, load

posecore.params.validate()  # a misspelt or wrongly typed papermill `-p` parameter fails here, by name
profile = profiles.resolve(profile)
profiles.check_choice("dataset", dataset, ("synth",))  # this chapter describes the embedded data


@dataclass
class Config:
    nn_lab: int        # lab training poses searched for nearest neighbours
    nn_queries: int    # query poses per split
    n_images: int      # rendered examples per scene kind

    @classmethod
    def for_profile(cls, p):
        return cls(nn_lab=profiles.pick(p, smoke=2000, quick=20000, full=47561),
                   nn_queries=profiles.pick(p, smoke=300, quick=2000, full=6000),
                   n_images=profiles.pick(p, smoke=2, quick=4, full=6))


cfg = profiles.configure(Config, profile)
rng = np.random.default_rng(seed)
t_start = time.perf_counter()
print(f"profile={profile}  {cfg}")

# %% [markdown]
# ## 1 · The skeleton
#
# All poses in posecore use the 17-joint Human3.6M layout of Martinez et al. and VideoPose3D, with the
# pelvis as root. 3D poses are in millimetres, 2D poses in pixels. MPII (16 joints) and LSP (14 joints)
# orders are mapped to it (`posecore.skeleton`). Zhou et al. group bones whose length ratios stay
# nearly constant across people: arms, legs, shoulders and hips.

# %% tags=["hide-input"]
rows = [f"| {j} | {name} | {skeleton.PARENTS[j]} | "
        f"{'left' if j in skeleton.LEFT_JOINTS else 'right' if j in skeleton.RIGHT_JOINTS else 'centre'} |"
        for j, name in enumerate(skeleton.H36M_JOINTS)]
from IPython.display import Markdown, display  # noqa: E402

display(Markdown("| joint | name | parent | side |\n|---|---|---|---|\n" + "\n".join(rows)))
print("Zhou et al. bone groups:", {k: list(v) for k, v in skeleton.ZHOU_BONE_GROUPS.items()})

# %% [markdown]
# ## 2 · Cameras
#
# A point $X = (x, y, z)$ in camera coordinates (mm; $x$ right, $y$ down, $z$ forward) projects to
# pixels through the intrinsics $(f_x, f_y, c_x, c_y)$:
#
# $$u = f_x \frac{x}{z} + c_x, \qquad v = f_y \frac{y}{z} + c_y ,$$
#
# and a world point $X_w$ is first moved into the camera frame with $X = R\,(X_w - t)$. Human3.6M's
# lenses add radial ($k_1, k_2, k_3$) and tangential ($p_1, p_2$) distortion, supported by
# `posecore.camera.project`; the synthetic cameras have none. The lab cameras of posecore-synth use
# the intrinsics of the four Human3.6M cameras:

# %% tags=["hide-input"]
display(Markdown("| camera | $f_x$ | $f_y$ | $c_x$ | $c_y$ | size |\n|---|---|---|---|---|---|\n" + "\n".join(
    f"| {cid} | {d['f'][0]:.1f} | {d['f'][1]:.1f} | {d['c'][0]:.1f} | {d['c'][1]:.1f} | {d['size'][0]}x{d['size'][1]} |"
    for cid, d in camera.H36M_INTRINSICS.items())))

# %% [markdown]
# ## 3 · The embedded benchmark, posecore-synth
#
# Generated deterministically in seconds by `python data_scripts/generate_benchmark.py` (run by
# `make book`) from the compact motion file `posecore/data/assets/cmu_motion_h36m17.npz` (made from
# the BVH clips by `data_scripts/convert_cmu.py`). Two domains:
#
# * **lab**: everyday motion (walking, running, jumping, punching, bending, swordplay, washing) seen
#   by four fixed cameras at chest height, with 3D labels. Training subjects L1-L5 perform the first
#   75 % of each clip; unseen bodies L6-L7 perform the last 25 % (test).
# * **wild**: motion the lab never shows (dance, basketball, playground climbing and jumping), seen by
#   random cameras: heights, distances, focal lengths, and high-angle views. Its training split
#   exposes **only 2D labels**; its test split keeps the 3D ground truth, so in-the-wild 3D accuracy
#   can be measured here, which no paper of this book could do.
#
# What it is not: real images of real people, real annotation noise, lens distortion, or the
# variety of real bodies (bodies differ only by bone proportions).

# %%
t0 = time.perf_counter()
splits = {s: load(dataset, s, data_root) for s in ("train", "test", "wild_train", "wild_test")}
print(f"loaded in {time.perf_counter() - t0:.1f} s")
table = "| split | dataset | samples | subjects | actions | cameras | 3D labels |\n|---|---|---|---|---|---|---|\n"
for name, ps in splits.items():
    s = ps.summary()
    table += (f"| {name} | {s['dataset']} | {s['samples']} | {', '.join(s['subjects'])} | "
              f"{', '.join(s['actions'])} | {s['cameras']} | {100 * s['with_3d']:.0f} % |\n")
display(Markdown(table))

# %% [markdown]
# ### Lab vs wild, side by side: viewpoints
#
# The lab cameras sit at one elevation (about 7 degrees down) and 4-6 m away with one focal length;
# the wild cameras look from below the hip to steep high angles, from 2.5 to 7 m, with focal lengths
# from 600 to 2000 px.

# %% tags=["hide-input"]
views = {s: embedded.load_views(embedded.SPLITS[i]) for i, s in enumerate(("train", "test", "wild_train", "wild_test"))}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for name, color in (("train", "tab:blue"), ("wild_test", "tab:orange")):
    axes[0].hist(views[name]["elevation_deg"], bins=40, range=(-10, 70), density=True, alpha=0.6, color=color,
                 label=splits[name].meta["dataset"] + f" ({name})")
    axes[1].hist(views[name]["distance_mm"] / 1000, bins=40, range=(2, 8), density=True, alpha=0.6, color=color)
    axes[2].hist(splits[name].intrinsics[:, 0], bins=40, range=(500, 2200), density=True, alpha=0.6, color=color)
for ax, t in zip(axes, ("camera elevation (deg, + = looking down)", "distance to pelvis (m)", "focal length fx (px)")):
    ax.set_xlabel(t)
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()
for name in ("train", "wild_test"):
    e = views[name]["elevation_deg"]
    print(f"{name:10s} elevation: median {np.median(e):5.1f} deg, share above 30 deg: {100 * (e > 30).mean():5.1f} %")

# %% [markdown]
# ### Lab vs wild: poses
#
# How new are the wild poses to a model trained in the lab? For each query pose we find the nearest
# lab training pose after root alignment (in camera coordinates, so viewpoint counts) and report the
# mean per-joint distance. Lab test poses have close neighbours in the lab training set; wild poses
# do not: this is the domain gap the papers' weakly supervised and adversarial methods attack.

# %% tags=["hide-input"]
def nn_distance(queries, reference, chunk=512):
    """Mean per-joint distance (mm) of each root-relative query pose to its nearest reference pose."""
    q = torch.as_tensor(queries - queries[:, :1]).reshape(len(queries), -1).float()   # (Q, 51)
    r = torch.as_tensor(reference - reference[:, :1]).reshape(len(reference), -1).float()  # (R, 51)
    out = []
    for i in range(0, len(q), chunk):
        idx = torch.cdist(q[i:i + chunk], r).argmin(1)
        d = (q[i:i + chunk] - r[idx]).reshape(-1, 17, 3).norm(dim=-1).mean(-1)
        out.append(d)
    return torch.cat(out).numpy()


lab_ref = splits["train"].poses_3d[rng.choice(len(splits["train"]), cfg.nn_lab, replace=False)]
gap = {}
for name in ("test", "wild_test"):
    ps = splits[name]
    q = ps.poses_3d[rng.choice(len(ps), min(cfg.nn_queries, len(ps)), replace=False)]
    gap[name] = nn_distance(q, lab_ref)
    print(f"{name:10s} nearest lab-train pose: mean {gap[name].mean():6.1f} mm, median {np.median(gap[name]):6.1f} mm")
plt.figure(figsize=(6, 3))
for name in gap:
    plt.hist(gap[name], bins=40, range=(0, 250), alpha=0.6, density=True, label=f"{name} ({splits[name].meta['dataset']})")
plt.xlabel("distance to nearest lab training pose (mm per joint)")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### Rendered images
#
# The image chapters need pictures. posecore draws its own (`posecore.data.render`): a body of
# rounded tubes ray-cast in perspective from the 3D pose with a depth buffer and Lambert shading,
# cropped around the person. Left and right limbs share their clothing, as in real clothes. The lab
# has a plain studio wall, a room light and four outfits; the wild scene kinds stand in for
# MPI-INF-3DHP's three: *plain* (green-screen-like backdrop), *studio* (cluttered indoor) and
# *outdoor* (sky and textured ground), with random clothes, light, occluders and truncation.
#
# What tells a body's front from its back (renderer VERSION 2) is what a photograph has: a **face**
# (the head's front is skin, framed by hair that covers its back and top), a **shirt whose front
# differs from its back** (a print panel on the chest, light on dark shirts and dark on light ones),
# **shoes unlike the trousers**, and in the lab a **light that is not tied to the camera** (its
# direction varies per sample, as one room light seen from several cameras). No cue tells left from
# right by itself -- the limbs still share their clothes -- but once the facing is seen, the left arm
# is the one on the image's right of a body facing the camera. VERSION 1 had none of these (a
# featureless skin head with a small hair sphere behind it, plain shirts, dark lab shoes the grey of
# two subjects' trousers, a light fixed to the camera); `cues=False` still draws it, for the
# comparison below.

# %% tags=["hide-input"]
from posecore.data.images import ImageDataset  # noqa: E402

res = profiles.pick(profile, smoke=64, quick=128, full=256)
wild_hidden = load(dataset, "wild_train", data_root, reveal_hidden=True)   # 3D only to draw the images
rows = [("lab", ImageDataset(splits["train"], resolution=res, seed=seed), np.arange(len(splits["train"])))]
for kind in ("plain", "studio", "outdoor"):
    idx = np.where(splits["wild_train"].scene == kind)[0]
    rows.append((kind, ImageDataset(splits["wild_train"], resolution=res, seed=seed,
                                    render_poses_3d=wild_hidden.poses_3d), idx))
t0 = time.perf_counter()
fig, axes = plt.subplots(len(rows), cfg.n_images, figsize=(2.2 * cfg.n_images, 2.3 * len(rows)))
for r, (kind, ds, idx) in enumerate(rows):
    batch = ds.get_batch(rng.choice(idx, cfg.n_images, replace=False))
    for c in range(cfg.n_images):
        viz.image_with_skeleton(axes[r, c], batch["image"][c].permute(1, 2, 0).numpy(),
                                batch["joints_2d"][c].numpy(), title=kind if c == 0 else None)
        # keep the image's own limits: fit the equal aspect by resizing the box, not the limits
        axes[r, c].set_adjustable("box")
plt.tight_layout()
plt.show()
print(f"rendered {len(rows) * cfg.n_images} images at {res} px in {time.perf_counter() - t0:.2f} s "
      "(2D labels drawn on top; the networks never see them)")

# %% [markdown]
# **Before and after.** The same poses, styles and crops drawn by renderer VERSION 1 (`cues=False`, top
# of each pair) and VERSION 2 (below), at the image chapters' 64 px and at 256 px; the number over each
# is the cosine between the torso's forward direction and the direction to the camera (> 0: the chest
# faces the camera).

# %% tags=["hide-input"]
from posecore.data.render import facing, render_samples  # noqa: E402

pick = {"lab": rng.choice(len(splits["test"]), 4, replace=False),
        "wild": rng.choice(len(splits["wild_test"]), 4, replace=False)}
fig, axes = plt.subplots(4, 8, figsize=(15, 8.4))
for c, (name, split) in enumerate((("lab", "test"), ("wild", "wild_test"))):
    for r_, R in enumerate((64, 256)):
        for v, cues in enumerate((False, True)):
            out = render_samples(splits[split], pick[name], R, seed, cues=cues)
            cosines = facing(out["poses_3d"].numpy())
            for k in range(4):
                ax = axes[2 * r_ + v, 4 * c + k]
                ax.imshow(out["images"][k].permute(1, 2, 0).numpy(), interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([])
                ax.set_title(f"{name} {R}px v{1 + int(cues)}  cos {cosines[k]:+.2f}", fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### The facing probe: do the images show which way a body faces?
#
# A probe of the *data*, not of any pose network: a small convolutional classifier
# (`posecore.models.facing.FacingNet`, four stages of two 3x3 convolutions, the first of each with
# stride 2) is trained for a fixed short budget on
# lab-training crops, rendered afresh every step at the image chapters' resolution, to say whether the
# torso faces the camera (the label comes from the 3D pose, which no image network is given), then
# scored on held-out lab-test and wild-test crops. Its training crops are mirrored and recoloured
# (colour channels permuted, gains, inversions): the lab has only five training outfits, and without
# recolouring the probe learnt those outfits' colours -- 99 % on new frames of the training subjects,
# chance on a test subject whose shirt colour no training subject wears. They also get the wild's
# photometric changes (contrast, brightness, some grey) and, in 35 % of them, a flat occluding patch,
# which the lab never shows. Once on VERSION 1 renders, once
# on VERSION 2's. The
# headline accuracy counts crops whose facing is clear (|cos| >= 0.3: a body seen from the side faces
# neither way); "all" counts every crop. Target (quick): >= 95 % lab test, >= 90 % wild test.

# %% tags=["hide-input"]
from posecore.evaluate import table  # noqa: E402
from posecore.recipes import facing_probe  # noqa: E402

pcfg = facing_probe.config(profile, seed=seed)
t0 = time.perf_counter()
probe = facing_probe.run(pcfg, splits, progress=False)
print(f"facing probe: {pcfg.steps} steps x {pcfg.batch_size} crops at {pcfg.resolution} px per renderer, "
      f"{time.perf_counter() - t0:.0f} s in all")
rows_ = []
for cues, r_ in probe.items():
    for split in ("lab_test", "wild_test"):
        rows_.append([f"VERSION {1 + int(cues)}" + (" (cues)" if cues else " (no cues)"), split, r_[split]["accuracy"],
                      r_[split]["accuracy_all"], r_[split]["n_clear"], r_["seconds"]])
table(["renders", "split", "accuracy %, clear facing", "accuracy %, all crops", "clear crops", "training s"], rows_, digits=1)
PROBE_TARGETS = {"lab_test": 95.0, "wild_test": 90.0}
for split, target in PROBE_TARGETS.items():
    got = probe[True][split]["accuracy"]
    print(f"VERSION 2 {split}: {got:.1f} % (target >= {target:.0f} %: {'met' if got >= target else 'NOT met'})")

# %% [markdown]
# Where the wild crops lose the probe: the VERSION 2 probe scored again on the same wild-test frames
# rendered without occluders and truncation, and on the clear crops split by how squarely the body
# faces or turns away (the cosine's size) and by whether the head is seen. If the accuracy stays low on
# unoccluded, square-on bodies with the head in view, what the lab crops teach does not carry to the
# wild's clothes, light and cameras (a domain gap of the probe), not a hidden face.

# %% tags=["hide-input"]
net_ = probe[True]["net"]
idx_ = facing_probe.eval_indices(len(splits["wild_test"]), pcfg.n_eval, pcfg.seed)
rows_ = []
for name_, kw_ in (("as rendered", {}), ("no occluders, no truncation", dict(occluder_prob=0.0, truncation_prob=0.0))):
    o_ = render_samples(splits["wild_test"], idx_, pcfg.resolution, pcfg.seed, **kw_)
    cos_ = torch.as_tensor(facing(o_["poses_3d"].numpy()))
    rows_.append([name_, "all clear crops", facing_probe.score(net_, o_["images"], cos_, pcfg.min_cos)["accuracy"],
                  int((cos_.abs() >= pcfg.min_cos).sum())])
    if not kw_:
        seen_ = ~(o_["occluded"][:, 10] | ~o_["visible"][:, 10])       # joint 10: the head top
        for what_, m_ in (("head seen, cosine beyond +-0.85", seen_ & (cos_.abs() >= 0.85)),
                          ("head occluded or cut off", ~seen_)):
            if int((m_ & (cos_.abs() >= pcfg.min_cos)).sum()):
                rows_.append([name_, what_, facing_probe.score(net_, o_["images"][m_], cos_[m_], pcfg.min_cos)["accuracy"],
                              int((m_ & (cos_.abs() >= pcfg.min_cos)).sum())])
table(["wild-test crops", "subset", "VERSION 2 probe accuracy %", "clear crops"], rows_, digits=1)

# %% [markdown]
# ### Interactive skeletons
#
# Drag to rotate, scroll to zoom. Left limbs are blue, right limbs red. A lab pose and a wild pose
# side by side, then a whole wild clip as an animation with a frame slider.

# %%
def front_view(fig):
    """Seen from the front, the depth axis points at the reader: its tick labels would pile up."""
    return fig.update_scenes(yaxis_showticklabels=False)


lab_pose = splits["test"].poses_3d[rng.integers(len(splits["test"]))]
wild_pose = splits["wild_test"].poses_3d[rng.integers(len(splits["wild_test"]))]
viz.show(viz.skeleton_figure([lab_pose, wild_pose], labels=["lab test", "wild test"], camera="iso",
                             title="posecore-synth: lab vs wild (camera coordinates, mm)"))

# %%
wt = splits["wild_test"]
clip = sorted(set(wt.sequence.tolist()))[0]
sel = np.where(wt.sequence == clip)[0]
seq = wt.poses_3d[sel[np.argsort(wt.frame[sel])]]
seq = seq - seq[:, :1] + np.array([0, 0, 4000.0])  # root-centred for a steady view
viz.show(front_view(viz.animation_figure(seq, fps=20, title=f"wild test clip {clip} ({wt.action[sel[0]]})",
                                         max_frames=profiles.pick(profile, smoke=20, quick=120, full=300))))

# %% [markdown]
# ## 4 · The metrics
#
# With predicted joints $\hat p_j$ and ground truth $p_j$ (mm, $J = 17$):
#
# * **MPJPE** (Protocol #1): $\frac{1}{J}\sum_j \|(\hat p_j - \hat p_0) - (p_j - p_0)\|_2$, root aligned.
# * **P-MPJPE** (Protocol #2): the same after the similarity transform
#   $\min_{s, R, t} \frac1J\sum_j\|s R \hat p_j + t - p_j\|_2$ with $R$ a proper rotation
#   ($\det R = +1$: a mirror image is an error, not a pose).
# * **N-MPJPE**: after the optimal scale only.
# * **PCK@150 mm** and **AUC** (MPI-INF-3DHP): share of 14 joints within 150 mm, and its mean over
#   thresholds $0, 5, \dots, 150$ mm.
# * **PCKh@0.5** (MPII): share of joints within half the head size.
#
# Worked examples on a real lab pose: a copy rotated, scaled and moved has P-MPJPE 0 but a large
# MPJPE; its mirror image is not explained by any rotation.

# %%
gt = splits["test"].poses_3d[:1].astype(np.float64)
R = camera.random_rotation(1, (40, 40), (10, 10))[0]
moved = 1.2 * (gt - gt[:, :1]) @ R.T + gt[:, :1] + 100.0
mirrored = gt.copy()
mirrored[..., 0] = 2 * gt[:, :1, 0] - gt[..., 0]
noisy = gt + np.random.default_rng(seed).normal(0, 30, gt.shape)
examples = {"identical": gt, "rotated 40 deg, scaled 1.2, moved": moved, "mirrored": mirrored,
            "Gaussian noise 30 mm": noisy}
md = "| prediction | MPJPE (mm) | P-MPJPE (mm) | N-MPJPE (mm) | PCK@150 (%) | AUC (%) |\n|---|---|---|---|---|---|\n"
for k, p in examples.items():
    md += (f"| {k} | {metrics.mpjpe(p, gt):.1f} | {metrics.p_mpjpe(p, gt):.1f} | {metrics.n_mpjpe(p, gt):.1f} | "
           f"{metrics.pck3d(p, gt):.1f} | {metrics.auc3d(p, gt):.1f} |\n")
display(Markdown(md))
viz.show(front_view(viz.skeleton_figure([moved[0], gt[0]], labels=["rotated + scaled", "ground truth"],
                                        mode="overlay", title="P-MPJPE removes scale, rotation and translation")))

# %% [markdown]
# ## 5 · Real datasets: the same interface
#
# Researchers who hold Human3.6M, MPII or MPI-INF-3DHP point any chapter at them with two papermill
# parameters, `dataset` and `data_root` (see the page *Real datasets*). Nothing is downloaded or
# shipped. Here a tiny fixture written in the exact VideoPose3D file format (`data_3d_h36m.npz` with
# pickled dicts, metres, world frame; built from a synthetic pose, not from real data) is converted
# into the same `PoseSet` that the embedded benchmark gives: camera frame, mm, 17 joints.

# %%
import tempfile  # noqa: E402

from posecore.data import fixtures  # noqa: E402
from posecore.data.real import load_dataset  # noqa: E402

with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as cache:
    # S9 and S11 make the whole test split (a missing subject would be reported with a warning)
    fixtures.write_h36m_npz(tmp, subjects=("S1", "S9", "S11"), n_frames=20)
    fx = load_dataset("h36m", "test", tmp, cache_dir=cache)   # converted arrays go to the cache, never into tmp
reproj = np.abs(camera.project(fx.poses_3d, fx.intrinsics, fx.distortion) - fx.poses_2d).max()
print(f"fixture -> {fx.meta['dataset']} split {fx.meta['split']}: {len(fx)} samples, subjects "
      f"{sorted(set(fx.subject.tolist()))}, actions {sorted(set(fx.action.tolist()))[:5]}..., max |2D - proj(3D)| = {reproj:.3f} px")
viz.show(front_view(viz.skeleton_figure(fx.poses_3d[0], labels=["fixture pose, camera frame"], camera="front")))

# %% [markdown]
# ## 6 · Numbers written for the book
#
# This chapter records the benchmark's size and its measured domain gap in `results/00_foundations.json`.

# %% tags=["hide-input"]
recs = [results.record("samples", len(ps), "count", ps.meta["dataset"], profile, name) for name, ps in splits.items()]
recs += [results.record("nearest_lab_pose_distance", float(gap[n].mean()), "mm", splits[n].meta["dataset"], profile, n)
         for n in gap]
for cues, r_ in probe.items():
    for split in ("lab_test", "wild_test"):
        recs.append(results.record("facing_probe", r_[split]["accuracy"], "%", splits[split.replace("lab_", "")].meta["dataset"],
                                   profile, split, renderer_version=1 + int(cues), min_cos=pcfg.min_cos,
                                   accuracy_all=r_[split]["accuracy_all"], steps=pcfg.steps, seed=seed))
recs.append(results.record("share_views_above_30deg", float(100 * (views["wild_test"]["elevation_deg"] > 30).mean()),
                           "%", splits["wild_test"].meta["dataset"], profile, "wild_test"))
path = results.write("00_foundations", recs)
print(f"{len(recs)} records -> {path.name} in the results folder")
print(f"chapter ran in {time.perf_counter() - t_start:.1f} s")
