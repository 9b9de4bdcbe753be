"""Test fixtures for :mod:`posecore.data.photos`: folders of JPEG frames in the layouts of Human3.6M,
MPII and MPI-INF-3DHP, made from rendered poses (:mod:`posecore.data.render`) or from marker discs, with
the annotation files of :mod:`posecore.data.fixtures` in the official formats. Nothing here is data of
those datasets."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import fixtures as fx

# marker colours of the wrist discs: the person's left wrist red, right wrist blue
LEFT_COLOUR, RIGHT_COLOUR = (255, 0, 0), (0, 0, 255)


def save_jpeg(img_hwc_uint8, path, quality: int = 95) -> Path:
    from PIL import Image
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(img_hwc_uint8)).save(path, quality=quality)
    return path


def render_frames(poses_3d, intrinsics, sizes, scene="lab", seed: int = 0) -> list[np.ndarray]:
    """Full frames (H, W, 3) uint8 of camera-frame poses (N, 17, 3) mm with ``intrinsics`` (N, 4) and
    ``sizes`` (N, 2) (w, h): rendered square at max(w, h) px and cut to w x h."""
    from .render import render_batch
    out = []
    for i in range(len(poses_3d)):
        w, h = (int(v) for v in sizes[i])
        S = max(w, h)
        img = render_batch(torch.as_tensor(poses_3d[i:i + 1], dtype=torch.float32),
                           torch.as_tensor(intrinsics[i:i + 1], dtype=torch.float32), [scene], S,
                           torch.tensor([seed * 1000 + i]))
        a = (img[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        out.append(a[:h, :w])
    return out


def marker_frame(size, left=None, right=None, radius: float = 10.0) -> np.ndarray:
    """A black (h, w, 3) uint8 frame with a red disc at ``left`` and a blue one at ``right`` (px, pixel
    centres at integers)."""
    from PIL import Image, ImageDraw
    w, h = (int(v) for v in size)
    im = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(im)
    for p, col in ((left, LEFT_COLOUR), (right, RIGHT_COLOUR)):
        if p is not None:
            x, y = float(p[0]) + 0.5, float(p[1]) + 0.5
            d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=col)
    return np.asarray(im)


def write_h36m_frames(root, subjects=("S1",), sequences=("Directions 1",), n_frames=6, stride: int = 5,
                      style: str = "frame", test_stride: int = 1):
    """``<root>/data_3d_h36m.npz`` + ``data_2d_h36m_gt.npz`` (VideoPose3D format) and the rendered frames
    ``<root>/<subject>/<sequence>.<camera>/frame_%06d.jpg`` (``style='img'``: ffmpeg's 1-based
    ``img_%06d.jpg``): every ``stride``-th frame of the training subjects, every ``test_stride``-th of the
    test subjects (S9, S11). ``n_frames``: an int or ``f(subject, sequence)``. Returns (PoseSet, frame
    paths) of the training split (of the test split when no training subject is given)."""
    import warnings

    from .h36m import SPLIT_SUBJECTS, load_h36m
    from .photos import h36m_frame_paths
    root = Path(root)
    fx.write_h36m_npz(root, subjects=subjects, sequences=sequences, n_frames=n_frames)
    out = None
    for split, st in (("train", stride), ("test", test_stride)):
        subs = tuple(s for s in subjects if s in SPLIT_SUBJECTS[split])
        if not subs:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ps = load_h36m(root, split, subjects=subs, stride=st)
        frames = render_frames(ps.poses_3d, ps.intrinsics, ps.image_size)
        paths = []
        for i, img in enumerate(frames):
            d = root / ps.subject[i] / f"{ps.sequence[i]}.{ps.camera[i]}"
            name = f"img_{int(ps.frame[i]) + 1:06d}.jpg" if style == "img" else f"frame_{int(ps.frame[i]):06d}.jpg"
            paths.append(save_jpeg(img, d / name))
        assert [str(p) for p in paths] == h36m_frame_paths(root, ps)
        out = out or (ps, paths)
    return out


def write_mpii_photos(root, split: str = "valid", n_images: int = 4):
    """``<root>/annot/<split>.json`` (HRNet format, + gt_valid.mat) and ``<root>/images/*.jpg``: black
    1000 x 1000 photos with wrist markers of the first person of each image. Returns the people list of
    :func:`posecore.data.fixtures.mpii_fixture_people` (1-based px)."""
    root = Path(root)
    images = fx.mpii_fixture_people(n_images)
    fx.write_mpii_json(root / "annot", images, split)
    for i, people in enumerate(images):
        j = people[0]["joints"] - 1.0  # 0-based; MPII joint 15 = left wrist, 10 = right wrist
        save_jpeg(marker_frame((1000, 1000), j[15], j[10]), root / "images" / f"{100000000 + i:09d}.jpg")
    return images


def write_3dhp_photos(root, sequences=("TS1",), n_frames: int = 4):
    """``<root>/TSk/annot_data.mat`` (:func:`posecore.data.fixtures.write_3dhp_test`) and
    ``<root>/TSk/imageSequence/img_%06d.jpg`` (1-based) at the sequence's camera size, with wrist
    markers (3DHP joint 7 = left wrist, 4 = right wrist). Returns the fixture's truth dict."""
    from .mpi3dhp import camera_of
    root = Path(root)
    truth = fx.write_3dhp_test(root, sequences, n_frames=n_frames, invalid_every=0)
    for seq, t in truth.items():
        _, size = camera_of(seq)
        for f in range(n_frames):
            a2 = t["annot2"][f]
            save_jpeg(marker_frame(size, a2[7], a2[4]), root / seq / "imageSequence" / f"img_{f + 1:06d}.jpg",
                      quality=90)
    return truth


def write_chapter_photos(base) -> Path:
    """The three photo datasets an image chapter reads, at smoke size, under ``base``: ``h36m`` (S1: 10
    training frames per sequence, S9: 2 test frames), ``mpii`` (24 training images, 36 people: a pool of 24
    and 12 held out) and ``3dhp`` (TS1, TS5, 3 frames each). Returns ``base``."""
    base = Path(base)
    write_h36m_frames(base / "h36m", subjects=("S1", "S9"), n_frames=lambda s, a: 10 if s == "S1" else 2)
    write_mpii_photos(base / "mpii", split="train", n_images=24)
    write_3dhp_photos(base / "3dhp", ("TS1", "TS5"), n_frames=3)
    return base
