"""posecore.novelty: the features drop position, scale and camera; distances and thresholds on
hand-worked values; indexes are seeded and checked."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from posecore import novelty


def poses(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 100, (n, 17, 2)) + 500


def test_features_are_root_relative_unit_rms_and_camera_free():
    p = poses()
    f = novelty.shape_features(p)
    assert f.shape == (50, 34) and f.dtype == np.float32
    np.testing.assert_allclose(np.sqrt((f ** 2).sum(1) / 17), 1.0, rtol=1e-5)       # unit RMS joint distance
    np.testing.assert_allclose(f.reshape(50, 17, 2)[:, 0], 0.0, atol=1e-6)             # the root at the origin
    # moved, scaled: the same features
    np.testing.assert_allclose(novelty.shape_features(3.0 * p + [40.0, -7.0]), f, atol=1e-5)
    # the same body seen by a camera with another focal length and principal point
    K1, K2 = np.array([1000.0, 1000.0, 640.0, 360.0]), np.array([1500.0, 1500.0, 500.0, 500.0])
    p2 = (p - K1[2:]) / K1[:2] * K2[:2] + K2[2:]
    np.testing.assert_allclose(novelty.shape_features(p, K1), novelty.shape_features(p2, K2), atol=1e-5)
    # unequal fx, fy: camera normalisation undoes the stretch, pixels do not
    K3 = np.array([1000.0, 2000.0, 0.0, 0.0])
    p3 = p * [1.0, 2.0]
    np.testing.assert_allclose(novelty.shape_features(p3, K3), novelty.shape_features(p, [1.0, 1.0, 0.0, 0.0]),
                               atol=1e-5)


def test_distances_by_hand():
    index = np.zeros((2, 34), np.float32)
    index[1, 0] = 10.0
    q = np.zeros((3, 34), np.float32)
    q[0, 0], q[0, 1] = 3.0, 4.0                       # 5 from row 0, sqrt(49 + 16) from row 1
    q[1, 0] = 9.0                                     # 9 from row 0, 1 from row 1
    d = novelty.distances(index, q)
    np.testing.assert_allclose(d, np.array([5.0, 1.0, 0.0]) / np.sqrt(17), rtol=1e-6)
    assert novelty.distances(index, np.zeros((0, 34), np.float32)).shape == (0,)


def test_build_index_is_seeded_and_its_threshold_is_the_99th_percentile():
    train, held = poses(300, 1), poses(200, 2)
    a = novelty.build_index(train, heldout_2d=held, size=64, seed=0)
    b = novelty.build_index(train, heldout_2d=held, size=64, seed=0)
    c = novelty.build_index(train, heldout_2d=held, size=64, seed=1)
    assert torch.equal(a["poses"], b["poses"]) and not torch.equal(a["poses"], c["poses"])
    assert a["poses"].dtype == torch.float16 and a["size"] == 64
    expected = np.percentile(novelty.distances(a["poses"].float(), novelty.shape_features(held)), 99)
    assert a["threshold"] == pytest.approx(expected, abs=1e-4)
    s = novelty.score(a, held)
    assert (s > a["threshold"]).sum() == 2                            # 1 % of 200
    # an index pose scores (almost) 0: float16 storage only
    assert novelty.score(a, train[np.sort(np.random.default_rng(0).permutation(300)[:64])]).max() < 1e-3
    # without held-out poses the training poses outside the index set the threshold
    d = novelty.build_index(train, size=64, seed=0)
    assert d["threshold"] > 0 and "outside the index" in d["threshold_rule"]


@pytest.mark.parametrize("bad, problem", [
    ({"poses": torch.zeros(3, 30), "threshold": 0.1}, "finite"),
    ({"poses": torch.full((3, 34), float("nan")), "threshold": 0.1}, "finite"),
    ({"poses": torch.zeros(3, 34), "threshold": -1.0}, "positive"),
    ({"poses": np.zeros((3, 34)), "threshold": 0.1}, "tensor"),
])
def test_a_malformed_index_is_refused(bad, problem):
    with pytest.raises(ValueError, match=problem):
        novelty.check_index(bad)
