"""The user-facing calls: export a trained lifter to one self-contained file, load it back, and lift
2D poses to 3D with it.

An exported file is a dict {"kind", "config", "models": {name: state_dict}, "norm", ...extras} saved
with :func:`torch.save` and read back with ``weights_only=True`` (tensors, numbers, strings, lists and
dicts only: loading a file never runs code from it). :data:`LOADERS` maps each kind to the function
that rebuilds the lifter -- the registry lives here, so models never import this module.

    posecore.api.lift(poses_2d, intrinsics)                 # (N, 17, 2) px -> (N, 17, 3) mm
    posecore.api.novelty(poses_2d, intrinsics)              # (N,) how far from the training poses

Default checkpoints: the lifters shipped inside the package (``posecore/weights/<kind>.pt``, made by
``make checkpoints``) for Martinez and Wang; otherwise the file a chapter exported with
:func:`export` to :func:`default_export`. Without a model or checkpoint, :data:`DEFAULT_MODEL` (the
shipped lifter with the lowest error on chapter 11's COCO and OpenPose files). A file may carry a
novelty index (:mod:`posecore.novelty`, key ``"novelty"``): :meth:`Lifter.novelty` scores each input
pose by its distance to the lifter's training poses.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import novelty as _novelty
from . import train
from .models import drover as _drover
from .models.lifter import Standardised, check_2d, check_intrinsics, lift_with
from .models.martinez import MartinezConfig, MartinezNet
from .models.wang import WangConfig, WangLifter

KINDS = ("martinez", "wang", "drover")
SHIPPED = ("martinez", "wang")   # the kinds with a file in posecore/weights (`make checkpoints`)
# the shipped lifter with the lowest error on chapter 11's COCO and OpenPose files (the chapter
# measures both and says whether this is still the better one)
DEFAULT_MODEL = "wang"
WEIGHTS = Path(__file__).resolve().parent / "weights"

# kind -> function(blob) -> lifter(poses_2d (N, 17, 2) px, intrinsics (N, 4) or None) -> (N, 17, 3) mm
LOADERS: dict[str, Callable] = {}


def register(kind: str):
    """Decorator: ``fn(blob) -> lifter`` rebuilds an exported file of ``kind``."""
    def deco(fn):
        LOADERS[kind] = fn
        return fn
    return deco


# --- files ----------------------------------------------------------------------------------------
def default_export(kind: str) -> Path:
    """Where a chapter exports its trained ``kind`` ('martinez', 'drover', 'wang')."""
    return train.checkpoint_dir() / f"{kind}_lifter.pt"


def shipped(kind: str) -> Path:
    """The lifter of ``kind`` shipped inside the package (may not exist for every kind)."""
    return WEIGHTS / f"{kind}.pt"


def export(path, kind: str, models: dict, config, norm: str = "pixel", novelty: dict | None = None,
           **extra) -> Path:
    """Save a self-contained lifter file read by :func:`load` (atomically: a temporary file renamed).
    ``config``: the model's config (dataclass or dict); ``norm``: its 2D input ('pixel' or 'camera');
    ``novelty``: an index of its training inputs (:func:`posecore.novelty.build_index`, with the
    intrinsics when ``norm='camera'``, without for 'pixel')."""
    if kind not in KINDS:
        raise ValueError(f"unknown lifter kind {kind!r}; choose one of {KINDS}")
    if novelty is not None:
        extra["novelty"] = _novelty.check_index(novelty)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = asdict(config) if is_dataclass(config) else dict(config)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"kind": kind, "config": _plain(config), "norm": norm,
                "models": {k: m.state_dict() for k, m in models.items()}, **_plain(extra)}, tmp)
    tmp.replace(path)
    return path


def _plain(x):
    """Tuples -> lists, numpy scalars -> Python numbers: what ``weights_only`` loading accepts."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def resolve_checkpoint(model: str | None = None, checkpoint=None) -> Path:
    """The file :func:`lift` reads: ``checkpoint`` if given, else the shipped lifter of ``model`` (default
    :data:`DEFAULT_MODEL`), else the chapter's export; FileNotFoundError saying how to make one."""
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such checkpoint file")
        return path
    model = DEFAULT_MODEL if model is None else model
    if model not in KINDS:
        raise ValueError(f"unknown model {model!r}; choose one of {KINDS}")
    for path in (shipped(model), default_export(model)):
        if path.is_file():
            return path
    raise FileNotFoundError(f"no {model} lifter: neither {shipped(model)} (make checkpoints) nor "
                            f"{default_export(model)} (run its chapter) exists")


