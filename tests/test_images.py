"""Tests of the image dataset, heatmap targets and heatmap decoding (posecore.data.images)."""
import numpy as np
import pytest
import torch

from posecore.camera import project
from posecore.data.dataset import PoseSet
from posecore.data.images import (ImageDataset, check_images, collate, crop_to_heatmap, decode_heatmaps,
                                  heatmap_to_crop, heatmaps_from_joints)
from posecore.data.render import demo_poses

K0 = np.array([1145.0, 1145.0, 500.0, 500.0], np.float32)


def poseset(n=8, seed=0, scenes=("lab", "plain", "studio", "outdoor")):
    P = demo_poses(n, seed=seed)
    K = np.tile(K0, (n, 1))
    scene = np.array([scenes[i % len(scenes)] for i in range(n)])
    return PoseSet.create(project(P.astype(np.float64), K), P, K, scene=scene, subject="S1"), P


def test_heatmaps_from_joints_peaks_and_zero_maps():
    j = torch.tensor([[[3.0, 4.0], [7.25, 2.5], [20.0, 3.0], [5.0, 5.0]]])
    vis = torch.tensor([[True, True, True, False]])
    hm = heatmaps_from_joints(j, vis, 16, sigma=1.0)
    assert hm.shape == (1, 4, 16, 16) and hm.dtype == torch.float32
    assert float(hm[0, 0, 4, 3]) == pytest.approx(1.0)
    assert int(hm[0, 0].argmax()) == 4 * 16 + 3
    assert float(hm[0, 0, 4, 4]) == pytest.approx(np.exp(-0.5))
    assert float(hm[0, 2].abs().sum()) == 0.0  # outside the map
    assert float(hm[0, 3].abs().sum()) == 0.0  # not visible


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_decode_recovers_subpixel_positions(sigma):
    g = torch.Generator().manual_seed(0)
    j = 2 + 12 * torch.rand(64, 17, 2, generator=g)
    hm = heatmaps_from_joints(j, None, 16, sigma)
    for method, tol in (("parabola", 0.02), ("quarter", 0.25 + 1e-5)):
        c, m = decode_heatmaps(hm, method)
        err = (c - j).abs()
        assert float(err.max()) <= tol, (method, float(err.max()))
        assert torch.all(m > 0.6)
    c, _ = decode_heatmaps(hm, "argmax")
    assert float((c - j).abs().max()) <= 0.5 + 1e-5
    # borders and flat maps do not break the refinement
    edge = heatmaps_from_joints(torch.tensor([[[0.0, 15.0]]]), None, 16, 1.0)
    c, m = decode_heatmaps(torch.cat([edge, torch.zeros_like(edge)], 1))
    assert torch.allclose(c[0, 0], torch.tensor([0.0, 15.0])) and float(m[0, 1]) == 0.0


def test_coordinate_maps_are_inverse():
    x = torch.randn(5, 17, 2) * 20 + 30
    assert torch.allclose(heatmap_to_crop(crop_to_heatmap(x, 64, 16), 64, 16), x, atol=1e-5)
    assert float(crop_to_heatmap(torch.tensor(-0.5), 64, 16)) == pytest.approx(-0.5)  # edges align


def test_dataset_items_and_batches():
    ps, P = poseset(8)
    ds = ImageDataset(ps, resolution=64, sigma=1.0)
    assert len(ds) == 8 and ds.heatmap_resolution == 16
    it = ds[2]
    shapes = dict(image=(3, 64, 64), heatmaps=(17, 16, 16), joints_2d=(17, 2), joints_visible=(17,),
                  poses_3d=(17, 3), depth=(17,), intrinsics_crop=(4,))
    for k, s in shapes.items():
        assert tuple(it[k].shape) == s, k
    assert it["image"].dtype == torch.float32 and it["heatmaps"].dtype == torch.float32
    assert it["joints_visible"].dtype == torch.bool
    assert it["index"] == 2 and it["scene"] == "studio" and it["has_3d"] is True
    rel = P[2] - P[2, :1]
    assert np.allclose(it["poses_3d"].numpy(), rel, atol=1e-3)
    assert np.allclose(it["depth"].numpy(), rel[:, 2], atol=1e-3)
    check_images(it["image"], 64)
    # the batched path equals collated items
    b = ds.get_batch([0, 2, 5])
    c = collate([ds[0], ds[2], ds[5]])
    assert set(b) == set(c)
    for k in b:
        if isinstance(b[k], torch.Tensor):
            assert torch.equal(b[k], c[k]), k
        else:
            assert list(b[k]) == list(c[k])
    # heatmap peaks decode back to the crop joints
    coords, _ = decode_heatmaps(b["heatmaps"])
    err = (heatmap_to_crop(coords, 64, 16) - b["joints_2d"]).norm(dim=-1)[b["joints_visible"]]
    assert float(err.max()) < 0.25
    zero = ~b["joints_visible"]
    assert float(b["heatmaps"][zero].abs().sum()) == 0.0 if zero.any() else True


