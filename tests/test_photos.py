"""Photo-backed image datasets (posecore.data.photos) on fixture folders of JPEG frames in the layouts of
Human3.6M, MPII and MPI-INF-3DHP (rendered or marker frames; nothing of those datasets)."""
import os
import warnings

import numpy as np
import pytest
import torch

from posecore.camera import project
from posecore.data import photo_fixtures as pf
from posecore.data.dataset import PoseSet
from posecore.data.images import BATCH_KEYS, ImageDataset
from posecore.data.photos import PhotoDataset, frame_to_crop, h36m_photos, mpi3dhp_photos, mpii_photos, read_crop
from posecore.data.render import render_batch, to_crop
from posecore.data.safe_io import DataFormatError
from posecore.skeleton import FLIP_PERMUTATION

LWRI, RWRI = 13, 16
R = 64


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    ps, paths = pf.write_h36m_frames(root)
    return root, ps, paths


def _centroid(img_chw, ch):
    a = img_chw[ch].numpy() * (img_chw[ch].numpy() > 0.5) * (img_chw[(ch + 1) % 3].numpy() < 0.3)
    yy, xx = np.mgrid[:a.shape[0], :a.shape[1]]
    return np.array([(a * xx).sum() / a.sum(), (a * yy).sum() / a.sum()])


def test_h36m_crops_match_rendered_crops_and_image_dataset_items(h36m):
    root, ps, _ = h36m
    ds = _quiet(h36m_photos, root, split="train", subjects=("S1",), stride=5, resolution=R)
    assert len(ds) == len(ps) == 8
    b = ds.get_batch(np.arange(len(ds)))
    ref = ImageDataset(ps, resolution=R).get_batch(np.arange(len(ds)))
    assert set(b) == set(BATCH_KEYS) == set(ref)
    for k in BATCH_KEYS:
        if isinstance(ref[k], torch.Tensor):
            assert b[k].shape == ref[k].shape and b[k].dtype == ref[k].dtype, k
    assert b["image"].min() >= 0 and b["image"].max() <= 1
    # 2D labels: the labels' pixels in the crop, and the crop intrinsics project the 3D onto them
    np.testing.assert_allclose(b["joints_2d"].numpy(), to_crop(ps.poses_2d, ds.boxes, R), atol=1e-3)
    Kc = b["intrinsics_crop"].numpy().astype(np.float64)
    # (within the Human3.6M lens distortion of the labels' 2D: under 1 px of this crop)
    np.testing.assert_allclose(project(ps.poses_3d.astype(np.float64), Kc), b["joints_2d"].numpy(), atol=1.0)
    np.testing.assert_allclose(b["poses_3d"].numpy(), ps.poses_3d - ps.poses_3d[:, :1], atol=1e-3)
    assert b["has_3d"].all() and b["joints_visible"].all() and b["scene"] == ["lab"] * 8
    # pixels: the photo crop (JPEG, decoded at reduced scale, warped) vs the renderer's own crop
    img, aux = render_batch(torch.as_tensor(ps.poses_3d), torch.as_tensor(Kc, dtype=torch.float32), ["lab"] * 8, R,
                            torch.arange(8), return_aux=True)
    body = aux["body"][:, None].expand_as(img)
    inner = body & torch.roll(body, 1, -1) & torch.roll(body, -1, -1) & torch.roll(body, 1, -2) & \
        torch.roll(body, -1, -2)
    err = (b["image"] - img).abs()[inner]
    assert float(err.mean()) < 0.03, float(err.mean())
    # a single item equals the batch row
    it = ds[3]
    assert torch.equal(it["image"], b["image"][3]) and it["index"] == 3 and it["has_3d"] is True


def test_h36m_ffmpeg_names_accepted(tmp_path):
    _, paths = pf.write_h36m_frames(tmp_path, n_frames=1, style="img")
    assert all(os.path.basename(p).startswith("img_000001") for p in map(str, paths))
    ds = _quiet(h36m_photos, tmp_path, split="train", subjects=("S1",), stride=5, resolution=32)
    assert ds.get_batch([0])["image"].shape == (1, 3, 32, 32)