def _read_file(path: Path, what: str) -> dict:
    """``torch.load(weights_only=True)`` of an exported file; a ValueError naming the file when it is
    not readable (any reason: one clear line). A file that holds other objects than tensors, numbers,
    strings, lists and dicts (a pickle that would run code when loaded) is refused as such: it is never
    loaded, and the message does not pass on torch's advice to load it without ``weights_only``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unreadable file gets the same clear message
        text = str(e)
        found = re.search(r"Unsupported global[^\n]*?(?=\.? *(\n|$|Please|Check))", text)
        if found:
            raise ValueError(f"{path}: refused: not a posecore {what} file, it holds objects other than tensors, "
                             f"numbers, strings, lists and dicts ({found.group(0).strip()}); posecore never loads "
                             f"such files") from None
        if "weights_only" in text or "Weights only" in text:              # torch's advice is not passed on
            op = re.search(r"Unsupported operand[^\n.]*", text)
            reason = op.group(0) if op else "not a torch file, or a damaged one"
        else:
            reason = text.strip().splitlines()[0] if text.strip() else ""
        raise ValueError(f"{path}: not a readable posecore {what} file ({type(e).__name__}: {reason})") from None


def load_export(path) -> dict:
    """The blob of an exported lifter file; clear errors for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported lifter at {path}: run its chapter (or api.export) first")
    blob = _read_file(path, "lifter")
    if not isinstance(blob, dict) or blob.get("kind") not in LOADERS:
        raise ValueError(f"{path}: not an exported posecore lifter (kinds: {sorted(LOADERS)})")
    return blob


def checkpoint_sha256(model: str | None = None, checkpoint=None) -> str:
    """SHA-256 of the file :func:`lift` would read."""
    return hashlib.sha256(resolve_checkpoint(model, checkpoint).read_bytes()).hexdigest()


# --- loaders --------------------------------------------------------------------------------------
def _float32(state: dict) -> dict:
    """A state dict with float16 tensors (the shipped lifters store their weights in half precision
    to stay small) cast back to float32."""
    return {k: v.float() if v.dtype == torch.float16 else v for k, v in state.items()}


@register("martinez")
def _martinez(blob):
    cfg = MartinezConfig(**blob["config"])
    model = Standardised(MartinezNet(cfg), cfg.in_features, cfg.out_features)
    model.load_state_dict(_float32(blob["models"]["model"]))
    model.eval()
    norm = blob.get("norm", "pixel")
    return lambda poses_2d, intrinsics=None: lift_with(model, poses_2d, intrinsics, norm)


@register("wang")
def _wang(blob):
    """With intrinsics: the absolute camera-space pose after geometric search; without them (pixel
    models only) the root-relative reconstruction."""
    c = dict(blob["config"])
    cfg = WangConfig(dx=c["dx"], net=MartinezConfig(**c["net"]), gs_method=c["gs_method"],
                     norm=c.get("norm", blob.get("norm", "pixel")), stereo=c.get("stereo", "views"))
    lifter = WangLifter(cfg)
    lifter.synth.load_state_dict(_float32(blob["models"]["synth"]))
    lifter.recon.load_state_dict(_float32(blob["models"]["recon"]))

    def run(poses_2d, intrinsics=None):
        if intrinsics is None:
            return lifter.reconstruct(poses_2d)
        return lifter.generate(poses_2d, intrinsics).astype(np.float32)
    return run


@register("drover")
def _drover_loader(blob):
    """(N, 17, 3) root-relative mm (three joints interpolated, see ``models.drover.to_h36m17``)."""
    cfg = _drover.DroverConfig(**{**blob["config"], "elevation": tuple(blob["config"]["elevation"])})
    gen = _drover.Generator(cfg)
    gen.load_state_dict(blob["models"]["generator"])

    def run(poses_2d, intrinsics=None):
        if intrinsics is None:
            raise ValueError("Drover lifter: intrinsics (N, 4) or (4,) are required to normalise the 2D poses")
        p17 = _drover.to_h36m17(_drover.lift_with(gen, poses_2d, intrinsics, blob["scale"], blob["mm_per_unit"]))
        return (p17 - p17[:, :1]).astype(np.float32)
    return run


