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
# # 09 · Generated wild 3D labels train an image network (Wang et al. 2019, image half)
#
# Chapters 03-04 built Wang et al.'s label generator (view synthesis, reconstruction, geometric
# search). Its purpose in the paper: turn 2D-annotated in-the-wild images into 3D-labelled ones, then
# train an ordinary image network on lab and wild images together -- "without specialized training
# scheme and auxiliary loss function" -- and generalise better than Zhou et al. (geometric loss,
# chapter 05) and Yang et al. (adversarial learning, chapter 07). Here:
#
# 1. the generator labels the wild training split from its 2D labels; because posecore-synth hides
#    the wild images' true 3D, we can measure the labels (the paper could not);
# 2. Zhou's network trains from the shared 2D backbone with "the first two stages" of Zhou's method
#    (heatmap L2 + depth L2), each batch half lab images (true 3D) and half wild images (generated 3D);
# 3. Table 3 (lab MPJPE per action) and Table 4 (wild PCK@150 / AUC) beside Zhou and Yang, trained on
#    the same data, backbone and steps; plus rows the paper could not have: the labels without
#    geometric search and an oracle trained on the wild images' true 3D (the ceiling of any generator);
# 4. the action-classification probe of Fig. 6 (93 % with Wang's 3D vs 80 % with Zhou's on Penn
#    Action) and Fig. 7's observation (Zhou's depths stay flat) as a number.
#
# Every method of the book on one table: chapter 10.

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
seeds = None
oracle_seeds = None
ablation_seeds = None
steps = None
probe_seeds = None

# %%
import dataclasses
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from posecore import chapter, results
from posecore import data as pdata
from posecore.evaluate import check_claim, claim_records, fmt_seeds, table
from posecore.models.probe import windows
from posecore.recipes import backbone as backbone_recipe
from posecore.recipes import martinez as martinez_recipe
from posecore.recipes import wang as wang_recipe
from posecore.recipes import wang_image as wi
from posecore.recipes import yang as yang_recipe
from posecore.recipes import zhou as zhou_recipe

# images="photos": Human3.6M frames, MPII photos and (optionally) the MPI-INF-3DHP test set, as in
# chapter 05 (book/datasets.md); default: posecore-synth's rendered images (the label-quality rows, the
# oracle and the action probe need its hidden wild 3D and its clips: skipped on photos)
ch = chapter.start(profile, dataset, datasets=("synth",), images=images, data_root=data_root, wild_dataset=wild_dataset,
                   wild_root=wild_root, wild_test_dataset=wild_test_dataset, wild_test_root=wild_test_root)
profile, device, photos = ch.profile, ch.device, ch.photos
seeds = chapter.seed_list(seeds, profile)
oracle_seeds = chapter.seed_list(oracle_seeds, profile, quick=[0])
# "w/o geometric search" (an ablation of ours): the first seed at the quick profile (CPU time)
ablation_seeds = chapter.seed_list(ablation_seeds, profile, quick=[0])
bcfg = backbone_recipe.config(profile)
zcfg = zhou_recipe.config(profile)                 # chapter 05's runs and image pools
ycfg = yang_recipe.config(profile)                 # chapter 07's runs (same pools)
cfg = wi.config(profile, steps=steps, probe_seeds=probe_seeds)
STEPS = cfg.row_steps(zcfg)
DATA = ch.common["dataset"]
SCALE = (f"{bcfg.resolution} px crops, shared backbone ({bcfg.stacks}x{bcfg.modules} hourglass of width {bcfg.features}); "
         f"Wang rows: {STEPS} steps of batch {zcfg.batch_size} (1:1 lab/wild), {zcfg.optimizer} lr {zcfg.lr:g} "
         f"{zcfg.lr_schedule}; seeds {seeds} (w/o GS {ablation_seeds}, oracle {oracle_seeds}); Zhou = chapter 05 (2D stage + "
         f"{zcfg.stage2_steps} + {zcfg.stage3_steps} steps), Yang = chapter 07 ({ycfg.stage2_steps} + {ycfg.adv_steps})")
print(f"profile={profile}  device={device}\n{SCALE}")
cfg