def test_flip_swaps_left_and_right(h36m):
    root, ps, _ = h36m
    plain = _quiet(h36m_photos, root, split="train", subjects=("S1",), stride=5, resolution=R)
    aug = _quiet(h36m_photos, root, split="train", subjects=("S1",), stride=5, resolution=R, augment=True,
                 flip=True, scale_jitter=0.0, shift_jitter=0.0)
    a, f = plain.get_batch(np.arange(8)), aug.get_batch(np.arange(8))
    flipped = [i for i in range(8) if not torch.equal(a["image"][i], f["image"][i])]
    assert 0 < len(flipped) < 8
    perm = list(FLIP_PERMUTATION)
    for i in flipped:
        assert torch.equal(f["image"][i], a["image"][i].flip(-1))
        np.testing.assert_allclose(f["joints_2d"][i, :, 0], R - 1 - a["joints_2d"][i, perm, 0], atol=1e-4)
        np.testing.assert_allclose(f["joints_2d"][i, LWRI],
                                   [R - 1 - a["joints_2d"][i, RWRI, 0], a["joints_2d"][i, RWRI, 1]], atol=1e-4)
        np.testing.assert_allclose(f["poses_3d"][i, :, 0], -a["poses_3d"][i, perm, 0], atol=1e-4)
        np.testing.assert_allclose(f["depth"][i], a["depth"][i, perm], atol=1e-4)
        # the mirrored crop intrinsics project the mirrored 3D onto the mirrored 2D
        X = ps.poses_3d[i].astype(np.float64)[perm] * np.array([-1.0, 1, 1])
        np.testing.assert_allclose(project(X, f["intrinsics_crop"][i].numpy().astype(np.float64)),
                                   f["joints_2d"][i].numpy(), atol=1.0)
        assert torch.equal(f["heatmaps"][i], a["heatmaps"][i].flip(-1)[perm]) or \
            float((f["heatmaps"][i] - a["heatmaps"][i].flip(-1)[perm]).abs().max()) < 1e-5
    aug.set_epoch(1)
    assert not torch.equal(aug.get_batch(np.arange(8))["image"], f["image"])


def test_mpii_photos_boxes_markers_and_flip(tmp_path):
    images = pf.write_mpii_photos(tmp_path)
    ds = _quiet(mpii_photos, tmp_path, "valid", resolution=R)
    first = np.cumsum([0] + [len(p) for p in images])[:-1]   # the first person of each image
    b = ds.get_batch(first)
    assert not b["has_3d"].any() and float(b["poses_3d"].abs().sum()) == 0 and float(b["depth"].abs().sum()) == 0
    np.testing.assert_allclose(b["joints_2d"].numpy(), to_crop(ds.poses.poses_2d[first], ds.boxes[first], R), atol=1e-4)
    assert np.isfinite(ds.head_size_crop(first)).all()
    # the evaluation reads the head boxes through a rendered-image cache too (MPII's PCKh convention)
    from posecore.recipes.images import CachedImages, _head_sizes
    np.testing.assert_allclose(_head_sizes(CachedImages(ds, first), first), ds.head_size_crop(first))
    # MPII's box: centre + 15 scale px down, side 1.25 x 200 x scale
    sc = np.asarray(ds.poses.meta["scale"])[first]
    np.testing.assert_allclose(ds.boxes[first, 2], 250 * sc)
    for k, i in enumerate(first):
        vis = b["joints_visible"][k]
        if vis[LWRI] and vis[RWRI]:
            np.testing.assert_allclose(_centroid(b["image"][k], 0), b["joints_2d"][k, LWRI], atol=0.5)
            np.testing.assert_allclose(_centroid(b["image"][k], 2), b["joints_2d"][k, RWRI], atol=0.5)
    aug = _quiet(mpii_photos, tmp_path, "valid", resolution=R, augment=True, flip=True, rotation=30.0)
    checked = 0
    for epoch in range(4):
        aug.set_epoch(epoch)
        f = aug.get_batch(first)
        for k in range(len(first)):
            if f["joints_visible"][k, LWRI] and f["joints_visible"][k, RWRI]:
                # after a flip the person's right wrist (blue) is the crop's left wrist: colour follows the label
                blue_is_left = np.abs(_centroid(f["image"][k], 2) - f["joints_2d"][k, LWRI].numpy()).max() < 0.7
                red_is_left = np.abs(_centroid(f["image"][k], 0) - f["joints_2d"][k, LWRI].numpy()).max() < 0.7
                assert blue_is_left != red_is_left
                checked += blue_is_left
    assert checked > 0


