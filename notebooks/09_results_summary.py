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
# # 09 · All results in one place
#
# Every chapter writes what it measured to `results/<chapter>.json` (metric, value, unit, dataset,
# profile, split, and the paper's number where the paper has one). This page gathers them, so the
# papers' claims can be read side by side with ours, each of our numbers labelled with the data and
# profile it was measured on. A chapter that has not run yet shows as missing; nothing is filled in
# by hand.

# %% tags=["parameters"]
profile = None
dataset = "synth"
data_root = None
seed = 0

# %%
import json

from IPython.display import Markdown, display

import posecore.params
from posecore import profiles, results

posecore.params.validate()
profile = profiles.resolve(profile)
directory = results.results_dir()
files = sorted(p for p in directory.glob("*.json")) if directory.exists() else []
print(f"results folder: {directory.name} ({len(files)} chapters)")

# %%
EXPECTED = ("00_foundations", "01_drover_lifting_gan", "02_drover_ablation", "03_wang_label_generator",
            "04_wang_ablation", "05_zhou_weak_supervision", "06_zhou_ablation", "07_yang_adversarial",
            "08_fbi_multimodal_depth")
have = {p.stem for p in files}
missing = [c for c in EXPECTED if c not in have]
print("chapters with results:", sorted(have & set(EXPECTED)))
print("chapters not run yet:", missing or "none")

# %% [markdown]
# ## Our numbers beside the papers'
#
# Rows with a paper value compare a claim; the *data* and *profile* columns say where ours comes from.
# A paper's number was measured on Human3.6M, MPI-INF-3DHP or MPII; ours on the data named in the row.

# %%
def fmt(v):
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return "" if v is None else str(v)


for path in files:
    records = json.loads(path.read_text())["records"]
    compared = [r for r in records if r.get("paper_value") is not None]
    shown = compared if compared else records[:20]
    extra_keys = [k for k in ("model", "variant", "training", "factor", "value_of_factor", "dx", "action", "scene",
                              "seeds") if any(k in r for r in shown)]
    head = "| " + " | ".join(["metric"] + extra_keys + ["ours", "paper", "unit", "data", "split", "profile"]) + " |"
    md = [f"### {path.stem}", f"{len(records)} records, {len(compared)} with a paper value"
          + ("" if compared else " (first 20 shown)"), "", head, "|" + "---|" * (head.count("|") - 1)]
    for r in shown:
        md.append("| " + " | ".join([r["metric"]] + [fmt(r.get(k)) for k in extra_keys]
                                    + [fmt(r["value"]), fmt(r.get("paper_value")), r["unit"], r["dataset"],
                                       r["split"], r["profile"]]) + " |")
    display(Markdown("\n".join(md)))

# %%
profiles_seen = sorted({r["profile"] for p in files for r in json.loads(p.read_text())["records"]})
print("profiles behind these numbers:", profiles_seen,
      "(smoke numbers only prove the code runs; quick numbers show trends; full is paper scale)")
