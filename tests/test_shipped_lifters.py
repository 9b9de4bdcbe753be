"""The lifters shipped inside the package (``posecore/weights/*.pt``, made by ``make checkpoints``): they
exist and are small, load with ``weights_only``, carry their provenance, still measure what they say,
are camera-invariant, and ``posecore lift`` uses them end to end right after installation (no chapter
run, no checkpoint cache)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from posecore import api, camera, data, novelty
from posecore import keypoints as kp
from posecore import skeleton as sk
from posecore.data import embedded
from posecore.evaluate import evaluate_3d, novelty_ranking

SHIPPED = ("martinez", "wang")
MAX_BYTES = 5_000_000
PROVENANCE = ("kind", "config", "norm", "models", "data", "git_commit", "torch_version", "metrics", "profile",
              "seed", "versions")
J = sk.JOINT_INDEX


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def blobs():
    return {k: torch.load(api.shipped(k), map_location="cpu", weights_only=True) for k in SHIPPED}


@pytest.fixture(scope="module")
def lab_test():
    return data.load("synth", "test")


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def coco_results(ps) -> list:
    """A COCO keypoint results list (one person per image) from a PoseSet (see keypoints.coco17_from_h36m)."""
    return kp.coco_results(kp.coco17_from_h36m(ps.poses_3d, ps.intrinsics, ps.poses_2d))


@pytest.mark.parametrize("kind", SHIPPED)
def test_shipped_file_exists_is_small_and_loads_weights_only(kind, blobs):
    path = api.shipped(kind)
    assert path.is_file(), f"{path} is missing: run `make checkpoints`"
    assert path.stat().st_size <= MAX_BYTES, f"{path}: {path.stat().st_size} bytes > {MAX_BYTES}"
    assert api.resolve_checkpoint(kind) == path                       # the default of posecore lift
    blob = blobs[kind]
    assert blob["kind"] == kind and blob["norm"] == "camera"
    missing = [k for k in PROVENANCE if k not in blob]
    assert not missing, f"{path}: provenance keys missing: {missing}"
    for sd in blob["models"].values():                                # fp16 matrices keep it small
        mats = [v for v in sd.values() if v.dim() >= 2]
        assert mats and all(v.dtype == torch.float16 for v in mats)
    assert isinstance(blob["git_commit"], str) and blob["git_commit"]
    assert blob["torch_version"].split(".")[0].isdigit()
    from posecore.recipes import martinez, wang
    stage = {"martinez": martinez.STAGE, "wang": wang.RECON}[kind]
    assert blob["versions"] == stage.versions(), \
        f"{path} was made at stage versions {blob['versions']}, now {stage.versions()}: run `make checkpoints`"
    for split in ("lab_test", "wild_test"):
        m = blob["metrics"][split]
        assert 0 < m["p_mpjpe"] <= m["mpjpe"] < 1000 and m["samples"] > 0


def test_shipped_weights_match_the_current_benchmark_and_readme(blobs, lab_test):
    d = blobs["martinez"]["data"]
    assert d["asset_sha256"] == sha256(embedded.ASSET), "the motion asset changed: rerun `make checkpoints`"
    assert d["benchmark"] == lab_test.meta["version"]
    readme = (api.WEIGHTS / "README.md").read_text(encoding="utf-8")
    for kind in SHIPPED:
        assert blobs[kind]["data"] == d
        assert sha256(api.shipped(kind))[:16] in readme, f"README.md does not describe the current {kind}.pt"
        assert f"{blobs[kind]['metrics']['lab_test']['mpjpe']:.1f}" in readme


@pytest.mark.parametrize("kind", SHIPPED)
def test_stored_metrics_are_remeasured_on_the_lab_test(kind, blobs, lab_test):
    stored = blobs[kind]["metrics"]["lab_test"]
    assert stored["samples"] == len(lab_test)
    ev = evaluate_3d(api.lift(lab_test.poses_2d, lab_test.intrinsics, model=kind), lab_test)
    assert abs(ev["mpjpe"] - stored["mpjpe"]) <= 0.5, (ev["mpjpe"], stored)
    assert abs(ev["p_mpjpe"] - stored["p_mpjpe"]) <= 0.5, (ev["p_mpjpe"], stored)


@pytest.mark.parametrize("kind", SHIPPED)
def test_the_same_body_seen_by_two_cameras_lifts_to_the_same_pose(kind, lab_test):
    P = lab_test.poses_3d[::64].astype(np.float64)                    # camera coordinates, mm
    K_a = np.array([1145.0, 1144.0, 512.0, 515.0])                    # 1000 x 1002, H36M-like
    K_b = np.array([1500.0, 1500.0, 965.0, 530.0])                    # 1920 x 1080, longer lens
    uv_a, uv_b = camera.project(P, K_a), camera.project(P, K_b)
    assert np.abs(uv_a - uv_b).max() > 100                            # really different pixels
    out_a = api.lift(uv_a, K_a, model=kind)
    out_b = api.lift(uv_b, K_b, model=kind)
    out_a, out_b = out_a - out_a[:, :1], out_b - out_b[:, :1]
    assert np.linalg.norm(out_a - out_b, axis=-1).max() <= 1.0


def test_posecore_lift_command_uses_the_shipped_lifter(tmp_path, lab_test):
    ps = lab_test[lab_test.camera == lab_test.camera[0]][::10][:120]
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps(coco_results(ps)))
    out = tmp_path / "out.json"
    exe = Path(sys.executable).with_name("posecore")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "posecore.cli"]
    K = ps.intrinsics[0]
    env = dict(os.environ, POSECORE_CHECKPOINTS=str(tmp_path / "no-cache"), OMP_NUM_THREADS="1")
    env.pop("POSECORE_DEBUG", None)
    r = subprocess.run(cmd + ["lift", str(dets), "--intrinsics", *map(str, K), "-o", str(out)],
                       capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "format: coco17 (detected)" in r.stderr, r.stderr
    doc = kp.read_result(out)
    # the only warning is the novelty count, and it counts the poses above the threshold in the output
    far = int((doc["novelty"] > doc["novelty_threshold"]).sum())
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert warnings == ([f"posecore lift: warning: {far} of {len(ps)} poses lie far from the poses the "
                         f"{api.DEFAULT_MODEL} lifter learned (novelty above {doc['novelty_threshold']:g}); expect "
                         f"larger 3D errors for them (field 'novelty' of the output)"] if far else []), r.stderr
    assert doc["format"] == kp.RESULT_FORMAT and doc["units"] == "mm" and doc["joints"] == list(sk.H36M_JOINTS)
    assert doc["poses_3d"].shape == (len(ps), 17, 3) and len(doc["ids"]) == len(ps) and not doc["skipped"]
    assert doc["model"] == api.DEFAULT_MODEL and doc["input_format"] == "coco17"
    assert doc["checkpoint_sha256"] == sha256(api.shipped(api.DEFAULT_MODEL))
    np.testing.assert_allclose(doc["intrinsics"], np.broadcast_to(K, (len(ps), 4)), atol=1e-3)
    # the COCO mapping (derived pelvis, spine, thorax and head top) costs some accuracy, not much
    direct = evaluate_3d(api.lift(ps.poses_2d, ps.intrinsics), ps)["mpjpe"]
    via_coco = evaluate_3d(doc["poses_3d"], ps)["mpjpe"]
    assert via_coco < direct + 40, (via_coco, direct)


# --- novelty ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SHIPPED)
def test_shipped_files_carry_a_novelty_index(kind, blobs, lab_test):
    """The index is 4,096 float16 training poses; its threshold is the 99th percentile of the lab test
    poses' novelty, so about 1 % of them lie above it."""
    idx = blobs[kind]["novelty"]
    assert idx["poses"].dtype == torch.float16 and tuple(idx["poses"].shape) == (novelty.INDEX_SIZE, 34)
    lifter = api.load(kind)
    s = lifter.novelty(lab_test.poses_2d, lab_test.intrinsics)
    assert s.shape == (len(lab_test),) and np.isfinite(s).all()
    assert 0.5 <= 100 * (s > lifter.threshold).mean() <= 1.5
    assert blobs[kind]["metrics"]["lab_test"]["novelty"]["share_above"] == pytest.approx((s > lifter.threshold).mean())


