"""Tests of the torch body renderer (posecore.data.render)."""
import numpy as np
import pytest
import torch

from posecore.camera import project
from posecore.data.render import (BODY_PARTS, JOINT_PART, PART_NAMES, crop_from_pose, crop_intrinsics, demo_poses,
                                  hash_uniform, render_batch, render_samples, sample_seeds, to_crop)
from posecore.skeleton import FLIP_PERMUTATION

K0 = np.array([1145.0, 1145.0, 500.0, 500.0], np.float32)


def tpose(n=1):
    """Exact frontal T-pose 4 m in front of the camera (camera coordinates, mm)."""
    return np.repeat(demo_poses(1, variation=0.0), n, 0)


def source(P, scene="lab"):
    n = len(P)
    return dict(poses_3d=P, intrinsics=np.tile(K0, (n, 1)),
                scene=np.array([scene] * n if isinstance(scene, str) else scene))


def crop_of(P, R):
    """Centred crop intrinsics for poses P (no jitter)."""
    K = np.tile(K0.astype(np.float64), (len(P), 1))
    boxes = crop_from_pose(project(P.astype(np.float64), K))
    return torch.as_tensor(crop_intrinsics(K, boxes, R), dtype=torch.float32)


def render_aux(P, R=64, scene="lab", light=None, seeds=None):
    P = np.asarray(P, np.float32)
    seeds = torch.arange(len(P)) if seeds is None else seeds
    return render_batch(torch.as_tensor(P), crop_of(P, R), [scene] * len(P), R, seeds, light=light,
                        occluder_prob=0.0, return_aux=True)


def test_tpose_geometry_is_sane():
    P = tpose()[0]
    assert P[:, 2].min() > 3000 and np.allclose(P[4, 0], -P[1, 0])  # left hip at +x (camera right)
    assert P[10, 1] < P[0, 1] < P[3, 1]  # head above pelvis above ankles (y down)


def test_projection_consistency_with_crop_transform():
    P = demo_poses(12, seed=3)
    out = render_samples(source(P, ["lab", "plain", "studio", "outdoor"] * 3), None, 64, seed=1,
                         scale_jitter=0.2, shift_jitter=0.1)
    j2 = out["joints_2d"].double().numpy()
    Kc = out["intrinsics_crop"].double().numpy()
    # the returned joints are the projection with the crop intrinsics ...
    assert np.abs(j2 - project(P.astype(np.float64), Kc)).max() < 0.5
    # ... and the crop transform of the projection into the original image
    orig = project(P.astype(np.float64), np.tile(K0.astype(np.float64), (len(P), 1)))
    assert np.abs(j2 - to_crop(orig, out["boxes"].double().numpy(), 64)).max() < 0.5
    assert out["images"].shape == (12, 3, 64, 64) and out["images"].dtype == torch.float32
    assert 0.0 <= float(out["images"].min()) and float(out["images"].max()) <= 1.0


@pytest.mark.parametrize("R", [64, 128])
def test_every_joint_pixel_is_on_the_body(R):
    P = tpose()
    img, aux = render_aux(P, R)
    j = project(torch.as_tensor(P), crop_of(P, R))[0].round().long()
    part = aux["part"][0, j[:, 1], j[:, 0]]
    assert (part >= 0).all(), f"joints on background: {(part < 0).nonzero().flatten().tolist()}"
    assert aux["body"][0].float().mean() > 0.08  # a person, not a speck
    # the frontal T-pose: the wrists and elbows lie on their own limbs
    for jj in (12, 13, 15, 16):
        assert int(part[jj]) in (JOINT_PART[jj], PART_NAMES.index(PART_NAMES[JOINT_PART[jj]].replace(
            "lower_arm", "hand"))), (jj, PART_NAMES[int(part[jj])])


