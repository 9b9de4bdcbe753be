"""Losses of Zhou et al.: heatmap L2, depth L2, the geometric constraint."""
import pytest
import torch

from posecore.losses import depth_loss, geometric_loss, heatmap_loss
from posecore.models.zhou import canonical_bone_lengths
from posecore.skeleton import BONES, NUM_JOINTS


def _pose(seed=0):
    g = torch.Generator().manual_seed(seed)
    # a plausible-ish skeleton: random directions, fixed bone lengths
    lengths = torch.tensor([130., 450, 440, 130, 450, 440, 230, 250, 110, 110, 150, 280, 250, 150, 280, 250])
    pose = torch.zeros(NUM_JOINTS, 3)
    for i, (p, c) in enumerate(BONES):
        d = torch.randn(3, generator=g)
        pose[c] = pose[p] + lengths[i] * d / d.norm()
    return pose, lengths


def test_heatmap_loss_zero_at_target_and_sums_stacks():
    t = torch.rand(2, 17, 8, 8)
    assert heatmap_loss([t.clone(), t.clone()], t) == 0
    p = t + 0.1
    assert torch.isclose(heatmap_loss([p, p], t), 2 * heatmap_loss(p, t))
    with pytest.raises(ValueError, match="NaN"):
        heatmap_loss(torch.full_like(t, float("nan")), t)
    with pytest.raises(ValueError, match="shape"):
        heatmap_loss(torch.rand(2, 17, 4, 4), t)


def test_depth_loss_only_on_labelled():
    pred = torch.zeros(4, 17)
    target = torch.ones(4, 17)
    target[2:] = float("nan")
    has = torch.tensor([True, True, False, False])
    assert torch.isclose(depth_loss(pred, target, has), torch.tensor(2 / 4))


def _project(pose, k=0.1, res=64):
    """Orthographic projection into crop px and the matching normalised depth."""
    xy = pose[:, :2] * k + res / 2
    depth = (pose[:, 2] - pose[0, 2]) * k / (res / 2)
    return xy, depth


def test_geometric_loss_zero_for_canonical_ratios_positive_otherwise():
    pose, lengths = _pose()
    xy, depth = _project(pose)
    canonical = canonical_bone_lengths(pose[None])
    assert torch.allclose(canonical, lengths, atol=1e-3)
    loss0 = geometric_loss(depth[None], xy[None], canonical, 64)
    assert loss0.abs() < 1e-9
    bad = depth.clone()
    bad[13] += 0.3                                       # stretch the left lower arm in depth
    loss1 = geometric_loss(bad[None], xy[None], canonical, 64)
    assert loss1 > 1e-4
    # rows not flagged are ignored; 'none' gives per-sample values
    per = geometric_loss(torch.stack([bad, bad]), torch.stack([xy, xy]), canonical, 64,
                         rows=torch.tensor([True, False]), reduction="none")
    assert per[0] > 0 and per[1] == 0


def test_geometric_loss_no_gradient_to_2d():
    pose, _ = _pose(1)
    xy, depth = _project(pose)
    xy = xy[None].clone().requires_grad_(True)          # e.g. the output of a 2D branch
    d = (depth[None] + 0.05 * torch.randn(1, 17)).requires_grad_(True)
    geometric_loss(d, xy, canonical_bone_lengths(pose[None]), 64).backward()
    assert xy.grad is None
    assert d.grad.abs().sum() > 0


def test_geometric_loss_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        geometric_loss(torch.full((1, 17), float("nan")), torch.zeros(1, 17, 2), torch.ones(16), 64)
    with pytest.raises(ValueError, match="16 values"):
        geometric_loss(torch.zeros(1, 17), torch.zeros(1, 17, 2), torch.ones(5), 64)
