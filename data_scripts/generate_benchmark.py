"""Generate the embedded default benchmark, posecore-synth (lab + wild domains), into data/cache/synth.

Usage: python data_scripts/generate_benchmark.py [--root DIR] [--seed 0]
Deterministic for a given seed; prints the split sizes and the time taken. Skips the work when the
splits on disk were made from the same motion asset and version (use --force to regenerate).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from posecore.data.embedded import default_root, generate, is_current  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    a = ap.parse_args()
    root = a.root or default_root()
    if not a.force and is_current(root, a.seed):
        print(f"posecore-synth is up to date in {root} (use --force to regenerate)")
    else:
        generate(root, seed=a.seed)