# %% [markdown]
# **Choices where the paper is silent, and departures** (Secs. 3.5-3.6, 4.2, 4.4):
#
# - *Network*: Zhou's network from the book's shared 2D backbone with chapter 05's depth regressor
#   (the paper: "2 stacked hourglass modules, 2 residual blocks, and 2 depth regression modules", the
#   backbone of its Zhou / Yang comparison); at the quick profile the 64 px backbone of chapter 05.
# - *Stages*: "the first two stages" of Zhou: the 2D stage is the shared backbone (lab + wild 2D,
#   trained once for every image chapter); then heatmap L2 + 0.1 x depth L2 on 1:1 lab / wild batches,
#   for as many steps as Zhou's stages 2 + 3 together (so Wang and Zhou see the same compute).
#   No geometric loss, no adversarial term.
# - *Optimiser*: the paper says SGD only (no rate, momentum or schedule). We use chapter 05's
#   optimiser of the profile (Adam + cosine at quick, RMSprop 2.5e-4 at full), so the Zhou, Yang and
#   Wang rows differ only in their supervision.
# - *Generated labels*: chapter 03's generator (the stereo pipeline with camera-normalised 2D input,
#   seed 0, geometric search in closed form) run on the wild training split's 2D labels; a sample
#   without a valid root depth stays 2D-only. Depth targets follow Zhou's per-sample scale (2D / 3D
#   bone lengths), so a generated pose's depths match the 2D labels the heatmaps learn.
# - *Rows the paper could not have*: labels without geometric search, and an oracle whose wild images
#   carry their true 3D. Chapter 04's "Unity" stand-in is not used: its generator saw the wild training
#   poses (a leak), so its labels are no test of generalisation.
# - *The probe* (Fig. 6; the paper's network is in a supplement we do not have): an MLP
#   25 x 17 x 3 -> 256 -> 256 -> classes (dropout 0.5, Adam, weight decay 1e-4) on 25-frame windows of
#   the predicted 3D, every pose put into its body frame (pelvis origin, x hip to hip, y towards the
#   thorax) because posecore-synth's wild clips change the camera every frame. Lab: the 8 actions,
#   trained on subject L6's clips, tested on L7's (two of the four cameras at the quick profile). Wild:
#   the 3 actions, trained on the wild training clips' predictions, tested on the wild test clips.
#   Score: mean per-class accuracy, 5 probe seeds; with true 3D (upper bound) and 2D only (does depth
#   add anything?) as references.
# - *Table 4*: the paper's text we hold lists "Ours" in the header but gives only two numbers per row
#   (Zhou 69.2 / 32.5, Yang 69.0 / 32.0); the cell for Wang's own numbers stays empty.

# %% [markdown]
# ## The backbone, the data and the generated labels
#
# Sanity gate for every claim on image predictions (as chapters 05, 07 and 08): every compared network
# reaches lab-test PCKh@0.5 >= 85 %.

# %%
t = time.perf_counter()
img = chapter.image_inputs(bcfg, zcfg.data, dataset, data_root, device, photos=photos)
bb, backbone, d, hidden = img["bb"], img["backbone"], img["d"], img["hidden"]
WILD_TEST = "wild_test" in d["eval_idx"]          # False: photos without a wild 3D test set
kw = {"data_root": data_root} if data_root else {}
lab_train = d["sets"]["train"] if photos is not None else pdata.load(dataset, "train", **kw)
wcfg = wang_recipe.config(profile, net=martinez_recipe.config(profile), norm="camera")   # chapter 03's generator
generator, _ = wang_recipe.train_wang(lab_train, wcfg, seed=0, name=f"wang-{profile}", progress=False)
labels = wi.wild_labels(generator, d["sets"]["wild_train"], hidden)
print(f"backbone, data and generator ready in {time.perf_counter() - t:.0f} s; backbone lab PCKh@0.5 "
      f"{bb['eval']['lab']['pckh']:.1f} %")
truth = labels["true"][0] if "true" in labels else None
quality = {k: wi.label_quality(p, v, truth) for k, (p, v) in labels.items() if k != "true"} if truth is not None else {}
if truth is None:
    print("skipped: the quality of the generated labels: no true 3D of the wild training images (2D-only photos); "
          + ", ".join(f"{k}: {int(v.sum())} of {len(v)} samples labelled" for k, (_, v) in labels.items()))
else:
    display(table(["labels of the wild training split", "MPJPE (mm)", "P-MPJPE (mm)", "PCK@150 (%)", "valid", "2D-only"],
                  [[k, q["mpjpe"], q["p_mpjpe"], q["pck"], q["valid"], q["invalid"]] for k, q in quality.items()]))