# --- the plain calls ------------------------------------------------------------------------------
@dataclass
class Lifter:
    """A loaded lifter file: call it as ``lifter(poses_2d (N, 17, 2) px, intrinsics (N, 4) | (4,) |
    None) -> (N, 17, 3) mm``; :meth:`novelty` scores the same inputs against its training poses."""
    run: Callable
    kind: str
    path: Path
    norm: str
    index: dict | None

    def __call__(self, poses_2d, intrinsics=None) -> np.ndarray:
        return self.run(poses_2d, intrinsics)

    @property
    def threshold(self) -> float | None:
        """The novelty above which a pose is further from the training poses than 99 % of held-out poses
        like them (None without an index)."""
        return None if self.index is None else float(self.index["threshold"])

    def novelty(self, poses_2d, intrinsics=None) -> np.ndarray | None:
        """(N,) distance of each 2D pose to the nearest training pose (:mod:`posecore.novelty`); None
        when the file carries no index (a chapter export made without one)."""
        if self.index is None:
            return None
        p = check_2d(poses_2d)
        K = None if intrinsics is None or self.norm != "camera" else check_intrinsics(intrinsics, len(p))
        return _novelty.score(self.index, p, K)


def load(model: str | None = None, checkpoint=None) -> Lifter:
    """The lifter in an exported file (``checkpoint``, else the shipped or exported ``model``, default
    :data:`DEFAULT_MODEL`). When both are given the file's kind must be ``model``: ValueError naming the
    file otherwise; a file whose weights or config do not fit its kind is a ValueError naming it too."""
    path = resolve_checkpoint(model, checkpoint)
    blob = load_export(path)
    kind = blob["kind"]
    if model is not None and checkpoint is not None and kind != model:
        raise ValueError(f"{path}: holds a {kind} lifter, not {model} (drop --model, or give it as {kind})")
    try:
        run = LOADERS[kind](blob)
        index = _novelty.check_index(blob["novelty"]) if "novelty" in blob else None
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise ValueError(f"{path}: an incomplete or mismatched {kind} lifter file ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:300]})") from None
    return Lifter(run, kind, path, blob.get("norm", "pixel"), index)


def lift(poses_2d, intrinsics=None, model: str | None = None, checkpoint=None) -> np.ndarray:
    """2D poses (N, 17, 2) px (+ the camera intrinsics, (N, 4) or (4,) fx, fy, cx, cy, which
    camera-normalised models, Wang's geometric search and Drover need) -> 3D poses (N, 17, 3) mm."""
    p = check_2d(poses_2d)
    K = None if intrinsics is None else check_intrinsics(intrinsics, len(p))
    return load(model, checkpoint)(p, K)


def novelty(poses_2d, intrinsics=None, model: str | None = None, checkpoint=None) -> np.ndarray | None:
    """(N,) novelty of 2D poses (N, 17, 2) px for the lifter :func:`lift` would use (None if its file
    has no index); compare with ``load(...).threshold``."""
    return load(model, checkpoint).novelty(poses_2d, intrinsics)


# --- image models: an RGB crop -> 2D joints + 3D pose --------------------------------------------
IMAGE_KINDS = ("zhou", "yang", "wang", "fbi")


def default_image_export(kind: str) -> Path:
    """Where a chapter exports its trained image network of ``kind`` ('zhou', 'yang', 'wang', 'fbi')."""
    return train.checkpoint_dir() / f"{kind}_image.pt"


def export_image_model(path, kind: str, model, canonical_bone_lengths, **extra) -> Path:
    """Save an image network (a :class:`posecore.models.zhou.ZhouNet`: Zhou's, Yang's generator or Wang's) to
    one file read by :func:`load_image_model`: its config, weights and the canonical bone lengths (mm,
    BONES order) that scale its 3D output. Atomic (a temporary file renamed)."""
    if kind not in IMAGE_KINDS or kind == "fbi":
        raise ValueError(f"unknown image model kind {kind!r} for export_image_model; choose 'zhou', 'yang' "
                         f"or 'wang' (FBI: export_fbi_model)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"kind": f"image:{kind}", "config": _plain(asdict(model.config)),
                "models": {"G": model.state_dict()},
                "canonical_bone_lengths": [float(x) for x in np.asarray(canonical_bone_lengths).ravel()],
                **_plain(extra)}, tmp)
    tmp.replace(path)
    return path


