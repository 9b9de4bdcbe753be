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


def test_seed_comparison_with_a_yardstick():
    """One-seed rows: the spread of a multi-seed row is the yardstick."""
    assert ev.seed_comparison([40.0], [45.0])["better"]                 # no spread known: any gap counts
    r = ev.seed_comparison([40.0], [45.0], min_spread=6.0)              # gap 5 < yardstick 6
    assert not r["better"] and r["spread"] == 6.0 and "yardstick 6.0" in r["text"]
    assert ev.seed_comparison([40.0], [47.0], min_spread=6.0)["better"]
    assert ev.seed_comparison([40, 50], [60, 61], min_spread=6.0)["spread"] == 10.0   # own spread larger


def test_limb_errors_hand_worked():
    gt = np.zeros((2, 17, 3))
    pred = gt.copy()
    pred[:, 12, 0] = 10.0                      # left elbow 10 mm off
    pred[0, 15, 1] = 30.0                      # right elbow 30 mm off in sample 0 only
    pred[:, 3, 2] = -40.0                      # right ankle 40 mm off
    e = ev.limb_errors(pred, gt)
    assert e["upper_arm"] == pytest.approx((10 + 10 + 30 + 0) / 4)
    assert e["lower_leg"] == pytest.approx((40 + 40 + 0 + 0) / 4)
    assert e["lower_arm"] == 0 and e["upper_leg"] == 0
    assert e["mean"] == pytest.approx((12.5 + 20) / 4)
    with pytest.raises(ValueError, match="limb_errors"):
        ev.limb_errors(pred[:, :16], gt[:, :16])


def test_pckh_groups_hand_worked():
    gt = np.zeros((1, 17, 2))
    gt[0, 10] = (0.0, 10.0)                    # head top 10 px from the neck (9): head size 20, threshold 10
    pred = gt.copy()
    pred[0, 13] += (12.0, 0.0)                 # left wrist 12 px off: a miss
    pred[0, 3] += (0.0, 8.0)                   # right ankle 8 px off: a hit
    g = ev.pckh_groups(pred, gt)
    assert g["wrist"] == 50.0 and g["ankle"] == 100.0 and g["head"] == 100.0
    assert g["mean"] == pytest.approx(100 * 13 / 14)                    # 14 joints in the groups, one missed
    vis = np.ones((1, 17), bool)
    vis[0, 13] = False                         # the missed wrist not annotated: not counted
    assert ev.pckh_groups(pred, gt, vis)["wrist"] == 100.0


def test_pair_heatmap_diagnostic_separates_a_perfect_network_from_a_confused_one():
    import torch
    from posecore.data.images import crop_to_heatmap, heatmaps_from_joints
    from posecore.skeleton import LEFT_JOINTS, RIGHT_JOINTS
    R, h = 64, 32
    rng = np.random.default_rng(0)
    g = np.zeros((3, 17, 2))
    g[:, :, 0] = rng.uniform(8, 56, (3, 17))
    g[:, :, 1] = np.arange(17) * 3 + 6.0                                     # every joint on its own row
    g[:, 10] = g[:, 9] + (0.0, -12.0)                                        # head size 24 px
    L, Rt = list(LEFT_JOINTS), list(RIGHT_JOINTS)
    g[:, Rt, 0] = g[:, L, 0] + 16.0                                          # pairs 16 px = 8 heatmap px apart
    g[:, Rt, 1] = g[:, L, 1]
    g = np.clip(g, 2, 61)
    vis = np.ones((3, 17), bool)
    hm = heatmaps_from_joints(crop_to_heatmap(torch.tensor(g, dtype=torch.float32), R, h), None, h)
    good = ev.pair_heatmap_diagnostic(hm, g, vis, R)
    assert good["pairs"] == 18 and good["same_peak"] == 0 and good["nearer_partner"] == 0
    assert good["pckh"] == 100 and good["pair_ratio"] == pytest.approx(1, abs=0.02)
    assert good["partner_value"] < 0.01 < good["own_value"]
    # a network that cannot tell left from right: both maps of a pair hold both peaks
    sym = hm.clone()
    sym[:, L] = sym[:, Rt] = torch.maximum(hm[:, L], hm[:, Rt])
    bad = ev.pair_heatmap_diagnostic(sym, g, vis, R)
    assert bad["same_peak"] == 100 and bad["own_value"] == pytest.approx(bad["partner_value"])
    assert bad["pair_ratio"] < 0.05 and bad["pckh"] < 100
    assert bad["pckh_swap"] == bad["pckh"]                                   # swapping two equal points changes nothing
    assert bad["pckh_two_peaks"] == 100 and bad["ratio_two_peaks"] == pytest.approx(1, abs=0.1)
    with pytest.raises(ValueError, match="no pair"):
        ev.pair_heatmap_diagnostic(hm, g, np.zeros((3, 17), bool), R)


