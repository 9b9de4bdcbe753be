"""The ``posecore`` command line. One command so far:

``posecore lift INPUT... [--format auto|coco17|openpose25|mpii16|h36m17] [--intrinsics FX FY CX CY]
[--image-size W H] [--normalised] [--model martinez|wang] [--checkpoint PATH]
[-o OUT.json|OUT.npz] [--html OUT.html] [--force] [--min-score 0.3] [--no-novelty]``

turns a 2D detector's keypoints (COCO, OpenPose BODY_25, MPII-16 or H36M-17 arrays; see
:mod:`posecore.keypoints` for the formats, the joint mapping and the checks) into 3D poses with
:func:`posecore.api.lift`. Several inputs are concatenated (their ids then start with the file name).
Without ``-o`` and ``--html`` the JSON result goes to stdout. Each pose gets a ``novelty`` score: how
far its 2D pose lies from the lifter's training poses (:mod:`posecore.novelty`); poses above the
lifter's threshold are counted in a warning (their 3D is less reliable) and marked in the HTML view.
The default model is ``posecore.api.DEFAULT_MODEL`` (the shipped lifter with the lowest error on
chapter 11's COCO and OpenPose files), or the kind of ``--checkpoint``'s file; a ``--model`` that
disagrees with that file is refused. No output may be one of the inputs (with or without ``--force``).

stderr on success: ``format: coco17 (detected)`` per input, ``posecore lift: warning: ...`` lines
and a one-line summary. On failure these notes are dropped and stderr holds exactly one line.
Exit codes: 0 success; 2 bad input or usage (``posecore lift: error: <file>: <problem>``, no
traceback); 1 posecore.api cannot be imported or an internal error (one line;
``POSECORE_DEBUG=1`` prints the notes and shows the traceback instead).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import sys
import warnings

import numpy as np

from . import keypoints as kpt

PROG = "posecore"
MODELS = ("martinez", "wang")      # posecore.api.SHIPPED (checked by tests/test_cli.py); api is imported late
DEFAULT_MODEL = "wang"             # posecore.api.DEFAULT_MODEL (same check)
EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


class _Usage(Exception):
    def __init__(self, prog, message):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``<prog>: error: <message>``) raised, not printed."""

    def error(self, message):
        raise _Usage(self.prog, message)


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _debug() -> bool:
    return os.environ.get("POSECORE_DEBUG", "") not in ("", "0")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="posecore: monocular 3D human pose estimation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    lift = sub.add_parser(
        "lift", help="lift a 2D detector's keypoints to 3D poses",
        description="Lift 2D keypoints (COCO results/annotations JSON, OpenPose BODY_25 JSON files or "
                    "folders, MPII-16 / H36M-17 arrays in .npy/.npz/.json) to 3D poses in mm "
                    "(camera frame, root-relative). Without -o and --html the JSON result is "
                    "written to stdout.",
        epilog="Formats, the joint mapping and the checks: see the posecore.keypoints docstring. "
               "POSECORE_DEBUG=1 shows tracebacks.")
    lift.add_argument("inputs", nargs="+", metavar="INPUT",
                      help="keypoint file(s) or OpenPose folder(s); several are concatenated")
    lift.add_argument("--format", default="auto", choices=("auto", *kpt.FORMATS),
                      help="input format (default: auto, detected from the content)")
    lift.add_argument("--intrinsics", nargs=4, type=float, metavar=("FX", "FY", "CX", "CY"),
                      help="camera intrinsics in pixels")
    lift.add_argument("--image-size", nargs=2, type=float, metavar=("W", "H"),
                      help="image size in pixels: a default camera (60 deg field of view) when "
                           "--intrinsics is not given, the scale of --normalised, and bounds checks")
    lift.add_argument("--normalised", "--normalized", action="store_true",
                      help="coordinates are fractions [0, 1] of the image width/height (needs --image-size, "
                           "or a COCO annotation file's image sizes)")
    lift.add_argument("--model", default=None, choices=MODELS,
                      help=f"shipped lifter (default: {DEFAULT_MODEL}, or the kind of --checkpoint's file)")
    lift.add_argument("--checkpoint", metavar="PATH",
                      help="lifter file, e.g. a chapter's export (default: the model's shipped file)")
    lift.add_argument("-o", "--output", metavar="OUT", help="result file, .json or .npz")
    lift.add_argument("--html", metavar="OUT.html", help="standalone page with interactive 3D skeletons")
    lift.add_argument("--force", action="store_true", help="overwrite existing output files")
    lift.add_argument("--min-score", type=float, default=kpt.DEFAULT_MIN_SCORE, metavar="S",
                      help=f"keypoints with a confidence below S are missing (default {kpt.DEFAULT_MIN_SCORE})")
    lift.add_argument("--no-novelty", action="store_true",
                      help="do not score how far each pose lies from the lifter's training poses")
    lift.set_defaults(func=_lift)
    return parser


def _err(prog, message):
    print(f"{prog}: error: {_one_line(message)}", file=sys.stderr)


def _show_warning_factory(prog, previous, notes):
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, kpt.KeypointWarning):
            notes.append(f"{prog}: warning: {_one_line(message)}")
        else:
            previous(message, category, filename, lineno, file, line)
    return show