# %% [markdown]
# The generator was trained on lab poses only; the wild poses lie far from them (chapter 00: a wild
# test pose is 179 mm from its nearest lab pose, a lab test pose 51 mm), and the labels carry that
# gap. Per action (root-relative MPJPE of the generated labels with geometric search):

# %%
if truth is None:
    print("skipped: generated-label error per wild action: no true 3D of the wild training images")
else:
    acts = d["sets"]["wild_train"].action
    p_gen, v_gen = labels["generated"]
    err = np.linalg.norm(p_gen - truth, axis=-1).mean(-1)
    display(table(["wild action", "samples", "generated-label MPJPE (mm)"],
                  [[a, int((acts == a).sum()), float(err[(acts == a) & v_gen].mean())] for a in sorted(set(acts))]))

# %% [markdown]
# ## Training: Wang (generated labels), without geometric search, and the oracle
#
# Zhou's row (3D+2D/w geo) comes from chapter 05 and Yang's (Full) from chapter 07, loaded from their
# checkpoints (trained here if those chapters have not run in this cache).

# %%
t = time.perf_counter()
runs = {}                       # {row: {seed: dict(model, history, eval...)}}
for name, row in wi.VARIANTS.items():
    if row.labels not in labels:
        print(f"skipped: row '{name}': no {row.labels!r} labels of the wild training images (the oracle needs "
              f"posecore-synth's hidden wild 3D)")
        continue
    for s in {"true": oracle_seeds, "generated_no_gs": ablation_seeds}.get(row.labels, seeds):
        m, h = wi.train_variant(row, zcfg, bcfg, backbone, d, labels, seed=s, steps=STEPS, device=device, progress=False)
        runs.setdefault(name, {})[s] = dict(model=m, history=h, **wi.evaluate_model(m, d, zcfg, device=device))
t_wang = time.perf_counter() - t
for s in seeds:
    z = zhou_recipe.run_variants(dataclasses.replace(zcfg, seed=s), d, bcfg, backbone, variants=("3D+2D/w geo",),
                                 device=device, progress=False)["3D+2D/w geo"]
    runs.setdefault("Zhou (3D+2D/w geo)", {})[s] = dict(model=z["model"], history=z["history"][3],
                                                         **{k: z[k] for k in ("pred", "test", "wild_test", "wild_train") if k in z})
    y = yang_recipe.run_variants(dataclasses.replace(ycfg, seed=s), d, bcfg, backbone, variants=("Full",),
                                 device=device, progress=False)["Full"]
    runs.setdefault("Yang (Full)", {})[s] = dict(model=y["G"], history=y["history"]["adversarial"],
                                                  **{k: y[k] for k in ("pred", "test", "wild_test", "wild_train") if k in y})
ORDER = [n for n in ["Zhou (3D+2D/w geo)", "Yang (Full)", "Wang", "Wang w/o geometric search", "oracle: true wild 3D"]
         if n in runs]
train_s = {n: [r["history"][-1]["time_s"] for r in runs[n].values() if r["history"]] for n in wi.VARIANTS if n in runs}
print(f"Wang rows trained or loaded in {t_wang:.0f} s; training time per run (this machine, from the run's own "
      f"log): " + ", ".join(f"{n} {np.mean(v):.0f} s" for n, v in train_s.items() if v))

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for n in train_s:
    h = runs[n][min(runs[n])]["history"]
    st = [x["step"] for x in h if "hm" in x]
    for ax, key in zip(axes, ("hm", "depth")):
        ax.plot(st, [x[key] for x in h if "hm" in x], label=n)
for ax, key in zip(axes, ("heatmap loss", "depth loss (lab + wild rows with 3D)")):
    ax.set(xlabel="step", title=key, yscale="log")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()


# %%
def get(name, split, key, sub=None):
    """One metric of a row for every seed it has."""
    out = []
    for r in runs[name].values():
        v = r[split][key]
        out.append(v[sub] if sub is not None else v)
    return out


GATE_PCKH = 85.0
pckh = {n: get(n, "test", "pckh") for n in ORDER}
table(["row", "lab PCKh@0.5 (%)", "pair ratio (lab)", "seeds"],
      [[n, fmt_seeds(pckh[n]), fmt_seeds(get(n, "test", "pair_ratio"), 3), len(runs[n])] for n in ORDER])