def test_depth_diagnostic_hand_worked():
    # four joints, not coplanar (so the depth mirror is not a rotation); joint 3 is within 100 mm of
    # the root's depth and is left out of the sign count
    gt = np.array([[[0, 0, 0], [100, 0, 200], [0, 100, -300], [50, -80, 60]]], float)
    same = ev.depth_diagnostic(gt, gt)
    assert same["sign_correct"] == 100.0 and same["mirror_better"] == 0.0
    assert same["p_mpjpe"] == pytest.approx(0, abs=1e-6) and same["p_mpjpe_mirror_oracle"] == pytest.approx(0, abs=1e-6)
    assert same["depth_extent"] == pytest.approx(1.0)
    mirrored = ev.depth_diagnostic(gt * [1, 1, -1], gt)
    assert mirrored["sign_correct"] == 0.0 and mirrored["mirror_better"] == 100.0
    assert mirrored["p_mpjpe"] > 10 and mirrored["p_mpjpe_mirror_oracle"] == pytest.approx(0, abs=1e-6)
    # twice the size in x, y but the same depths: half the depth extent, every sign right
    squashed = ev.depth_diagnostic(gt * [2, 2, 1], gt)
    assert squashed["depth_extent"] == pytest.approx(0.5) and squashed["sign_correct"] == 100.0
    # flat: no depth at all -> no sign right, extent 0
    flat = ev.depth_diagnostic(gt * [1, 1, 0], gt)
    assert flat["sign_correct"] == 0.0 and flat["depth_extent"] == 0.0
    # a wrong sign on the near-root joint 3 is not counted; on joint 1 it is (1 of 2 far joints)
    near = gt.copy(); near[0, 3, 2] = -60
    assert ev.depth_diagnostic(near, gt)["sign_correct"] == 100.0
    far = gt.copy(); far[0, 1, 2] = -200
    assert ev.depth_diagnostic(far, gt)["sign_correct"] == 50.0
    with pytest.raises(ValueError, match="depth_diagnostic"):
        ev.depth_diagnostic(gt[:, :3], gt)


def test_evaluate_images_takes_mpii_head_boxes_when_the_data_has_them():
    """PCKh@0.5 by hand: every joint is 6 px off; the joints' neck-head distance is 20 px (threshold
    10 px: all correct); MPII head boxes of 10 px (threshold 5 px: none correct)."""
    n = 3
    gt = np.zeros((n, 17, 2))
    gt[:, :, 0] = np.arange(17) * 3.0
    gt[:, 9] = (100.0, 100.0)
    gt[:, 10] = (100.0, 80.0)                                            # neck-head 20 px
    pred = dict(gt_2d=gt, joints_2d=gt + np.array([6.0, 0.0]), visible=np.ones((n, 17), bool),
                depth=np.zeros((n, 17)), has_3d=np.zeros(n, bool), resolution=64)
    r = ev.evaluate_images(pred, 1.0)
    assert r["pckh"] == pytest.approx(100.0) and r["pckh_head"] == "neck-head joints"
    r = ev.evaluate_images(dict(pred, head_size=np.full(n, 10.0)), 1.0)
    assert r["pckh"] == pytest.approx(0.0) and r["pckh_head"] == "head box"
    assert r["pckh_joints"] == pytest.approx(100.0)                      # the joints' head size, side by side
    r = ev.evaluate_images(dict(pred, head_size=np.array([10.0, 30.0, np.nan])), 1.0)   # unknown box: not scored
    assert r["pckh"] == pytest.approx(50.0)


def test_claim_anchors_are_stable_unique_ids():
    assert ev.claim_anchor("Pretraining helps (paper: 64.9 -> 59.7 mm)") == "claim-pretraining-helps-paper-64-9-59-7-mm"
    assert ev.claim_anchor("x" * 100) == "claim-" + "x" * 60
    assert ev.claim_anchor("A beats B", ["claim-a-beats-b"]) == "claim-a-beats-b-2"
    assert ev.claim_anchor("A beats B", ["claim-a-beats-b", "claim-a-beats-b-2"]) == "claim-a-beats-b-3"
    claims = []
    ev.check_claim(claims, "A beats B", True)
    ev.check_claim(claims, "A beats B", False)
    assert [c["anchor"] for c in claims] == ["claim-a-beats-b", "claim-a-beats-b-2"]
    recs = ev.claim_records(claims, "posecore-synth", "quick")
    assert [r["anchor"] for r in recs] == ["claim-a-beats-b", "claim-a-beats-b-2"]


