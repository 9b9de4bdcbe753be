"""A small, fast image renderer for 3D human poses, written in torch (CPU or CUDA, batched).

A body is a set of 20 capsules (sphere-swept line segments) built from the 17 H36M joints: torso
(three capsules), shoulder and hip bars, neck, head, hair, upper/lower arms, hands, thighs, shins and
feet. Every pixel casts a perspective ray through the (crop) intrinsics and intersects the capsules
analytically (ray / infinite cylinder, then ray / end sphere, as in I. Quilez's capsule intersector);
the nearest surface wins (a per-pixel depth buffer), and the hit point's normal gives Lambertian
shading. Each part is only evaluated inside its exact screen-space bounding box (the tangent planes
of its end spheres), so the work per part is a window, not the whole image.

Conventions
-----------
* Points are in camera coordinates, mm (x right, y down, z depth); ``z > 0``.
* Pixel coordinates: **integer coordinates are pixel centres** (pixel ``j`` covers ``[j-0.5, j+0.5)``),
  which is the convention of :func:`posecore.camera.project`. The ray of pixel ``(i, j)`` (row, col)
  goes through ``u = j, v = i``. A crop box ``(x0, y0, size)`` of the original image maps onto the
  pixel *edges* ``[-0.5, R-0.5]`` of an ``R x R`` crop: ``u_crop = (u - x0) * R / size - 0.5``
  (:func:`crop_intrinsics` adjusts ``fx, fy, cx, cy`` accordingly, so ``project(X, K_crop)`` gives crop
  pixels directly).
* Styles are deterministic functions of a per-sample int64 seed (counter-based hashing, identical on
  CPU and CUDA and independent of the batch a sample is rendered in). :func:`render_samples` uses the
  seed ``(seed << 32) | index``.
* ``scene`` selects the style: ``'lab'`` (or ``''``): plain grey studio wall, fixed light, clothing
  from a small fixed palette, no occluders or truncation. In-the-wild: ``'plain'`` (single-colour,
  mostly green-screen backdrop), ``'studio'`` (cluttered indoor: wall, floor and furniture-like
  rectangles), ``'outdoor'`` (sky, textured ground plane in perspective, bushes); random clothing,
  light direction / intensity / colour, photometric jitter, occluders (rectangles / ellipses in
  front of the body) and, in :func:`render_samples`, truncated crops.

Left and right limbs share materials (shirt, sleeves, trousers, shoes): no colour cue tells left
from right. What tells the body's front from its back (``cues=True``, the default since VERSION 2) is
what a photograph has: a face (the skin front of the head framed by hair that covers its back and
top), a shirt whose front carries a contrasting print panel, shoes whose colour differs from the
trousers, and in the lab a light that is not tied to the camera (its direction varies per sample, as
a room light seen from several cameras). A surface point's side is read from its normal against the
torso's forward direction and the head's axis, so the cue follows the body exactly (mirroring the
image mirrors the cue). ``cues=False`` draws the VERSION 1 bodies (featureless skin head, plain
shirt, dark lab shoes, camera-fixed lab light) bit for bit: the facing probe compares both.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..camera import project
from ..skeleton import NUM_JOINTS

# The renderer's behaviour version: part of the key of everything trained on or cached from its images
# (posecore.artefacts). Bump it whenever a pixel it draws changes (body model, styles, light, scenes).
VERSION = 2

SCENES = ("lab", "plain", "studio", "outdoor")
WILD_SCENES = ("plain", "studio", "outdoor")
_SCENE_CODE = {"": 0, "lab": 0, "plain": 1, "studio": 2, "outdoor": 3}

# --- body model ---------------------------------------------------------------------------------
# materials
SHIRT, TROUSERS, SKIN, SHOES, HAIR, SLEEVE, SHIRT_FRONT = range(7)
NUM_MATERIALS = 7
# derived points appended after the 17 joints (see _body_points)
_TORSO_LOW, _SIDE_L_LOW, _SIDE_L_TOP, _SIDE_R_LOW, _SIDE_R_TOP = 17, 18, 19, 20, 21
_HEAD_LOW, _HEAD_TOP, _HAIR, _HAND_L, _HAND_R = 22, 23, 24, 25, 26
_HEEL_L, _TOE_L, _HEEL_R, _TOE_R = 27, 28, 29, 30
# (name, point a, point b, radius mm, material); radii from adult proportions
BODY_PARTS = (
    ("torso", _TORSO_LOW, 8, 105.0, SHIRT),
    ("torso_left", _SIDE_L_LOW, _SIDE_L_TOP, 74.0, SHIRT),
    ("torso_right", _SIDE_R_LOW, _SIDE_R_TOP, 74.0, SHIRT),
    ("shoulders", 11, 14, 52.0, SHIRT),
    ("hips", 1, 4, 82.0, TROUSERS),
    ("neck", 8, 9, 45.0, SKIN),
    ("head", _HEAD_LOW, _HEAD_TOP, 80.0, SKIN),
    ("hair", _HAIR, _HAIR, 80.0, HAIR),
    ("left_upper_arm", 11, 12, 45.0, SHIRT),
    ("right_upper_arm", 14, 15, 45.0, SHIRT),
    ("left_lower_arm", 12, 13, 37.0, SLEEVE),
    ("right_lower_arm", 15, 16, 37.0, SLEEVE),
    ("left_hand", 13, _HAND_L, 34.0, SKIN),
    ("right_hand", 16, _HAND_R, 34.0, SKIN),
    ("left_thigh", 4, 5, 70.0, TROUSERS),
    ("right_thigh", 1, 2, 70.0, TROUSERS),
    ("left_shin", 5, 6, 50.0, TROUSERS),
    ("right_shin", 2, 3, 50.0, TROUSERS),
    ("left_foot", _HEEL_L, _TOE_L, 42.0, SHOES),
    ("right_foot", _HEEL_R, _TOE_R, 42.0, SHOES),
)
PART_NAMES = tuple(p[0] for p in BODY_PARTS)
NUM_PARTS = len(BODY_PARTS)
# the part each joint lies on (used by tests and for per-joint queries)
JOINT_PART = (4, 4, 15, 17, 4, 14, 16, 0, 0, 6, 6, 8, 8, 10, 9, 9, 11)
# facing cues (cues=True): a part's second material, drawn where its surface normal n meets a rule on
# n.fwd (torso forward) and n.up (the head's axis): part index -> (material, rule)
#   'front': n.fwd > 0.4 -- the shirt's print panel on the chest;
#   'hair':  n.fwd < 0.15 or n.up > 0.5 -- hair over the back and top of the head, the face in front
_ALT = {PART_NAMES.index("torso"): (SHIRT_FRONT, "front"), PART_NAMES.index("head"): (HAIR, "hair")}

# lab clothing palette (RGB in [0, 1]): a few plain H36M-like outfits
_LAB_SHIRTS = ((0.20, 0.22, 0.30), (0.55, 0.12, 0.12), (0.75, 0.75, 0.72), (0.15, 0.35, 0.20))
_LAB_TROUSERS = ((0.12, 0.12, 0.14), (0.22, 0.25, 0.40), (0.35, 0.30, 0.25))
_SKINS = ((0.96, 0.80, 0.69), (0.89, 0.67, 0.55), (0.78, 0.57, 0.44), (0.60, 0.42, 0.30),
          (0.45, 0.31, 0.22), (0.33, 0.22, 0.15))
_HAIRS = ((0.08, 0.06, 0.05), (0.25, 0.16, 0.09), (0.45, 0.33, 0.18), (0.78, 0.66, 0.42),
          (0.55, 0.55, 0.55))
# hair with cues=True: colours that stand apart from every skin tone (mostly dark, some blond / grey)
_HAIRS_CUES = ((0.05, 0.04, 0.03), (0.10, 0.07, 0.05), (0.20, 0.12, 0.06), (0.06, 0.05, 0.05),
               (0.80, 0.68, 0.40), (0.72, 0.72, 0.72))
_LAB_LIGHT = (-0.35, -0.55, -0.76)  # towards the light: upper left, in front of the subject (cues=False)
# lab shoes (cues=True): trainers and leather, none the grey of a lab trouser
_LAB_SHOES = ((0.86, 0.86, 0.82), (0.50, 0.30, 0.16), (0.70, 0.18, 0.14), (0.85, 0.72, 0.50))

# --- counter-based hashing RNG (torch, exact integer arithmetic, no int64 overflow) --------------
_M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2^32 for int64 tensors holding 32-bit values, without int64 overflow."""
    return ((x & 0xFFFF) * c + ((((x >> 16) * c) & 0xFFFF) << 16)) & _M32


