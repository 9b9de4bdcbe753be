"""Generate the embedded default benchmark, posecore-synth (lab + wild domains), into data/cache/synth.

Usage: python data_scripts/generate_benchmark.py [--root DIR] [--seed 0]
Deterministic for a given seed; prints the split sizes and the time taken.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from posecore.data.embedded import generate  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    generate(a.root, seed=a.seed)
