"""The FBI paper's maths (posecore.models.fbi): the encoding on hand-worked bones, the weighted loss
on hand-worked values, the refiner's input, the FBI network's shapes, and bad input."""
import math

import numpy as np
import pytest
import torch

from posecore.models import fbi
from posecore.models.hourglass import HourglassConfig


def test_bone_list_is_fourteen_bones_of_the_skeleton():
    assert fbi.NUM_BONES == 14 == len(fbi.FBI_BONE_NAMES)
    assert len(set(fbi.FBI_BONES)) == 14 and all(0 <= p < 17 and 0 <= c < 17 and p != c for p, c in fbi.FBI_BONES)
    # every limb joint of the 17 appears; spine (7) and neck (9) are merged into the torso and head bones
    used = {j for b in fbi.FBI_BONES for j in b}
    assert used == set(range(17)) - {7, 9}


def test_frontal_pose_is_all_parallel(standing_pose):
    # the standing pose of conftest faces the camera; only the wrists are 30 mm nearer... farther (z + 30)
    lab = fbi.fbi_labels(standing_pose[None])
    assert lab.shape == (1, 14) and lab.dtype == np.int64
    lower_arms = [fbi.FBI_BONE_NAMES.index("l_lower_arm"), fbi.FBI_BONE_NAMES.index("r_lower_arm")]
    # lower arm ~240 mm long, 30 mm deeper at the wrist: sin = 0.124 < sin 10 deg = 0.174 -> parallel
    assert (lab == fbi.PARALLEL).all()
    # at tau 5 deg (sin 0.087) the lower arms point backward (the wrist is farther from the camera)
    lab5 = fbi.fbi_labels(standing_pose[None], tau_deg=5.0)[0]
    assert (lab5[lower_arms] == fbi.BACKWARD).all()
    assert (np.delete(lab5, lower_arms) == fbi.PARALLEL).all()


def test_hand_worked_bone_and_flipping_depth_swaps_forward_and_backward(standing_pose):
    p = standing_pose.copy()
    k = fbi.FBI_BONE_NAMES.index("l_upper_leg")                  # left hip (4) -> left knee (5)
    p[5, 2] = p[4, 2] - 450.0                                    # knee 450 mm nearer, 450 mm lower: 45 deg
    s = fbi.bone_sines(p[None])[0, k]
    assert s == pytest.approx(-450 / math.hypot(450, 450))
    assert fbi.fbi_labels(p[None])[0, k] == fbi.FORWARD
    mirrored = p.copy()
    mirrored[:, 2] = 8000.0 - mirrored[:, 2]                     # reflect depth: forward <-> backward
    a, b = fbi.fbi_labels(p[None])[0], fbi.fbi_labels(mirrored[None])[0]
    assert b[k] == fbi.BACKWARD
    assert ((a == fbi.PARALLEL) == (b == fbi.PARALLEL)).all()
    assert (a[a == fbi.FORWARD] != b[a == fbi.FORWARD]).all()
    # only depth differences matter: a root-relative pose gives the same labels
    assert (fbi.fbi_labels((p - p[:1])[None]) == a[None]).all()


def test_one_hot_accuracy_and_errors():
    lab = np.array([[0, 1, 2] + [2] * 11])
    oh = fbi.one_hot(lab)
    assert oh.shape == (1, 14, 3) and oh.sum() == 14 and oh[0, 1, 1] == 1
    pred = lab.copy()
    pred[0, 0] = 2                                               # one of 14 wrong: a forward bone called parallel
    a = fbi.accuracy(pred, lab)
    assert a["overall"] == pytest.approx(100 * 13 / 14)
    assert a["per_state"]["forward"] == 0.0 and a["per_state"]["backward"] == 100.0
    assert a["per_bone"]["torso"] == 0.0 and a["per_bone"]["head"] == 100.0
    assert a["frequency"]["parallel"] == pytest.approx(100 * 12 / 14)
    with pytest.raises(ValueError, match="one_hot"):
        fbi.one_hot(np.array([[3] * 14]))
    with pytest.raises(ValueError, match="FBI labels"):
        fbi.fbi_labels(np.zeros((2, 16, 3)))
    with pytest.raises(ValueError, match="NaN"):
        fbi.fbi_labels(np.full((1, 17, 3), np.nan))
    with pytest.raises(ValueError, match="tau_deg"):
        fbi.fbi_labels(np.zeros((1, 17, 3)), tau_deg=90)