def _fmix32(x: torch.Tensor) -> torch.Tensor:
    """MurmurHash3's 32-bit finaliser (a bijection with full avalanche)."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x85EBCA6B)
    x = x ^ (x >> 13)
    x = _mul32(x, 0xC2B2AE35)
    return x ^ (x >> 16)


def hash_uniform(seeds: torch.Tensor, stream: int, n: int) -> torch.Tensor:
    """(B,) int64 seeds -> (B, n) float32 uniforms in [0, 1): a pure function of (seed, stream,
    column), the same on every device and in every batch."""
    seeds = seeds.to(torch.int64)
    lo, hi = seeds & _M32, (seeds >> 32) & _M32
    s = _fmix32(torch.tensor((stream * 0x9E3779B1 + 0x7F4A7C15) & _M32, dtype=torch.int64,
                             device=seeds.device))
    h = _fmix32(lo ^ _fmix32(hi ^ s))
    ctr = torch.arange(n, dtype=torch.int64, device=seeds.device)
    v = _fmix32(_fmix32(h[:, None] ^ ctr) ^ s)
    return (v >> 8).to(torch.float32) * (1.0 / 16777216.0)


def sample_seeds(seed: int, indices) -> torch.Tensor:
    """The per-sample seeds of :func:`render_samples`: ``(seed << 32) | index`` as int64."""
    idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
    if (idx < 0).any() or (idx >= 2 ** 32).any():
        raise ValueError("sample indices must be in [0, 2^32)")
    return ((int(seed) & 0x7FFFFFFF) << 32) | idx


# streams
_S_STYLE, _S_CLOTH, _S_BG, _S_TEX, _S_TEX2, _S_OCC, _S_CROP, _S_CUE = 1, 2, 3, 4, 5, 6, 7, 8


# --- crops --------------------------------------------------------------------------------------
def crop_from_pose(poses_2d, scale_jitter: float = 0.0, shift_jitter: float = 0.0, rng=None, *,
                   margin: float = 1.25, truncate=None, truncation: tuple = (0.25, 0.45),
                   min_size: float = 8.0) -> np.ndarray:
    """Square person-centred crop boxes around 2D poses.

    ``poses_2d`` (B, 17, 2) px (numpy or torch). The box is centred on the 2D bounding box of the
    joints and has side ``margin * max(width, height)`` (at least ``min_size``). Jitter: side times
    ``1 + scale_jitter * (2u - 1)``, centre shifted by ``shift_jitter * side * (2u - 1)`` per axis.
    ``truncate`` (B,) bool: those boxes are additionally shifted by ``truncation[0]..[1]`` of their side
    in a random direction, so that part of the body leaves the crop. ``rng``: a
    ``np.random.Generator`` / int seed, or an array (B, 5) of uniforms in [0, 1) (scale, shift x,
    shift y, truncation angle, truncation amount); None means no randomness (jitters must be 0).
    Returns (B, 3) float64 boxes ``[x0, y0, side]`` in the pixels of ``poses_2d``."""
    p = np.asarray(poses_2d.detach().cpu() if hasattr(poses_2d, "detach") else poses_2d, np.float64)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"crop_from_pose: poses_2d must be (B, 17, 2), got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("crop_from_pose: poses_2d contains NaN/inf")
    b = len(p)
    trunc = np.zeros(b, bool) if truncate is None else np.asarray(truncate, bool).reshape(b)
    if rng is None:
        if scale_jitter or shift_jitter or trunc.any():
            raise ValueError("crop_from_pose: jitter/truncation requested but rng is None")
        u = np.full((b, 5), 0.5)
    elif isinstance(rng, (np.ndarray, torch.Tensor)):
        u = np.asarray(rng.cpu() if hasattr(rng, "cpu") else rng, np.float64)
        if u.shape != (b, 5):
            raise ValueError(f"crop_from_pose: uniforms must be (B, 5) = ({b}, 5), got {u.shape}")
    else:
        u = np.random.default_rng(rng).random((b, 5))
    lo, hi = p.min(1), p.max(1)
    centre = 0.5 * (lo + hi)
    side = np.maximum((hi - lo).max(1) * margin, min_size)
    side = side * (1.0 + scale_jitter * (2 * u[:, 0] - 1))
    centre = centre + shift_jitter * side[:, None] * (2 * u[:, 1:3] - 1)
    ang = 2 * np.pi * u[:, 3]
    amount = truncation[0] + (truncation[1] - truncation[0]) * u[:, 4]
    shift = np.stack([np.cos(ang), np.sin(ang)], 1) * (amount * side)[:, None]
    centre = centre + np.where(trunc[:, None], shift, 0.0)
    return np.concatenate([centre - side[:, None] / 2, side[:, None]], 1)


def crop_intrinsics(intrinsics, boxes, resolution: int):
    """Intrinsics (B, 4) of the original image -> intrinsics of the ``resolution``-px crops of
    ``boxes`` (B, 3) ``[x0, y0, side]`` (numpy in, numpy out; torch in, torch out)."""
    xp_t = isinstance(intrinsics, torch.Tensor)
    K = np.asarray(intrinsics.detach().cpu() if xp_t else intrinsics, np.float64)
    bx = np.asarray(boxes.detach().cpu() if hasattr(boxes, "detach") else boxes, np.float64)
    s = resolution / bx[:, 2]
    out = np.stack([K[:, 0] * s, K[:, 1] * s, (K[:, 2] - bx[:, 0]) * s - 0.5,
                    (K[:, 3] - bx[:, 1]) * s - 0.5], 1)
    return torch.as_tensor(out, dtype=intrinsics.dtype, device=intrinsics.device) if xp_t else out


def to_crop(points_2d, boxes, resolution: int):
    """(B, J, 2) original px -> crop px of ``boxes`` (B, 3) (numpy)."""
    p = np.asarray(points_2d, np.float64)
    bx = np.asarray(boxes, np.float64)
    s = (resolution / bx[:, 2])[:, None, None]
    return (p - bx[:, None, :2]) * s - 0.5


# --- validation ---------------------------------------------------------------------------------
def _check_inputs(poses_3d, intrinsics, scene, resolution, seeds):
    if not isinstance(poses_3d, torch.Tensor):
        raise TypeError(f"poses_3d must be a torch.Tensor, got {type(poses_3d).__name__}")
    if poses_3d.ndim != 3 or tuple(poses_3d.shape[1:]) != (NUM_JOINTS, 3):
        raise ValueError(f"poses_3d must be (B, 17, 3) mm camera coordinates, got {tuple(poses_3d.shape)}")
    b = poses_3d.shape[0]
    if not isinstance(intrinsics, torch.Tensor) or tuple(intrinsics.shape) != (b, 4):
        raise ValueError(f"intrinsics must be a (B, 4) = ({b}, 4) tensor [fx, fy, cx, cy], got "
                         f"{tuple(getattr(intrinsics, 'shape', ()))}")
    if not torch.isfinite(poses_3d).all():
        raise ValueError(f"poses_3d contains {int((~torch.isfinite(poses_3d)).sum())} NaN/inf values")
    if not torch.isfinite(intrinsics).all():
        raise ValueError("intrinsics contains NaN/inf values")
    if (intrinsics[:, :2] <= 0).any():
        raise ValueError("intrinsics: focal lengths fx, fy must be > 0")
    bad = poses_3d[..., 2] <= 0
    if bad.any():
        i, j = (int(v) for v in bad.nonzero()[0])
        raise ValueError(f"poses_3d: {int(bad.sum())} joints at or behind the camera (z <= 0), e.g. "
                         f"sample {i} joint {j} z={float(poses_3d[i, j, 2]):.1f} mm")
    if isinstance(scene, str) or len(scene) != b:
        raise ValueError(f"scene must be a list of {b} strings, got {scene!r:.80}")
    unknown = sorted({str(s) for s in scene} - set(_SCENE_CODE))
    if unknown:
        raise ValueError(f"unknown scene kinds {unknown}; choose from {SCENES}")
    if not isinstance(resolution, (int, np.integer)) or resolution < 8:
        raise ValueError(f"resolution must be an int >= 8, got {resolution!r}")
    if not isinstance(seeds, torch.Tensor) or tuple(seeds.shape) != (b,) or seeds.is_floating_point():
        raise ValueError(f"seeds must be a (B,) = ({b},) integer tensor, got "
                         f"{getattr(seeds, 'dtype', type(seeds).__name__)} {tuple(getattr(seeds, 'shape', ()))}")


# --- geometry -----------------------------------------------------------------------------------
def _unit(v, eps=1e-6):
    return v / v.norm(dim=-1, keepdim=True).clamp_min(eps)


def body_frame(P: torch.Tensor):
    """(B, 17, 3) joints -> unit vectors (B, 3) ``right`` (the body's right: right hip/shoulder minus
    left), ``up`` (pelvis to thorax), ``fwd`` (the torso's forward: up x right, where the chest faces)
    and ``head_up`` (joint 9 to joint 10, the head's axis)."""
    right = _unit(P[:, 1] - P[:, 4] + P[:, 14] - P[:, 11])
    up = _unit(P[:, 8] - P[:, 0])
    fwd = _unit(torch.linalg.cross(up, right))
    return right, up, fwd, _unit(P[:, 10] - P[:, 9])


def facing(poses_3d) -> np.ndarray:
    """(N, 17, 3) camera-coordinate poses (mm) -> (N,) cosine between the torso's forward direction and
    the direction from the torso to the camera: > 0 the chest faces the camera, < 0 the back does."""
    P = torch.as_tensor(np.asarray(poses_3d, np.float32))
    _, _, fwd, _ = body_frame(P)
    to_cam = _unit(-0.5 * (P[:, 0] + P[:, 8]))
    return (fwd * to_cam).sum(-1).numpy()


def _body_points(P: torch.Tensor) -> torch.Tensor:
    """(B, 17, 3) joints -> (B, 31, 3) joints plus the derived points of the capsules."""
    p = lambda j: P[:, j]  # noqa: E731
    _, _, fwd, e = body_frame(P)
    head_low = p(9) + 25.0 * e
    head_top = p(10) - 68.0 * e
    hair = 0.5 * (head_low + head_top) + 16.0 * e - 14.0 * fwd
    hand_l = p(13) + 65.0 * _unit(p(13) - p(12))
    hand_r = p(16) + 65.0 * _unit(p(16) - p(15))
    shin_l, shin_r = _unit(p(6) - p(5)), _unit(p(3) - p(2))
    heel_l, heel_r = p(6) + 30.0 * shin_l - 10.0 * fwd, p(3) + 30.0 * shin_r - 10.0 * fwd
    toe_l, toe_r = heel_l + 125.0 * fwd + 10.0 * shin_l, heel_r + 125.0 * fwd + 10.0 * shin_r
    torso_low = p(0) + 0.3 * (p(8) - p(0))
    side_l_low, side_r_low = p(4) + 0.38 * (p(11) - p(4)), p(1) + 0.38 * (p(14) - p(1))
    side_l_top = p(11) + 0.33 * (p(8) - p(11)) - 0.12 * (p(11) - p(4))
    side_r_top = p(14) + 0.33 * (p(8) - p(14)) - 0.12 * (p(14) - p(1))
    extra = torch.stack([torso_low, side_l_low, side_l_top, side_r_low, side_r_top, head_low,
                         head_top, hair, hand_l, hand_r, heel_l, toe_l, heel_r, toe_r], 1)
    return torch.cat([P, extra], 1)


def _sphere_extent(c, s, r, f, cc):
    """Exact image-axis extent of spheres (centre coordinate ``c`` along the axis, depth ``s``, radius
    ``r``) under focal ``f`` and principal point ``cc``: tangent planes through the camera. Spheres
    reaching the camera plane get an infinite extent."""
    den = s * s - r * r
    root = torch.sqrt((c * c + den).clamp_min(0.0)) * r
    ok = den > 1e-6 * (s * s + 1.0)
    den = torch.where(ok, den, torch.ones_like(den))
    lo = torch.where(ok, cc + f * (c * s - root) / den, torch.full_like(c, -1e9))
    hi = torch.where(ok, cc + f * (c * s + root) / den, torch.full_like(c, 1e9))
    return lo, hi


def _part_windows(A, Bp, r, K, R):
    """Per-sample screen boxes of all parts: A, Bp (B, P, 3), r (P,), K (B, 4) -> (x0, x1, y0, y1)
    each (B, P), clipped to the image."""
    fx, fy, cx, cy = (K[:, i:i + 1] for i in range(4))
    xs, ys = [], []
    for E in (A, Bp):
        xs.extend(_sphere_extent(E[..., 0], E[..., 2], r, fx, cx))
        ys.extend(_sphere_extent(E[..., 1], E[..., 2], r, fy, cy))
    x0 = torch.minimum(xs[0], xs[2]).clamp(-1.0, R + 1.0)
    x1 = torch.maximum(xs[1], xs[3]).clamp(-1.0, R + 1.0)
    y0 = torch.minimum(ys[0], ys[2]).clamp(-1.0, R + 1.0)
    y1 = torch.maximum(ys[1], ys[3]).clamp(-1.0, R + 1.0)
    return x0, x1, y0, y1


def head_boxes(poses_3d, intrinsics) -> np.ndarray:
    """The tight image box of the rendered head (the head capsule and the hair sphere, exact tangent
    planes) of (B, 17, 3) camera-coordinate poses (mm) under intrinsics (B, 4): (B, 4) ``[x0, y0, x1,
    y1]`` px. MPII's PCKh head size is 0.6 x the diagonal of such a box (:func:`head_sizes`)."""
    P = torch.as_tensor(np.asarray(poses_3d, np.float32))
    K = torch.as_tensor(np.asarray(intrinsics, np.float32))
    pts = _body_points(P)
    heads = [i for i, n in enumerate(PART_NAMES) if n in ("head", "hair")]
    A = pts[:, [BODY_PARTS[i][1] for i in heads]]
    Bp = pts[:, [BODY_PARTS[i][2] for i in heads]]
    r = torch.tensor([BODY_PARTS[i][3] for i in heads])
    fx, fy, cx, cy = (K[:, i:i + 1] for i in range(4))
    xs = [v for E in (A, Bp) for v in _sphere_extent(E[..., 0], E[..., 2], r, fx, cx)]
    ys = [v for E in (A, Bp) for v in _sphere_extent(E[..., 1], E[..., 2], r, fy, cy)]
    box = torch.stack([torch.minimum(xs[0], xs[2]).amin(1), torch.minimum(ys[0], ys[2]).amin(1),
                       torch.maximum(xs[1], xs[3]).amax(1), torch.maximum(ys[1], ys[3]).amax(1)], 1)
    return box.double().numpy()


def head_sizes(poses_3d, intrinsics) -> np.ndarray:
    """(B,) PCKh head sizes px with MPII's convention: 0.6 x the diagonal of :func:`head_boxes`."""
    box = head_boxes(poses_3d, intrinsics)
    return 0.6 * np.hypot(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])


def _rasterise(A, Bp, r, K, R, light, ambient, diffuse, frame=None):
    """Ray-cast the capsules A->Bp (B, P, 3) with radii r (P,) through intrinsics K (B, 4) into an
    R x R image. Returns the depth buffer (B, R*R) (z in mm, inf on background) and a packed buffer
    (B, R*R) ``4 * code + shade`` (-1 on background) where ``shade`` in [0, 4) is the Lambertian
    intensity (``ambient + diffuse * max(0, n.l)``, darkened towards silhouettes) of the visible
    surface and ``code`` the part index, plus P where the surface takes the part's second material
    (:data:`_ALT`; only with ``frame`` = (fwd, head_up) (B, 3) unit vectors); ``light`` (B, 3) unit
    vectors towards the light, ``ambient``, ``diffuse`` (B,)."""
    b, n_parts = A.shape[:2]
    dev = A.device
    depth = torch.full((b, R * R), float("inf"), device=dev)
    packed = torch.full((b, R * R), -1.0, device=dev)
    x0, x1, y0, y1 = _part_windows(A, Bp, r, K, R)
    xs0 = torch.floor(x0).clamp(0, R - 1)
    ys0 = torch.floor(y0).clamp(0, R - 1)
    off = (x1 < 0) | (y1 < 0) | (x0 > R) | (y0 > R)
    wx = torch.where(off, 0.0, x1 - xs0 + 2.0).amax(0).ceil().clamp(0, R)
    wy = torch.where(off, 0.0, y1 - ys0 + 2.0).amax(0).ceil().clamp(0, R)
    sizes = torch.stack([wx, wy], 1).to(torch.int64).tolist()  # one host sync for all parts
    fx, fy, cx, cy = (K[:, i:i + 1] for i in range(4))
    lx, ly, lz = light.unbind(1)
    ar = torch.arange(R, device=dev, dtype=torch.float32)
    ari = torch.arange(R, device=dev, dtype=torch.int64)
    rl = [float(v) for v in r.tolist()]
    c1 = lambda t: t[:, None]  # noqa: E731  (B,) -> (B, 1)
    c2 = lambda t: t[:, None, None]  # noqa: E731  (B,) -> (B, 1, 1)
    for p in range(n_parts):
        Wx, Wy = sizes[p]
        if Wx <= 0 or Wy <= 0:
            continue
        sx = xs0[:, p].clamp(max=R - Wx)  # (B,) window origin
        sy = ys0[:, p].clamp(max=R - Wy)
        dxw = (c1(sx) + ar[:Wx] - cx) / fx  # (B, Wx) ray slopes; ray d = (dx, dy, 1), t = depth z
        dyw = (c1(sy) + ar[:Wy] - cy) / fy  # (B, Wy)
        a, bb = A[:, p], Bp[:, p]
        ba = bb - a
        rr = rl[p] ** 2
        baba = (ba * ba).sum(-1).clamp_min(1e-6)
        baoa = -(ba * a).sum(-1)
        cq = baba * (a * a).sum(-1) - baoa * baoa - rr * baba
        ca, cb = (a * a).sum(-1) - rr, (bb * bb).sum(-1) - rr
        # per-pixel quantities as outer sums of a row (B, 1, Wx) and a column (B, Wy, 1) term
        row = lambda kx, k0: (dxw * c1(kx) + c1(k0))[:, None, :]  # noqa: E731
        col = lambda ky: (dyw * c1(ky))[:, :, None]  # noqa: E731
        dd = (dxw * dxw + 1.0)[:, None, :] + (dyw * dyw)[:, :, None]
        bard = row(ba[:, 0], ba[:, 2]) + col(ba[:, 1])
        rdoa = row(-a[:, 0], -a[:, 2]) + col(-a[:, 1])
        rdob = row(-bb[:, 0], -bb[:, 2]) + col(-bb[:, 1])
        # ray / infinite cylinder: qa t^2 + 2 qb t + cq = 0
        qa = torch.addcmul(dd * c2(baba), bard, bard, value=-1.0).clamp_min_(1e-9)
        qb = torch.addcmul(rdoa * c2(baba), bard, c2(baoa).expand_as(bard), value=-1.0)
        h = torch.addcmul(qa * c2(-cq), qb, qb)
        hit = h >= 0
        t1 = (qb + h.clamp_min_(0).sqrt_()).div_(qa).neg_()
        y = torch.addcmul(c2(baoa), t1, bard)
        body = hit & (y > 0) & (y < c2(baba))
        # ray / end sphere on the side of the cylinder hit
        near_a = y <= 0
        b2 = torch.where(near_a, rdoa, rdob)
        h2 = torch.addcmul(dd * torch.where(near_a, c2(-ca), c2(-cb)), b2, b2)
        hit = hit & (body | (h2 >= 0))
        t2 = (b2 + h2.clamp_min_(0).sqrt_()).div_(dd).neg_()
        t = torch.where(body, t1, t2)
        hit &= t > 0
        # shading: n = (P - A - s ba) / r with s = clamp(y / baba, 0, 1), P = t d
        s = (torch.addcmul(c2(baoa), t, bard) / c2(baba)).clamp_(0, 1)
        dl = row(lx, lz) + col(ly)  # d . l
        ndl = torch.addcmul(t * dl - c2((a * light).sum(-1)), s, c2((ba * light).sum(-1)).expand_as(s), value=-1.0)
        ndd = torch.addcmul(torch.addcmul(rdoa, t, dd), s, bard, value=-1.0)  # n.d * r
        rim = (ndd / dd.sqrt_()).mul_(-1.0 / rl[p]).clamp_(0, 1)
        lam = ndl.mul_(1.0 / rl[p]).clamp_(min=0)
        shade = (c2(diffuse) * lam + c2(ambient)).mul_(rim.mul_(0.3).add_(0.7)).clamp_(max=3.99)
        code = 4.0 * p
        if frame is not None and p in _ALT:
            def n_dot(v):  # the surface normal . v (B, Wy, Wx): (t d - a - s ba) . v / r
                dv = row(v[:, 0], v[:, 2]) + col(v[:, 1])
                return torch.addcmul(t * dv - c2((a * v).sum(-1)), s,
                                     c2((ba * v).sum(-1)).expand_as(s), value=-1.0) / rl[p]
            nf = n_dot(frame[0])
            alt = nf > 0.4 if _ALT[p][1] == "front" else (nf < 0.15) | (n_dot(frame[1]) > 0.5)
            code = torch.where(alt, 4.0 * (p + n_parts), code).reshape(b, -1)
        # depth test against the buffer (window pixels are distinct, so scatter is deterministic)
        t = torch.where(hit, t, torch.full_like(t, float("inf"))).reshape(b, -1)
        idx = ((c1(sy.long()) + ari[:Wy]) * R)[:, :, None] + (c1(sx.long()) + ari[:Wx])[:, None, :]
        idx = idx.reshape(b, -1)
        cur = depth.gather(1, idx)
        closer = t < cur
        depth.scatter_(1, idx, torch.where(closer, t, cur))
        packed.scatter_(1, idx, torch.where(closer, shade.reshape(b, -1) + code, packed.gather(1, idx)))
    return depth, packed


# --- styles -------------------------------------------------------------------------------------
def _palette(choice_u, palette, dev):
    pal = torch.tensor(palette, dtype=torch.float32, device=dev)
    i = (choice_u * len(palette)).long().clamp(max=len(palette) - 1)
    return pal[i]


def _hsv(h, s, v):
    """Vectorised HSV -> RGB; h, s, v (...,) in [0, 1] -> (..., 3)."""
    k = torch.stack([torch.full_like(h, 5.0), torch.full_like(h, 3.0), torch.full_like(h, 1.0)], -1)
    kk = (k + h[..., None] * 6.0) % 6.0
    return v[..., None] - v[..., None] * s[..., None] * (torch.minimum(kk, 4.0 - kk).clamp(0, 1))


def _luma(c):
    return (c * torch.tensor((0.299, 0.587, 0.114), device=c.device)).sum(-1)


def _styles(seeds, code, clothing_ids, occluder_prob, cues: bool = True):
    """Per-sample style parameters (dict of tensors) from seeds (B,) and scene codes (B,); ``cues``:
    the facing cues of VERSION 2 (print panel, lab shoes, lab light; see the module docstring)."""
    dev = seeds.device
    b = len(seeds)
    wild = code > 0
    U = hash_uniform(seeds, _S_STYLE, 32)
    cl = hash_uniform(seeds if clothing_ids is None else clothing_ids.to(dev), _S_CLOTH, 16)
    mats = torch.zeros(b, NUM_MATERIALS, 3, device=dev)
    # lab: fixed palette
    lab_shirt = _palette(cl[:, 0], _LAB_SHIRTS, dev)
    lab_trousers = _palette(cl[:, 1], _LAB_TROUSERS, dev)
    skin = _palette(cl[:, 2], _SKINS, dev)
    hair = _palette(cl[:, 3], _HAIRS_CUES if cues else _HAIRS, dev)
    lab_shoes = torch.tensor((0.10, 0.10, 0.10), device=dev).expand(b, 3)
    # wild: random clothing
    w_shirt = _hsv(cl[:, 4], 0.15 + 0.8 * cl[:, 5], 0.15 + 0.8 * cl[:, 6])
    w_trousers = _hsv(cl[:, 7], 0.1 + 0.7 * cl[:, 8], 0.08 + 0.7 * cl[:, 9])
    w_shoes = _hsv(cl[:, 10], 0.6 * cl[:, 11], 0.1 + 0.8 * cl[:, 12])
    short_sleeves = (cl[:, 13] < 0.4) & wild
    m = wild[:, None]
    mats[:, SHIRT] = torch.where(m, w_shirt, lab_shirt)
    mats[:, TROUSERS] = torch.where(m, w_trousers, lab_trousers)
    mats[:, SKIN] = skin
    mats[:, SHOES] = torch.where(m, w_shoes, lab_shoes)
    mats[:, HAIR] = hair
    mats[:, SLEEVE] = torch.where(short_sleeves[:, None], skin, mats[:, SHIRT])
    mats[:, SHIRT_FRONT] = mats[:, SHIRT]
    if cues:
        cu = hash_uniform(seeds if clothing_ids is None else clothing_ids.to(dev), _S_CUE, 8)
        # the print: towards a light ink on a dark shirt and a dark ink on a light one (lab: near white
        # / near black; wild: any hue), so the chest differs from the back in every outfit
        dark = _luma(mats[:, SHIRT]) < 0.45
        ink_v = torch.where(dark, 0.8 + 0.2 * cu[:, 2], 0.05 + 0.15 * cu[:, 2])
        ink = torch.where(m, _hsv(cu[:, 0], 0.7 * cu[:, 1], ink_v), ink_v[:, None].expand(b, 3))
        mats[:, SHIRT_FRONT] = torch.lerp(mats[:, SHIRT], ink, (0.7 + 0.25 * cu[:, 3])[:, None])
        mats[:, SHOES] = torch.where(m, mats[:, SHOES], _palette(cu[:, 4], _LAB_SHOES, dev))
    # light: towards-light direction (camera coords), ambient, diffuse, colour
    az = (U[:, 0] - 0.5) * 2.6  # +-75 deg around the view axis
    el = 0.15 + 0.9 * U[:, 1]
    w_light = torch.stack([torch.sin(az) * torch.cos(el), -torch.sin(el), -torch.cos(az) * torch.cos(el)], 1)
    lab_light = _unit(torch.tensor(_LAB_LIGHT, device=dev)).expand(b, 3)
    if cues:  # a room light, seen from the sample's camera: +-40 deg around the view axis, from above
        lu = hash_uniform(seeds, _S_CUE, 8)
        laz, lel = (lu[:, 5] - 0.5) * 1.4, 0.35 + 0.5 * lu[:, 6]
        lab_light = torch.stack([torch.sin(laz) * torch.cos(lel), -torch.sin(lel),
                                 -torch.cos(laz) * torch.cos(lel)], 1)
    light = torch.where(m, w_light, lab_light)
    ambient = torch.where(wild, 0.15 + 0.35 * U[:, 2], torch.full_like(U[:, 2], 0.38))
    diffuse = torch.where(wild, 0.45 + 0.75 * U[:, 3], torch.full_like(U[:, 3], 0.72))
    tint = 1.0 + 0.16 * (U[:, 4:7] - 0.5)
    light_col = torch.where(m, tint, torch.ones_like(tint))
    # photometric jitter (wild): brightness gain, contrast, colour cast
    gain = torch.where(wild, 0.7 + 0.55 * U[:, 7], torch.ones_like(U[:, 7]))
    contrast = torch.where(wild, 0.75 + 0.45 * U[:, 8], torch.ones_like(U[:, 8]))
    cast = torch.where(m, 1.0 + 0.12 * (U[:, 9:12] - 0.5), torch.ones(b, 3, device=dev))
    if occluder_prob is None:
        occ_p = torch.where(wild, 0.35, 0.0)
    else:
        occ_p = torch.as_tensor(occluder_prob, dtype=torch.float32, device=dev).expand(b)
    n_occ = (U[:, 12] < occ_p).long() + ((U[:, 12] < 0.3 * occ_p)).long()
    return dict(mats=mats, light=light, ambient=ambient, diffuse=diffuse, light_col=light_col,
                gain=gain, contrast=contrast, cast=cast, n_occ=n_occ)


def _noise(seeds, stream, g, R, channels=1, mode="bilinear"):
    """Smooth value noise: (b, channels, g, g) hashed uniforms upsampled to (b, channels, R, R)."""
    u = hash_uniform(seeds, stream, channels * g * g).reshape(-1, channels, g, g)
    return F.interpolate(u, size=(R, R), mode=mode, align_corners=False)


def _backgrounds(seeds, code, R):
    """(B, 3, R, R) backgrounds by scene code (0 lab, 1 plain, 2 studio, 3 outdoor)."""
    dev = seeds.device
    b = len(seeds)
    out = torch.empty(b, 3, R, R, device=dev)
    yy = (torch.arange(R, device=dev, dtype=torch.float32) + 0.5) / R
    y = yy[None, :, None]  # (1, R, 1)
    x = yy[None, None, :]  # (1, 1, R)
    for c in range(4):
        sel = (code == c).nonzero().flatten()
        if len(sel) == 0:
            continue
        s = seeds[sel]
        n = len(sel)
        U = hash_uniform(s, _S_BG, 64)
        e = lambda t: t[:, None, None]  # noqa: E731
        if c == 0:  # lab: fixed grey wall with a soft vertical gradient and vignette
            top = torch.tensor((0.58, 0.58, 0.56), device=dev)[None, :, None, None]
            bot = torch.tensor((0.40, 0.40, 0.39), device=dev)[None, :, None, None]
            g = y[:, None] ** 1.5
            vig = 1.0 - 0.18 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)[:, None]
            bg = ((1 - g) * top + g * bot) * vig
            bg = bg.expand(n, 3, R, R)
        elif c == 1:  # plain backdrop: mostly green screen, else a random saturated colour
            green = U[:, 0] < 0.6
            hue = torch.where(green, 0.30 + 0.08 * U[:, 1], U[:, 1])
            base = _hsv(hue, 0.45 + 0.5 * U[:, 2], 0.35 + 0.5 * U[:, 3])[:, :, None, None]
            shade = 0.85 + 0.3 * _noise(s, _S_TEX, 3, R)
            bg = base * shade
        elif c == 2:  # cluttered indoor: wall, floor, furniture-like rectangles
            # a label map (0 wall, 1 floor, 2.. rectangles) and a single-channel shading map, then
            # one colour lookup: cheaper than compositing 3-channel layers
            V = hash_uniform(s, _S_TEX2, 8 * 10).reshape(n, 8, 10)
            pal = torch.cat([_hsv(U[:, 0], 0.35 * U[:, 1], 0.35 + 0.55 * U[:, 2])[:, None],
                             _hsv(U[:, 3], 0.5 * U[:, 4], 0.15 + 0.45 * U[:, 5])[:, None],
                             _hsv(V[..., 4], 0.7 * V[..., 5], 0.1 + 0.85 * V[..., 6])], 1)  # (n, 10, 3)
            horizon = e(0.55 + 0.35 * U[:, 6])
            is_floor = y >= horizon  # (n, R, 1)
            label = is_floor.long().expand(n, R, R)
            shade = torch.where(is_floor, 0.8 + 0.4 * y, 1.05 - 0.2 * y).expand(n, R, R)
            for k in range(8):
                q = V[:, k]
                w, h = 0.08 + 0.4 * q[:, 0], 0.08 + 0.6 * q[:, 1]
                x0, y0 = q[:, 2] * 1.2 - 0.2, q[:, 3] * 1.1 - 0.2
                inside = ((x >= e(x0)) & (x < e(x0 + w))) & ((y >= e(y0)) & (y < e(y0 + h)))
                # shelves / drawers: horizontal stripes in some rectangles (a function of y only)
                stripes = torch.where(e(q[:, 7] < 0.4), torch.cos((y - e(y0)) / e(h) * (2 * math.pi) *
                                                                  e(2 + (q[:, 8] * 4).floor())), 1.0)
                label = torch.where(inside, k + 2, label)
                shade = torch.where(inside, 0.85 + 0.15 * stripes, shade)
            shade = shade * (0.9 + 0.2 * _noise(s, _S_TEX, 4, R)[:, 0])
            colour = pal.transpose(1, 2).gather(2, label.reshape(n, 1, R * R).expand(n, 3, R * R))
            bg = colour.reshape(n, 3, R, R) * shade[:, None]
        else:  # outdoor: sky, textured ground plane in perspective, bushes
            horizon = 0.2 + 0.45 * U[:, 0]
            sky_top = _hsv(0.55 + 0.08 * U[:, 1], 0.35 + 0.45 * U[:, 2], 0.6 + 0.4 * U[:, 3])
            sky_hor = torch.lerp(sky_top, torch.ones_like(sky_top), 0.6)
            gy = (y / e(horizon)).clamp(0, 1)[:, None]
            sky = torch.lerp(sky_top[:, :, None, None], sky_hor[:, :, None, None], gy)
            sky = sky * (0.92 + 0.16 * _noise(s, _S_TEX, 4, R))
            ground_col = _hsv(0.08 + 0.25 * U[:, 4], 0.3 + 0.5 * U[:, 5], 0.25 + 0.45 * U[:, 6])
            # ground-plane texture coordinates: depth ~ 1 / (y - horizon)
            dv = (y - e(horizon)).clamp_min(1e-3)
            gz = 0.08 / dv
            gx = (x - 0.5) * gz
            grid = torch.stack([(gx * (2 + 3 * e(U[:, 7]))).expand(n, R, R),
                                (gz * (2 + 3 * e(U[:, 8]))).expand(n, R, R)], -1)
            tex = hash_uniform(s, _S_TEX2, 2 * 24 * 24).reshape(n, 2, 24, 24)
            gtex = F.grid_sample(tex, grid % 2.0 - 1.0, mode="bilinear", padding_mode="border",
                                 align_corners=False)
            haze = torch.exp(-dv * 6.0)[:, None]
            gtxt = 0.75 + 0.35 * gtex[:, :1] + 0.12 * gtex[:, 1:]
            ground = ground_col[:, :, None, None] * gtxt
            ground = torch.lerp(ground, sky_hor[:, :, None, None] * 0.8, haze * 0.6)
            bg = torch.where((y >= e(horizon))[:, None], ground, sky)
            # bushes / trees along the horizon
            for k in range(4):
                q = U[:, 10 + 5 * k:15 + 5 * k]
                ex, ey = q[:, 0], horizon - 0.02 * q[:, 1]
                rx, ry = 0.05 + 0.18 * q[:, 2], 0.04 + 0.18 * q[:, 3]
                ell = ((x - e(ex)) / e(rx)) ** 2 + ((y - e(ey)) / e(ry)) ** 2
                bush = _hsv(0.22 + 0.12 * q[:, 4], 0.55 + 0 * q[:, 4], 0.12 + 0.25 * q[:, 1])
                bg = torch.where((ell < 1)[:, None], bush[:, :, None, None] * (0.8 + 0.3 * (1 - ell))[:, None], bg)
        out[sel] = bg
    return out


