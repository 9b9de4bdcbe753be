"""posecore.evaluate: 3D evaluation on hand-worked values, tables, and the verdict rule (gate, seeds, smoke)."""
import numpy as np
import pytest

from posecore import evaluate as ev
from posecore.data.toy import toy_poseset


def test_evaluate_3d_hand_worked():
    test = toy_poseset(4, seed=0)
    gt = test.poses_3d
    pred = gt + np.array([3.0, 4.0, 0.0])                     # a pure translation: zero root-aligned error
    r = ev.evaluate_3d(pred, test)
    assert r["mpjpe"] == pytest.approx(0.0, abs=1e-4) and r["p_mpjpe"] == pytest.approx(0.0, abs=1e-4)
    pred = gt.copy()
    pred[:, 5] += np.array([0.0, 0.0, 17.0])                  # one joint off by 17 mm -> 17 / 17 = 1 mm
    r = ev.evaluate_3d(pred, test)
    assert r["mpjpe"] == pytest.approx(1.0, abs=1e-4)
    assert set(r["per_action_mpjpe"]) >= {"Average"}
    with pytest.raises(ValueError, match="3 predictions for 4"):
        ev.evaluate_3d(pred[:3], test)


def test_markdown_table_and_fmt():
    t = ev.markdown_table(["a", "b"], [["x", 1.234], ["y", None]])
    assert t.splitlines() == ["| a | b |", "|---|---|", "| x | 1.2 |", "| y | – |"]
    assert ev.fmt(float("nan")) == "–" and ev.fmt(3) == "3" and ev.fmt(2.0, 2) == "2.00"


def test_check_claim_gate_and_smoke_caveat(capsys):
    claims = []
    ev.check_claim(claims, "A beats B", True, "1 vs 2")
    c = claims[-1]
    assert c["verdict"] == "reproduced" and c["reproduced"] and c["judged"]
    ev.check_claim(claims, "A beats B", False, "2 vs 1")
    c = claims[-1]
    assert c["verdict"] == "not reproduced" and not c["reproduced"]
    ev.check_claim(claims, "A beats B", True, "1 vs 2", gate=False, gate_detail="gate: PCKh 60 < 85")
    c = claims[-1]
    assert c["verdict"] == ev.CANNOT_JUDGE and not c["reproduced"] and "PCKh 60" in c["detail"]
    ev.check_claim(claims, "A beats B", True, "1 vs 2", profile="smoke")
    c = claims[-1]
    assert "says nothing about the method" in c["detail"]
    assert len(claims) == 4 and "cannot judge" in capsys.readouterr().out
    recs = ev.claim_records(claims, "posecore-toy", "quick", "lab_test")
    assert [r["value"] for r in recs] == [1.0, 0.0, 0.0, 1.0] and recs[2]["verdict"] == ev.CANNOT_JUDGE


def test_seed_comparison():
    r = ev.seed_comparison([40, 41, 42], [50, 51, 52])              # gap 10 > spread 2
    assert r["better"] and r["diff"] == pytest.approx(10) and r["spread"] == pytest.approx(2) and r["seeds"] == 3
    r = ev.seed_comparison([40, 49, 42], [50, 44, 52])              # gap 5 < spread 9
    assert not r["better"]
    assert ev.seed_comparison([0.9, 0.91], [0.8, 0.8], lower_is_better=False)["better"]
    with pytest.raises(ValueError):
        ev.seed_comparison([], [1.0])


def test_fmt_seeds():
    assert ev.fmt_seeds([1.0, 2.0, 3.0]) == "2.0 (1.0–3.0, 3 seeds)"
    assert ev.fmt_seeds([4.25]) == "4.2 (1 seed)" and ev.fmt_seeds([]) == "–"