@pytest.mark.parametrize("kind", SHIPPED)
def test_novelty_ranks_the_wild_test_errors(kind):
    """The issue's targets, on the shipped lifters: Spearman(novelty, per-pose error) >= 0.5 on the wild
    test, and the 10 % most novel poses have at least twice the median error."""
    wild = data.load("synth", "wild_test")
    lifter = api.load(kind)
    r = novelty_ranking(lifter.novelty(wild.poses_2d, wild.intrinsics), lifter(wild.poses_2d, wild.intrinsics), wild)
    assert r["spearman"] >= 0.5 and r["top10_over_median"] >= 2.0, r


def test_a_model_that_disagrees_with_the_checkpoint_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"wang\.pt: holds a wang lifter, not martinez"):
        api.load("martinez", api.shipped("wang"))
    dets = tmp_path / "dets.json"
    lab = data.load("synth", "test")[:3]
    dets.write_text(json.dumps(coco_results(lab)))
    r = subprocess.run([sys.executable, "-m", "posecore.cli", "lift", str(dets), "--image-size", "1000", "1000",
                        "--model", "martinez", "--checkpoint", str(api.shipped("wang"))],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("posecore lift: error: ") and "wang.pt: holds a wang lifter, not martinez" in line
    assert line.count("wang.pt") == 1, line                                        # the file named once


def test_a_lifter_file_whose_weights_do_not_fit_names_the_file(tmp_path, blobs):
    bad = dict(blobs["martinez"])
    bad["config"] = dict(bad["config"], width=64)                     # weights of width 512
    path = tmp_path / "mismatch.pt"
    torch.save(bad, path)
    with pytest.raises(ValueError, match=r"mismatch\.pt: an incomplete or mismatched martinez lifter file"):
        api.load(checkpoint=path)
    del bad["models"]
    torch.save(bad, path)
    with pytest.raises(ValueError, match=r"mismatch\.pt: an incomplete or mismatched martinez lifter file"):
        api.load(checkpoint=path)