def _occluders(seeds, n_occ, R, body_box):
    """Occluder colours (B, 3, R, R) and masks (B, R, R) (rectangles / ellipses near the body)."""
    dev = seeds.device
    b = len(seeds)
    yy = (torch.arange(R, device=dev, dtype=torch.float32) + 0.5) / R
    y, x = yy[None, :, None], yy[None, None, :]
    U = hash_uniform(seeds, _S_OCC, 20)
    mask = torch.zeros(b, R, R, dtype=torch.bool, device=dev)
    col = torch.zeros(b, 3, R, R, device=dev)
    e = lambda t: t[:, None, None]  # noqa: E731
    bx0, by0, bx1, by1 = (body_box[:, i] for i in range(4))
    for k in range(2):
        q = U[:, 10 * k:10 * k + 10]
        cx = bx0 + (bx1 - bx0) * q[:, 0]
        cy = by0 + (by1 - by0) * q[:, 1]
        hw = 0.06 + 0.16 * q[:, 2]
        hh = 0.06 + 0.22 * q[:, 3]
        ell = q[:, 4] < 0.45
        dx, dy = (x - e(cx)) / e(hw), (y - e(cy)) / e(hh)
        inside = torch.where(e(ell), dx * dx + dy * dy < 1, (dx.abs() < 1) & (dy.abs() < 1))
        inside = inside & e(n_occ > k)
        c = _hsv(q[:, 5], 0.8 * q[:, 6], 0.15 + 0.8 * q[:, 7])[:, :, None, None]
        shade = (0.8 + 0.35 * (1 - (dy + 1) / 2).clamp(0, 1))[:, None]  # lit from above
        col = torch.where(inside[:, None], c * shade, col)
        mask |= inside
    return col, mask


