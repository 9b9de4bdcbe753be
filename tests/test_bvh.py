"""CMU BVH conversion: the shipped motion asset is reproducible from the clips; bad files fail clearly."""
from pathlib import Path

import numpy as np
import pytest

from posecore.data import bvh, embedded
from posecore.skeleton import bone_lengths

BVH_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu_mocap_bvh"
MINI = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Knee
  {
    OFFSET 0 -40 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0166667
0 90 0 0 0 0 0 0 0
0 90 0 0 0 0 90 0 0
"""


def test_read_minimal_bvh(tmp_path):
    f = tmp_path / "mini.bvh"
    f.write_text(MINI)
    P, index, dt = bvh.read_bvh_positions(f)
    assert P.shape[0] == 2 and dt == pytest.approx(1 / 60, rel=1e-3)
    knee = P[:, index["Knee"]]
    assert np.allclose(knee[0], [0, 50, 0], atol=1e-6)
    with pytest.raises(ValueError, match="unknown rig"):
        bvh.cmu_to_h36m17(P, index, source=str(f))


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        bvh.read_bvh_positions(tmp_path / "none.bvh")
    bad = tmp_path / "bad.bvh"
    bad.write_text(MINI.replace("Frames: 2", "Frames: x"))
    with pytest.raises(ValueError, match="bad.bvh"):
        bvh.read_bvh_positions(bad)
    trunc = tmp_path / "trunc.bvh"
    trunc.write_text(MINI[:120])
    with pytest.raises(ValueError, match="trunc.bvh"):
        bvh.read_bvh_positions(trunc)


@pytest.mark.skipif(not BVH_DIR.is_dir(), reason="CMU clips not beside the repo")
def test_asset_is_reproducible_from_the_clips():
    motion = embedded.load_motion()["clips"]
    for clip in ("002_05", "007_01"):      # one clip of each root layout (with/without RL_BoneRoot)
        poses, fps = bvh.convert_cmu_clip(BVH_DIR / f"{clip}.bvh")
        assert fps == pytest.approx(20.0)
        assert np.allclose(poses, motion[clip], atol=1e-3)


def test_asset_plausible_human():
    P = np.concatenate(list(embedded.load_motion()["clips"].values()))
    bl = bone_lengths(P).mean(0)
    # thigh ~477 mm, shin ~498 mm (the rig's 47.7 and 49.8 cm), upper arm ~252 mm
    assert bl[1] == pytest.approx(477, abs=3) and bl[2] == pytest.approx(498, abs=3)
    assert bl[11] == pytest.approx(252, abs=3)
    # upright: head top above the pelvis, feet near the floor
    assert (P[:, 10, 2] > P[:, 0, 2]).mean() > 0.95
    assert np.percentile(P[:, [3, 6], 2].min(1), 5) < 150