def load_image_model(model: str = "yang", checkpoint=None) -> Callable:
    """The network in an exported image-model file (default: the one its chapter exported to
    :func:`default_image_export`): ``f(images) -> dict(joints_2d (N, 17, 2) crop px, depth (N, 17)
    normalised, pose_3d (N, 17, 3) root-relative mm scaled to the canonical bone-length sum)``;
    ``images``: (N, 3, R, R) floats in [0, 1] or (N, R, R, 3) uint8, R the network's resolution."""
    from .data.images import decode_joints
    from .models.zhou import ZhouConfig, ZhouNet, pose_3d

    if model not in IMAGE_KINDS:
        raise ValueError(f"unknown image model {model!r}; choose one of {IMAGE_KINDS}")
    path = Path(checkpoint) if checkpoint is not None else default_image_export(model)
    if not path.is_file():
        raise FileNotFoundError(f"no exported {model} image model at {path}: run its chapter first")
    blob = _read_file(path, "image-model")
    if not isinstance(blob, dict) or blob.get("kind") != f"image:{model}":
        raise ValueError(f"{path}: not an exported posecore {model} image model")
    net = ZhouNet(ZhouConfig(**blob["config"]))
    net.load_state_dict(blob["models"]["G"])
    net.eval()
    R = net.config.hourglass.resolution
    bone_sum = float(np.sum(blob["canonical_bone_lengths"])) if "canonical_bone_lengths" in blob else None
    refine = _fbi_refiner(blob, path) if model == "fbi" else None

    @torch.no_grad()
    def run(images) -> dict:
        x = _image_batch(images, R, model)
        out = net(x)
        j2d = decode_joints(out["heatmaps"][-1], R)[0].numpy()
        depth = out["depth"].numpy()
        if refine is not None:
            return refine(x, j2d, depth)
        return dict(joints_2d=j2d, depth=depth, pose_3d=pose_3d(j2d, depth, R, bone_sum))
    return run


def _image_batch(images, R: int, model: str) -> torch.Tensor:
    """(N, 3, R, R) floats in [0, 1] or (N, R, R, 3) uint8 -> (N, 3, R, R) float32; clear error otherwise."""
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim == 4 and x.dtype == torch.uint8 and x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2).float() / 255.0                     # (N, R, R, 3) uint8 -> (N, 3, R, R)
    if x.ndim != 4 or x.shape[1:] != (3, R, R) or not x.is_floating_point():
        raise ValueError(f"{model} image model: images must be (N, 3, {R}, {R}) floats in [0, 1] or "
                         f"(N, {R}, {R}, 3) uint8, got {tuple(x.shape)} {x.dtype}")
    return x.float()


def export_fbi_model(path, explicit, fbi_net, refiner, parts, **extra) -> Path:
    """Save the FBI pipeline (chapter 08) to one file read by ``load_image_model('fbi')``: the explicit
    branch (a ZhouNet), the FBI branch (:class:`posecore.models.fbi.FBINet`), the refinement regressor
    (a standardised Martinez network) and its input ``parts``. Atomic."""
    from .models.fbi import PARTS
    if not parts or set(parts) - set(PARTS):
        raise ValueError(f"export_fbi_model: parts must be a subset of {PARTS}, got {parts}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"kind": "image:fbi", "config": _plain(asdict(explicit.config)),
                "fbi_config": _plain(asdict(fbi_net.config)), "refiner_config": _plain(asdict(refiner.net.cfg)),
                "parts": list(parts), "models": {"G": explicit.state_dict(), "fbi": fbi_net.state_dict(),
                                                 "refiner": refiner.state_dict()}, **_plain(extra)}, tmp)
    tmp.replace(path)
    return path


def _fbi_refiner(blob: dict, path: Path) -> Callable:
    """``f(images, joints_2d, depth) -> dict(joints_2d, depth, fbi (N, 14, 3) probabilities, pose_3d
    (N, 17, 3) root-relative mm)`` from an exported FBI pipeline."""
    from .models.fbi import FBINet, FBINetConfig, refiner_input
    from .models.lifter import from_output
    try:
        fbi = FBINet(FBINetConfig(**blob["fbi_config"]))
        fbi.load_state_dict(blob["models"]["fbi"])
        rc = MartinezConfig(**blob["refiner_config"])
        ref = Standardised(MartinezNet(rc), rc.in_features, rc.out_features)
        ref.register_buffer("alpha", torch.tensor(float("nan")))
        ref.load_state_dict(blob["models"]["refiner"])
        parts = tuple(blob["parts"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise ValueError(f"{path}: an incomplete or mismatched FBI pipeline ({type(e).__name__}: {e})") from None
    fbi.eval()
    ref.eval()
    R = fbi.config.hourglass.resolution

    def refine(x, j2d, depth) -> dict:
        prob = torch.softmax(fbi(x)["fbi_logits"], -1).numpy()
        inp = refiner_input(parts, joints_2d=2.0 * j2d / R - 1.0, depth=depth, fbi=prob)
        pose = from_output(ref(torch.as_tensor(inp)).numpy())
        return dict(joints_2d=j2d, depth=depth, fbi=prob, pose_3d=pose)
    return refine