def test_hidden_3d_labels_and_render_poses():
    ps, P = poseset(4)
    hidden = ps.hide_3d()
    with pytest.raises(ValueError, match="render_poses_3d"):
        ImageDataset(hidden, 32)
    ds = ImageDataset(hidden, 32, render_poses_3d=P)
    full = ImageDataset(ps, 32)
    b, f = ds.get_batch(range(4)), full.get_batch(range(4))
    assert torch.equal(b["image"], f["image"])  # the same pictures ...
    assert not bool(b["has_3d"].any()) and float(b["poses_3d"].abs().sum()) == 0.0  # ... without 3D labels
    assert float(b["depth"].abs().sum()) == 0.0 and torch.isfinite(b["poses_3d"]).all()
    with pytest.raises(ValueError, match="render_poses_3d"):
        ImageDataset(hidden, 32, render_poses_3d=P[:2])


def test_cache_memory_and_disk_give_identical_images(tmp_path):
    ps, _ = poseset(6)
    ref = ImageDataset(ps, 32).get_batch(range(6))
    for cache in (True, str(tmp_path)):
        ds = ImageDataset(ps, 32, cache=cache)
        a = ds.get_batch([1, 3, 3, 0])
        b = ds.get_batch([1, 3, 3, 0])  # from the cache
        assert torch.equal(a["image"], ref["image"][[1, 3, 3, 0]])
        assert torch.equal(b["image"], a["image"])
        assert torch.equal(b["joints_occluded"], ref["joints_occluded"][[1, 3, 3, 0]])
    again = ImageDataset(ps, 32, cache=str(tmp_path))  # reopens the on-disk cache
    assert again._cache_done[[0, 1, 3]].all() and torch.equal(again[3]["image"], ref["image"][3])


def test_augment_is_deterministic_and_changes_with_epoch():
    ps, _ = poseset(4)
    ds = ImageDataset(ps, 32, augment=True, seed=3)
    a = ds.get_batch(range(4))
    assert torch.equal(a["image"], ds.get_batch(range(4))["image"])
    ds.set_epoch(1)
    b = ds.get_batch(range(4))
    assert not torch.equal(a["intrinsics_crop"], b["intrinsics_crop"])
    plain = ImageDataset(ps, 32, augment=False, seed=3)
    plain.set_epoch(5)
    assert torch.equal(plain.get_batch([1])["image"], ImageDataset(ps, 32, seed=3).get_batch([1])["image"])


def test_errors():
    with pytest.raises(ValueError, match="NaN"):
        decode_heatmaps(torch.full((1, 17, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="floating"):
        decode_heatmaps(torch.zeros(1, 17, 8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\(B, J, h, w\)"):
        decode_heatmaps(torch.zeros(17, 8, 8))
    with pytest.raises(ValueError, match="method"):
        decode_heatmaps(torch.zeros(1, 17, 8, 8), "centroid")
    with pytest.raises(ValueError, match="resolution"):
        check_images(torch.zeros(2, 3, 32, 32), 64)
    with pytest.raises(ValueError, match="float"):
        check_images(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(B, 3, R, R\)"):
        check_images(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_images(torch.full((1, 3, 8, 8), 2.0))
    with pytest.raises(ValueError, match="joints"):
        heatmaps_from_joints(torch.zeros(2, 17, 3), None, 16)
    with pytest.raises(ValueError, match="NaN"):
        heatmaps_from_joints(torch.full((2, 17, 2), float("nan")), None, 16)
    ps, _ = poseset(2)
    with pytest.raises(TypeError):
        ImageDataset({"poses_3d": 1}, 32)
    with pytest.raises(IndexError):
        ImageDataset(ps, 32)[5]