# --- main API -----------------------------------------------------------------------------------
def render_batch(poses_3d: torch.Tensor, intrinsics: torch.Tensor, scene, resolution: int,
                 seeds: torch.Tensor, device=None, *, clothing_ids: torch.Tensor | None = None,
                 occluder_prob: float | None = None, light: torch.Tensor | None = None,
                 return_aux: bool = False, cues: bool = True):
    """Render people.

    ``poses_3d`` (B, 17, 3) mm camera coordinates (z > 0); ``intrinsics`` (B, 4) ``[fx, fy, cx, cy]``
    of the ``resolution x resolution`` output image (already adjusted to the crop, see
    :func:`crop_intrinsics`); ``scene`` B strings from :data:`SCENES` ('' means 'lab'); ``seeds`` (B,)
    int64 per-sample style seeds; ``device`` default: that of ``poses_3d``. ``clothing_ids`` (B,) int64,
    optional: clothing colours are drawn from these instead of ``seeds`` (e.g. one outfit per subject).
    ``occluder_prob``: probability of occluders (default: 0.35 in the wild, 0 in the lab). ``light``
    (3,) or (B, 3): override the direction towards the light (camera coordinates). ``cues``: draw the
    facing cues (face and hair, shirt print, lab shoes and light; False: the VERSION 1 bodies).

    Returns images (B, 3, R, R) float32 in [0, 1] on ``device``; with ``return_aux`` also a dict with
    ``depth`` (B, R, R) mm (inf on background), ``part`` (B, R, R) int64 part index into
    :data:`BODY_PARTS` (-1 background), ``occluder`` (B, R, R) bool, ``body`` (B, R, R) bool (visible body
    pixels)."""
    _check_inputs(poses_3d, intrinsics, scene, resolution, seeds)
    dev = torch.device(device) if device is not None else poses_3d.device
    R = int(resolution)
    P = poses_3d.to(dev, torch.float32)
    K = intrinsics.to(dev, torch.float32)
    seeds = seeds.to(dev, torch.int64)
    b = P.shape[0]
    code = torch.tensor([_SCENE_CODE[str(s)] for s in scene], dtype=torch.int64, device=dev)
    st = _styles(seeds, code, clothing_ids, occluder_prob, cues)
    if light is not None:
        st["light"] = _unit(torch.as_tensor(light, dtype=torch.float32, device=dev).expand(b, 3))

    pts = _body_points(P)
    ia = torch.tensor([p[1] for p in BODY_PARTS], device=dev)
    ib = torch.tensor([p[2] for p in BODY_PARTS], device=dev)
    radii = torch.tensor([p[3] for p in BODY_PARTS], dtype=torch.float32, device=dev)
    A, Bp = pts[:, ia], pts[:, ib]
    frame = body_frame(P)[2:] if cues else None
    depth, packed = _rasterise(A, Bp, radii, K, R, st["light"], st["ambient"], st["diffuse"], frame)

    # colour = albedo of the visible part (or its second material, codes P..2P-1) times the light
    # colour, times its shade
    hit = packed >= 0
    code_ = torch.div(packed, 4.0, rounding_mode="floor").clamp_min_(0)
    shade = packed - 4.0 * code_
    code_ = code_.long()
    part = code_ % NUM_PARTS
    mat_of_code = torch.tensor([p[4] for p in BODY_PARTS] + [_ALT.get(i, (p[4],))[0] for i, p in enumerate(BODY_PARTS)],
                               device=dev)
    albedo = (st["mats"][:, mat_of_code] * st["light_col"][:, None, :]).transpose(1, 2)  # (B, 3, 2P)
    body = albedo.gather(2, code_[:, None, :].expand(b, 3, R * R)).mul_(shade[:, None, :]).reshape(b, 3, R, R)
    hit = hit.reshape(b, R, R)

    bg = _backgrounds(seeds, code, R)
    bg *= (0.75 + 0.25 * st["ambient"] / 0.38).clamp(max=1.3)[:, None, None, None]
    img = torch.where(hit[:, None], body, bg)
    # occluders in front of the body, placed around the joints' screen box
    occ = torch.zeros(b, R, R, dtype=torch.bool, device=dev)
    has_occ = (st["n_occ"] > 0).nonzero().flatten()
    if len(has_occ):
        uv = (P[has_occ, :, :2] / P[has_occ, :, 2:]) * K[has_occ, None, :2] + K[has_occ, None, 2:]
        box = ((torch.cat([uv.amin(1), uv.amax(1)], 1) + 0.5) / R).clamp(0, 1)
        occ_col, occ_sub = _occluders(seeds[has_occ], st["n_occ"][has_occ], R, box)
        img[has_occ] = torch.where(occ_sub[:, None], occ_col, img[has_occ])
        occ[has_occ] = occ_sub
    # photometric jitter: contrast about mid-grey, gain, colour cast (identity in the lab)
    scale = (st["contrast"] * st["gain"])[:, None] * st["cast"]  # (B, 3)
    offset = (0.5 * (1 - st["contrast"]) * st["gain"])[:, None] * st["cast"]
    img = torch.addcmul(offset[:, :, None, None], img, scale[:, :, None, None])
    img = img.clamp_(0, 1)
    if not return_aux:
        return img
    part = torch.where(hit.reshape(b, -1), part, torch.full_like(part, -1))
    return img, dict(depth=depth.reshape(b, R, R), part=part.reshape(b, R, R), occluder=occ,
                     body=hit & ~occ)


