"""Stacked hourglass: shapes, intermediate supervision, targets/decoding, bad input."""
import pytest
import torch

from posecore.data.images import decode_heatmaps, decode_joints
from posecore.models.hourglass import HourglassConfig, StackedHourglass, heatmap_to_image, heatmaps_from_joints


@pytest.mark.parametrize("stacks,modules,features,depth,res", [
    (1, 1, 16, 2, 32), (2, 1, 16, 3, 64), (2, 2, 32, 2, 64), (4, 1, 16, 2, 32)])
def test_shapes_and_intermediate_supervision(stacks, modules, features, depth, res):
    torch.manual_seed(0)
    cfg = HourglassConfig(stacks=stacks, modules=modules, features=features, depth=depth, resolution=res)
    net = StackedHourglass(cfg).eval()
    out = net(torch.rand(2, 3, res, res))
    assert len(out["heatmaps"]) == stacks and len(out["features"]) == stacks
    for h, f in zip(out["heatmaps"], out["features"]):
        assert h.shape == (2, 17, res // 4, res // 4)
        assert f.shape == (2, features, res // 4, res // 4)
    assert out["merged"].shape == (2, features, res // 4, res // 4)


def test_presets():
    assert (HourglassConfig.zhou().stacks, HourglassConfig.zhou().modules) == (2, 2)
    assert (HourglassConfig.yang_ablation().stacks, HourglassConfig.yang_ablation().modules) == (2, 1)
    assert (HourglassConfig.yang_final().stacks, HourglassConfig.yang_final().modules) == (4, 1)
    assert HourglassConfig.zhou().heatmap_resolution == 64


def test_every_stack_gets_gradient():
    torch.manual_seed(0)
    net = StackedHourglass(HourglassConfig(stacks=2, modules=1, features=16, depth=2, resolution=32))
    out = net(torch.rand(2, 3, 32, 32))
    out["heatmaps"][0].sum().backward()        # the first stack's loss alone reaches its head
    assert net.heads[0].weight.grad.abs().sum() > 0
    assert net.heads[1].weight.grad is None


def test_gaussian_target_and_subpixel_decoding():
    j = torch.tensor([[[5.0, 7.0], [10.3, 3.0], [2.0, 12.8]]])
    hm = heatmaps_from_joints(j, 16, sigma=1.0)
    assert hm.shape == (1, 3, 16, 16)
    assert torch.isclose(hm[0, 0, 7, 5], torch.tensor(1.0))
    coords, maxvals = decode_heatmaps(hm, "quarter")           # the hourglass code's refinement
    assert torch.allclose(coords[0, 0], torch.tensor([5.0, 7.0]))
    # sub-pixel: the quarter-pixel shift moves toward the true location
    assert abs(coords[0, 1, 0] - 10.3) < abs(10.0 - 10.3) + 1e-6 and coords[0, 1, 0] == 10.25
    assert coords[0, 2, 1] == 12.75
    # the one decoder to crop pixels: a 64-px crop of these 16-px maps, u = (x + 0.5) * 4 - 0.5
    uv, mv = decode_joints(hm, 64, "quarter")
    assert torch.equal(uv, heatmap_to_image(coords, 64, 16)) and torch.equal(mv, maxvals)
    assert torch.allclose(uv[0, 0], torch.tensor([21.5, 29.5]))
    # invisible joints and joints off the map give empty heatmaps
    hm2 = heatmaps_from_joints(torch.tensor([[[5.0, 5.0], [40.0, 5.0]]]), 16, visible=torch.tensor([[False, True]]))
    assert hm2.abs().sum() == 0


def test_bad_input():
    net = StackedHourglass(HourglassConfig(stacks=1, modules=1, features=16, depth=2, resolution=32))
    with pytest.raises(ValueError, match=r"shape \(B, 3, 32, 32\)"):
        net(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="floating-point"):
        net(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="divisible"):
        HourglassConfig(depth=4, resolution=100)
    with pytest.raises(ValueError, match="NaN"):
        decode_heatmaps(torch.full((1, 17, 8, 8), float("nan")))


@pytest.mark.parametrize("stacks", [1, 2])
def test_fine_heatmaps_at_half_resolution(stacks):
    """heatmap_stride=2: every stack's heatmaps at R / 2, everything else (features, merged) at R / 4,
    and each stack's loss reaches its fine head and the stem's first layer."""
    torch.manual_seed(0)
    cfg = HourglassConfig(stacks=stacks, modules=1, features=16, depth=2, resolution=32, heatmap_stride=2)
    assert cfg.heatmap_resolution == 16
    net = StackedHourglass(cfg)
    out = net(torch.rand(2, 3, 32, 32))
    assert [tuple(h.shape) for h in out["heatmaps"]] == [(2, 17, 16, 16)] * stacks
    assert out["merged"].shape == (2, 16, 8, 8) and out["features"][-1].shape == (2, 16, 8, 8)
    out["heatmaps"][-1].sum().backward()
    assert net.fine_skip[-1].weight.grad.abs().sum() > 0 and net.stem_fine[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="heatmap_stride"):
        HourglassConfig(resolution=32, depth=2, heatmap_stride=3)