def _flush(notes):
    for line in notes:
        print(line, file=sys.stderr)
    notes.clear()


def _intrinsics(args, ks, prog, notes):
    """(N, 4) per-pose intrinsics and a word on where they come from; notes the assumption made."""
    n = len(ks)
    fov = f"{prog}: warning: no intrinsics given: assuming a {kpt.DEFAULT_FOV_DEG:g} deg field of view over"
    if args.intrinsics is not None:
        K = np.asarray(args.intrinsics, float)
        if not np.isfinite(K).all() or (K[:2] <= 0).any():
            raise _Usage(prog, "argument --intrinsics: FX and FY must be positive and every value finite")
        return np.broadcast_to(K, (n, 4)).copy(), "given"
    if args.image_size is not None:
        K = kpt.default_intrinsics(args.image_size)
        w, h = args.image_size
        notes.append(f"{fov} the {w:g} x {h:g} image: fx = fy = {K[0]:.1f}, cx = {K[2]:.1f}, cy = {K[3]:.1f}")
        return np.broadcast_to(K, (n, 4)).copy(), "image size"
    sizes = ks.image_sizes if ks.image_sizes is not None else np.full((n, 2), np.nan)
    known = np.isfinite(sizes).all(1) & (sizes > 0).all(1)
    K = np.zeros((n, 4))
    for i in np.nonzero(known)[0]:
        K[i] = kpt.default_intrinsics(sizes[i])
    if known.any():
        notes.append(f"{fov} each image's width x height in the annotation file ({int(known.sum())} poses)")
    if (~known).any():
        Ke = kpt.default_intrinsics(poses=ks.poses_2d[~known])
        K[~known] = Ke
        notes.append(f"{fov} a {2 * Ke[2]:.0f} x {2 * Ke[3]:.0f} image estimated from the keypoints' extent: "
                     f"fx = fy = {Ke[0]:.1f}, cx = {Ke[2]:.1f}, cy = {Ke[3]:.1f}; pass --intrinsics FX FY CX CY "
                     f"or --image-size W H")
    return K, "estimated"


def _resolved(path) -> str:
    return os.path.realpath(os.path.abspath(path))


def _check_inputs(inputs, others):
    """Refuse an input given twice (its poses would be lifted twice, with duplicate ids) and an output
    that is one of the inputs or lies inside an input folder, whatever --force says:
    a user's input is never overwritten."""
    seen = {}
    for path in inputs:
        r = _resolved(path)
        if r in seen:
            raise kpt.KeypointError(f"given twice (also as {seen[r]!r}): its poses would be lifted twice", path)
        seen[r] = path
    for other in others:
        r = _resolved(other)
        for path in inputs:
            ri = _resolved(path)
            if r == ri or (os.path.isdir(ri) and r.startswith(ri.rstrip(os.sep) + os.sep)):
                what = "is one of the inputs" if r == ri else f"lies inside the input folder {path!r}"
                raise kpt.KeypointError(f"{what}: posecore lift never writes over its input", other)


BLOCK = 1 << 12   # poses lifted (and scored) at a time: the memory of 10^6 poses stays bounded


def _lift_blocks(lifter, poses_2d, K, score: bool):
    """(N, 17, 3) float32 root-relative mm poses and (N,) float32 novelty (None without ``score`` or an
    index), lifted :data:`BLOCK` poses at a time into preallocated arrays."""
    n = len(poses_2d)
    out = np.empty((n, 17, 3), np.float32)
    scores = np.empty(n, np.float32) if score and getattr(lifter, "index", None) is not None else None
    for s in range(0, n, BLOCK):
        p2, k = poses_2d[s:s + BLOCK], K[s:s + BLOCK]
        p3 = np.asarray(lifter(p2, k), np.float32)
        if p3.shape != (len(p2), 17, 3):
            raise RuntimeError(f"the lifter returned shape {p3.shape}, expected {(len(p2), 17, 3)}")
        out[s:s + BLOCK] = p3 - p3[:, :1]                   # root-relative whatever the lifter returns
        if scores is not None:
            scores[s:s + BLOCK] = lifter.novelty(p2, k)
    return out, scores