# %% [markdown]
# ## Table 3: lab test, MPJPE per action (Protocol #1)
#
# Our 8 lab actions are not Human3.6M's 15, so the paper's average sits beside ours. Per-action
# columns: the first seed; "Average": mean (min-max) over the seeds.

# %%
PAPER_T3 = {"Zhou (3D+2D/w geo)": 64.9, "Yang (Full)": 59.7, "Wang": 58.0}
ACTIONS = [a for a in runs["Wang"][seeds[0]]["test"]["per_action"] if a != "Average"]
first = lambda n: runs[n][min(runs[n])]
table(["row"] + ACTIONS + ["Average (ours)", "paper (H36M)"],
      [[n] + [first(n)["test"]["per_action"][a] for a in ACTIONS]
       + [fmt_seeds(get(n, "test", "per_action", "Average")), PAPER_T3.get(n)] for n in ORDER])

# %% [markdown]
# ## Table 4: the wild test (MPI-INF-3DHP's role), PCK@150 / AUC / MPJPE
#
# At each subject's true bone-length sum (the known global scale of the 3DHP protocol), on wild test
# crops that hold the whole body; mean (min-max) over seeds.

# %%
PAPER_T4 = {"Zhou (3D+2D/w geo)": (69.2, 32.5), "Yang (Full)": (69.0, 32.0), "Wang": (None, None)}
if not chapter.skipped(d, "wild_test", "Table 4"):
    display(table(["row", "PCK@150 (%)", "AUC (%)", "MPJPE (mm)", "paper PCK (3DHP)", "paper AUC (3DHP)"],
                  [[n, fmt_seeds(get(n, "wild_test", "pck")), fmt_seeds(get(n, "wild_test", "auc")),
                    fmt_seeds(get(n, "wild_test", "mpjpe")), *PAPER_T4.get(n, (None, None))] for n in ORDER]))
    scenes = sorted(first("Wang")["wild_test"]["pck_scene"])
    print("PCK@150 per scene kind (first seed):")
    display(table(["row"] + scenes, [[n] + [first(n)["wild_test"]["pck_scene"][s] for s in scenes] for n in ORDER]))

# %% [markdown]
# ## Does the network copy its labels or recover the truth?
#
# On wild *training* images (from the training pool, so the network saw them with their labels): the
# network's 3D against the labels it was trained on and against the hidden truth.

# %%
pool = d["pools"]["wild_train"][:cfg.n_train_eval]
copy_rows = []
for n, row in wi.VARIANTS.items():
    if n not in runs:
        continue
    r = first(n)
    chk = wi.training_images_check(r["model"], d, {"its labels": labels[row.labels], **(
        {"truth": labels["true"]} if truth is not None else {})}, pool, zcfg.eval_batch, device=device)
    r["copy"] = chk
    copy_rows.append([n, chk["its labels"], chk.get("truth"),
                      quality[row.labels]["mpjpe"] if row.labels in quality else 0.0])
if truth is None:
    print("skipped: network vs the truth on its training images: no true 3D of the wild training images")
table(["row (first seed)", "network vs its labels (mm)", "network vs truth (mm)", "labels vs truth (all samples, mm)"],
      copy_rows)

# %% [markdown]
# ## The action probe (Fig. 6)
#
# Whole clips through each network (first seed), every image rendered once; then 25-frame windows in
# the body frame. Lab: train on subject L6, test on L7. Wild: train on the wild training clips, test on
# the wild test clips. At the quick profile (CPU time): the first 60 frames of each clip, two of the
# four lab cameras, windows every 2 frames, 200 probe steps.

# %%
PROBE = hidden is not None and WILD_TEST      # the probe needs posecore-synth's clips and hidden wild 3D
if not PROBE:
    print("skipped: the action probe (Fig. 6): " + ("no wild 3D test set" if not WILD_TEST else
          "it needs posecore-synth's clips (lab subjects L6/L7, wild clips) and the wild training images' hidden 3D"))
