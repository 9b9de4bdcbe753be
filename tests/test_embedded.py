"""The embedded benchmark: deterministic, consistent geometry, the promised splits."""
import json

import numpy as np
import pytest

from posecore import camera
from posecore.data import embedded
from posecore.skeleton import bone_lengths


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return embedded.generate(tmp_path_factory.mktemp("synth"), verbose=False)


def test_deterministic(root, tmp_path):
    again = embedded.generate(tmp_path, verbose=False)
    for split in embedded.SPLITS:
        a = embedded.load_split(split, reveal_hidden=True, root=root)
        b = embedded.load_split(split, reveal_hidden=True, root=again)
        assert np.array_equal(a.poses_2d, b.poses_2d) and np.array_equal(a.poses_3d, b.poses_3d)
    assert json.loads((root / "manifest.json").read_text())["version"] == embedded.VERSION


def test_splits_and_labels(root):
    lab_tr, lab_te = (embedded.load_split(s, root=root) for s in ("lab_train", "lab_test"))
    wild_tr, wild_te = (embedded.load_split(s, root=root) for s in ("wild_train", "wild_test"))
    assert set(lab_tr.subject) & set(lab_te.subject) == set()
    assert set(lab_tr.action) == set(lab_te.action) and "Dance" not in set(lab_tr.action)
    assert set(wild_tr.sequence) & set(wild_te.sequence) == set()       # clip-level split
    assert not wild_tr.has_3d.any() and np.isnan(wild_tr.poses_3d).all()
    assert wild_te.has_3d.all() and lab_tr.has_3d.all()
    assert set(wild_te.scene) == {"plain", "studio", "outdoor"} and set(lab_tr.scene) == {"lab"}
    assert not any(s.startswith("S") for s in lab_tr.subject)         # never Human3.6M names
    assert lab_tr.meta["dataset"] == "posecore-synth-lab"


def test_geometry(root):
    ps = embedded.load_split("wild_test", root=root)
    assert np.abs(camera.project(ps.poses_3d, ps.intrinsics) - ps.poses_2d).max() < 0.01
    assert (ps.poses_3d[..., 2] > 0).all()
    assert (ps.poses_2d >= 0).all() and (ps.poses_2d < ps.image_size[:, None, :]).all()
    # one body per subject: bone lengths constant within a subject (rigid limbs)
    lab = embedded.load_split("lab_test", root=root)
    bl = bone_lengths(lab.poses_3d[lab.subject == "L6"])
    limbs = [1, 2, 4, 5, 11, 12, 14, 15]      # thighs, shins, upper arms, forearms (bone index)
    assert bl[:, limbs].std(0).max() < 0.5
    # different bodies differ
    bl7 = bone_lengths(lab.poses_3d[lab.subject == "L7"])
    assert abs(bl[:, 1].mean() - bl7[:, 1].mean()) > 5


def test_high_angle_views_only_in_the_wild(root):
    lab = embedded.load_views("lab_train", root=root)["elevation_deg"]
    wild = embedded.load_views("wild_test", root=root)["elevation_deg"]
    assert lab.max() < 15 and (wild > 30).mean() > 0.2


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown posecore-synth split"):
        embedded.load_split("lab_val")
