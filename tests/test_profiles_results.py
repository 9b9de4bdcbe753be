import dataclasses

import pytest

from posecore import profiles, results


def test_resolve(monkeypatch):
    monkeypatch.delenv("POSECORE_PROFILE", raising=False)
    assert profiles.resolve(None) == "quick"
    monkeypatch.setenv("POSECORE_PROFILE", "smoke")
    assert profiles.resolve(None) == "smoke" and profiles.resolve("full") == "full"
    with pytest.raises(ValueError, match="unknown profile 'quik'"):
        profiles.resolve("quik")


@dataclasses.dataclass
class Cfg:
    steps: int
    width: int = 8

    @classmethod
    def for_profile(cls, p):
        return cls(steps=profiles.pick(p, smoke=2, quick=20, full=200))


def test_configure_overrides():
    assert profiles.configure(Cfg, "smoke").steps == 2
    assert profiles.configure(Cfg, "full", width=None, steps=7) == Cfg(steps=7, width=8)
    with pytest.raises(ValueError, match="unknown parameters"):
        profiles.configure(Cfg, "smoke", widht=3)


def test_results_roundtrip(tmp_path):
    r = results.record("mpjpe", 51.2, "mm", "posecore-synth-lab", "smoke", "test", model="m")
    results.write("00_x", [r], tmp_path)
    assert results.read("00_x", tmp_path)[0]["value"] == 51.2
    with pytest.raises(ValueError, match="not finite"):
        results.record("mpjpe", float("nan"), "mm", "d", "smoke", "test")
    with pytest.raises(FileNotFoundError, match="run the chapter"):
        results.read("99_none", tmp_path)