else:
    t = time.perf_counter()
    canon_sum = float(np.sum(d["canonical"]))
    PROBED = ["Zhou (3D+2D/w geo)", "Yang (Full)", "Wang"]
    models = {n: first(n)["model"] for n in PROBED}
    probe_sets = {}
    lab_test = d["sets"]["test"]
    cams = sorted(set(lab_test.camera))[:cfg.probe_cameras or None]
    wild_train_set, wild_test_set = d["sets"]["wild_train"], d["sets"]["wild_test"]
    for split, ds_set, cand, true3d in (("lab", lab_test, np.flatnonzero(np.isin(lab_test.camera, cams)), lab_test.poses_3d),
                                        ("wild_train", wild_train_set, None, hidden),
                                        ("wild_test", wild_test_set, None, wild_test_set.poses_3d)):
        clips = np.char.add(np.char.add(ds_set.subject.astype(str), "|"),
                            np.char.add(np.char.add(ds_set.sequence.astype(str), "|"), ds_set.camera.astype(str)))
        idx = wi.clip_indices(clips, ds_set.frame, cand, cfg.probe_max_frames)
        images = d["images"]["test" if split == "lab" else split]
        images = getattr(images, "ds", images)                   # the renderer behind the cached pool
        pred = wi.predict_sequences(models, images, idx, canon_sum, cfg.eval_batch, device=device)
        pred["true 3D"] = np.asarray(true3d, np.float32)[idx]
        pred["2D only (Wang's 2D)"] = wi.pose_2d_features(pred["2d:Wang"])
        pred["2D only (true 2D)"] = wi.pose_2d_features(ds_set.poses_2d[idx])
        probe_sets[split] = dict(pred=pred, idx=idx, clip=clips[idx], frame=ds_set.frame[idx], action=ds_set.action[idx],
                                 subject=ds_set.subject[idx])
    t_pred = time.perf_counter() - t
    n_img = sum(len(p["idx"]) for p in probe_sets.values())
    print(f"{n_img} images through {len(models)} networks in {t_pred:.0f} s")


# %%
if not PROBE:
    print("skipped: the probes (no probe data, see above)")
else:
    def windows_of(ps, mask):
        w = windows(np.where(mask, ps["clip"], ""), ps["frame"], cfg.window, cfg.stride)
        return w[mask[w[:, 0]]]

    INPUTS = PROBED + ["true 3D", "2D only (Wang's 2D)", "2D only (true 2D)"]
    probe = {}
    t = time.perf_counter()
    lab = probe_sets["lab"]
    lab_actions = sorted(set(lab["action"]))
    w_tr = windows_of(lab, lab["subject"] == "L6")
    w_te = windows_of(lab, lab["subject"] == "L7")
    y_of = lambda ps, w, classes: np.array([classes.index(a) for a in ps["action"][w[:, 0]]])
    probe["lab"] = wi.run_probe({k: (lab["pred"][k], lab["pred"][k]) for k in INPUTS}, w_tr, y_of(lab, w_tr, lab_actions),
                                w_te, y_of(lab, w_te, lab_actions), len(lab_actions), cfg)
    probe_n = {"lab": (len(w_tr), len(w_te))}
    wtr, wte = probe_sets["wild_train"], probe_sets["wild_test"]
    wild_actions = sorted(set(wtr["action"]))
    w_tr = windows_of(wtr, np.ones(len(wtr["idx"]), bool))
    w_te = windows_of(wte, np.ones(len(wte["idx"]), bool))
    probe["wild"] = wi.run_probe({k: (wtr["pred"][k], wte["pred"][k]) for k in INPUTS}, w_tr, y_of(wtr, w_tr, wild_actions),
                                 w_te, y_of(wte, w_te, wild_actions), len(wild_actions), cfg)
    probe_n["wild"] = (len(w_tr), len(w_te))
    print(f"probes trained in {time.perf_counter() - t:.0f} s; windows (train, test): {probe_n}")
    PAPER_F6 = {"Zhou (3D+2D/w geo)": 80.0, "Wang": 93.0}
    display(table(["3D from", f"lab: {len(lab_actions)} actions, L6 -> L7 (%)", f"wild: {len(wild_actions)} actions (%)",
                   "paper (Penn Action, %)"],
                  [[k, fmt_seeds(probe["lab"][k]["accuracy"]), fmt_seeds(probe["wild"][k]["accuracy"]), PAPER_F6.get(k)]
                   for k in INPUTS]))
    print(f"chance: lab {100 / len(lab_actions):.1f} %, wild {100 / len(wild_actions):.1f} % (mean per-class accuracy)")

# %% [markdown]
# ## Fig. 7 as a number: do the predicted depths move with the body?
#
# The mean over lab-test windows (fixed cameras) and joints of the standard deviation, within a
# window, of each joint's root-relative depth; the ground truth's beside. Zhou's predictions "at
# almost the same depth level" would give a small ratio.