def test_depth_buffer_nearest_surface_wins():
    base = tpose()[0].astype(np.float64)
    y_sp, z_sp = base[7, 1], base[7, 2]
    R = 96
    res = {}
    for name, dz in (("front", -350.0), ("behind", +350.0)):
        P = base.copy()
        # right forearm horizontally across the chest at spine height, in front of / behind the torso
        P[15] = [base[14, 0], y_sp, z_sp + dz]
        P[16] = [base[11, 0], y_sp, z_sp + dz]
        Pt = P[None].astype(np.float32)
        _, aux = render_aux(Pt, R)
        mid = 0.5 * (P[15] + P[16])
        u, v = project(torch.as_tensor(mid[None, None], dtype=torch.float32), crop_of(Pt, R))[0, 0].round().long()
        res[name] = PART_NAMES[int(aux["part"][0, v, u])]
        res[name + "_depth"] = float(aux["depth"][0, v, u])
    assert res["front"] == "right_lower_arm"
    assert res["behind"].startswith("torso")
    assert res["front_depth"] < z_sp - 300 < z_sp < res["behind_depth"] + 200


def test_deterministic_per_index_regardless_of_batch():
    P = demo_poses(10, seed=5)
    src = source(P, ["plain", "studio", "outdoor", "lab", "studio"] * 2)
    a = render_samples(src, np.arange(10), 64, seed=7, scale_jitter=0.2, shift_jitter=0.1)
    b = render_samples(src, [6, 2, 2, 9], 64, seed=7, scale_jitter=0.2, shift_jitter=0.1, chunk_pixels=64 * 64)
    for k, i in enumerate([6, 2, 2, 9]):
        assert torch.equal(a["images"][i], b["images"][k])
        assert torch.equal(a["joints_2d"][i], b["joints_2d"][k])
    c = render_samples(src, [6], 64, seed=8, scale_jitter=0.2, shift_jitter=0.1)
    assert not torch.equal(a["images"][6], c["images"][0])
    u = hash_uniform(sample_seeds(3, [4, 1]), 2, 5)
    assert torch.equal(u[0], hash_uniform(sample_seeds(3, [0, 4]), 2, 5)[1])
    assert 0 <= float(u.min()) and float(u.max()) < 1


def test_left_right_colour_symmetry():
    # the frontal T-pose, lit from the camera, is mirror-symmetric: no colour tells left from right
    P = tpose(3)
    for scene in ("lab", "plain", "outdoor"):
        img, aux = render_aux(P, 64, scene=scene, light=torch.tensor([0.0, 0.0, -1.0]), seeds=torch.tensor([1, 2, 3]))
        body = aux["body"] & aux["body"].flip(-1)
        assert body.float().mean() > 0.05
        diff = (img - img.flip(-1)).abs().amax(1)[body]
        assert float(diff.quantile(0.97)) < 0.02, scene
    # part labels mirror into their left/right counterparts
    part = aux["part"][0]
    name = {i: n for i, n in enumerate(PART_NAMES)}
    swap = {i: PART_NAMES.index(n.replace("left", "@").replace("right", "left").replace("@", "right"))
            for i, n in name.items()}
    mirrored = part.flip(-1)
    both = (part >= 0) & (mirrored >= 0)
    ok = torch.tensor([swap[int(a)] == int(b) for a, b in zip(part[both], mirrored[both])])
    assert ok.float().mean() > 0.95
    # materials: every left part has the material of its right counterpart
    for i, p in enumerate(BODY_PARTS):
        assert BODY_PARTS[swap[i]][4] == p[4]
    assert FLIP_PERMUTATION[11] == 14


def test_lab_and_wild_styles_differ():
    P = tpose(4)
    lab = render_samples(source(P, "lab"), None, 64, seed=0)["images"]
    # lab: fixed background and light; only the outfit varies
    corner = lab[:, :, :6, :6]
    assert torch.allclose(corner, corner[:1].expand_as(corner), atol=1e-6)
    for scene in ("plain", "studio", "outdoor"):
        wild = render_samples(source(P, scene), None, 64, seed=0, truncation_prob=0.0, occluder_prob=0.0)["images"]
        assert (wild - lab).abs().mean() > 0.05, scene
        # wild samples differ from each other in background as well
        assert (wild[0, :, :6, :6] - wild[1, :, :6, :6]).abs().mean() > 1e-3 or \
            (wild[0] - wild[1]).abs().mean() > 0.03
    # wild augmentation: occluders and truncation appear with their probabilities
    many = demo_poses(40, seed=2)
    out = render_samples(source(many, "studio"), None, 32, seed=3)
    assert 0 < int((~out["visible"]).any(1).sum()) < 40  # some truncated
    lab_out = render_samples(source(many, "lab"), None, 32, seed=3)
    assert bool(lab_out["visible"].all())  # no truncation in the lab
    Pt = torch.as_tensor(many)
    for scene, expect in (("lab", False), ("outdoor", True)):
        _, aux = render_batch(Pt, crop_of(many, 32), [scene] * 40, 32, torch.arange(40), return_aux=True)
        assert bool(aux["occluder"].any()) == expect, scene  # occluders only in the wild


