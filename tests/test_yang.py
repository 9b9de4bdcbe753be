"""Yang et al. CVPR'18 networks (posecore.models.yang): the geometric descriptor on a hand-worked
3-joint pose, depth maps, soft-argmax, the discriminator per source subset, gradients, bad input."""
import pytest
import torch

from posecore.models.yang import (DiscriminatorConfig, MultiSourceDiscriminator, depth_maps, generator_config,
                                  geometric_descriptor, soft_argmax)
from posecore.models.zhou import ZhouNet


def test_geometric_descriptor_hand_worked():
    # joints: a (0, 0, 0), b (1, 2, 3), c (-1, 0, 2)
    pose = torch.tensor([[[0.0, 0, 0], [1, 2, 3], [-1, 0, 2]]])
    d = geometric_descriptor(pose)
    assert d.shape == (1, 6, 3, 3)
    # (i=b, j=a): b - a = (1, 2, 3), squares (1, 4, 9)
    assert d[0, :, 1, 0].tolist() == [1, 2, 3, 1, 4, 9]
    # (i=a, j=c): a - c = (1, 0, -2), squares (1, 0, 4)
    assert d[0, :, 0, 2].tolist() == [1, 0, -2, 1, 0, 4]
    assert torch.all(d[0, :, [0, 1, 2], [0, 1, 2]] == 0)                     # zero diagonal
    assert torch.equal(d[0, :3], -d[0, :3].transpose(1, 2))                  # antisymmetric differences
    assert torch.equal(d[0, 3:], d[0, 3:].transpose(1, 2))                   # symmetric squares
    with pytest.raises(ValueError, match=r"\(B, P, 3\)"):
        geometric_descriptor(torch.zeros(1, 3, 2))
    with pytest.raises(ValueError, match="NaN"):
        geometric_descriptor(torch.full((1, 3, 3), float("nan")))


def test_depth_maps_and_soft_argmax():
    hm = torch.zeros(1, 2, 8, 8)
    hm[0, 0, 3, 5] = 1.0
    hm[0, 1, 6, 1] = 2.0
    dm = depth_maps(hm, torch.tensor([[0.5, -2.0]]))
    assert dm[0, 0, 3, 5] == 0.5 and dm[0, 1, 6, 1] == -4.0 and dm.abs().sum() == 4.5
    xy = soft_argmax(hm * 100)                                                 # sharp: the peak
    assert torch.allclose(xy[0], torch.tensor([[5.0, 3.0], [1.0, 6.0]]), atol=1e-3)
    assert torch.allclose(soft_argmax(torch.zeros(1, 1, 5, 5))[0, 0], torch.tensor([2.0, 2.0]))   # flat: centre
    with pytest.raises(ValueError, match="depth_maps"):
        depth_maps(hm, torch.zeros(1, 3))


@pytest.mark.parametrize("sources", [("image", "geo", "maps"), ("image", "maps"), ("image", "geo"), ("geo",),
                                     ("geo", "maps")])
def test_discriminator_shapes_per_source_subset(sources):
    torch.manual_seed(0)
    cfg = DiscriminatorConfig(sources=sources, width=16, resolution=32, heatmap_resolution=8, convs=3)
    D = MultiSourceDiscriminator(cfg)
    B = 3
    inputs = dict(image=torch.rand(B, 3, 32, 32), pose=torch.randn(B, 17, 3), heatmaps=torch.rand(B, 17, 8, 8),
                  depth=torch.randn(B, 17))
    out = D(**inputs)
    assert out.shape == (B,) and torch.isfinite(out).all()
    assert set(D.embed) == set(sources)
    # every source's input moves the logit (each embedding is used)
    for s, key in (("image", "image"), ("geo", "pose"), ("maps", "heatmaps")):
        if s in sources:
            changed = dict(inputs, **{key: torch.rand_like(inputs[key])})         # new values
            assert not torch.allclose(D(**changed), out), s
    missing = {"image": "image", "geo": "pose", "maps": "heatmaps"}[sources[0]]
    with pytest.raises(ValueError, match=sources[0]):
        D(**dict(inputs, **{missing: None}))


def test_discriminator_gradient_reaches_generator_pose():
    torch.manual_seed(0)
    D = MultiSourceDiscriminator(DiscriminatorConfig(width=16, resolution=32, heatmap_resolution=8, convs=3))
    hm = torch.rand(2, 17, 8, 8, requires_grad=True)
    depth = torch.randn(2, 17, requires_grad=True)
    xy = soft_argmax(hm) / 4 - 1                                               # heatmap px -> [-1, 1]
    pose = torch.cat([xy, depth[..., None]], -1)
    D(image=torch.rand(2, 3, 32, 32), pose=pose, heatmaps=hm, depth=depth).sum().backward()
    assert hm.grad.abs().sum() > 0 and depth.grad.abs().sum() > 0


def test_generator_config_and_bad_config():
    cfg = generator_config()
    assert (cfg.hourglass.stacks, cfg.hourglass.modules, cfg.reg_blocks, cfg.reg_modules) == (2, 1, 3, 1)
    net = ZhouNet(generator_config(cfg.hourglass.__class__(stacks=2, modules=1, features=16, depth=2, resolution=32)))
    assert net(torch.rand(2, 3, 32, 32))["depth"].shape == (2, 17)
    with pytest.raises(ValueError, match="sources"):
        DiscriminatorConfig(sources=("image", "pixels"))
    with pytest.raises(ValueError, match="sources"):
        DiscriminatorConfig(sources=())
