"""Convert MPII Human Pose annotations (HRNet annot/{train,valid}.json + gt_valid.mat, or the official
mpii_human_pose_v1_u12_1.mat) to PoseSet .npz files (2D only; head sizes in meta['head_size']).

    python data_scripts/prepare_mpii.py --data-root ~/data/mpii [--cache-dir DIR] [--split valid]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posecore.data.real import prepare_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(prepare_main("mpii", __doc__))
