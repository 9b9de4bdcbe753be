"""The guard that makes explicit stage versions safe (posecore.fingerprint): every cached stage, run a
few steps at smoke size with the quick profile's switches on, computes what its golden fingerprint
(tests/fingerprints.json) records at the same version; a change in a loss fails until the stage's
version is bumped and the golden file updated."""
from __future__ import annotations

import json

import pytest

from posecore import artefacts, fingerprint
from posecore.recipes import zhou


@pytest.fixture(scope="module")
def golden():
    try:
        return fingerprint.load_golden()
    except fingerprint.NoGolden as e:   # a CPU kind no session has recorded: nothing to compare with
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def now():
    return fingerprint.record()


def test_every_declared_stage_has_a_golden_fingerprint(golden, now):
    assert sorted(golden) == fingerprint.expected_stages() == sorted(now), \
        "a stage was added or removed: record it with `python -m posecore.fingerprint --update`"


@pytest.mark.parametrize("name", fingerprint.expected_stages())
def test_stage_computes_what_its_version_says(name, golden, now):
    fingerprint.compare(name, now[name], golden.get(name))


def test_a_changed_loss_constant_fails_until_the_version_is_bumped(monkeypatch, golden, tmp_path):
    real = zhou.depth_loss
    monkeypatch.setattr(zhou, "depth_loss", lambda *a, **k: 1.01 * real(*a, **k))     # one constant changed
    changed = fingerprint.record(only={"zhou-stage2"})
    with pytest.raises(fingerprint.BehaviourChanged, match="behaviour changed: bump the stage's version or revert"):
        fingerprint.compare("zhou-stage2", changed["zhou-stage2"], golden["zhou-stage2"])
    # bump the version: the keys of stage 2 and of stage 3 (downstream) change, the test asks for --update
    old2, old3 = zhou.STAGES[2], zhou.STAGES[3]
    new2 = artefacts.Stage("zhou-stage2", old2.version + 1, old2.upstream)
    new3 = artefacts.Stage("zhou-stage3", old3.version, (new2,))
    monkeypatch.setitem(zhou.STAGES, 2, new2)
    monkeypatch.setitem(zhou.STAGES, 3, new3)
    monkeypatch.setitem(artefacts.STAGES, "zhou-stage2", new2)
    monkeypatch.setitem(artefacts.STAGES, "zhou-stage3", new3)
    cfg = {"data": "d"}
    assert artefacts.key(new2, cfg) != artefacts.key(old2, cfg) and artefacts.key(new3, cfg) != artefacts.key(old3, cfg)
    assert artefacts.key(zhou.STAGES[1], cfg) == artefacts.key(artefacts.STAGES["zhou-stage1"], cfg)
    bumped = fingerprint.record(only={"zhou-stage2"})
    with pytest.raises(AssertionError, match="--update") as e:
        fingerprint.compare("zhou-stage2", bumped["zhou-stage2"], golden["zhou-stage2"])
    assert not isinstance(e.value, fingerprint.BehaviourChanged)
    # the explicit update command records it; then the check passes
    path = tmp_path / "fingerprints.json"
    path.write_text(fingerprint.GOLDEN.read_text())
    assert fingerprint.main(["--update", "--only", "zhou-stage2", "--golden", str(path)]) == 0
    assert fingerprint.main(["--only", "zhou-stage2", "--golden", str(path)]) == 0
    assert fingerprint.load_golden(path)["zhou-stage2"]["version"] == old2.version + 1


def test_a_docstring_edit_keeps_the_fingerprint_check_green(golden):
    """The check compares behaviour, not text: a module's docstring is not part of it."""
    doc = zhou.__doc__
    try:
        zhou.__doc__ = "edited"
        fingerprint.check(only={"zhou-stage1"})
    finally:
        zhou.__doc__ = doc


def test_golden_file_keeps_one_set_per_cpu_kind(tmp_path, monkeypatch):
    path = tmp_path / "fingerprints.json"
    fp = {"version": 1, "runs": [{"losses": [[1.0]], "checksum": [2.0, 3.0]}]}
    path.write_text(json.dumps({"AVX2": {"regression": fp}}))
    assert fingerprint.load_golden(path, "AVX2") == {"regression": fp}
    with pytest.raises(fingerprint.NoGolden, match="no fingerprints for CPU kind 'AVX512'.*--update"):
        fingerprint.load_golden(path, "AVX512")
    # --update records under the running machine's kind and keeps the others
    monkeypatch.setattr(fingerprint, "cpu_kind", lambda: "AVX512")
    monkeypatch.setattr(fingerprint, "expected_stages", lambda: ["regression"])
    monkeypatch.setattr(fingerprint, "record", lambda only=None: {"regression": {**fp, "version": 2}})
    fingerprint.update(path)
    data = json.loads(path.read_text())
    assert data["AVX2"] == {"regression": fp} and data["AVX512"]["regression"]["version"] == 2
    assert fingerprint.load_golden(path)["regression"]["version"] == 2
    # the flat layout of before (stage -> fingerprint at the top) is refused with the file's name
    path.write_text(json.dumps({"regression": fp}))
    with pytest.raises(ValueError, match="fingerprints.json: expected"):
        fingerprint.load_golden(path)