# %%
if not PROBE:
    print("skipped: Fig. 7's depth spread (it reads the lab probe's predictions)")
else:
    w_all = windows_of(lab, np.ones(len(lab["idx"]), bool))
    spread = {k: wi.clip_depth_spread(lab["pred"][k], w_all) for k in PROBED + ["true 3D"]}
    display(table(["3D from", "depth spread within a window (mm)", "ratio to the truth"],
                  [[k, v, v / spread["true 3D"]] for k, v in spread.items()], digits=2))
    c0 = w_all[np.argmax([len(set(lab["action"][w])) == 1 and lab["action"][w[0]] == "Jumping" for w in w_all])]
    fig, ax = plt.subplots(figsize=(8, 3))
    j = 3                                                                          # right ankle
    for k in ("true 3D", "Zhou (3D+2D/w geo)", "Wang"):
        z = lab["pred"][k][c0, j, 2] - lab["pred"][k][c0, 0, 2]
        ax.plot(z, label=k)
    ax.set(xlabel="frame in the window", ylabel="right-ankle depth - pelvis (mm)",
           title=f"one {lab['action'][c0[0]]} window of the lab test")
    ax.legend(fontsize=8)
    plt.show()

# %% [markdown]
# ## Which claims reproduce
#
# The verdict rule (How to read this book: verdicts): judged only when every compared network passes the gate (lab
# PCKh@0.5 >= 85 %); a difference counts only when it exceeds the seed-to-seed range (>= 2 seeds).

# %%
def gate_of(*names):
    p = {n: min(pckh[n]) for n in names}
    return all(v >= GATE_PCKH for v in p.values()), ("gate: lab PCKh@0.5 >= 85 % (min over seeds: "
                                                      + ", ".join(f"{n} {v:.1f}" for n, v in p.items()) + ")")


def claim(text, a, b, va, vb, higher=False, label=None, min_spread=0.0):
    ok, gtext = gate_of(a, b)
    chapter.claim(claims, text, va, vb, higher=higher, label=label or f"{a} vs {b}", min_spread=min_spread,
                  profile=profile, gate=ok, gate_detail=gtext)


claims = []
avg = lambda n: get(n, "test", "per_action", "Average")
claim("generated wild labels beat Zhou's geometric loss on the lab test (paper 58.0 vs 64.9 mm)",
      "Wang", "Zhou (3D+2D/w geo)", avg("Wang"), avg("Zhou (3D+2D/w geo)"))
claim("... and Yang's adversarial learning (paper 58.0 vs 59.7 mm)", "Wang", "Yang (Full)", avg("Wang"), avg("Yang (Full)"))
if not chapter.skipped(d, "wild_test", "the wild-test claims"):
    claim("generated wild labels generalise better in the wild than Zhou (wild PCK@150; paper 3DHP: Zhou 69.2, ours n/a)",
          "Wang", "Zhou (3D+2D/w geo)", get("Wang", "wild_test", "pck"), get("Zhou (3D+2D/w geo)", "wild_test", "pck"), True)
    claim("... and than Yang (wild PCK@150; paper 3DHP: Yang 69.0)", "Wang", "Yang (Full)", get("Wang", "wild_test", "pck"),
          get("Yang (Full)", "wild_test", "pck"), True)
if PROBE:
    for dom in ("lab", "wild"):
        claim(f"Wang's 3D classifies actions better than Zhou's ({dom} probe, probe seeds; paper Penn Action 93 vs 80 %)",
              "Wang", "Zhou (3D+2D/w geo)", probe[dom]["Wang"]["accuracy"], probe[dom]["Zhou (3D+2D/w geo)"]["accuracy"], True)
    ok, gtext = gate_of("Wang", "Zhou (3D+2D/w geo)")
    check_claim(claims, "Zhou's depths stay flatter than Wang's (Fig. 7: within-window depth spread, lab test, first seed)",
                spread["Wang"] > spread["Zhou (3D+2D/w geo)"],
                f"Wang {spread['Wang']:.1f} mm vs Zhou {spread['Zhou (3D+2D/w geo)']:.1f} mm (truth "
                f"{spread['true 3D']:.1f}); one seed, no spread to compare with", profile=profile, gate=ok, gate_detail=gtext)
else:
    print("skipped: the probe and Fig. 7 claims (no probe, see above)")