def test_hidden_3d_requires_render_poses():
    from posecore.data.dataset import PoseSet
    P = demo_poses(3, seed=0)
    K = np.tile(K0, (3, 1))
    ps = PoseSet.create(project(P.astype(np.float64), K), P, K, scene="lab").hide_3d()
    with pytest.raises(ValueError, match="hidden"):
        render_samples(ps, None, 32)
    out = render_samples(ps, None, 32, render_poses_3d=P)
    assert out["images"].shape == (3, 3, 32, 32)


def test_bad_inputs_raise_clear_errors():
    P = torch.as_tensor(tpose(2))
    K = crop_of(tpose(2), 32)
    s = torch.arange(2)
    with pytest.raises(ValueError, match=r"\(B, 17, 3\)"):
        render_batch(P[:, :16], K, ["lab"] * 2, 32, s)
    bad = P.clone()
    bad[0, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        render_batch(bad, K, ["lab"] * 2, 32, s)
    behind = P.clone()
    behind[1, 5, 2] = -10.0
    with pytest.raises(ValueError, match="behind the camera"):
        render_batch(behind, K, ["lab"] * 2, 32, s)
    with pytest.raises(ValueError, match="intrinsics"):
        render_batch(P, K[:1], ["lab"] * 2, 32, s)
    with pytest.raises(ValueError, match="unknown scene"):
        render_batch(P, K, ["lab", "moon"], 32, s)
    with pytest.raises(ValueError, match="seeds"):
        render_batch(P, K, ["lab"] * 2, 32, s.float())
    with pytest.raises(ValueError, match="resolution"):
        render_batch(P, K, ["lab"] * 2, 4, s)
    with pytest.raises(ValueError, match="poses_2d"):
        crop_from_pose(np.zeros((2, 17, 3)))
    with pytest.raises(ValueError, match="rng"):
        crop_from_pose(np.zeros((2, 17, 2)), scale_jitter=0.1)
    with pytest.raises(IndexError):
        render_samples(source(tpose(2)), [5], 32)


def test_crop_jitter_and_truncation():
    P = tpose(50)
    p2 = project(P.astype(np.float64), np.tile(K0.astype(np.float64), (50, 1)))
    base = crop_from_pose(p2)
    jit = crop_from_pose(p2, 0.2, 0.1, np.random.default_rng(0))
    assert np.allclose(base[:, 2], base[0, 2]) and base[0, 2] > 0
    assert np.all(np.abs(jit[:, 2] / base[:, 2] - 1) <= 0.2 + 1e-9)
    tr = crop_from_pose(p2, truncate=np.ones(50, bool), rng=np.random.default_rng(1))
    shift = np.linalg.norm((tr[:, :2] - base[:, :2]), axis=1) / base[:, 2]
    assert np.all((shift >= 0.25 - 1e-9) & (shift <= 0.45 + 1e-9))


# --- renderer VERSION 2: facing cues, head boxes -----------------------------------------------------
def _frontal(n=2, yaw_back=False):
    from posecore.camera import project
    from posecore.data.render import crop_from_pose, crop_intrinsics, demo_poses
    P = demo_poses(n, seed=0, variation=0.0)                     # frontal T-poses facing the camera
    if yaw_back:                                                 # turn them around (about the body's vertical axis)
        c = P.mean(1, keepdims=True)
        P = (P - c) * np.array([-1.0, 1.0, -1.0], np.float32) + c
    K = np.tile([1000.0, 1000.0, 500.0, 500.0], (n, 1))
    boxes = crop_from_pose(project(P.astype(np.float64), K))
    return P, crop_intrinsics(K, boxes, 96)


def test_cues_off_draws_version_1_bit_for_bit():
    """``cues=False`` is the VERSION 1 renderer: these sums were taken from its code before VERSION 2."""
    from posecore.camera import project
    from posecore.data.render import crop_from_pose, crop_intrinsics, demo_poses, render_batch, sample_seeds
    P = demo_poses(8, seed=3)
    K = np.tile([1000.0, 1000.0, 500.0, 500.0], (8, 1))
    Kc = crop_intrinsics(K, crop_from_pose(project(P.astype(np.float64), K)), 64)
    img = render_batch(torch.tensor(P), torch.tensor(Kc, dtype=torch.float32), ["lab", "plain", "studio", "outdoor"] * 2,
                       64, sample_seeds(5, range(8)), cues=False)
    q = torch.round(img * 255).to(torch.int64)
    assert (int(q.sum()), int((q * torch.arange(64)).sum())) == (9925070, 312354980)
    assert not torch.equal(img, render_batch(torch.tensor(P), torch.tensor(Kc, dtype=torch.float32),
                                             ["lab", "plain", "studio", "outdoor"] * 2, 64, sample_seeds(5, range(8))))


def test_facing_is_the_chest_towards_the_camera():
    from posecore.data.render import facing
    front, _ = _frontal()
    back, _ = _frontal(yaw_back=True)
    assert (facing(front) > 0.95).all() and (facing(back) < -0.95).all()


def test_the_front_and_back_of_a_body_differ_where_the_cues_are():
    """A body facing the camera shows the shirt's print on the torso and a face under the hair; seen
    from behind, the torso is the plain shirt and the head is hair."""
    from posecore.data.render import BODY_PARTS, PART_NAMES, SHIRT_FRONT, render_batch
    torso, head = PART_NAMES.index("torso"), PART_NAMES.index("head")
    out = {}
    for back in (False, True):
        P, Kc = _frontal(yaw_back=back)
        for cues in (False, True):
            img, aux = render_batch(torch.tensor(P), torch.tensor(Kc, dtype=torch.float32), ["lab", "lab"], 96,
                                    torch.tensor([7, 9]), return_aux=True, cues=cues)
            out[back, cues] = (img, aux["part"])

    def mean_colour(key, part):
        img, parts = out[key]
        m = torch.isin(parts[0], torch.tensor(part if isinstance(part, tuple) else (part,)))
        assert m.sum() > 10
        return img[0][:, m].mean(1)
    # without cues front and back torsos are the same cloth; with cues the front differs (the print)
    assert (mean_colour((False, True), torso) - mean_colour((True, True), torso)).abs().max() > 0.15
    assert (mean_colour((False, False), torso) - mean_colour((True, False), torso)).abs().max() < 0.08
    # the head: a face in front (skin), hair behind
    hair = PART_NAMES.index("hair")
    assert (mean_colour((False, True), (head, hair)) - mean_colour((True, True), (head, hair))).abs().max() > 0.07
    assert SHIRT_FRONT == 6 and BODY_PARTS[torso][4] != SHIRT_FRONT


def test_head_boxes_hold_the_head_and_give_mpii_head_sizes():
    from posecore.camera import project
    from posecore.data.render import head_boxes, head_sizes, render_batch
    P, Kc = _frontal()
    box = head_boxes(P, Kc)
    j = project(P.astype(np.float64), Kc)
    for k in (9, 10):                                       # the head's joints lie inside its box
        assert ((j[:, k, 0] > box[:, 0]) & (j[:, k, 0] < box[:, 2]) & (j[:, k, 1] > box[:, 1]) & (j[:, k, 1] < box[:, 3])).all()
    h = head_sizes(P, Kc)
    assert np.allclose(h, 0.6 * np.hypot(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]))
    # the box is tight around the drawn head and hair: every head pixel lies inside it
    img, aux = render_batch(torch.tensor(P), torch.tensor(Kc, dtype=torch.float32), ["lab", "lab"], 96,
                            torch.tensor([1, 2]), return_aux=True)
    from posecore.data.render import PART_NAMES
    ys, xs = np.nonzero(np.isin(aux["part"][0].numpy(), [PART_NAMES.index("head"), PART_NAMES.index("hair")]))
    assert xs.min() >= box[0, 0] - 0.5 and xs.max() <= box[0, 2] + 0.5
    assert ys.min() >= box[0, 1] - 0.5 and ys.max() <= box[0, 3] + 0.5
    assert xs.max() - xs.min() > 0.7 * (box[0, 2] - box[0, 0])   # and tight
