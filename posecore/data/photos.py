"""Photographs instead of renders: person-centred crops read from the JPEG frames of Human3.6M, the
MPII Human Pose photos and the MPI-INF-3DHP test set, with the items of the rendered
:class:`~posecore.data.images.ImageDataset` (same keys, shapes, dtypes and conventions), so every image
recipe runs on them unchanged.

Folder layouts (see ``book/datasets.md``; nothing of these datasets is shipped or committed):

* **Human3.6M** (:func:`h36m_photos`): ``<frames_root>/<subject>/<sequence>.<camera>/frame_%06d.jpg``,
  e.g. ``S1/Directions 1.54138969/frame_000005.jpg``: the folder is named like the video it comes from
  (``<root>/S1/Videos/Directions 1.54138969.mp4``), the number is the 0-based index of the frame at
  50 Hz (the PoseSet's ``frame``); ``data_scripts/extract_frames.py`` writes this layout. A folder of
  ffmpeg's 1-based ``img_%06d.jpg`` (frame ``f`` is ``img_{f+1}``) is accepted too. Labels from
  :func:`posecore.data.h36m.load_h36m` (use a ``stride`` that is a multiple of the extraction's).
* **MPII** (:func:`mpii_photos`): ``<root>/images/<name>.jpg`` with the annotations that
  :func:`posecore.data.mpii.load_mpii` reads (``annot/<split>.json`` or the official .mat) under ``<root>``.
* **MPI-INF-3DHP test** (:func:`mpi3dhp_photos`): ``<root>/TS1..TS6/imageSequence/img_%06d.jpg``
  (1-based) beside ``<root>/TSk/annot_data.mat`` (:func:`posecore.data.mpi3dhp.load_3dhp`).

Crops: a square box around the annotated 2D joints of side ``margin`` x their extent (Human3.6M, 3DHP),
or MPII's person box (centre ``objpos`` moved down by 15 x scale px, side ``margin`` x 200 x ``scale``
px, as HRNet does). Integer pixel coordinates are pixel centres in the frame and in the crop (a box
``[x0, y0, side]`` maps onto the crop's pixel edges, :func:`posecore.data.render.to_crop`). JPEGs are
decoded at a reduced scale (``PIL.Image.draft``: 1/2, 1/4 or 1/8) when the box is at least that many
times larger than the crop, stay uint8 until the crop (one bilinear affine warp) and become float32
in [0, 1] in the batch.

Augmentation (``augment=True``, different every epoch, :meth:`PhotoDataset.set_epoch`, a function of
(seed, epoch, index) only so DataLoader workers agree): box scale and shift jitter, an in-plane rotation
of up to ``rotation`` degrees, and with ``flip`` a mirror with probability 1/2 with the left and right
joints swapped (:data:`~posecore.skeleton.FLIP_PERMUTATION`) -- crop x -> R - 1 - x, root-relative 3D
x -> -x, and the crop intrinsics' cx -> R - 1 - cx, so ``intrinsics_crop`` still projects the mirrored
3D onto the mirrored crop. A rotation turns the root-relative 3D about the optical axis by the same
angle (as the papers do); ``intrinsics_crop`` then describe the unrotated crop.

Samples without 3D (MPII) have ``has_3d`` False and zero ``poses_3d`` / ``depth``, as the rendered
2D-only wild split; ``joints_occluded`` is all False (photos carry no occlusion labels). Problems with
the files (a missing frame, a frame of another size than the labels' camera, a JPEG that does not
decode, fewer frames than labels) raise :class:`~posecore.data.safe_io.DataFormatError` naming the file.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from ..skeleton import FLIP_PERMUTATION, NUM_JOINTS
from .dataset import PoseSet
from .images import BatchDataset, crop_to_heatmap, gaussian_maps
from .render import crop_intrinsics
from .safe_io import DataFormatError

_PERM = np.asarray(FLIP_PERMUTATION)


# --- boxes ---------------------------------------------------------------------------------------
def boxes_from_joints(poses_2d, visible=None, margin: float = 1.25, min_size: float = 8.0) -> np.ndarray:
    """(N, 3) square boxes ``[x0, y0, side]``: centred on the 2D bounding box of the visible joints of
    ``poses_2d`` (N, 17, 2) px, side ``margin`` x its larger extent (at least ``min_size``); the same box
    as :func:`posecore.data.render.crop_from_pose` when every joint is visible."""
    p = np.asarray(poses_2d, np.float64)
    vis = np.ones(p.shape[:2], bool) if visible is None else np.asarray(visible, bool)
    if not vis.any(1).all():
        raise ValueError(f"boxes_from_joints: samples {np.flatnonzero(~vis.any(1))[:5].tolist()} have no visible joint")
    lo = np.where(vis[..., None], p, np.inf).min(1)
    hi = np.where(vis[..., None], p, -np.inf).max(1)
    centre = 0.5 * (lo + hi)
    side = np.maximum((hi - lo).max(1) * margin, min_size)
    return np.concatenate([centre - side[:, None] / 2, side[:, None]], 1)


def boxes_from_center_scale(center, scale, margin: float = 1.25) -> np.ndarray:
    """MPII person boxes as HRNet crops them: centre ``center`` (N, 2) 0-based px moved down by
    15 x ``scale`` px, side ``margin`` x 200 x ``scale`` px -> (N, 3) ``[x0, y0, side]``."""
    c = np.asarray(center, np.float64).reshape(-1, 2).copy()
    s = np.asarray(scale, np.float64).reshape(-1)
    c[:, 1] += 15.0 * s
    side = 200.0 * s * margin
    return np.concatenate([c - side[:, None] / 2, side[:, None]], 1)


# --- decoding and cropping -----------------------------------------------------------------------
def read_crop(path, box, resolution: int, angle: float = 0.0, expected_size=None, fill: int = 0,
              supersample: int = 1) -> np.ndarray:
    """The ``resolution`` px square crop (R, R, 3) uint8 of the box ``[x0, y0, side]`` (frame px) of the
    image ``path``, rotated by ``angle`` degrees (clockwise on screen, y down) about the box centre:
    a crop pixel ``q`` shows the frame point ``p = c + A^-1 (q - (R/2 - 0.5))``, ``A = R/side Rot(angle)``.
    JPEGs are decoded at 1/2, 1/4 or 1/8 scale when the box is that many times larger than the crop.
    ``expected_size`` (w, h): refuse other sizes. ``supersample`` 1: bilinear interpolation; ``s`` > 1: the
    mean of s x s nearest samples per crop pixel (about twice as fast as bilinear with PIL at s = 2, and
    antialiased). DataFormatError naming the file for anything wrong."""
    from PIL import Image
    path = Path(path)
    R = int(resolution)
    x0, y0, side = (float(v) for v in box)
    try:
        im = Image.open(path)
    except FileNotFoundError:
        raise DataFormatError(f"{path}: missing image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DataFormatError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None
    with im:
        W, H = im.size
        if expected_size is not None and tuple(int(v) for v in expected_size) not in ((0, 0), (W, H)):
            ew, eh = (int(v) for v in expected_size)
            raise DataFormatError(f"{path}: image is {W}x{H} px, but the labels' camera is {ew}x{eh} px "
                                  "(a resized or wrong frame?)")
        k = 1
        if im.format == "JPEG" and side / R >= 2:
            want = 2 ** min(3, int(math.floor(math.log2(side / R))))
            im.draft("RGB", (-(-W // want), -(-H // want)))
            k = max(1, int(round(W / im.size[0])))
        try:
            im.load()
            if im.mode != "RGB":
                im = im.convert("RGB")
        except (OSError, SyntaxError, ValueError) as e:
            raise DataFormatError(f"{path}: the image does not decode ({type(e).__name__}: {e})") from None
        s = side / R
        th = math.radians(angle)
        cos, sin = math.cos(th), math.sin(th)
        # A^-1 = s * Rot(-angle); PIL works in continuous coordinates (pixel i covers [i, i+1)), i.e. ours + 0.5,
        # and a decoded pixel at scale 1/k covers k frame pixels: P_decoded = P_frame / k
        m = np.array([[cos, sin], [-sin, cos]]) * s
        c = np.array([x0 + side / 2, y0 + side / 2])
        off = c + 0.5 - m @ np.array([R / 2, R / 2])
        data = (m[0, 0] / k, m[0, 1] / k, off[0] / k, m[1, 0] / k, m[1, 1] / k, off[1] / k)
        fc = None if not fill else (fill,) * 3   # (PIL's default fill is black; an explicit one is slower)
        if supersample > 1:   # nearest samples on a finer grid, box-averaged: antialiased and fast
            ss = int(supersample)
            q = (data[0] / ss, data[1] / ss, data[2], data[3] / ss, data[4] / ss, data[5])  # fine px = ss x coarse
            out = im.transform((R * ss, R * ss), Image.AFFINE, data=q, resample=Image.NEAREST, fillcolor=fc).reduce(ss)
        else:
            out = im.transform((R, R), Image.AFFINE, data=data, resample=Image.BILINEAR, fillcolor=fc)
        return np.array(out, np.uint8)


def frame_to_crop(points, box, resolution: int, angle: float = 0.0) -> np.ndarray:
    """(..., 2) frame px -> crop px of ``box`` rotated by ``angle`` degrees (as :func:`read_crop`)."""
    x0, y0, side = (float(v) for v in box)
    th = math.radians(angle)
    a = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]]) * (resolution / side)
    c = np.array([x0 + side / 2, y0 + side / 2])
    return (np.asarray(points, np.float64) - c) @ a.T + (resolution / 2 - 0.5)


# --- the dataset ---------------------------------------------------------------------------------
class PhotoDataset(BatchDataset):
    """Crops of photographs with the items of :class:`~posecore.data.images.ImageDataset`.

    ``poses``: the labels (a PoseSet, frame pixels); ``paths``: one image file per sample; ``boxes``
    (N, 3) ``[x0, y0, side]``: the crop boxes (default :func:`boxes_from_joints` of the visible 2D
    joints with ``margin``); ``head_size`` (N,) px (MPII's PCKh norm, kept for evaluation, see
    :meth:`head_size_crop`). ``check_files``: list every folder once and refuse missing images at
    construction. ``supersample``: how :func:`read_crop` samples (2: the mean of 2 x 2 nearest samples per
    pixel, the default, twice as fast as PIL's bilinear; 1: bilinear). Keys of :meth:`get_batch` /
    :meth:`__getitem__` as ImageDataset's."""

    def __init__(self, poses: PoseSet, paths, resolution: int = 64, heatmap_resolution: int | None = None,
                 sigma: float = 1.0, augment: bool = False, seed: int = 0, device="cpu", *, boxes=None,
                 margin: float = 1.25, scale_jitter: float = 0.25, shift_jitter: float = 0.1,
                 rotation: float = 0.0, flip: bool = False, head_size=None, check_files: bool = True,
                 supersample: int = 2):
        if not isinstance(poses, PoseSet):
            raise TypeError(f"PhotoDataset: poses must be a PoseSet, got {type(poses).__name__}")
        if not isinstance(resolution, (int, np.integer)) or resolution < 8:
            raise ValueError(f"PhotoDataset: resolution must be an int >= 8, got {resolution!r}")
        n = len(poses)
        self.paths = [str(p) for p in paths]
        if len(self.paths) != n:
            raise ValueError(f"PhotoDataset: {len(self.paths)} image paths for {n} samples")
        self.poses = poses
        self.resolution = int(resolution)
        self.heatmap_resolution = int(heatmap_resolution or max(1, resolution // 4))
        self.sigma = float(sigma)
        self.augment, self.seed, self.epoch = bool(augment), int(seed), 0
        self.device = torch.device(device)
        self.margin, self.scale_jitter, self.shift_jitter = margin, scale_jitter, shift_jitter
        self.rotation, self.flip = float(rotation), bool(flip)
        self.supersample = int(supersample)
        self.boxes = boxes_from_joints(poses.poses_2d, poses.visible, margin) if boxes is None \
            else np.asarray(boxes, np.float64).reshape(n, 3)
        if not (np.isfinite(self.boxes).all() and (self.boxes[:, 2] > 0).all()):
            raise ValueError("PhotoDataset: crop boxes must be finite with a positive side")
        self.head_size = None if head_size is None else np.asarray(head_size, np.float64).reshape(n)
        has3d = poses.has_3d.astype(bool)
        rel = np.where(has3d[:, None, None], poses.poses_3d - poses.poses_3d[:, :1], 0.0)
        self._rel3d = np.nan_to_num(rel).astype(np.float32)
        if check_files:
            check_images_present(self.paths)

    def __len__(self) -> int:
        return len(self.poses)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw for a new epoch (no effect without augment)."""
        self.epoch = int(epoch)

    def head_size_crop(self, indices) -> np.ndarray:
        """MPII head sizes (PCKh norm) of ``indices`` in crop px (NaN where unknown) -- without augmentation."""
        idx = np.asarray(indices, np.int64).reshape(-1)
        if self.head_size is None:
            return np.full(len(idx), np.nan)
        return self.head_size[idx] * self.resolution / self.boxes[idx, 2]

    def in_crop(self) -> np.ndarray:
        """(N, 17) bool: annotated and inside the unaugmented crop (the items' ``joints_visible``), from the
        labels alone (no image is read)."""
        from .render import to_crop
        j = to_crop(self.poses.poses_2d, self.boxes, self.resolution)
        return ((j >= -0.5) & (j < self.resolution - 0.5)).all(-1) & self.poses.visible.astype(bool)

    def _draw(self, i: int):
        """(box, angle, flipped) of sample ``i`` this epoch."""
        box = self.boxes[i].copy()
        if not self.augment:
            return box, 0.0, False
        u = np.random.default_rng([self.seed & 0x7FFFFFFF, self.epoch, i]).random(5)
        side = box[2] * (1.0 + self.scale_jitter * (2 * u[0] - 1))
        centre = box[:2] + box[2] / 2 + self.shift_jitter * side * (2 * u[1:3] - 1)
        angle = self.rotation * (2 * u[3] - 1)
        box = np.array([centre[0] - side / 2, centre[1] - side / 2, side])
        return box, float(angle), bool(self.flip and u[4] < 0.5)

    def _sample(self, i: int) -> dict:
        R = self.resolution
        box, angle, flipped = self._draw(i)
        img = read_crop(self.paths[i], box, R, angle, expected_size=self.poses.image_size[i],
                        supersample=self.supersample)
        j2 = frame_to_crop(self.poses.poses_2d[i], box, R, angle)
        K = crop_intrinsics(self.poses.intrinsics[i:i + 1].astype(np.float64), box[None], R)[0]
        rel = self._rel3d[i].astype(np.float64)
        if angle:
            th = math.radians(angle)
            rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
            rel = np.concatenate([rel[:, :2] @ rot.T, rel[:, 2:]], 1)
        vis = self.poses.visible[i].astype(bool)
        if flipped:
            img = img[:, ::-1]
            j2 = j2[_PERM]
            j2[:, 0] = R - 1 - j2[:, 0]
            rel = rel[_PERM]
            rel[:, 0] = -rel[:, 0]
            vis = vis[_PERM]
            K = K.copy()
            K[2] = R - 1 - K[2]
        inside = ((j2 >= -0.5) & (j2 < R - 0.5)).all(-1)
        return dict(image=np.ascontiguousarray(img.transpose(2, 0, 1)), joints_2d=j2.astype(np.float32),
                    joints_visible=vis & inside, poses_3d=rel.astype(np.float32), intrinsics_crop=K.astype(np.float32))

    def get_batch(self, indices) -> dict:
        """Read, crop and label a batch; keys as :meth:`ImageDataset.get_batch`, stacked, on ``device``."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"PhotoDataset: index out of range for {n} samples")
        idx = np.where(idx < 0, idx + n, idx)
        items = [self._sample(int(i)) for i in idx]
        R, hr, dev = self.resolution, self.heatmap_resolution, self.device

        def stack(k, dtype=None):
            if not items:
                return torch.zeros((0,), dtype=dtype or torch.float32)
            return torch.as_tensor(np.stack([it[k] for it in items])).to(dev)
        images = (stack("image").float() / 255.0) if items else torch.zeros(0, 3, R, R, device=dev)
        j2 = stack("joints_2d").reshape(-1, NUM_JOINTS, 2)
        vis = stack("joints_visible", torch.bool).reshape(-1, NUM_JOINTS)
        rel = stack("poses_3d").reshape(-1, NUM_JOINTS, 3)
        jhm = crop_to_heatmap(j2, R, hr)
        heat = gaussian_maps(jhm, vis, hr, self.sigma)
        has3d = torch.as_tensor(self.poses.has_3d[idx].astype(bool), device=dev)
        return dict(image=images, heatmaps=heat, joints_2d=j2, joints_heatmap=jhm, joints_visible=vis,
                    joints_occluded=torch.zeros_like(vis), poses_3d=rel, has_3d=has3d, depth=rel[..., 2].clone(),
                    intrinsics_crop=stack("intrinsics_crop").reshape(-1, 4),
                    head_size=torch.as_tensor(self.head_size_crop(idx), dtype=torch.float32, device=dev),
                    index=torch.as_tensor(idx, device=dev), scene=[str(s) for s in self.poses.scene[idx]])



def check_images_present(paths) -> None:
    """Every file of ``paths`` exists (one directory listing per folder); DataFormatError naming the first
    missing one, its folder's frame count and the highest frame the labels need."""
    by_dir: dict[str, list[str]] = {}
    for p in paths:
        d, name = os.path.split(p)
        by_dir.setdefault(d, []).append(name)
    for d, names in by_dir.items():
        try:
            have = set(os.listdir(d))
        except FileNotFoundError:
            raise DataFormatError(f"{os.path.join(d, names[0])}: missing image (the folder {d} does not exist; "
                                  f"{len(names)} labelled samples need it)") from None
        except NotADirectoryError:
            raise DataFormatError(f"{d}: not a folder; expected the images {names[0]}, ...") from None
        missing = [nm for nm in names if nm not in have]
        if missing:
            imgs = sum(1 for h in have if h.lower().endswith((".jpg", ".jpeg", ".png")))
            raise DataFormatError(f"{os.path.join(d, missing[0])}: missing image ({len(missing)} of {len(names)} "
                                  f"labelled images absent from a folder of {imgs} images, last needed "
                                  f"{max(names)}: frames and labels do not match, or frames not extracted)")


# --- the three datasets --------------------------------------------------------------------------
def h36m_frame_paths(frames_root, poses: PoseSet) -> list[str]:
    """Image paths of a Human3.6M PoseSet: ``<frames_root>/<subject>/<sequence>.<camera>/frame_%06d.jpg``
    (0-based frame at 50 Hz), or ffmpeg's ``img_%06d.jpg`` (frame + 1) in a folder that holds no
    ``frame_*.jpg``."""
    root = Path(frames_root)
    if not root.is_dir():
        raise FileNotFoundError(f"Human3.6M frames_root {root} is not a folder (expected <root>/S1/"
                                "Directions 1.54138969/frame_000000.jpg, see book/datasets.md)")
    style: dict[str, str] = {}
    out = []
    for s, q, c, f in zip(poses.subject, poses.sequence, poses.camera, poses.frame):
        d = os.path.join(str(root), str(s), f"{q}.{c}")
        if d not in style:
            try:
                names = os.listdir(d)
            except OSError:
                names = []
            ffmpeg = not any(n.startswith("frame_") for n in names) and any(n.startswith("img_") for n in names)
            style[d] = "img" if ffmpeg else "frame"
        out.append(os.path.join(d, f"img_{int(f) + 1:06d}.jpg" if style[d] == "img" else f"frame_{int(f):06d}.jpg"))
    return out


def h36m_photos(frames_root, data_root=None, split: str = "train", poses: PoseSet | None = None,
                **options) -> PhotoDataset:
    """Human3.6M frames with their 3D, 2D and cameras. ``poses``: a Human3.6M PoseSet, else
    :func:`posecore.data.h36m.load_h36m` of ``data_root`` (default ``frames_root``) and ``split`` with
    the reader's options (``subjects``, ``stride``, ...); the rest of ``options`` go to :class:`PhotoDataset`."""
    from . import h36m
    reader = {k: options.pop(k) for k in ("subjects", "stride", "drop_corrupt", "project_2d") if k in options}
    if poses is None:
        poses = h36m.load_h36m(frames_root if data_root is None else data_root, split, **reader)
    return PhotoDataset(poses, h36m_frame_paths(frames_root, poses), **options)


def mpii_photos(data_root, split: str = "train", images_root=None, **options) -> PhotoDataset:
    """MPII photos (2D only, ``has_3d`` False): ``<images_root or data_root/images>/<name>.jpg`` with the
    annotations :func:`posecore.data.mpii.load_mpii` reads under ``data_root``; crops from MPII's
    centre and scale (:func:`boxes_from_center_scale`), head sizes kept for PCKh."""
    from .mpii import load_mpii, mpii_extras
    poses = load_mpii(data_root, split)
    ex = mpii_extras(poses)
    folder = Path(images_root) if images_root is not None else Path(data_root) / "images"
    if not folder.is_dir():
        raise FileNotFoundError(f"MPII images folder {folder} does not exist (expected <root>/images/*.jpg)")
    margin = options.pop("margin", 1.25)
    boxes = options.pop("boxes", None)
    if boxes is None:
        boxes = boxes_from_center_scale(ex["center"], ex["scale"], margin)
    return PhotoDataset(poses, [str(folder / name) for name in poses.sequence], boxes=boxes, margin=margin,
                        head_size=ex["head_size"], **options)


def mpi3dhp_photos(data_root, sequences=None, valid_only: bool = True, universal: bool = True,
                   **options) -> PhotoDataset:
    """The MPI-INF-3DHP test set (3D + 2D): ``<root>/TSk/imageSequence/img_%06d.jpg`` (1-based) with
    ``<root>/TSk/annot_data.mat``. Every sequence's folder must hold as many frames as its annotations."""
    from .mpi3dhp import find_sources, image_path, load_3dhp, read_annot_data
    files = find_sources(data_root, sequences)
    base = files[0].parent.parent
    poses = load_3dhp(data_root, "test", sequences=sequences, valid_only=valid_only, universal=universal)
    for f in files:
        if f.parent.name not in set(poses.subject):
            continue
        n = len(read_annot_data(f)["annot2"])
        folder = f.parent / "imageSequence"
        have = sorted(x for x in os.listdir(folder) if x.startswith("img_")) if folder.is_dir() else []
        if len(have) != n:
            first = folder / (f"img_{len(have) + 1:06d}.jpg" if len(have) < n else have[-1])
            raise DataFormatError(f"{first}: {folder} holds {len(have)} frames but {f} labels {n}: frames and "
                                  "labels do not match")
    return PhotoDataset(poses, [str(base / image_path(poses, i)) for i in range(len(poses))], **options)


__all__ = [
    "PhotoDataset",
    "boxes_from_center_scale",
    "boxes_from_joints",
    "check_images_present",
    "frame_to_crop",
    "h36m_frame_paths",
    "h36m_photos",
    "mpi3dhp_photos",
    "mpii_photos",
    "read_crop",
]