def test_photos_without_head_boxes_score_pckh_from_the_joints(h36m):
    from posecore.recipes.images import _head_sizes
    ds = _quiet(h36m_photos, h36m[0], split="train", subjects=("S1",), stride=5, resolution=R)
    assert ds.head_size is None and _head_sizes(ds, np.arange(2)) is None


def test_3dhp_photos(tmp_path):
    truth = pf.write_3dhp_photos(tmp_path, ("TS1",), n_frames=3)
    ds = _quiet(mpi3dhp_photos, tmp_path, sequences=("TS1",), resolution=R)
    b = ds.get_batch(np.arange(3))
    assert b["has_3d"].all() and b["scene"] == ["plain"] * 3
    np.testing.assert_allclose(b["joints_2d"].numpy(), to_crop(ds.poses.poses_2d, ds.boxes, R), atol=1e-4)
    np.testing.assert_allclose(b["poses_3d"].numpy(), ds.poses.poses_3d - ds.poses.poses_3d[:, :1], atol=1e-3)
    for k in range(3):
        np.testing.assert_allclose(_centroid(b["image"][k], 0), b["joints_2d"][k, LWRI], atol=0.5)
    a2 = truth["TS1"]["annot2"][:, 7]
    np.testing.assert_allclose(b["joints_2d"][:, LWRI].numpy(), to_crop(a2[:, None], ds.boxes, R)[:, 0], atol=1e-3)
    # frames vs labels: one frame fewer, or one more, than annotated
    seq = tmp_path / "TS1" / "imageSequence"
    extra = seq / "img_000004.jpg"
    extra.write_bytes((seq / "img_000001.jpg").read_bytes())
    with pytest.raises(DataFormatError, match="holds 4 frames but .* labels 3") as e:
        _quiet(mpi3dhp_photos, tmp_path, sequences=("TS1",))
    assert "\n" not in str(e.value)
    extra.unlink()
    (seq / "img_000003.jpg").unlink()
    with pytest.raises(DataFormatError, match="img_000003.jpg: .*holds 2 frames but"):
        _quiet(mpi3dhp_photos, tmp_path, sequences=("TS1",))


def _small_set(tmp_path, n=3, size=200):
    rng = np.random.default_rng(0)
    p2 = 100 + rng.uniform(-40, 40, (n, 17, 2))
    ps = PoseSet.create(p2, None, [500, 500, 100, 100], image_size=[size, size], has_3d=False, scene="plain")
    paths = [pf.save_jpeg(pf.marker_frame((size, size), p2[i, LWRI], p2[i, RWRI], 4), tmp_path / "f" / f"{i}.jpg")
             for i in range(n)]
    return ps, paths


