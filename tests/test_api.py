"""posecore.api: export/load round trips through the registry, weights-only loading, camera-normalised
lifters give the same 3D pose for the same body seen by another camera."""
import numpy as np
import pytest
import torch

from posecore import api
from posecore.data.toy import toy_poseset
from posecore.models.lifter import camera_normalise, lift_with
from posecore.models.martinez import MartinezConfig
from posecore.recipes import martinez as recipe

torch.set_num_threads(1)


def test_registry_covers_every_kind():
    assert set(api.LOADERS) == set(api.KINDS)


def test_camera_normalised_martinez_is_camera_invariant(tmp_path, monkeypatch):
    monkeypatch.setenv("POSECORE_CHECKPOINTS", str(tmp_path))
    data = toy_poseset(64, seed=3)
    cfg = MartinezConfig(width=32, dropout=0.0, batch_size=32, num_steps=20, decay_steps=1000)
    model, _ = recipe.train_lifter(data, cfg, seed=0, norm="camera", progress=False)
    path = api.export(tmp_path / "m.pt", "martinez", {"model": model}, cfg, norm="camera")
    K = data.intrinsics
    out = api.lift(data.poses_2d, K, checkpoint=path)
    np.testing.assert_allclose(out, lift_with(model, data.poses_2d, K, "camera"), atol=1e-5)
    # the same rays seen by a camera with twice the focal length and another principal point
    K2 = K.copy(); K2[:, :2] *= 2; K2[:, 2:] += np.array([-460.0, -40.0])
    p2 = (data.poses_2d - K[:, None, 2:]) / K[:, None, :2] * K2[:, None, :2] + K2[:, None, 2:]
    np.testing.assert_allclose(camera_normalise(p2, K2), camera_normalise(data.poses_2d, K), atol=1e-5)
    np.testing.assert_allclose(api.lift(p2, K2, checkpoint=path), out, atol=1e-3)
    with pytest.raises(ValueError, match="intrinsics"):
        api.lift(data.poses_2d, checkpoint=path)


def test_foreign_and_pickled_files_are_refused(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="junk.pt: not a readable posecore lifter"):
        api.load_export(junk)
    other = tmp_path / "other.pt"
    torch.save({"kind": "nonsense"}, other)
    with pytest.raises(ValueError, match="not an exported posecore lifter"):
        api.load_export(other)

    class Evil:                                               # a pickled object: weights_only refuses it
        def __reduce__(self):
            return (print, ("ran",))
    evil = tmp_path / "evil.pt"
    torch.save({"kind": "martinez", "x": Evil()}, evil)
    with pytest.raises(ValueError, match="evil.pt: refused: not a posecore lifter file") as e:
        api.load_export(evil)
    assert "weights_only" not in str(e.value) and "\n" not in str(e.value)     # never torch's advice to load it anyway
    assert len(api.checkpoint_sha256(checkpoint=other)) == 64