def _source_arrays(source, render_poses_3d=None):
    """PoseSet or mapping -> dict(poses_3d, intrinsics, scene, visible, subject) numpy arrays."""
    get = (lambda k, d=None: getattr(source, k, d)) if not isinstance(source, dict) else source.get
    p3 = render_poses_3d if render_poses_3d is not None else get("poses_3d")
    if p3 is None:
        raise ValueError("render_samples: no 3D poses (pass poses_3d or render_poses_3d)")
    p3 = np.asarray(p3.detach().cpu() if hasattr(p3, "detach") else p3, np.float32)
    if p3.ndim != 3 or p3.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"render_samples: 3D poses must be (N, 17, 3), got {p3.shape}")
    n = len(p3)
    has3d = get("has_3d")
    if render_poses_3d is None and has3d is not None and not np.asarray(has3d).all():
        raise ValueError("render_samples: the PoseSet's 3D labels are hidden (has_3d False); pass the "
                         "hidden 3D poses as render_poses_3d")
    K = get("intrinsics")
    if K is None:
        raise ValueError("render_samples: intrinsics missing")
    K = np.asarray(K, np.float32)
    if K.shape != (n, 4):
        raise ValueError(f"render_samples: intrinsics must be ({n}, 4), got {K.shape}")
    scene = get("scene")
    scene = np.full(n, "lab") if scene is None else np.asarray(scene).astype(str)
    if scene.shape != (n,):
        raise ValueError(f"render_samples: scene must be ({n},), got {scene.shape}")
    vis = get("visible")
    vis = np.ones((n, NUM_JOINTS), bool) if vis is None else np.asarray(vis, bool)
    subj = get("subject")
    return dict(poses_3d=p3, intrinsics=K, scene=scene, visible=vis,
                subject=None if subj is None else np.asarray(subj).astype(str))


