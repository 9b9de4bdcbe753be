import numpy as np
import pytest

from posecore import skeleton as sk


def test_tree_and_sides():
    assert len(sk.H36M_JOINTS) == 17 and len(sk.BONES) == 16
    assert all(p < c for p, c in sk.BONES)                       # parents precede children
    assert sorted(sk.LEFT_JOINTS + sk.RIGHT_JOINTS) == [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]
    flip = np.array(sk.FLIP_PERMUTATION)
    assert (flip[flip] == np.arange(17)).all() and flip[1] == 4 and flip[14] == 11


def test_mpii_lsp_mappings_roundtrip():
    p = np.arange(17 * 2, dtype=float).reshape(17, 2)
    mp = sk.h36m_to_mpii(p)
    assert sk.MPII_JOINTS[mp.tolist().index(p[16].tolist())] == "right_wrist"
    back = sk.mpii_to_h36m(mp)
    keep = [j for j in range(17) if j != 7]
    assert np.allclose(back[keep], p[keep]) and np.allclose(back[7], (p[0] + p[8]) / 2)
    lsp = sk.h36m_to_lsp(p)
    assert lsp.shape == (14, 2) and np.allclose(lsp[13], p[10])


def test_bone_groups_name_real_bones():
    for group in sk.ZHOU_BONE_GROUPS.values():
        for name in group:
            assert tuple(sk.NAMED_BONES[name]) in sk.BONES


def test_check_poses_errors():
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 3\)"):
        sk.check_poses(np.zeros((2, 16, 3)), 3)
    bad = np.zeros((2, 17, 2)); bad[1, 3, 0] = np.inf
    with pytest.raises(ValueError, match="NaN/inf"):
        sk.check_poses(bad, 2)