def test_crop_geometry_with_rotation_and_draft(tmp_path):
    pts = np.array([[400.0, 300.0], [610.0, 680.0]])
    path = pf.save_jpeg(pf.marker_frame((1000, 1000), pts[0], pts[1], 12), tmp_path / "m.jpg")
    for res, ang in ((64, 0.0), (64, 25.0), (256, -40.0)):   # 64 px from a 500 px box: decoded at 1/4 scale
        box = [250.0, 250.0, 500.0]
        c = torch.as_tensor(read_crop(path, box, res, ang)).permute(2, 0, 1).float() / 255
        q = frame_to_crop(pts, box, res, ang)
        np.testing.assert_allclose(_centroid(c, 0), q[0], atol=0.3)
        np.testing.assert_allclose(_centroid(c, 2), q[1], atol=0.3)


def test_malformed_folders_give_one_line_errors(tmp_path):
    ps, paths = _small_set(tmp_path)
    PhotoDataset(ps, paths, resolution=32).get_batch([0, 1, 2])
    # a missing frame, named at construction
    os.replace(paths[1], tmp_path / "moved.jpg")
    with pytest.raises(DataFormatError, match=r"1\.jpg: missing image") as e:
        PhotoDataset(ps, paths, resolution=32)
    assert "\n" not in str(e.value)
    os.replace(tmp_path / "moved.jpg", paths[1])
    # a missing folder
    with pytest.raises(DataFormatError, match="missing image .*does not exist"):
        PhotoDataset(ps, [str(tmp_path / "nowhere" / "0.jpg")] * 3, resolution=32)
    # the wrong size
    pf.save_jpeg(np.zeros((120, 100, 3), np.uint8), paths[0])
    with pytest.raises(DataFormatError, match=r"0\.jpg: image is 100x120 px, but the labels' camera is 200x200"):
        PhotoDataset(ps, paths, resolution=32).get_batch([0])
    # a JPEG that does not decode: garbage, and one cut in half
    paths[0].write_bytes(b"not a jpeg at all")
    with pytest.raises(DataFormatError, match=r"0\.jpg: not a readable image"):
        PhotoDataset(ps, paths, resolution=32)[0]
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"2\.jpg: the image does not decode") as e:
        PhotoDataset(ps, paths, resolution=32)[2]
    assert "\n" not in str(e.value)


def test_h36m_missing_frames_named(h36m, tmp_path):
    root, ps, paths = h36m
    with pytest.raises(DataFormatError, match=r"frame_000005\.jpg: missing image"):
        PhotoDataset(ps, [str(p).replace(str(root), str(tmp_path)) if i == 1 else str(p) for i, p in enumerate(paths)])
    with pytest.raises(FileNotFoundError, match="frames_root"):
        _quiet(h36m_photos, tmp_path / "absent", data_root=root, split="train", subjects=("S1",), stride=5)
    # a stride the extraction did not write
    with pytest.raises(DataFormatError, match=r"frame_000001\.jpg: missing image"):
        _quiet(h36m_photos, root, split="train", subjects=("S1",), stride=1)


def test_dataloader_with_workers(h36m):
    root = h36m[0]
    ds = _quiet(h36m_photos, root, split="train", subjects=("S1",), stride=5, resolution=32, augment=True,
                flip=True)
    dl = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=1, collate_fn=ds.collate)
    batches = list(dl)
    assert len(batches) == 2 and batches[0]["image"].shape == (4, 3, 32, 32)
    assert torch.equal(batches[1]["image"], ds.get_batch([4, 5, 6, 7])["image"])


def test_heatmaps_equal_image_dataset_targets(h36m):
    from posecore.data.images import crop_to_heatmap, heatmaps_from_joints
    root = h36m[0]
    ds = _quiet(h36m_photos, root, split="train", subjects=("S1",), stride=5, resolution=R, sigma=1.5)
    b = ds.get_batch(np.arange(8))
    ref = heatmaps_from_joints(crop_to_heatmap(b["joints_2d"], R, R // 4), b["joints_visible"], R // 4, 1.5)
    assert torch.equal(b["heatmaps"], ref)
    assert torch.allclose(b["joints_heatmap"], crop_to_heatmap(b["joints_2d"], R, R // 4))