def test_scoreboard_counts_verdicts_per_paper_and_links_each_claim():
    def rec(claim, verdict, anchor=None):
        r = dict(metric="claim", value=float(verdict == ev.REPRODUCED), claim=claim, verdict=verdict, detail="d",
                 profile="quick")
        return r | ({"anchor": anchor} if anchor else {})
    records = {"05_zhou_weak_supervision": [rec("geo helps", ev.CANNOT_JUDGE, "claim-geo-helps"),
                                            dict(metric="mpjpe", value=1.0, profile="quick")],
               "06_zhou_ablation": [rec("[x] beats y", ev.NOT_REPRODUCED)],
               "01_drover_lifting_gan": [rec("gan works", ev.REPRODUCED), rec("gan works 2", ev.REPRODUCED)]}
    rows = {r["paper"]: r for r in ev.scoreboard(records)}
    drover, zhou, yang = rows["Drover et al., ECCVW'18"], rows["Zhou et al., ICCV'17"], rows["Yang et al., CVPR'18"]
    assert (drover["reproduced"], drover["not_reproduced"], drover["cannot_judge"]) == (2, 0, 0)
    assert (zhou["reproduced"], zhou["not_reproduced"], zhou["cannot_judge"]) == (0, 1, 1)
    assert zhou["chapters"] == ["05", "06"] and yang["chapters"] == [] and yang["claims"] == []
    assert zhou["claims"][0]["link"] == "05_zhou_weak_supervision.html#claim-geo-helps"
    assert zhou["claims"][1]["link"] == "06_zhou_ablation.html#claim-x-beats-y"      # anchor from the text
    page = ev.scoreboard_html(list(rows.values()))
    assert "<tr><td>Zhou et al., ICCV&#x27;17</td><td>05, 06</td><td>0</td><td>1</td><td>1</td></tr>" in page
    assert "<tr><td>Yang et al., CVPR&#x27;18</td><td>not run</td><td>0</td><td>0</td><td>0</td></tr>" in page
    assert '<a href="06_zhou_ablation.html#claim-x-beats-y">[x] beats y</a>' in page


def test_claims_name_their_rows_steps_and_seeds_and_refuse_unequal_training():
    claims = []
    ev.check_claim(claims, "Full beats the control", True, "diff 2 mm", profile="quick", gate=True,
                   gate_detail="gate: PCKh >= 85 %", steps={"Full": 600, "control": 600}, seeds=[0, 1])
    c = claims[0]
    assert c["steps"] == {"Full": 600, "control": 600} and c["seeds"] == [0, 1]
    assert "compares Full (600 steps) vs control (600 steps); seeds [0, 1]" in c["detail"]
    assert "gate: PCKh >= 85 %" in c["detail"]                          # the gate is named when judged too
    rec = ev.claim_records(claims, "posecore-synth", "quick")[0]
    assert rec["steps"] == {"Full": 600, "control": 600} and rec["seeds"] == [0, 1]
    with pytest.raises(ValueError, match="unequal total steps"):
        ev.check_claim(claims, "Full beats Baseline", True, steps={"Full": 600, "Baseline": 400})
    ev.check_claim(claims, "Full beats Baseline", True, steps={"Full": 600, "Baseline": 400},
                   unequal_steps="the paper's Table 2 rows")
    assert "(the paper's Table 2 rows)" in claims[-1]["detail"] and len(claims) == 2
    rows = ev.scoreboard({"07_yang_adversarial": ev.claim_records(claims, "posecore-synth", "quick")})
    page = ev.scoreboard_html(rows)
    assert "compares Full (600 steps) vs control (600 steps); seeds [0, 1]" in page


def test_pckh_gate_passes_only_when_every_network_reaches_the_threshold():
    ok, text = ev.pckh_gate({"A": 85.7, "B": 84.34}, "ours, min over seeds")
    assert not ok
    assert text == "gate: lab PCKh@0.5 >= 85 % (ours, min over seeds: A 85.7, B 84.3)"
    ok, text = ev.pckh_gate({"A": 85.0}, "flip test", threshold=85.0, what="explicit branches lab PCKh@0.5")
    assert ok and text == "gate: explicit branches lab PCKh@0.5 >= 85 % (flip test: A 85.0)"
    assert ev.pckh_gate({"A": 90.0}, "x", threshold=92.5) == (False, "gate: lab PCKh@0.5 >= 92.5 % (x: A 90.0)")
