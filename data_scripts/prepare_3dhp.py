"""Convert the MPI-INF-3DHP test set (TS1..TS6/annot_data.mat) to a PoseSet .npz file.

    python data_scripts/prepare_3dhp.py --data-root ~/data/mpi_inf_3dhp_test_set [--cache-dir DIR]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posecore.data.real import prepare_main  # noqa: E402


def options(ap):
    ap.add_argument("--all-frames", action="store_true", help="keep frames with valid_frame 0 too")
    ap.add_argument("--annot3", action="store_true", help="use annot3 instead of univ_annot3 for poses_3d")
    ap.add_argument("--sequences", nargs="+", default=None, help="e.g. TS1 TS2")
    return lambda a: {k: v for k, v in dict(valid_only=False if a.all_frames else None,
                                            universal=False if a.annot3 else None,
                                            sequences=a.sequences).items() if v is not None}


if __name__ == "__main__":
    sys.exit(prepare_main("3dhp", __doc__, options))
