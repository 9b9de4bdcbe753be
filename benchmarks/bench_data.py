"""Benchmark generation time of posecore-synth (target: <= 60 s on 2 CPU cores) and the BVH
conversion of the 61 CMU clips. Prints figures; asserts nothing."""
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from posecore.data import embedded  # noqa: E402
from posecore.data.bvh import convert_cmu_clip  # noqa: E402

torch.set_num_threads(2)
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter()
    embedded.generate(d, verbose=False)
    gen = time.perf_counter() - t
    n = sum(len(embedded.load_split(s, root=d)) for s in embedded.SPLITS)
print(f"benchmark generation: {gen:.2f} s for {n} samples (target <= 60 s; ratio {60 / gen:.1f}x under)")
bvh = ROOT.parent / "shared" / "data" / "cmu_mocap_bvh"
if bvh.is_dir():
    files = sorted(bvh.glob("*.bvh"))
    t = time.perf_counter()
    frames = sum(len(convert_cmu_clip(f)[0]) for f in files)
    print(f"BVH conversion: {time.perf_counter() - t:.2f} s for {len(files)} clips ({frames} frames kept at 20 fps)")
else:
    print(f"BVH conversion: skipped ({bvh} not found)")
