"""Extract JPEG frames from the Human3.6M videos and the MPI-INF-3DHP training videos (with PyAV).

    python data_scripts/extract_frames.py h36m --root ~/data/h36m [--out DIR] [--every 5] [--subjects S1 S5]
    python data_scripts/extract_frames.py 3dhp --root ~/data/mpi_inf_3dhp [--out DIR] [--every 10]

Inputs (the releases' layouts): Human3.6M ``<root>/S1/Videos/Directions 1.54138969.mp4`` (videos whose
name starts with ``_`` -- the ``_ALL`` mosaics -- are skipped); MPI-INF-3DHP training
``<root>/S1/Seq1/imageSequence/video_0.avi``. Outputs (``--out``, default ``--root``): Human3.6M
``<out>/S1/Directions 1.54138969/frame_000005.jpg`` -- the layout :func:`posecore.data.photos.h36m_photos`
reads; 3DHP ``<out>/S1/Seq1/imageFrames/video_0/frame_000010.jpg``. The number is the 0-based index of
the frame in the video (50 Hz for Human3.6M, so it is the ``frame`` of the labels); every ``--every``-th
frame is written (0, N, 2N, ...). Read the labels with a stride that is a multiple of ``--every``.

Resumable: frames already written are skipped (not re-encoded) and a finished video leaves a
``.complete`` marker, so a second run skips it at once; every file is written under a temporary name
and renamed (``os.replace``), so an interrupted run never leaves a half-written JPEG. A missing or
broken video prints one line ``error: <file>: <problem>``; the other videos are still extracted and the
exit status is 1. See book/datasets.md (nothing of these datasets is shipped with posecore).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MARKER = ".complete"


class VideoError(Exception):
    """A missing or undecodable video; the message is one line naming the file."""


def h36m_jobs(root, out, subjects=None) -> list[tuple[Path, Path]]:
    """(video, output folder) pairs of ``<root>/S*/Videos/*.mp4`` -> ``<out>/S*/<video stem>/``."""
    root, out = Path(root), Path(out)
    jobs = []
    for sdir in sorted(p for p in root.glob("S*") if p.is_dir()):
        if subjects and sdir.name not in subjects:
            continue
        for v in sorted((sdir / "Videos").glob("*.mp4")):
            if not v.name.startswith("_"):
                jobs.append((v, out / sdir.name / v.stem))
    return jobs


def mpi3dhp_jobs(root, out, subjects=None) -> list[tuple[Path, Path]]:
    """``<root>/S*/Seq*/imageSequence/video_*.avi`` -> ``<out>/S*/Seq*/imageFrames/video_*/``."""
    root, out = Path(root), Path(out)
    jobs = []
    for v in sorted(root.glob("S*/Seq*/imageSequence/video_*.avi")):
        s, seq = v.parts[-4], v.parts[-3]
        if subjects and s not in subjects:
            continue
        jobs.append((v, out / s / seq / "imageFrames" / v.stem))
    return jobs


def _atomic_jpeg(image, path: Path, quality: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format="JPEG", quality=quality)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def extract_video(video, out_dir, every: int = 1, quality: int = 95, progress=None) -> dict:
    """Write every ``every``-th frame of ``video`` as ``out_dir/frame_%06d.jpg`` (0-based index), skipping
    frames already there; returns {written, skipped, frames}. Raises :class:`VideoError` (one line naming
    the file) for a missing or undecodable video. ``progress``: a tqdm bar to advance per frame."""
    import av
    video, out_dir = Path(video), Path(out_dir)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if (out_dir / MARKER).exists():
        return dict(written=0, skipped=0, frames=None, complete=True)
    if not video.is_file():
        raise VideoError(f"{video}: missing video file")
    out_dir.mkdir(parents=True, exist_ok=True)
    have = set(os.listdir(out_dir))
    written = skipped = i = 0
    try:
        with av.open(str(video)) as container:
            if not container.streams.video:
                raise VideoError(f"{video}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if i % every == 0:
                    name = f"frame_{i:06d}.jpg"
                    if name in have:
                        skipped += 1
                    else:
                        _atomic_jpeg(frame.to_image(), out_dir / name, quality)
                        written += 1
                if progress is not None:
                    progress.update(1)
                i += 1
    except VideoError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        raise VideoError(f"{video}: broken video after {i} frames ({type(e).__name__}: "
                         f"{' '.join(str(e).split())})") from None
    if i == 0:
        raise VideoError(f"{video}: broken video (no frame decodes)")
    tmp = out_dir / f".{MARKER}.{os.getpid()}.tmp"
    tmp.write_text(f"{i} frames, every {every}\n")
    os.replace(tmp, out_dir / MARKER)
    return dict(written=written, skipped=skipped, frames=i, complete=False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("dataset", choices=("h36m", "3dhp"))
    ap.add_argument("--root", required=True, help="the dataset's folder (see above)")
    ap.add_argument("--out", default=None, help="where the frames go (default: --root)")
    ap.add_argument("--every", type=int, default=None, help="keep every n-th frame (default: 5 h36m, 10 3dhp)")
    ap.add_argument("--subjects", nargs="+", default=None, help="only these subjects (e.g. S1 S5)")
    ap.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)
    from tqdm import tqdm
    root = Path(a.root).expanduser()
    if not root.is_dir():
        print(f"error: {root}: not a folder", file=sys.stderr)
        return 1
    every = a.every or (5 if a.dataset == "h36m" else 10)
    jobs = (h36m_jobs if a.dataset == "h36m" else mpi3dhp_jobs)(root, Path(a.out).expanduser() if a.out else root,
                                                               a.subjects)
    if not jobs:
        where = "S*/Videos/*.mp4" if a.dataset == "h36m" else "S*/Seq*/imageSequence/video_*.avi"
        print(f"error: {root}: no videos found (looked for {where})", file=sys.stderr)
        return 1
    failed = 0
    totals = dict(written=0, skipped=0)
    with tqdm(total=None, unit="frame", disable=a.no_progress, dynamic_ncols=True) as bar:
        for k, (video, out) in enumerate(jobs):
            bar.set_description(f"[{k + 1}/{len(jobs)}] {video.parent.parent.name}/{video.name}")
            try:
                r = extract_video(video, out, every, a.quality, progress=bar)
            except VideoError as e:
                failed += 1
                tqdm.write(f"error: {e}", file=sys.stderr)
                continue
            totals["written"] += r["written"]
            totals["skipped"] += r["skipped"]
    print(f"{len(jobs) - failed} of {len(jobs)} videos done: {totals['written']} frames written, "
          f"{totals['skipped']} already there")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