def _lift(args, prog, notes) -> int:
    if args.min_score < 0 or not np.isfinite(args.min_score):
        raise _Usage(prog, f"argument --min-score: must be a number >= 0, got {args.min_score:g}")
    if args.image_size is not None and (min(args.image_size) <= 0 or not np.isfinite(args.image_size).all()):
        raise _Usage(prog, "argument --image-size: W and H must be positive")
    # outputs are checked before any work is done
    outputs = [p for p in (args.output, args.html) if p]
    if args.output:
        kpt.check_output_path(args.output, args.force, (".json", ".npz"))
    if args.html:
        kpt.check_output_path(args.html, args.force, (".html", ".htm"))
    if len(outputs) == 2 and os.path.abspath(outputs[0]) == os.path.abspath(outputs[1]):
        raise kpt.KeypointError("-o and --html name the same file", args.output)
    _check_inputs(args.inputs, outputs)

    several = len(args.inputs) > 1
    sets = []
    for path in args.inputs:
        raw = kpt.read_keypoints(path, args.format)
        how = "detected" if raw.detected else "given"
        notes.append(f"{path}: format: {raw.format} ({how})" if several else f"format: {raw.format} ({how})")
        sets.append(kpt.to_h36m(raw, args.min_score, args.image_size, args.normalised))
        del raw                             # its arrays may be the set's own: one owner, freed with it
    ks = kpt.KeypointSet.concatenate(sets)
    del sets
    if len(ks) == 0:
        raise kpt.KeypointError(f"no pose has all the joints the lifter needs: {len(ks.skipped)} skipped for "
                                f"joints missing or below --min-score {args.min_score:g}", ", ".join(args.inputs))
    K, k_source = _intrinsics(args, ks, prog, notes)

    try:
        api = importlib.import_module("posecore.api")
    except ImportError as e:
        if _debug():
            _flush(notes)
            raise
        print(f"{prog}: error: cannot import posecore.api, which lifting needs: {_one_line(e)}", file=sys.stderr)
        return EXIT_INTERNAL
    where = args.checkpoint or f"model {args.model or api.DEFAULT_MODEL}"
    try:
        lifter = api.load(args.model, args.checkpoint)
        poses_3d, scores = _lift_blocks(lifter, ks.poses_2d, K, not args.no_novelty)
        ks.poses_2d = np.empty((0, 17, 2), np.float32)   # the 2D input is not needed any more: freed before writing
        sha = api.checkpoint_sha256(checkpoint=lifter.path)
    except OSError as e:
        if _debug():
            raise
        raise kpt.KeypointError(e.strerror if e.filename else _one_line(e) or type(e).__name__,
                                e.filename) from None
    except ValueError as e:
        if _debug():
            raise
        msg = _one_line(e)
        raise kpt.KeypointError(msg.removeprefix(f"{where}: "), where) from None   # the file named once
    threshold = lifter.threshold if scores is not None else None
    if scores is not None:
        far = int((scores > threshold).sum())
        if far:
            notes.append(f"{prog}: warning: {far} of {len(ks)} poses lie far from the poses the {lifter.kind} lifter "
                         f"learned (novelty above {threshold:g}); expect larger 3D errors for them (field "
                         f"'novelty' of the output)")
    elif not args.no_novelty:
        notes.append(f"{prog}: note: {lifter.path} has no novelty index: poses are not scored")

    fields = dict(skipped=ks.skipped, model=lifter.kind, checkpoint_sha256=sha,
                  input_format=ks.input_format, intrinsics=K, novelty=scores, novelty_threshold=threshold,
                  extra={"inputs": [str(p) for p in args.inputs], "intrinsics_source": k_source})
    written = []
    if args.output:
        kpt.write_result(args.output, poses_3d, ks.ids, force=args.force, in_place=True, **fields)
        written.append(args.output)
    if args.html:
        kpt.write_html(args.html, poses_3d, ks.ids, force=args.force,
                       title=f"posecore lift: {len(ks)} poses ({lifter.kind})", novelty=scores,
                       novelty_threshold=threshold)
        written.append(args.html)
    if not outputs:
        doc = kpt.json_fields(kpt._result_fields(poses_3d, ks.ids, **fields))
        sys.stdout.write(json.dumps(doc, separators=(",", ":")) + "\n")  # dumps: the C encoder
        sys.stdout.flush()
        written.append("stdout")
    _flush(notes)
    print(f"{prog}: {len(ks)} pose{'s' if len(ks) != 1 else ''} lifted with {lifter.kind}, skipped "
          f"{len(ks.skipped)}, written to {' and '.join(written)}", file=sys.stderr)
    return EXIT_OK


def main(argv=None) -> int:
    """Run ``posecore`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    prog = f"{PROG} lift"
    notes: list[str] = []
    try:
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_BAD_INPUT
        # no cyclic garbage collection while reading/writing: with torch loaded, each collection
        # walks ~1e6 objects, and building 1e5+ JSON lists triggers hundreds (2x slower for 10k poses)
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", kpt.KeypointWarning)
                warnings.showwarning = _show_warning_factory(prog, warnings.showwarning, notes)
                return args.func(args, prog, notes)
        finally:
            if gc_was_enabled:
                gc.enable()
    except _Usage as e:
        print(f"{e.prog}: error: {_one_line(e)} (see {e.prog} --help)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as e:  # --help, --version
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (kpt.KeypointError, OSError, ValueError) as e:
        if _debug():
            _flush(notes)
            raise
        if isinstance(e, OSError) and not isinstance(e, kpt.KeypointError):
            msg = f"{e.filename}: {e.strerror}" if e.filename else _one_line(e)
        else:
            msg = str(e)
        _err(prog, msg)
        return EXIT_BAD_INPUT
    except Exception as e:  # noqa: BLE001 -- a bug: one line unless debugging
        if _debug():
            _flush(notes)
            raise
        print(f"{prog}: internal error: {type(e).__name__}: {_one_line(e)} (rerun with POSECORE_DEBUG=1 "
              f"for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