claim("ours: labels refined by geometric search train a better network (Wang vs w/o GS, lab MPJPE)",
      "Wang", "Wang w/o geometric search", avg("Wang"), avg("Wang w/o geometric search"), label="Wang vs w/o GS",
      min_spread=float(np.ptp(avg("Wang"))))
if "oracle: true wild 3D" in runs and WILD_TEST:
    claim("ours: label quality bounds the gain (the oracle's true wild 3D beats the generated labels, wild PCK)",
          "oracle: true wild 3D", "Wang", get("oracle: true wild 3D", "wild_test", "pck"), get("Wang", "wild_test", "pck"),
          higher=True, label="oracle vs Wang", min_spread=float(np.ptp(get("Wang", "wild_test", "pck"))))
else:
    print("skipped: the oracle claim: " + ("no oracle row (no true wild 3D)" if "oracle: true wild 3D" not in runs
                                           else "no wild 3D test set"))
n_ok = sum(c["reproduced"] for c in claims)
n_judged = sum(c["judged"] for c in claims)
print(f"\n{n_ok} of {len(claims)} claims reproduced, {n_judged} judged, at profile '{profile}' with seeds {seeds}")

# %% [markdown]
# ## A wild test image: Wang's prediction in 3D

# %%
r = first("Wang")
SHOW = "wild_test" if not chapter.skipped(d, "wild_test", "the wild test image", "no wild 3D test set: a lab test "
                                                                                   "image instead") else "test"
pred = r["pred"][SHOW]
k_med = dict(chapter.show_predictions(d["images"][SHOW], pred["index"], pred["joints_2d"], r[SHOW],
                                      which=("median",), label="Wang", scenes=pred["scene"]))["median"]

# %% [markdown]
# ## Results file and the exported network

# %%
recs = []
common = ch.common


def seeded(metric, values, unit, **kw):
    return chapter.seeded(metric, values, unit, common, **kw)


for k, q in quality.items():
    recs += [results.record(f"label_{m}", q[m], "mm", split="wild_train", labels=k, **common) for m in ("mpjpe", "p_mpjpe")]
for n in ORDER:
    recs.append(seeded("mpjpe", avg(n), "mm", split="test", variant=n, action="Average", paper_value=PAPER_T3.get(n)))
    recs.append(seeded("pckh@0.5", pckh[n], "%", split="test", variant=n))
    if WILD_TEST:
        recs.append(seeded("pck@150", get(n, "wild_test", "pck"), "%", split="wild_test", variant=n,
                           paper_value=PAPER_T4.get(n, (None, None))[0]))
        recs.append(seeded("auc", get(n, "wild_test", "auc"), "%", split="wild_test", variant=n,
                           paper_value=PAPER_T4.get(n, (None, None))[1]))
        recs.append(seeded("mpjpe", get(n, "wild_test", "mpjpe"), "mm", split="wild_test", variant=n))
    if PROBE and n in spread:
        recs.append(results.record("depth_spread", spread[n], "mm", split="test", variant=n, seed=min(runs[n]), **common))
for dom, split in (("lab", "test"), ("wild", "wild_test")) if PROBE else ():
    for k in INPUTS:
        recs.append(seeded("probe_accuracy", probe[dom][k]["accuracy"], "%", split=split, variant=k,
                           paper_value=PAPER_F6.get(k) if dom == "wild" else None))
for n, v in train_s.items():
    if v:
        recs.append(seeded("train_seconds", v, "s", split="lab_train+wild_train", variant=n))
recs += claim_records(claims, DATA, profile)
path = results.write("09_wang_image", recs)
from posecore import api
exported = api.export_image_model(api.default_image_export("wang"), "wang", first("Wang")["model"], d["canonical"],
                                  backbone=bb["id"], profile=profile, data=DATA,
                                  train_seconds=float(train_s["Wang"][0]) if train_s["Wang"] else None)
again = api.load_image_model("wang")(d["images"][SHOW].get_batch([pred["index"][k_med]])["image"])
where = "wild" if SHOW == "wild_test" else "lab test"
print(f"reloaded: 2D of the median {where} image within {np.abs(again['joints_2d'][0] - pred['joints_2d'][k_med]).max():.2g} px "
      f"of the chapter's prediction")
print(f"{len(recs)} records -> {path.name}; network 'Wang' exported to {exported.name}; chapter wall time "
      f"{ch.seconds():.0f} s (target at the quick profile: <= 20 min)")