def _string_ids(strings) -> torch.Tensor:
    """Stable int64 ids of strings (for per-subject clothing), independent of PYTHONHASHSEED."""
    import zlib
    return torch.tensor([zlib.crc32(s.encode()) for s in strings], dtype=torch.int64)


def render_samples(source, indices=None, resolution: int = 64, seed: int = 0, *,
                   scale_jitter: float = 0.0, shift_jitter: float = 0.0,
                   truncation_prob: float | None = None, occluder_prob: float | None = None,
                   margin: float = 1.25, render_poses_3d=None, device="cpu", quantize: bool = True,
                   images: bool = True, chunk_pixels: int = 1 << 20, cues: bool = True) -> dict:
    """Render person-centred crops of samples of a PoseSet (or a dict with ``poses_3d``,
    ``intrinsics``, optional ``scene``, ``visible``, ``subject``).

    Each sample's crop box comes from the pinhole projection of its 3D pose (see
    :func:`crop_from_pose`), jittered by ``scale_jitter`` / ``shift_jitter`` and, with probability
    ``truncation_prob`` (default 0.25 in the wild, 0 in the lab), shifted so that the body is cut by
    the border. Everything is a function of ``(seed, index)`` only. ``render_poses_3d`` (N, 17, 3):
    the 3D poses to draw when the source's 3D labels are hidden. Lab samples wear one outfit per
    subject when the source has ``subject``. ``quantize`` rounds images to 8-bit levels.
    ``images=False`` computes only the labels (no ``images``, ``occluded`` is None). ``cues``: see
    :func:`render_batch`.

    Returns a dict of tensors on ``device``: ``images`` (B, 3, R, R) float32, ``joints_2d`` (B, 17, 2)
    crop px (= ``project(poses_3d, intrinsics_crop)``), ``intrinsics_crop`` (B, 4), ``visible`` (B, 17)
    bool (inside the crop and annotated), ``occluded`` (B, 17) bool (covered by an occluder or by
    another body part), ``boxes`` (B, 3) crop boxes ``[x0, y0, side]`` in original px, ``seeds``
    (B,) int64, ``poses_3d`` (B, 17, 3) the 3D poses drawn, ``head_size`` (B,) crop px (MPII's PCKh
    convention on the rendered head: :func:`head_sizes`)."""
    arr = _source_arrays(source, render_poses_3d)
    n = len(arr["poses_3d"])
    idx = np.arange(n) if indices is None else np.asarray(indices, np.int64).reshape(-1)
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"render_samples: indices out of range [0, {n})")
    R = int(resolution)
    dev = torch.device(device)
    p3 = arr["poses_3d"][idx]
    if not np.isfinite(p3).all():
        raise ValueError("render_samples: 3D poses contain NaN/inf")
    if (p3[..., 2] <= 0).any():
        raise ValueError("render_samples: 3D poses have joints at or behind the camera (z <= 0)")
    K = arr["intrinsics"][idx].astype(np.float64)
    scene = arr["scene"][idx]
    seeds = sample_seeds(seed, idx)
    u = hash_uniform(seeds, _S_CROP, 6).double().numpy()
    wild = np.isin(scene, WILD_SCENES)
    tp = np.where(wild, 0.25, 0.0) if truncation_prob is None else np.full(len(idx), float(truncation_prob))
    p2 = project(p3.astype(np.float64), K)
    boxes = crop_from_pose(p2, scale_jitter, shift_jitter, u[:, :5], margin=margin, truncate=u[:, 5] < tp)
    Kc = crop_intrinsics(K, boxes, R)
    j2 = project(p3.astype(np.float64), Kc)
    clothing = None
    if arr["subject"] is not None:
        sid = _string_ids(arr["subject"][idx])
        clothing = torch.where(torch.as_tensor(~wild), sid, seeds)
    P3 = torch.as_tensor(p3, dtype=torch.float32)
    Kt = torch.as_tensor(Kc, dtype=torch.float32)
    imgs, occluded = [], []
    step = max(1, chunk_pixels // (R * R))
    for s0 in range(0, len(idx) if images else 0, step):
        sl = slice(s0, s0 + step)
        img, aux = render_batch(P3[sl].to(dev), Kt[sl].to(dev), list(scene[sl]), R, seeds[sl].to(dev), dev,
                                clothing_ids=None if clothing is None else clothing[sl].to(dev),
                                occluder_prob=occluder_prob, return_aux=True, cues=cues)
        if quantize:
            img = torch.round(img * 255.0) / 255.0
        imgs.append(img)
        # a joint is occluded when its pixel shows an occluder or a surface clearly in front of it
        jj = torch.as_tensor(j2[sl], dtype=torch.float32, device=dev)
        pix = jj.round().long()
        inside = ((pix >= 0) & (pix < R)).all(-1)
        pi = pix.clamp(0, R - 1)
        flat = pi[..., 1] * R + pi[..., 0]
        bsz = len(flat)
        occ_px = aux["occluder"].reshape(bsz, -1).gather(1, flat)
        dpx = aux["depth"].reshape(bsz, -1).gather(1, flat)
        zj = P3[sl, :, 2].to(dev)
        hidden = dpx < zj - 150.0
        occluded.append((occ_px | hidden) & inside)
    out = {}
    if images is not False:
        out["images"] = torch.cat(imgs) if imgs else torch.zeros(0, 3, R, R, device=dev)
    j2t = torch.as_tensor(j2, dtype=torch.float32, device=dev)
    in_crop = ((j2t >= -0.5) & (j2t < R - 0.5)).all(-1)
    out.update(joints_2d=j2t, intrinsics_crop=Kt.to(dev),
               visible=in_crop & torch.as_tensor(arr["visible"][idx], device=dev),
               occluded=(torch.cat(occluded) if occluded else torch.zeros(0, NUM_JOINTS, dtype=torch.bool, device=dev))
               if images is not False else None,
               boxes=torch.as_tensor(boxes, dtype=torch.float32, device=dev), seeds=seeds.to(dev),
               poses_3d=P3.to(dev),
               head_size=torch.as_tensor(head_sizes(p3, Kc), dtype=torch.float32, device=dev))
    return out


# --- demo poses (tests, benchmarks, figures) ----------------------------------------------------
# a standing T-pose, root-relative, in a Y-up body frame (mm): x = subject's left, y up, z forward
_TPOSE = np.array([
    [0, 0, 0], [-130, 0, 0], [-130, -450, 0], [-130, -880, -20], [130, 0, 0], [130, -450, 0],
    [130, -880, -20], [0, 230, 0], [0, 480, 0], [0, 590, 20], [0, 700, 0], [170, 480, 0],
    [450, 480, 0], [700, 480, 0], [-170, 480, 0], [-450, 480, 0], [-700, 480, 0]], np.float64)


def demo_poses(n: int = 8, seed: int = 0, distance: float = 4000.0, variation: float = 1.0) -> np.ndarray:
    """(n, 17, 3) float32 plausible standing / walking / reaching poses in camera coordinates (mm),
    about ``distance`` mm in front of the camera, facing it with a random yaw. ``variation=0`` gives
    exact frontal T-poses. Deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, NUM_JOINTS, 3))
    for i in range(n):
        P = _TPOSE.copy()
        v = variation

        def rot(points, pivot, axis, ang):
            a = np.asarray(axis, float) / np.linalg.norm(axis)
            K_ = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
            Rm = np.eye(3) + np.sin(ang) * K_ + (1 - np.cos(ang)) * K_ @ K_
            P[points] = (P[points] - P[pivot]) @ Rm.T + P[pivot]
        for sh, el, wr, side in ((11, 12, 13, 1), (14, 15, 16, -1)):
            rot([el, wr], sh, (0, 0, 1), -side * v * rng.uniform(0.0, 1.4))  # arm down
            rot([el, wr], sh, (1, 0, 0), -v * rng.uniform(-0.6, 1.0))  # swing forward/back
            rot([wr], el, (1, 0, 0), -v * rng.uniform(0.0, 1.6))  # elbow flexion
        for hip, kn, an in ((4, 5, 6), (1, 2, 3)):
            rot([kn, an], hip, (1, 0, 0), -v * rng.uniform(-0.4, 0.7))  # hip flexion
            rot([an], kn, (1, 0, 0), v * rng.uniform(0.0, 1.2))  # knee flexion
        rot([7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 0, (1, 0, 0), v * rng.uniform(-0.1, 0.25))  # lean
        yaw = v * rng.uniform(-np.pi, np.pi)
        c, s = np.cos(yaw), np.sin(yaw)
        P = P @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T
        # body (x left, y up, z forward) -> camera (x right, y down, z depth); facing the camera:
        # the subject's left is the camera's right, forward is towards the camera (-z)
        cam = np.stack([P[:, 0], -P[:, 1], -P[:, 2]], 1)
        cam += np.array([v * rng.uniform(-300, 300), v * rng.uniform(-200, 200) - 100,
                         distance + v * rng.uniform(-800, 800)])
        out[i] = cam
    return out.astype(np.float32)