def test_weighted_loss_hand_worked():
    l0 = torch.tensor([0.5, 2.0])
    alpha = 0.6                                                  # mean training L0 = 0.4
    l1 = [(0.5 + 0.6) ** 2 * 0.5 * math.exp(0.5 / 0.4), (2.0 + 0.6) ** 2 * 2.0 * math.exp(2.0 / 0.4)]
    want = np.mean([0.5 + 1e-3 * l1[0], 2.0 + 1e-3 * l1[1]])
    assert fbi.weighted_regression_loss(l0, alpha).item() == pytest.approx(want, rel=1e-5)
    assert fbi.weighted_regression_loss(l0, alpha, eps=0.0).item() == pytest.approx(1.25)   # = mean L0
    # the weight dL/dL0 grows with L0: hard samples get more attention
    x = torch.tensor([0.1, 0.5, 1.0, 2.0], requires_grad=True)
    fbi.weighted_regression_loss(x, alpha).backward()
    assert (x.grad.diff() > 0).all()
    with pytest.raises(ValueError, match="alpha"):
        fbi.weighted_regression_loss(l0, 1.0)
    # the cap on the exponent (ours): 2.0 / 0.4 = 5 > 3 -> exp(3); the 0.5 sample (1.25) is below it
    capped = np.mean([0.5 + 1e-3 * l1[0], 2.0 + 1e-3 * (2.0 + 0.6) ** 2 * 2.0 * math.exp(3.0)])
    assert fbi.weighted_regression_loss(l0, alpha, max_exponent=3.0).item() == pytest.approx(capped, rel=1e-5)
    big = torch.tensor([0.4, 40.0])                              # 100x the mean L0: overflows as written
    assert not torch.isfinite(fbi.weighted_regression_loss(big, alpha))
    assert torch.isfinite(fbi.weighted_regression_loss(big, alpha, max_exponent=5.0))


def test_refiner_input_parts_and_errors():
    n = 3
    j2, dep, f = np.zeros((n, 17, 2)), np.ones((n, 17)), np.full((n, 14, 3), 1 / 3)
    assert fbi.refiner_input(fbi.PARTS, j2, dep, f).shape == (n, 93)
    x = fbi.refiner_input(("2d", "fbi"), j2, fbi=f)
    assert x.shape == (n, 76) and x.dtype == np.float32 and np.allclose(x[:, 34:], 1 / 3)
    assert fbi.refiner_input(("depth", "2d"), j2, dep)[:, 34:].sum() == n * 17        # order is always PARTS'
    with pytest.raises(ValueError, match="not given"):
        fbi.refiner_input(("fbi",), j2)
    with pytest.raises(ValueError, match="subset"):
        fbi.refiner_input(("image",), j2)
    with pytest.raises(ValueError, match="'depth' must be"):
        fbi.refiner_input(("2d", "depth"), j2, np.ones((n + 1, 17)))
    with pytest.raises(ValueError, match="NaN"):
        fbi.refiner_input(("2d",), np.full((n, 17, 2), np.nan))


def test_fbi_net_shapes_loss_and_gradient():
    torch.manual_seed(0)
    hg = HourglassConfig(stacks=1, modules=1, features=16, depth=2, resolution=32)
    net = fbi.FBINet(fbi.FBINetConfig(hourglass=hg, reg_modules=1, reg_blocks=2))
    out = net(torch.rand(2, 3, 32, 32))
    assert out["fbi_logits"].shape == (2, 14, 3) and out["heatmaps"][-1].shape == (2, 17, 8, 8)
    labels = torch.tensor([[0] * 14, [2] * 14])
    loss = fbi.fbi_loss(out["fbi_logits"], labels)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(out["fbi_logits"].reshape(-1, 3),
                                                                           labels.reshape(-1)).item())
    loss.backward()
    assert net.hourglass.stem_fine[0].weight.grad.abs().sum() > 0          # CE reaches the hourglass
    none = fbi.fbi_loss(out["fbi_logits"].detach(), labels, torch.tensor([False, False]))
    assert none.item() == 0.0
    # the config round-trips through a plain dict (an exported file)
    from dataclasses import asdict
    assert fbi.FBINetConfig(**asdict(net.config)) == net.config
