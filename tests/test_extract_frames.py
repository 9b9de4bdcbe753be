"""data_scripts/extract_frames.py on short videos encoded here with PyAV (rendered frames, nothing of the
datasets): the layouts, every n-th frame, resuming, atomic writes, one-line errors, and the frames read
back by posecore.data.photos."""
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from posecore.data import photo_fixtures as pf
from posecore.data.photos import h36m_photos

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("extract_frames", ROOT / "data_scripts" / "extract_frames.py")
ef = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ef)


def encode(path, frames, fps=50, codec="mpeg4"):
    """Write (H, W, 3) uint8 frames as a video with PyAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.options = {"qscale": "2"} if codec == "mpeg4" else {}
        s.codec_context.bit_rate = 20_000_000
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def ramp(n, h=64, w=96):
    """Frames whose brightness encodes their index (so a frame's number can be read back)."""
    yy, xx = np.mgrid[:h, :w]
    return [np.stack([np.full((h, w), 20 + 20 * i), (xx * 2) % 256, (yy * 3) % 256], -1).astype(np.uint8)
            for i in range(n)]


def test_h36m_layout_every_nth_resume_and_atomic(tmp_path):
    frames = ramp(9)
    encode(tmp_path / "S1" / "Videos" / "Directions 1.54138969.mp4", frames)
    encode(tmp_path / "S1" / "Videos" / "_ALL 1.54138969.mp4", frames[:2])   # a mosaic: skipped
    assert ef.main(["h36m", "--root", str(tmp_path), "--every", "4", "--no-progress"]) == 0
    out = tmp_path / "S1" / "Directions 1.54138969"
    names = sorted(os.listdir(out))
    assert names == [".complete", "frame_000000.jpg", "frame_000004.jpg", "frame_000008.jpg"]
    assert not (tmp_path / "S1" / "_ALL 1.54138969").exists()
    from PIL import Image
    for i in (0, 4, 8):
        a = np.asarray(Image.open(out / f"frame_{i:06d}.jpg"), float)
        assert a.shape == (64, 96, 3) and abs(a[..., 0].mean() - (20 + 20 * i)) < 6
    # resuming: a finished video is skipped; without its marker only the missing frame is written
    mtime = (out / "frame_000000.jpg").stat().st_mtime_ns
    assert ef.extract_video(tmp_path / "S1" / "Videos" / "Directions 1.54138969.mp4", out, 4)["complete"]
    (out / ".complete").unlink()
    (out / "frame_000004.jpg").unlink()
    r = ef.extract_video(tmp_path / "S1" / "Videos" / "Directions 1.54138969.mp4", out, 4)
    assert (r["written"], r["skipped"], r["frames"]) == (1, 2, 9)
    assert (out / "frame_000000.jpg").stat().st_mtime_ns == mtime
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]


def test_3dhp_layout(tmp_path):
    encode(tmp_path / "S2" / "Seq1" / "imageSequence" / "video_3.avi", ramp(5))
    argv = ["3dhp", "--root", str(tmp_path), "--out", str(tmp_path / "o"), "--every", "2", "--no-progress"]
    assert ef.main(argv) == 0
    assert sorted(os.listdir(tmp_path / "o" / "S2" / "Seq1" / "imageFrames" / "video_3")) == \
        [".complete", "frame_000000.jpg", "frame_000002.jpg", "frame_000004.jpg"]


def test_missing_and_broken_videos_one_line_errors(tmp_path, capsys):
    with pytest.raises(ef.VideoError, match=r"nothing\.mp4: missing video file"):
        ef.extract_video(tmp_path / "nothing.mp4", tmp_path / "x")
    videos = tmp_path / "S1" / "Videos"
    encode(videos / "Walking 1.55011271.mp4", ramp(3))
    videos.joinpath("Eating 1.55011271.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is no video")
    good = encode(tmp_path / "tmp.mp4", ramp(6))
    data = good.read_bytes()
    videos.joinpath("Posing 1.55011271.mp4").write_bytes(data[: len(data) // 2])
    rc = ef.main(["h36m", "--root", str(tmp_path), "--every", "1", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) >= 1 and all(line.startswith("error: ") for line in err)
    assert any("Eating 1.55011271.mp4: broken video" in line for line in err)
    assert (tmp_path / "S1" / "Walking 1.55011271" / "frame_000002.jpg").exists()
    assert ef.main(["h36m", "--root", str(tmp_path / "empty"), "--no-progress"]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_extracted_h36m_frames_read_by_photos(tmp_path):
    src = tmp_path / "render"
    ps, _ = pf.write_h36m_frames(src, n_frames=6)        # frames 0 and 5 of 4 cameras, rendered
    from PIL import Image
    for cam in sorted(set(ps.camera)):
        folder = src / "S1" / f"Directions 1.{cam}"
        f0, f5 = (np.asarray(Image.open(folder / f"frame_{i:06d}.jpg")) for i in (0, 5))
        encode(tmp_path / "S1" / "Videos" / f"Directions 1.{cam}.mp4", [f0] * 5 + [f5])
    assert ef.main(["h36m", "--root", str(tmp_path), "--every", "5", "--no-progress"]) == 0
    for name in ("data_3d_h36m.npz", "data_2d_h36m_gt.npz"):
        os.replace(src / name, tmp_path / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = h36m_photos(tmp_path, split="train", subjects=("S1",), stride=5, resolution=64)
        ref = h36m_photos(src, data_root=tmp_path, split="train", subjects=("S1",), stride=5, resolution=64)
    a, b = ds.get_batch(np.arange(8)), ref.get_batch(np.arange(8))
    assert float((a["image"] - b["image"]).abs().mean()) < 0.02
    assert np.array_equal(a["joints_2d"].numpy(), b["joints_2d"].numpy())
